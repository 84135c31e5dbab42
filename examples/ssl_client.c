/*
 * The tutorial's SSL client: open_connection with ssl=True and server_hostname, an HTTP/1.0
 * request with sendall, and recv until the server closes (a close_notify, or the end of
 * the TCP connection, is end of stream); the response is printed.
 *
 *     ./ssl_client [host [port [cafile]]]     (default: www.python.org 443)
 *
 * The server's certificate is verified against the system's CAs (ssl=True), or against
 * the CAs of cafile instead (a context of one's own, ssl=context), and must be for host.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct request {
    const char *host, *cafile;
    uint16_t port;
};

static long fetch(void *arg)
{
    struct request *r = arg;
    curio_connect_options o = {.ssl = true, .server_hostname = r->host};
    curio_tls_context *ctx = NULL;
    if (r->cafile) {
        curio_tls_options to = {.ca_file = r->cafile};
        int rc = curio_tls_context_new(&ctx, &to);
        if (rc < 0)
            return rc;
        o.ssl_context = ctx;
    }
    curio_socket *sock; /* sock = await open_connection(host, 443, ssl=True, server_hostname=host) */
    int rc = curio_open_connection(&sock, r->host, r->port, &o);
    curio_tls_context_release(ctx); /* the socket keeps what it needs */
    if (rc < 0)
        return rc;
    char req[512];
    int len = snprintf(req, sizeof req, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", r->host);
    ssize_t n = curio_sendall(sock, req, (size_t)len, 0, NULL);
    char *response = NULL;
    size_t size = 0;
    while (n >= 0) { /* chunks.append(await sock.recv(10000)) until b'' */
        char *grown = realloc(response, size + 10000);
        if (!grown) {
            n = -ENOMEM;
            break;
        }
        response = grown;
        n = curio_recv(sock, response + size, 10000, 0);
        if (n <= 0)
            break;
        size += (size_t)n;
    }
    curio_socket_close(sock); /* the end of `async with sock` */
    if (n == 0)
        fwrite(response, 1, size, stdout); /* print(response.decode('latin-1')) */
    free(response);
    return n;
}

int main(int argc, char **argv)
{
    struct request r = {argc > 1 ? argv[1] : "www.python.org", argc > 3 ? argv[3] : NULL,
                        (uint16_t)(argc > 2 ? atoi(argv[2]) : 443)};
    long result = 0;
    if (curio_run(fetch, &r, NULL, &result) < 0)
        return 1;
    if (result < 0) {
        fprintf(stderr, "ssl_client: %s:%u: %s\n", r.host, (unsigned)r.port,
                curio_strerror((int)result));
        return 1;
    }
    return 0;
}
