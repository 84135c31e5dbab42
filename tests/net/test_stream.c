/*
 * as_stream: a buffered stream over a socket, owned by the socket (one per socket, closed
 * and freed with it, also while a task is blocked in one of its calls), line iteration and
 * partial counts over TCP, and a server handler's stream.
 */
#include "nettest.h"

static long lines_over_tcp(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    curio_stream *s, *again;
    cr_assert_eq(curio_socket_as_stream(b, &s, NULL), 0);
    cr_assert_eq(curio_socket_as_stream(b, &again, NULL), 0);
    cr_assert_eq(s, again, "one stream per socket");
    cr_assert_eq(curio_stream_fd(s), curio_socket_fd(b));
    cr_assert_eq(curio_sendall(a, "one\ntwo\nthr", 11, 0, NULL), 11);
    const char *line;
    cr_assert_eq(curio_stream_readline_ref(s, &line), 4);
    cr_assert_eq(memcmp(line, "one\n", 4), 0);
    cr_assert_eq(curio_stream_readline_ref(s, &line), 4);
    cr_assert_eq(memcmp(line, "two\n", 4), 0);
    cr_assert_eq(curio_stream_buffered(s), 3u);
    cr_assert_eq(curio_socket_blocking(b), -EBUSY, "not with unread bytes in the stream");
    cr_assert_eq(curio_sendall(a, "ee\n", 3, 0, NULL), 3);
    cr_assert_eq(curio_stream_readline_ref(s, &line), 6);
    cr_assert_eq(memcmp(line, "three\n", 6), 0);
    /* Writing through the stream reaches the peer's socket. */
    cr_assert_eq(curio_stream_write(s, "back\n", 5, NULL), 5);
    char buf[8];
    cr_assert_eq(curio_recv(a, buf, sizeof buf, 0), 5);
    /* read_exactly across the end of stream: the partial count. */
    cr_assert_eq(curio_sendall(a, "xyz", 3, 0, NULL), 3);
    curio_socket_shutdown(a, SHUT_WR);
    size_t done = 0;
    cr_assert_eq(curio_stream_read_exactly(s, buf, 5, &done), CURIO_EINCOMPLETE);
    cr_assert_eq(done, 3u);
    curio_socket_close(a);
    curio_socket_close(b); /* frees the stream too (ASan checks) */
    return 0;
}

Test(stream, lines_and_partial_reads_over_tcp)
{
    int fds = count_fds();
    run_main(lines_over_tcp, NULL);
    cr_assert_eq(count_fds(), fds);
}

struct line_reader {
    curio_stream *s;
    ssize_t rc;
};

static long reads_line(void *arg)
{
    struct line_reader *r = arg;
    const char *line;
    r->rc = curio_stream_readline_ref(r->s, &line);
    ev("readline=%s", r->rc == -EBADF ? "EBADF" : "other");
    return 0;
}

static long close_under_a_stream_reader(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    struct line_reader r = {0};
    curio_stream_options o = {.buffer_size = 4096};
    cr_assert_eq(curio_socket_as_stream(p[0], &r.s, &o), 0);
    cr_assert_eq(curio_sendall(p[1], "no newline yet", 14, 0, NULL), 14);
    curio_task *t = curio_spawn(reads_line, &r);
    curio_sleep(0.01);
    cr_assert_str_eq(curio_task_state(t), "READ_WAIT");
    cr_assert_eq(curio_socket_close(p[0]), 0);
    ev("closed");
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    curio_socket_close(p[1]);
    return 0;
}

Test(stream, closing_the_socket_wakes_a_stream_reader)
{
    int fds = count_fds();
    expect_log(close_under_a_stream_reader, NULL, "closed readline=EBADF");
    cr_assert_eq(count_fds(), fds);
}

static long stream_timeout(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    curio_stream *s;
    cr_assert_eq(curio_socket_as_stream(p[0], &s, NULL), 0);
    cr_assert_eq(curio_sendall(p[1], "half", 4, 0, NULL), 4);
    curio_scope sc;
    curio_timeout_after(&sc, 0.05);
    const char *line;
    cr_assert_eq(curio_stream_readline_ref(s, &line), -ETIMEDOUT);
    cr_assert_eq(curio_scope_close(&sc), -ETIMEDOUT);
    cr_assert_eq(curio_sendall(p[1], " a line\n", 8, 0, NULL), 8);
    cr_assert_eq(curio_stream_readline_ref(s, &line), 12, "nothing was lost to the timeout");
    cr_assert_eq(memcmp(line, "half a line\n", 12), 0);
    curio_socket_close(p[0]);
    curio_socket_close(p[1]);
    return 0;
}

Test(stream, readline_timeout_keeps_the_partial_line) { run_main(stream_timeout, NULL); }

static long misuse(void *arg)
{
    (void)arg;
    curio_stream *s;
    cr_assert_eq(curio_socket_as_stream(NULL, &s, NULL), -EINVAL);
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    cr_assert_eq(curio_socket_as_stream(p[0], NULL, NULL), -EINVAL);
    curio_socket_close(p[0]);
    curio_socket_close(p[1]);
    return 0;
}

Test(stream, misuse) { run_main(misuse, NULL); }

/* A server handler's stream goes with the client socket when the handler returns. */
static long line_handler(curio_socket *c, const curio_addr *a, void *arg)
{
    (void)a;
    (void)arg;
    curio_stream *s;
    int rc = curio_socket_as_stream(c, &s, NULL);
    if (rc < 0)
        return rc;
    const char *line;
    ssize_t n;
    while ((n = curio_stream_readline_ref(s, &line)) > 0)
        if ((n = curio_stream_write(s, line, (size_t)n, NULL)) < 0)
            break;
    return n;
}

static void got_port(const curio_addr *a, void *arg) { *(int *)arg = curio_addr_port(a); }

static long serve_lines(void *arg)
{
    curio_server_options o = {.on_listen = got_port};
    return curio_tcp_server("127.0.0.1", 0, line_handler, arg, &o);
}

static long line_client(void *arg)
{
    int fd = plain_connect("127.0.0.1", *(int *)arg);
    if (fd < 0)
        return fd;
    char buf[32];
    long ok = write_full(fd, "alpha\nbeta\n", 11) == 0 && read_full(fd, buf, 11) == 11 &&
              memcmp(buf, "alpha\nbeta\n", 11) == 0;
    close(fd);
    return ok ? 0 : -EIO;
}

static long server_streams(void *arg)
{
    (void)arg;
    int port = 0;
    curio_task *t = curio_spawn(serve_lines, &port);
    while (!port)
        curio_yield();
    peer p[3];
    for (int i = 0; i < 3; i++)
        peer_start(&p[i], line_client, &port);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(peer_join(&p[i]), 0);
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);
    return 0;
}

Test(stream, server_handlers_streams_are_freed_with_their_sockets)
{
    int fds = count_fds();
    run_main(server_streams, NULL);
    cr_assert_eq(count_fds(), fds);
}
