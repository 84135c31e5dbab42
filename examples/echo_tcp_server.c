/*
 * The tutorial's echo server on tcp_server(), which creates the listening socket, runs
 * each connection's handler in a task of its own and closes the client socket afterwards.
 *
 *     ./echo_tcp_server [host [port]]     (default: every interface, port 25000)
 *
 * Try it with `nc localhost 25000`. Stop it with Ctrl-C.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static long echo_client(curio_socket *client, const curio_addr *addr, void *arg)
{
    (void)arg;
    char text[CURIO_ADDR_STRLEN];
    curio_addr_format(addr, text, sizeof text);
    printf("Connection from %s\n", text);
    char data[1000];
    ssize_t n;
    while ((n = curio_recv(client, data, sizeof data, 0)) > 0) {
        ssize_t rc = curio_sendall(client, data, (size_t)n, 0, NULL);
        if (rc < 0)
            return rc;
    }
    printf("Connection closed\n");
    return n; /* 0, or the error that ended it: the server logs a failure, but not a peer
                 that went away (-ECONNRESET, -EPIPE ...) */
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

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct where w = {argc > 1 ? argv[1] : "", (uint16_t)(argc > 2 ? atoi(argv[2]) : 25000)};
    long result = 0;
    if (curio_run(server, &w, NULL, &result) < 0) /* run(tcp_server('', 25000, echo_client)) */
        return 1;
    fprintf(stderr, "echo_tcp_server: %s\n", curio_strerror((int)result));
    return 1;
}
