/*
 * The tutorial's stream echo server with line iteration (`async for line in s`), which is
 * also what the early README's socketserver StreamRequestHandler does with self.rfile and
 * self.wfile: every line comes back as soon as it is complete.
 *
 *     ./echo_lines [host [port]]     (default: every interface, port 25000)
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
    int rc = curio_socket_as_stream(client, &s, NULL);
    if (rc < 0)
        return rc;
    const char *line;
    ssize_t n;
    while ((n = curio_stream_readline_ref(s, &line)) > 0) { /* async for line in s: */
        n = curio_stream_write(s, line, (size_t)n, NULL);   /*     await s.write(line) */
        if (n < 0)
            return n;
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
    fprintf(stderr, "echo_lines: %s\n", curio_strerror((int)result));
    return 1;
}
