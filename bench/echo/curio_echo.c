/*
 * curio-echo: curio's echo servers for the comparison in bench/echo/run.
 *
 *   curio-echo [--port N] [--mode socket|stream|bufring]  (contract: server_common.h)
 *
 * Both are what a user of curio writes: curio_tcp_server_socket + curio_run_server, one
 * task per connection, straight-line code, every call a blocking call on the kernel.
 *   socket  recv into the task's buffer, sendall it back (Curio's echo_client with
 *           client.recv / client.sendall);
 *   stream  the connection as a curio stream: read what is there, write it back (Curio's
 *           SocketStream echo: s.read(n) / s.write()).
 *   bufring curio_recv_buf: the bytes arrive in a buffer of the kernel's ring (multishot
 *           receive), are sent back from there, and the buffer is released; the task
 *           holds no buffer while it waits.
 * The buffers are 16 KiB on each task's stack (for 10,000 connections that is what a
 * task per connection costs in memory, as asyncio's per-connection buffers do).
 * A task watching standard input cancels the server at its end of file.
 */
/* The listening socket is curio's own (curio_tcp_server_socket), so server_common.h's
 * echo_listen goes unused. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "server_common.h"

#include <curio.h>

#define BUF 16384

static bool stream_mode, bufring_mode;

static long echo_bufring(curio_socket *c, const curio_addr *addr, void *arg)
{
    (void)addr;
    (void)arg;
    echo_nodelay(curio_socket_fd(c));
    curio_buf b;
    ssize_t n;
    while ((n = curio_recv_buf(c, &b)) > 0) {
        n = curio_sendall(c, b.data, b.len, 0, NULL);
        curio_buf_release(&b);
        if (n < 0)
            return n;
    }
    return n;
}

static long echo_socket(curio_socket *c, const curio_addr *addr, void *arg)
{
    (void)addr;
    (void)arg;
    char buf[BUF];
    echo_nodelay(curio_socket_fd(c));
    for (;;) {
        ssize_t n = curio_recv(c, buf, sizeof buf, 0);
        if (n <= 0)
            return n == 0 ? 0 : n;
        n = curio_sendall(c, buf, (size_t)n, 0, NULL);
        if (n < 0)
            return n;
    }
}

static long echo_stream(curio_socket *c, const curio_addr *addr, void *arg)
{
    (void)addr;
    (void)arg;
    char buf[BUF];
    echo_nodelay(curio_socket_fd(c));
    curio_stream *s;
    curio_stream_options o = {.buffer_size = BUF, .keep_fd = true};
    int rc = curio_stream_open(&s, curio_socket_fd(c), &o);
    if (rc < 0)
        return rc;
    ssize_t n;
    while ((n = curio_stream_read(s, buf, sizeof buf)) > 0)
        if ((n = curio_stream_write(s, buf, (size_t)n, NULL)) < 0)
            break;
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
    curio_server_options o = {.backlog = ECHO_BACKLOG, .on_listen = on_listen};
    curio_socket *ls;
    int rc = curio_tcp_server_socket(&ls, "127.0.0.1", (uint16_t)port, &o);
    if (rc < 0)
        echo_die("listen", -rc);
    rc = curio_run_server(ls, bufring_mode ? echo_bufring : stream_mode ? echo_stream : echo_socket,
                          NULL, &o);
    return rc == -ECANCELED ? 0 : rc;
}

/* Ends the server when standard input reaches its end (the runner closes it). */
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

int main(int argc, char **argv)
{
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
            const char *m = argv[++i];
            if (strcmp(m, "socket") && strcmp(m, "stream") && strcmp(m, "bufring")) {
                fprintf(stderr, "curio-echo: --mode socket|stream|bufring\n");
                return 64;
            }
            stream_mode = !strcmp(m, "stream");
            bufring_mode = !strcmp(m, "bufring");
        } else {
            port = echo_parse_port(argc, argv, &i, " [--mode socket|stream|bufring]");
        }
    }
    echo_raise_nofile();
    /* 10,000 connections: a deep enough ring that a full burst of completions fits. */
    curio_options opts = {.ring_entries = 4096};
    long r = 1;
    int rc = curio_run(main_task, &port, &opts, &r);
    if (rc < 0)
        echo_die("curio_run", -rc);
    return r == 0 ? 0 : 1;
}
