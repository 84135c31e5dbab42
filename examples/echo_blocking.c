/*
 * The tutorial's "Blocking I/O": an echo server whose handler hands the socket to ordinary
 * blocking code with blocking(), either right in the task (which blocks the whole kernel
 * while it sends) or, with the argument `thread`, through run_in_thread.
 *
 *     ./echo_blocking [host [port [thread]]]     (default: every interface, port 25000)
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What Python's socket.sendall does on a blocking socket: plain send(2) until all went. */
struct plain_send {
    int fd;
    const char *data;
    size_t n;
};

static long sendall_blocking(void *arg)
{
    struct plain_send *p = arg;
    for (size_t off = 0; off < p->n;) {
        ssize_t w = send(p->fd, p->data + off, p->n - off, MSG_NOSIGNAL);
        if (w < 0)
            return -errno;
        off += (size_t)w;
    }
    return 0;
}

static long echo_client(curio_socket *client, const curio_addr *addr, void *arg)
{
    bool in_thread = *(bool *)arg;
    char text[CURIO_ADDR_STRLEN];
    curio_addr_format(addr, text, sizeof text);
    printf("Connection from %s\n", text);
    char data[1000];
    ssize_t n;
    while ((n = curio_recv(client, data, sizeof data, 0)) > 0) {
        int fd = curio_socket_blocking(client);           /* with client.blocking() as _client: */
        if (fd < 0)
            return fd;
        struct plain_send p = {fd, data, (size_t)n};
        long rc = 0;
        if (in_thread)
            curio_run_in_thread(sendall_blocking, &p, &rc); /* await run_in_thread(_client.sendall, data) */
        else
            rc = sendall_blocking(&p);                    /* _client.sendall(data) */
        curio_socket_unblock(client);
        if (rc < 0)
            return rc;
    }
    printf("Connection closed\n");
    return n;
}

static void listening(const curio_addr *addr, void *arg)
{
    (void)arg;
    char text[CURIO_ADDR_STRLEN];
    curio_addr_format(addr, text, sizeof text);
    printf("Server listening at %s\n", text);
}

struct config {
    const char *host;
    uint16_t port;
    bool in_thread;
};

static long server(void *arg)
{
    struct config *c = arg;
    curio_server_options opts = {.on_listen = listening};
    return curio_tcp_server(c->host, c->port, echo_client, &c->in_thread, &opts);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct config c = {argc > 1 ? argv[1] : "", (uint16_t)(argc > 2 ? atoi(argv[2]) : 25000),
                       argc > 3 && strcmp(argv[3], "thread") == 0};
    long result = 0;
    if (curio_run(server, &c, NULL, &result) < 0)
        return 1;
    fprintf(stderr, "echo_blocking: %s\n", curio_strerror((int)result));
    return 1;
}
