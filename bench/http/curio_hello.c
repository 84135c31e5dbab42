/*
 * curio-http-hello: a trivial keep-alive HTTP/1.1 server on curio, the calibration server
 * of the HTTP comparison (bench/http/run) until examples/httpd's curio-httpd exists.
 *
 *   curio-http-hello [--host H] [--port N] [--port-file PATH] [--root DIR]
 *
 * The command line is curio-httpd's: it listens on H:N (default 127.0.0.1, port 0: the
 * kernel picks one), writes the port chosen to PATH once it accepts connections, and ends
 * on SIGTERM (the default action: it holds nothing to flush).
 *
 * One task per connection (curio_run_server), straight-line code. The parse is minimal and
 * is no HTTP parser: a request is everything up to an empty line; only its first line is
 * read (method and path); there are no request bodies, no Connection: close, no HTTP/1.0
 * distinctions. Every complete request in what one receive brought is answered, and the
 * answers go out in one send (so pipelined requests cost one send per batch):
 *   GET /plaintext   200 "Hello, World!" (text/plain)
 *   GET /NAME        the file DIR/NAME (no "..", no query): a header, then curio_sendfile
 *   anything else    404, or 400 for a request over the 8 KiB buffer (and the connection
 *                    is closed)
 */
#include <curio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define IN_BUF 8192
#define OUT_BUF 8192

static const char *root; /* --root, or NULL: no files */
static const char *port_file;

static const char hello[] = "HTTP/1.1 200 OK\r\n"
                            "Server: curio\r\n"
                            "Content-Type: text/plain\r\n"
                            "Content-Length: 13\r\n"
                            "\r\n"
                            "Hello, World!";
static const char not_found[] = "HTTP/1.1 404 Not Found\r\n"
                                "Server: curio\r\n"
                                "Content-Length: 0\r\n"
                                "\r\n";
static const char bad_request[] = "HTTP/1.1 400 Bad Request\r\n"
                                  "Server: curio\r\n"
                                  "Content-Length: 0\r\n"
                                  "Connection: close\r\n"
                                  "\r\n";

/* Send what out holds; 0 or a negative errno. */
static long flush(curio_socket *c, char *out, size_t *n)
{
    if (*n == 0)
        return 0;
    ssize_t r = curio_sendall(c, out, *n, 0, NULL);
    *n = 0;
    return r < 0 ? r : 0;
}

/* Answer a file request: the header in out (sent with what is queued), then the body. */
static long send_file(curio_socket *c, const char *path, size_t plen, char *out, size_t *n)
{
    char full[4096];
    if (!root || plen < 2 || memmem(path, plen, "..", 2) || memchr(path, '?', plen) ||
        (size_t)snprintf(full, sizeof full, "%s%.*s", root, (int)plen, path) >= sizeof full)
        goto missing;
    curio_file *f;
    if (curio_file_open(&f, full, O_RDONLY, 0) < 0)
        goto missing;
    struct stat st;
    if (curio_file_stat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
        curio_file_close(f);
        goto missing;
    }
    if (*n + 128 > OUT_BUF) {
        long r = flush(c, out, n);
        if (r < 0) {
            curio_file_close(f);
            return r;
        }
    }
    *n += (size_t)snprintf(out + *n, OUT_BUF - *n,
                           "HTTP/1.1 200 OK\r\nServer: curio\r\n"
                           "Content-Type: application/octet-stream\r\n"
                           "Content-Length: %lld\r\n\r\n",
                           (long long)st.st_size);
    long r = flush(c, out, n);
    if (r == 0 && st.st_size > 0) {
        ssize_t s = curio_sendfile(c, f, 0, (size_t)st.st_size, NULL);
        r = s < 0 ? s : 0;
    }
    curio_file_close(f);
    return r;
missing:
    if (*n + sizeof not_found > OUT_BUF) {
        long r = flush(c, out, n);
        if (r < 0)
            return r;
    }
    memcpy(out + *n, not_found, sizeof not_found - 1);
    *n += sizeof not_found - 1;
    return 0;
}

static long client(curio_socket *c, const curio_addr *addr, void *arg)
{
    (void)addr;
    (void)arg;
    char in[IN_BUF], out[OUT_BUF];
    size_t have = 0, nout = 0;
    for (;;) {
        ssize_t got = curio_recv(c, in + have, sizeof in - have, 0);
        if (got <= 0)
            return got;
        have += (size_t)got;
        size_t at = 0;
        for (;;) {
            char *end = memmem(in + at, have - at, "\r\n\r\n", 4);
            if (!end)
                break;
            /* The first line: METHOD SP PATH SP VERSION. */
            const char *p = in + at, *eol = memchr(p, '\r', (size_t)(end - p) + 1);
            const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
            const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
            at = (size_t)(end + 4 - in);
            long r = 0;
            if (!sp2 || sp1 - p != 3 || memcmp(p, "GET", 3)) {
                r = send_file(c, "", 0, out, &nout); /* 404 */
            } else if (sp2 - sp1 - 1 == 10 && !memcmp(sp1 + 1, "/plaintext", 10)) {
                if (nout + sizeof hello > OUT_BUF)
                    r = flush(c, out, &nout);
                memcpy(out + nout, hello, sizeof hello - 1);
                nout += sizeof hello - 1;
            } else {
                r = send_file(c, sp1 + 1, (size_t)(sp2 - sp1 - 1), out, &nout);
            }
            if (r < 0)
                return r;
        }
        long r = flush(c, out, &nout);
        if (r < 0)
            return r;
        memmove(in, in + at, have - at);
        have -= at;
        if (have == sizeof in) {
            curio_sendall(c, bad_request, sizeof bad_request - 1, 0, NULL);
            return 0;
        }
    }
}

static void on_listen(const curio_addr *a, void *arg)
{
    (void)arg;
    if (!port_file)
        return;
    /* Written under a temporary name and renamed, so a reader never sees half of it. */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", curio_addr_port(a)) < 0 || fclose(f) != 0 ||
        rename(tmp, port_file) != 0) {
        perror("curio-http-hello: port file");
        exit(1);
    }
}

struct listen_args {
    const char *host;
    int port;
};

static long serve(void *arg)
{
    struct listen_args *l = arg;
    curio_server_options o = {.backlog = 4096, .on_listen = on_listen};
    curio_socket *ls;
    int rc = curio_tcp_server_socket(&ls, l->host, (uint16_t)l->port, &o);
    if (rc < 0) {
        fprintf(stderr, "curio-http-hello: listen on %s:%d: %s\n", l->host, l->port,
                strerror(-rc));
        return rc;
    }
    return curio_run_server(ls, client, NULL, &o);
}

int main(int argc, char **argv)
{
    struct listen_args l = {.host = "127.0.0.1", .port = 0};
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--host") && v)
            l.host = v;
        else if (!strcmp(argv[i], "--port") && v)
            l.port = atoi(v);
        else if (!strcmp(argv[i], "--port-file") && v)
            port_file = v;
        else if (!strcmp(argv[i], "--root") && v)
            root = v;
        else {
            fprintf(stderr, "usage: %s [--host H] [--port N] [--port-file PATH] [--root DIR]\n",
                    argv[0]);
            return 64;
        }
    }
    if (l.port < 0 || l.port > 65535) {
        fprintf(stderr, "curio-http-hello: bad port\n");
        return 64;
    }
    /* Many connections: the soft descriptor limit up to the hard one. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* Thousands of connections: a ring deep enough for a burst of completions. */
    curio_options opts = {.ring_entries = 4096};
    long r = 1;
    int rc = curio_run(serve, &l, &opts, &r);
    if (rc < 0) {
        fprintf(stderr, "curio-http-hello: curio_run: %s\n", strerror(-rc));
        return 1;
    }
    return r == 0 || r == -ECANCELED ? 0 : 1;
}
