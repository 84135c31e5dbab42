/*
 * The tutorial's "A Stream-Based Echo Server": the client socket wrapped in a buffered
 * stream with as_stream(), read and written like a file.
 *
 *     ./echo_stream [host [port]]     (default: every interface, port 25000)
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
    curio_stream *s;
    int rc = curio_socket_as_stream(client, &s, NULL); /* s = client.as_stream() */
    if (rc < 0)
        return rc;
    char data[1000];
    ssize_t n;
    while ((n = curio_stream_read(s, data, sizeof data)) > 0) { /* data = await s.read(1000) */
        n = curio_stream_write(s, data, (size_t)n, NULL);       /* await s.write(data) */
        if (n < 0)
            return n;
    }
    printf("Connection closed\n");
    return n; /* the server closes client, and with it the stream */
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
    if (curio_run(server, &w, NULL, &result) < 0)
        return 1;
    fprintf(stderr, "echo_stream: %s\n", curio_strerror((int)result));
    return 1;
}
