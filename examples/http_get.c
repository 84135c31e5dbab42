/*
 * The tutorial's "Making Connections": open_connection, send an HTTP/1.0 GET, read the
 * response until the server closes, print it.
 *
 *     ./http_get [host [port [path]]]     (default: www.python.org 80 /)
 *
 * host may be a name (resolved on a worker thread, every address tried in turn) or a
 * numeric address.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct request {
    const char *host, *path;
    uint16_t port;
};

static long get(void *arg)
{
    struct request *r = arg;
    curio_socket *sock;
    int rc = curio_open_connection(&sock, r->host, r->port, NULL); /* await open_connection(host, 80) */
    if (rc < 0)
        return rc;
    char req[1024];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", r->path, r->host);
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
    struct request r = {argc > 1 ? argv[1] : "www.python.org", argc > 3 ? argv[3] : "/",
                        (uint16_t)(argc > 2 ? atoi(argv[2]) : 80)};
    long result = 0;
    if (curio_run(get, &r, NULL, &result) < 0)
        return 1;
    if (result < 0) {
        fprintf(stderr, "http_get: %s:%u: %s\n", r.host, (unsigned)r.port,
                curio_strerror((int)result));
        return 1;
    }
    return 0;
}
