/*
 * The tutorial's "An SSL Server": tcp_server with an SSL context made from a certificate
 * chain and its private key (create_default_context(Purpose.CLIENT_AUTH), then
 * load_cert_chain). Each client's handshake runs before its handler, which reads the
 * request's lines and writes an answer through the socket's stream, in plaintext.
 *
 *     ./ssl_server certfile keyfile [host [port]]   (default: every interface, port 10000)
 *
 * Point a browser at https://localhost:10000 (it may warn about a certificate it does not
 * know), or run ./ssl_client localhost 10000 cafile.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char response[] = "HTTP/1.0 200 OK\r\n"
                               "Content-type: text/plain\r\n"
                               "\r\n"
                               "If you're seeing this, it probably worked. Yay!\n";

static long handler(curio_socket *client, const curio_addr *addr, void *arg)
{
    (void)addr, (void)arg;
    curio_stream *client_f;
    int rc = curio_socket_as_stream(client, &client_f, NULL); /* client.as_stream() */
    if (rc < 0)
        return rc;
    /* Read the HTTP request: `async for line in client_f`, up to an empty line. */
    const char *line;
    ssize_t n;
    while ((n = curio_stream_readline_ref(client_f, &line)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            n--; /* line.strip() */
        if (n == 0)
            break;
        printf("%.*s\n", (int)n, line);
    }
    if (n < 0)
        return n;
    /* Send a response. */
    n = curio_stream_write(client_f, response, sizeof response - 1, NULL);
    if (n < 0)
        return n;
    char now[64];
    time_t t = time(NULL);
    struct tm tm;
    size_t len = strftime(now, sizeof now, "%a %b %e %H:%M:%S %Y", localtime_r(&t, &tm));
    n = curio_stream_write(client_f, now, len, NULL); /* time.asctime() */
    curio_socket_close(client);                        /* await client.close() */
    return n < 0 ? n : 0;
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
    curio_tls_context *ssl_context;
};

static long server(void *arg)
{
    struct where *w = arg;
    curio_server_options opts = {.ssl_context = w->ssl_context, .on_listen = listening};
    return curio_tcp_server(w->host, w->port, handler, NULL, &opts);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: ssl_server certfile keyfile [host [port]]\n");
        return 2;
    }
    struct where w = {argc > 3 ? argv[3] : "", (uint16_t)(argc > 4 ? atoi(argv[4]) : 10000),
                      NULL};
    curio_tls_options o = {.server = true, .cert_file = argv[1], .key_file = argv[2]};
    int rc = curio_tls_context_new(&w.ssl_context, &o); /* ssl_context.load_cert_chain(...) */
    if (rc < 0) {
        fprintf(stderr, "ssl_server: %s, %s: %s\n", argv[1], argv[2], curio_strerror(rc));
        return 1;
    }
    long result = 0;
    rc = curio_run(server, &w, NULL, &result);
    curio_tls_context_release(w.ssl_context);
    if (rc < 0)
        return 1;
    fprintf(stderr, "ssl_server: %s\n", curio_strerror((int)result));
    return 1;
}
