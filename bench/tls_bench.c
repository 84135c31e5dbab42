/*
 * bench/tls_bench.c - TLS and Channel figures, for bench/run-tls to put beside
 * bench/asyncio_tls.py's (see docs/benchmarks.md).
 *
 *     curio-tls-bench --certs DIR [--rounds N] [--mbytes N] [--handshakes N] [--repeat R]
 *                     [--cipher NAME] [--only pingpong|bulk|handshake|channel]
 *
 * DIR holds tests/net/tls_certs.sh's files (server.pem, server.key, ca.pem). Prints one
 * JSON object per line, {"impl": "curio", "metric": ..., "value": ...}:
 *   tls_pingpong_us    a client task and a server task in one kernel over TLS on loopback
 *                      TCP: 64 bytes there and back; per round trip
 *   tls_bulk_mb_s      N MiB one way through TLS (sendall of 256 KiB, recv of 64 KiB);
 *                      MB/s from the first send to the last byte received
 *   tls_handshakes_per_s  connect, handshake, one byte there and back, close; per second
 *   channel_pingpong_us   two Channel connections over a socketpair: a 64-byte message
 *                      there and back; per round trip (asyncio: multiprocessing's framing
 *                      over streams, bench/asyncio_tls.py)
 * Timed loops keep the best of R runs: on a shared machine noise only ever adds time.
 */
#include <curio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *opt_certs;
static const char *opt_cipher;
static const char *opt_only;
static long opt_rounds = 20000;
static long opt_mbytes = 256;
static long opt_handshakes = 500;
static int opt_repeat = 3;

static curio_tls_context *server_ctx, *client_ctx;

static void emit(const char *metric, double value)
{
    printf("{\"impl\": \"curio\", \"metric\": \"%s\", \"value\": %.9g}\n", metric, value);
    fflush(stdout);
}

static const char *path(const char *name)
{
    static char p[4][1024];
    static int i;
    char *s = p[i++ % 4];
    snprintf(s, sizeof p[0], "%s/%s", opt_certs, name);
    return s;
}

/* ---- a TLS echo server in a task ---- */

static long echo(curio_socket *c, const curio_addr *a, void *arg)
{
    (void)a, (void)arg;
    static __thread char buf[65536];
    ssize_t n;
    while ((n = curio_recv(c, buf, sizeof buf, 0)) > 0)
        if (curio_sendall(c, buf, (size_t)n, 0, NULL) < 0)
            return -1;
    return 0;
}

static long sink(curio_socket *c, const curio_addr *a, void *arg)
{
    (void)a;
    long *total = arg;
    static __thread char buf[65536];
    ssize_t n;
    while ((n = curio_recv(c, buf, sizeof buf, 0)) > 0)
        *total += n;
    return 0;
}

struct server {
    curio_socket *ls;
    int port;
    curio_client_fn fn;
    void *arg;
};

static long serve(void *arg)
{
    struct server *s = arg;
    curio_server_options o = {.ssl_context = server_ctx};
    curio_run_server(s->ls, s->fn, s->arg, &o);
    return 0;
}

static curio_task *start(struct server *s)
{
    if (curio_tcp_server_socket(&s->ls, "127.0.0.1", 0, NULL) < 0)
        return NULL;
    curio_addr a;
    curio_socket_getsockname(s->ls, &a);
    s->port = curio_addr_port(&a);
    return curio_spawn(serve, s);
}

static int connect_tls(curio_socket **c, int port)
{
    curio_connect_options o = {.ssl_context = client_ctx, .server_hostname = "localhost"};
    return curio_open_connection(c, "127.0.0.1", (uint16_t)port, &o);
}

/* ---- the figures ---- */

static long pingpong_main(void *arg)
{
    (void)arg;
    struct server s = {.fn = echo};
    curio_task *t = start(&s);
    curio_socket *c;
    if (!t || connect_tls(&c, s.port) < 0)
        return -1;
    printf("{\"impl\": \"curio\", \"metric\": \"cipher\", \"value\": \"%s\"}\n",
           curio_tls_cipher(c));
    char msg[64] = {0}, back[64];
    double best = 1e30;
    for (int r = 0; r < opt_repeat; r++) {
        int64_t t0 = curio_clock();
        for (long i = 0; i < opt_rounds; i++)
            if (curio_sendall(c, msg, sizeof msg, 0, NULL) < 0 ||
                curio_recv(c, back, sizeof back, MSG_WAITALL) != sizeof back)
                return -1;
        double us = (double)(curio_clock() - t0) / 1e3 / (double)opt_rounds;
        best = us < best ? us : best;
    }
    emit("tls_pingpong_us", best);
    curio_socket_close(c);
    curio_cancel(t);
    curio_task_release(t);
    return 0;
}

static long bulk_main(void *arg)
{
    (void)arg;
    long total = 0;
    struct server s = {.fn = sink, .arg = &total};
    curio_task *t = start(&s);
    if (!t)
        return -1;
    size_t chunk = 256 * 1024;
    char *buf = calloc(1, chunk);
    double best = 0;
    for (int r = 0; r < opt_repeat; r++) {
        curio_socket *c;
        if (connect_tls(&c, s.port) < 0)
            return -1;
        total = 0;
        long want = opt_mbytes << 20;
        int64_t t0 = curio_clock();
        for (long sent = 0; sent < want; sent += (long)chunk)
            if (curio_sendall(c, buf, chunk, 0, NULL) < 0)
                return -1;
        curio_socket_shutdown(c, SHUT_WR);
        char x;
        curio_recv(c, &x, 1, 0); /* the server closes once it has read everything */
        while (total < want)
            curio_sleep(0.0001);
        double mbs = (double)want / 1e6 / ((double)(curio_clock() - t0) / 1e9);
        best = mbs > best ? mbs : best;
        curio_socket_close(c);
    }
    free(buf);
    emit("tls_bulk_mb_s", best);
    curio_cancel(t);
    curio_task_release(t);
    return 0;
}

static long handshake_main(void *arg)
{
    (void)arg;
    struct server s = {.fn = echo};
    curio_task *t = start(&s);
    if (!t)
        return -1;
    double best = 0;
    for (int r = 0; r < opt_repeat; r++) {
        int64_t t0 = curio_clock();
        for (long i = 0; i < opt_handshakes; i++) {
            curio_socket *c;
            char x = 'x';
            if (connect_tls(&c, s.port) < 0 || curio_sendall(c, &x, 1, 0, NULL) < 0 ||
                curio_recv(c, &x, 1, 0) != 1)
                return -1;
            curio_socket_close(c);
        }
        double per_s = (double)opt_handshakes / ((double)(curio_clock() - t0) / 1e9);
        best = per_s > best ? per_s : best;
    }
    emit("tls_handshakes_per_s", best);
    curio_cancel(t);
    curio_task_release(t);
    return 0;
}

static long channel_echo(void *arg)
{
    curio_connection *c = arg;
    char buf[64];
    ssize_t n;
    while ((n = curio_connection_recv_into(c, buf, sizeof buf)) >= 0)
        if (curio_connection_send(c, buf, (size_t)n) < 0)
            break;
    return 0;
}

static long channel_main(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    curio_connection *a, *b;
    if (curio_socketpair(AF_UNIX, SOCK_STREAM, p) < 0 || curio_connection_open(&a, p[0], NULL) ||
        curio_connection_open(&b, p[1], NULL))
        return -1;
    curio_task *t = curio_spawn(channel_echo, b);
    char msg[64] = {0}, back[64];
    double best = 1e30;
    for (int r = 0; r < opt_repeat; r++) {
        int64_t t0 = curio_clock();
        for (long i = 0; i < opt_rounds; i++)
            if (curio_connection_send(a, msg, sizeof msg) < 0 ||
                curio_connection_recv_into(a, back, sizeof back) != sizeof back)
                return -1;
        double us = (double)(curio_clock() - t0) / 1e3 / (double)opt_rounds;
        best = us < best ? us : best;
    }
    emit("channel_pingpong_us", best);
    curio_connection_close(a);
    curio_join(t, NULL);
    curio_task_release(t);
    curio_connection_close(b);
    return 0;
}

static int run(const char *name, curio_task_fn fn)
{
    if (opt_only && strcmp(opt_only, name))
        return 0;
    long result = -1;
    int rc = curio_run(fn, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "curio-tls-bench: %s failed: %s / result %ld\n", name,
                curio_strerror(rc), result);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--certs"))
            opt_certs = argv[i + 1];
        else if (!strcmp(argv[i], "--rounds"))
            opt_rounds = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--mbytes"))
            opt_mbytes = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--handshakes"))
            opt_handshakes = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat"))
            opt_repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cipher"))
            opt_cipher = argv[i + 1];
        else if (!strcmp(argv[i], "--only"))
            opt_only = argv[i + 1];
    }
    if (!opt_certs) {
        fprintf(stderr, "usage: curio-tls-bench --certs DIR [options]\n");
        return 2;
    }
    curio_tls_options so = {.server = true, .cert_file = path("server.pem"),
                            .key_file = path("server.key"), .ciphers = opt_cipher};
    curio_tls_options co = {.ca_file = path("ca.pem"), .ciphers = opt_cipher};
    int rc = curio_tls_context_new(&server_ctx, &so);
    if (rc == 0)
        rc = curio_tls_context_new(&client_ctx, &co);
    if (rc < 0) {
        fprintf(stderr, "curio-tls-bench: contexts: %s\n", curio_strerror(rc));
        return 1;
    }
    int failed = run("pingpong", pingpong_main) | run("bulk", bulk_main) |
                 run("handshake", handshake_main) | run("channel", channel_main);
    curio_tls_context_release(server_ctx);
    curio_tls_context_release(client_ctx);
    return failed;
}
