/*
 * curio-idle: curio's servers for the idle-connection memory comparison (bench/idle/run).
 *
 *   curio-idle [--port N] [--mode socket|stream] [--buf BYTES] [--deep BYTES] [--stack BYTES]
 *
 * What a user of curio writes for a line protocol: curio_tcp_server_socket +
 * curio_run_server, one task per connection, parked in a read between messages.
 *   socket  curio_recv into a buffer on the task's stack, curio_sendall it back;
 *   stream  the connection as a curio stream with its default buffer (64 KiB):
 *           curio_stream_read into a buffer on the stack, curio_stream_write it back.
 * --buf is the size of the buffer on the stack (default 1024); --stack the server's
 * stack_size option (default: the kernel's, 128 KiB). A message that starts with 'D' makes
 * the handler touch --deep bytes of its stack (default 32 KiB) before it answers, as a TLS
 * handshake or a deep parser would: bench/idle/run's "recycled" rows end such connections
 * and then measure idle ones on the same stacks. Follows the contract in
 * bench/echo/server_common.h (READY <port> on stdout, exit at end of standard input).
 */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../echo/server_common.h"

#include <curio.h>

#define MAX_BUF 65536

static bool stream_mode;
static size_t buf_size = 1024;
static size_t stack_size;
static size_t deep_size = 32768;

/* Touch n bytes of the stack below the caller's frame. */
__attribute__((noinline)) static void go_deep(size_t n)
{
    char area[n];
    memset(area, 'd', n);
    __asm__ volatile("" : : "r"(area) : "memory"); /* the stores are kept */
}

static long idle_socket(curio_socket *c, const curio_addr *addr, void *arg)
{
    (void)addr;
    (void)arg;
    char buf[buf_size]; /* a VLA: only the bytes written are touched */
    echo_nodelay(curio_socket_fd(c));
    for (;;) {
        ssize_t n = curio_recv(c, buf, buf_size, 0);
        if (n <= 0)
            return n == 0 ? 0 : n;
        if (buf[0] == 'D')
            go_deep(deep_size);
        n = curio_sendall(c, buf, (size_t)n, 0, NULL);
        if (n < 0)
            return n;
    }
}

static long idle_stream(curio_socket *c, const curio_addr *addr, void *arg)
{
    (void)addr;
    (void)arg;
    char buf[buf_size];
    echo_nodelay(curio_socket_fd(c));
    curio_stream *s;
    curio_stream_options o = {.keep_fd = true};
    int rc = curio_stream_open(&s, curio_socket_fd(c), &o);
    if (rc < 0)
        return rc;
    ssize_t n;
    while ((n = curio_stream_read(s, buf, buf_size)) > 0) {
        if (buf[0] == 'D')
            go_deep(deep_size);
        if ((n = curio_stream_write(s, buf, (size_t)n, NULL)) < 0)
            break;
    }
    curio_stream_close(s);
    return n < 0 ? n : 0;
}

static void on_listen(const curio_addr *a, void *arg)
{
    (void)arg;
    echo_ready(curio_addr_port(a));
}

static long serve(void *arg)
{
    int port = *(int *)arg;
    curio_server_options o = {.backlog = ECHO_BACKLOG, .on_listen = on_listen,
                              .stack_size = stack_size};
    curio_socket *ls;
    int rc = curio_tcp_server_socket(&ls, "127.0.0.1", (uint16_t)port, &o);
    if (rc < 0)
        echo_die("listen", -rc);
    rc = curio_run_server(ls, stream_mode ? idle_stream : idle_socket, NULL, &o);
    return rc == -ECANCELED ? 0 : rc;
}

static long watch_stdin(void *server)
{
    char c[64];
    while (curio_read(0, c, sizeof c) > 0)
        ;
    curio_cancel(server);
    return 0;
}

static long main_task(void *arg)
{
    curio_task *server = curio_spawn(serve, arg);
    curio_task *watcher = NULL;
    if (echo_stdin_watchable())
        watcher = curio_spawn(watch_stdin, server);
    long r = 0;
    curio_join(server, &r);
    if (watcher) {
        curio_cancel(watcher);
        curio_task_release(watcher);
    }
    curio_task_release(server);
    return r;
}

static size_t parse_size(const char *s, size_t lo, size_t hi)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v < lo || v > hi) {
        fprintf(stderr, "curio-idle: bad size %s (%zu..%zu)\n", s, lo, hi);
        exit(64);
    }
    return v;
}

int main(int argc, char **argv)
{
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
            const char *m = argv[++i];
            if (strcmp(m, "socket") && strcmp(m, "stream")) {
                fprintf(stderr, "curio-idle: --mode socket|stream\n");
                return 64;
            }
            stream_mode = !strcmp(m, "stream");
        } else if (!strcmp(argv[i], "--buf") && i + 1 < argc) {
            buf_size = parse_size(argv[++i], 1, MAX_BUF);
        } else if (!strcmp(argv[i], "--deep") && i + 1 < argc) {
            deep_size = parse_size(argv[++i], 64, 1 << 20);
        } else if (!strcmp(argv[i], "--stack") && i + 1 < argc) {
            stack_size = parse_size(argv[++i], 16384, 1 << 24);
        } else {
            port = echo_parse_port(argc, argv, &i,
                                   " [--mode socket|stream] [--buf BYTES] [--deep BYTES] [--stack BYTES]");
        }
    }
    echo_raise_nofile();
    curio_options opts = {.ring_entries = 4096};
    long r = 1;
    int rc = curio_run(main_task, &port, &opts, &r);
    if (rc < 0)
        echo_die("curio_run", -rc);
    return r == 0 ? 0 : 1;
}
