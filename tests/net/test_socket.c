/*
 * The socket handle: making and adopting sockets, options and names, shutdown, the
 * blocking() escape, and closing, also while other tasks are blocked on the socket.
 */
#include "nettest.h"

Test(socket, open_bind_listen_names_options_outside_a_task)
{
    int fds = count_fds();
    curio_socket *s;
    cr_assert_eq(curio_socket_open(&s, AF_INET, SOCK_STREAM, 0), 0);
    int fd = curio_socket_fd(s);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "close-on-exec");
    cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0, "blocking mode");
    int one = 1, v = 0;
    socklen_t len = sizeof v;
    cr_assert_eq(curio_socket_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    cr_assert_eq(curio_socket_getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(curio_socket_setsockopt(s, SOL_SOCKET, 12345, &one, sizeof one), -ENOPROTOOPT);
    curio_addr a, got;
    cr_assert_eq(curio_addr_ip(&a, "127.0.0.1", 0), 0);
    cr_assert_eq(curio_socket_bind(s, &a), 0);
    cr_assert_eq(curio_socket_listen(s, 0), 0);
    cr_assert_eq(curio_socket_getsockname(s, &got), 0);
    cr_assert_gt(curio_addr_port(&got), 0);
    cr_assert_eq(curio_socket_getpeername(s, &got), -ENOTCONN);
    cr_assert_eq(got.len, 0u);
    curio_socket *t;
    cr_assert_eq(curio_socket_open(&t, AF_INET, SOCK_STREAM, 0), 0);
    cr_assert_eq(curio_addr_ip(&a, "127.0.0.1", (uint16_t)curio_addr_port(&got)), 0);
    cr_assert_eq(curio_socket_getsockname(s, &got), 0);
    cr_assert_eq(curio_socket_bind(t, &got), -EADDRINUSE);
    cr_assert_eq(curio_socket_close(t), 0);
    cr_assert_eq(curio_socket_close(s), 0);
    cr_assert_eq(count_fds(), fds);
}

Test(socket, open_errors_and_null_handles)
{
    curio_socket *s;
    cr_assert_eq(curio_socket_open(&s, 12345, SOCK_STREAM, 0), -EAFNOSUPPORT);
    cr_assert_eq(curio_socket_open(NULL, AF_INET, SOCK_STREAM, 0), -EINVAL);
    cr_assert_eq(curio_socket_fd(NULL), -1);
    curio_addr a;
    cr_assert_eq(curio_socket_bind(NULL, &a), -EINVAL);
    cr_assert_eq(curio_socket_listen(NULL, 1), -EINVAL);
    cr_assert_eq(curio_socket_getsockname(NULL, &a), -EINVAL);
    cr_assert_eq(curio_socket_shutdown(NULL, SHUT_RDWR), -EINVAL);
    cr_assert_eq(curio_socket_close(NULL), -EINVAL);
    cr_assert_eq(curio_socket_blocking(NULL), -EINVAL);
    cr_assert_eq(curio_socket_unblock(NULL), -EINVAL);
}

Test(socket, wrap_adopts_a_descriptor)
{
    int fds = count_fds();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    curio_socket *s;
    cr_assert_eq(curio_socket_wrap(&s, sv[0]), 0);
    cr_assert_eq(curio_socket_fd(s), sv[0]);
    cr_assert_eq(curio_socket_close(s), 0);
    cr_assert_eq(fcntl(sv[0], F_GETFD), -1, "closing the handle closed the descriptor");
    close(sv[1]);
    cr_assert_eq(count_fds(), fds);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(curio_socket_wrap(&s, p[0]), -ENOTSOCK);
    cr_assert_eq(curio_socket_wrap(&s, -1), -EBADF);
    close(p[0]);
    close(p[1]);
}

/* ---- shutdown ---- */

static long shut_read(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    char buf[4];
    cr_assert_eq(curio_socket_shutdown(p[0], SHUT_RD), 0);
    cr_assert_eq(curio_recv(p[0], buf, sizeof buf, 0), 0, "end of stream after SHUT_RD");
    cr_assert_eq(curio_socket_shutdown(p[1], SHUT_WR), 0);
    cr_assert_eq(curio_send(p[1], "x", 1, 0), -EPIPE);
    curio_socket_close(p[0]);
    curio_socket_close(p[1]);
    return 0;
}

Test(socket, shutdown_each_direction) { run_main(shut_read, NULL); }

/* A task blocked in recv sees end of stream when its own side is shut down. */
static long recv_eof(void *arg)
{
    ssize_t *got = arg;
    curio_socket **p = (curio_socket **)(got + 1);
    char c;
    *got = curio_recv(p[0], &c, 1, 0);
    return 0;
}

static long shutdown_wakes_receiver(void *arg)
{
    (void)arg;
    struct {
        ssize_t got;
        curio_socket *p[2];
    } x = {.got = -99};
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, x.p), 0);
    curio_task *t = curio_spawn(recv_eof, &x);
    curio_sleep(0.01);
    cr_assert_eq(curio_socket_shutdown(x.p[0], SHUT_RDWR), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(x.got, 0);
    curio_task_release(t);
    curio_socket_close(x.p[0]);
    curio_socket_close(x.p[1]);
    return 0;
}

Test(socket, shutdown_wakes_a_blocked_receiver_with_eof) { run_main(shutdown_wakes_receiver, NULL); }

/* ---- closing while others wait ---- */

struct blocked {
    curio_socket *s;
    ssize_t rc;
    size_t sent;
    const char *what;
};

static long blocked_call(void *arg)
{
    struct blocked *b = arg;
    char buf[16];
    if (strcmp(b->what, "recv") == 0) {
        b->rc = curio_recv(b->s, buf, sizeof buf, 0);
    } else if (strcmp(b->what, "accept") == 0) {
        curio_socket *c = NULL;
        b->rc = curio_accept(b->s, &c, NULL);
        cr_assert_null(c);
    } else {
        static char big[8 << 20];
        b->rc = curio_sendall(b->s, big, sizeof big, 0, &b->sent);
    }
    ev("%s=%s", b->what, b->rc == -EBADF ? "EBADF" : "other");
    return 0;
}

static long close_under_waiters(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port), *a, *b;
    cr_assert_eq(curio_open_connection(&a, "127.0.0.1", (uint16_t)port, NULL), 0);
    cr_assert_eq(curio_accept(ls, &b, NULL), 0);
    small_buffers(curio_socket_fd(a));
    struct blocked r = {.s = a, .what = "recv"}, w = {.s = a, .what = "sendall"},
                   acc = {.s = ls, .what = "accept"};
    curio_task *tr = curio_spawn(blocked_call, &r);
    curio_task *tw = curio_spawn(blocked_call, &w);
    curio_task *ta = curio_spawn(blocked_call, &acc);
    curio_sleep(0.02);
    cr_assert_str_eq(curio_task_state(tr), "READ_WAIT");
    cr_assert_str_eq(curio_task_state(tw), "WRITE_WAIT");
    cr_assert_str_eq(curio_task_state(ta), "READ_WAIT");
    /* Close does not wait: nothing would ever complete the calls inside. */
    cr_assert_eq(curio_socket_close(a), 0); /* a reader and a writer are inside */
    cr_assert_eq(curio_socket_close(ls), 0);
    ev("closed");
    cr_assert_eq(curio_join(tr, NULL), 0);
    cr_assert_eq(curio_join(tw, NULL), 0);
    cr_assert_eq(curio_join(ta, NULL), 0);
    cr_assert_gt(w.sent, 0);
    /* The peer gets exactly what sendall reported, then end of stream. */
    size_t got = 0;
    ssize_t n;
    char buf[65536];
    while ((n = curio_recv(b, buf, sizeof buf, 0)) > 0)
        got += (size_t)n;
    cr_assert_eq(n, 0);
    cr_assert_eq(got, w.sent);
    curio_socket_close(b);
    curio_task_release(tr);
    curio_task_release(tw);
    curio_task_release(ta);
    return 0;
}

Test(socket, close_wakes_blocked_recv_sendall_and_accept_with_ebadf)
{
    int fds = count_fds();
    expect_log(close_under_waiters, NULL, "closed recv=EBADF sendall=EBADF accept=EBADF");
    cr_assert_eq(count_fds(), fds);
}

/* The receive is still in the SQ (not submitted) when the socket is closed and its number
 * is reused at once: the receive must not land on the new socket. */
static long close_before_submission(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        curio_socket *p[2], *q[2];
        cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
        struct blocked r = {.s = p[0], .what = "recv"};
        curio_task *t = curio_spawn(blocked_call, &r);
        curio_yield(); /* t queued its receive and waits */
        int old = curio_socket_fd(p[0]);
        curio_socket_close(p[0]);
        cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, q), 0);
        cr_assert_eq(curio_socket_fd(q[0]), old, "the number is reused");
        cr_assert_eq(send(curio_socket_fd(q[1]), "new", 3, 0), 3);
        cr_assert_eq(curio_join(t, NULL), 0);
        cr_assert_eq(r.rc, -EBADF);
        char buf[8];
        cr_assert_eq(curio_recv(q[0], buf, sizeof buf, 0), 3, "the new socket kept its data");
        curio_task_release(t);
        curio_socket_close(p[1]);
        curio_socket_close(q[0]);
        curio_socket_close(q[1]);
    }
    return 0;
}

Test(socket, close_before_the_receive_was_submitted_and_number_reused)
{
    ev_reset();
    int fds = count_fds();
    run_main(close_before_submission, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* Data that completed the receive before the close is still delivered. */
static long close_after_completion(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    struct blocked r = {.s = p[0], .what = "recv"};
    curio_task *t = curio_spawn(blocked_call, &r);
    curio_sleep(0.01);
    cr_assert_eq(send(curio_socket_fd(p[1]), "data", 4, 0), 4);
    curio_sleep(0.01); /* the completion has been reaped; t is ready, not yet run */
    curio_socket_close(p[0]);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(r.rc, 4);
    curio_task_release(t);
    curio_socket_close(p[1]);
    return 0;
}

Test(socket, close_after_the_receive_completed_keeps_its_data)
{
    ev_reset();
    run_main(close_after_completion, NULL);
    cr_assert_str_eq(evlog, "recv=other");
}

/* ---- blocking() ---- */

static long reads_once(void *arg)
{
    curio_socket *s = arg;
    char c;
    return curio_recv(s, &c, 1, 0);
}

static long blocking_escape(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, p), 0);
    int fd = curio_socket_blocking(p[0]);
    cr_assert_eq(fd, curio_socket_fd(p[0]));
    cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0, "blocking while lent");
    cr_assert_eq(curio_socket_blocking(p[0]), -EBUSY, "lent once");
    char c;
    cr_assert_eq(curio_recv(p[0], &c, 1, 0), -EBUSY, "curio keeps off while lent");
    cr_assert_eq(curio_send(p[0], "x", 1, 0), -EBUSY);
    cr_assert_eq(send(fd, "plain", 5, 0), 5); /* Curio's _client.sendall(data) */
    cr_assert_eq(curio_socket_unblock(p[0]), 0);
    cr_assert_eq(curio_socket_unblock(p[0]), -EINVAL);
    cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK, "restored");
    char buf[8];
    cr_assert_eq(curio_recv(p[1], buf, sizeof buf, 0), 5);
    /* Not while a task waits on it. */
    curio_task *t = curio_spawn(reads_once, p[0]);
    curio_yield();
    cr_assert_eq(curio_socket_blocking(p[0]), -EBUSY);
    cr_assert_eq(curio_send(p[1], "y", 1, 0), 1);
    long r;
    cr_assert_eq(curio_join(t, &r), 0);
    cr_assert_eq(r, 1);
    curio_task_release(t);
    cr_assert_geq(curio_socket_blocking(p[0]), 0);
    curio_socket_close(p[0]); /* closing a lent socket is allowed */
    curio_socket_close(p[1]);
    return 0;
}

Test(socket, blocking_lends_the_descriptor)
{
    int fds = count_fds();
    run_main(blocking_escape, NULL);
    cr_assert_eq(count_fds(), fds);
}
