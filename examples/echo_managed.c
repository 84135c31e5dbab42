/*
 * The tutorial's "A Managed Echo Server": each client task adds itself to a set of
 * clients; a SIGHUP makes main cancel the server and every client (which says goodbye
 * to its peer in a disable_cancellation block) and start the server afresh (Python:
 * `goodbye = SignalEvent(signal.SIGHUP)` ... `await goodbye.wait()`).
 *
 *     ./echo_managed [host [port]]     (default: every interface, port 25000)
 *
 * Try it with `nc localhost 25000` and `kill -HUP <pid>`. Stop it with Ctrl-C.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_CLIENTS 1000

/* clients = set(): each entry is a handle taken with curio_task_retain. */
static curio_task *clients[MAX_CLIENTS];
static size_t nclients;

static void clients_remove(curio_task *task)
{
    for (size_t i = 0; i < nclients; i++) {
        if (clients[i] == task) {
            clients[i] = clients[--nclients];
            return;
        }
    }
}

static long echo_client(curio_socket *client, const curio_addr *addr, void *arg)
{
    (void)arg;
    if (nclients == MAX_CLIENTS)
        return -EAGAIN;
    curio_task *task = curio_task_retain(curio_current());   /* task = await current_task() */
    clients[nclients++] = task;                               /* clients.add(task) */
    char who[CURIO_ADDR_STRLEN];
    curio_addr_format(addr, who, sizeof who);
    printf("Connection from %s\n", who);
    char data[1000];
    ssize_t rc;
    while ((rc = curio_recv(client, data, sizeof data, 0)) > 0) {
        rc = curio_sendall(client, data, (size_t)rc, 0, NULL);
        if (rc < 0)
            break;
    }
    if (rc == 0)
        printf("Connection closed\n");
    if (rc == -ECANCELED) {                                   /* except CancelledError: */
        curio_scope nc;
        curio_disable_cancellation(&nc);
        curio_sendall(client, "Server going down\n", 18, 0, NULL);
        curio_scope_close(&nc);
    }
    clients_remove(task);                                     /* finally: clients.remove(task) */
    curio_task_release(task);
    return rc < 0 ? rc : 0;                                   /* -ECANCELED: the `raise` */
}

static void listening(const curio_addr *addr, void *arg)
{
    (void)arg;
    char text[CURIO_ADDR_STRLEN];
    curio_addr_format(addr, text, sizeof text);
    printf("Server listening at %s\n", text);
}

struct where {
    const char *host;
    uint16_t port;
};

static long server(void *arg)
{
    struct where *w = arg;
    curio_server_options opts = {.on_listen = listening};
    return curio_tcp_server(w->host, w->port, echo_client, NULL, &opts);
}

static long main_task(void *arg)
{
    for (;;) {
        int sigs[] = {SIGHUP};
        curio_signal_event *goodbye;                          /* goodbye = SignalEvent(SIGHUP) */
        int rc = curio_signal_event_create(&goodbye, sigs, 1);
        if (rc < 0)
            return rc;
        printf("Starting the server\n");
        curio_task *serv_task = curio_spawn(server, arg);
        rc = curio_signal_event_wait(goodbye);                /* await goodbye.wait() */
        curio_signal_event_destroy(goodbye);
        printf("Server shutting down\n");
        curio_cancel(serv_task);                              /* await serv_task.cancel() */
        curio_task_release(serv_task);

        /* for task in list(clients): await task.cancel() (cancelling the server already
         * cancelled its clients, as Curio's does; kept to mirror the Python) */
        curio_task *list[MAX_CLIENTS];
        size_t count = nclients;
        for (size_t i = 0; i < count; i++)
            list[i] = curio_task_retain(clients[i]);
        for (size_t i = 0; i < count; i++) {
            curio_cancel(list[i]);
            curio_task_release(list[i]);
        }
        if (rc < 0)
            return rc;
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int sigs[] = {SIGHUP};
    curio_enable_signals(sigs, 1); /* also blocked between two watchers: never lost */
    struct where w = {argc > 1 ? argv[1] : "", (uint16_t)(argc > 2 ? atoi(argv[2]) : 25000)};
    long result = 0;
    if (curio_run(main_task, &w, NULL, &result) < 0)          /* run(main('', 25000)) */
        return 1;
    fprintf(stderr, "echo_managed: %s\n", curio_strerror((int)result));
    return 1;
}
