/*
 * Closing a handle while another task is inside a call on it (kernel/gate.h): the call
 * returns -EBADF, even when its operation had already completed when the owner closed
 * (the task was woken, not yet run), so that the task never calls again on a handle that
 * is about to be freed. For sockets (recv, send, accept), listening sockets, channels
 * (accept, connect) and connections; run under ASan, where a use of the freed handle is
 * reported; nothing leaked (descriptors counted).
 */
#include "nettest.h"

TestSuite(close, .timeout = 30);

/* Wait (yielding, no sleep) until t was woken and has not run yet. */
static void until_ready(curio_task *t)
{
    for (int i = 0; i < 100000 && strcmp(curio_task_state(t), "READY") != 0; i++)
        curio_yield();
    cr_assert_str_eq(curio_task_state(t), "READY");
}

/* Wait until t blocks in state. */
static void until_state(curio_task *t, const char *state)
{
    for (int i = 0; i < 100000 && strcmp(curio_task_state(t), state) != 0; i++)
        curio_yield();
    cr_assert_str_eq(curio_task_state(t), state);
}

/* ---- a call whose operation completed just before the close ---- */

struct user {
    void *h;
    long rc, again; /* again: the second call, made only after a success */
};

/* What a user does with a handle it still holds: call, and on success call again. */
static long recv_twice(void *arg)
{
    struct user *u = arg;
    char c;
    u->rc = curio_recv(u->h, &c, 1, 0);
    if (u->rc > 0)
        u->again = curio_recv(u->h, &c, 1, 0);
    return 0;
}

static long recv_completed_main(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    struct user u = {.h = p[0], .again = 1};
    curio_task *t = curio_spawn(recv_twice, &u);
    until_state(t, "READ_WAIT");
    cr_assert_eq(send(curio_socket_fd(p[1]), "x", 1, 0), 1);
    until_ready(t); /* its receive got the byte */
    cr_assert_eq(curio_socket_close(p[0]), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(u.rc, -EBADF, "the result of a call on a closed socket is dropped");
    cr_assert_eq(u.again, 1, "no second call");
    curio_task_release(t);
    curio_socket_close(p[1]);
    return 0;
}

Test(close, socket_recv_completed_then_closed_returns_ebadf)
{
    int fds = count_fds();
    run_main(recv_completed_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long accept_twice(void *arg)
{
    struct user *u = arg;
    curio_socket *c = NULL;
    u->rc = curio_accept(u->h, &c, NULL);
    if (u->rc == 0) {
        curio_socket_close(c);
        u->again = curio_accept(u->h, &c, NULL);
    } else {
        cr_assert_null(c);
    }
    return 0;
}

static long accept_completed_main(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port);
    struct user u = {.h = ls, .again = 1};
    curio_task *t = curio_spawn(accept_twice, &u);
    until_state(t, "READ_WAIT");
    int fd = plain_connect("127.0.0.1", port);
    cr_assert_geq(fd, 0);
    until_ready(t); /* its accept got the client */
    cr_assert_eq(curio_socket_close(ls), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(u.rc, -EBADF);
    cr_assert_eq(u.again, 1);
    char c;
    cr_assert_eq(read(fd, &c, 1), 0, "the accepted client was closed, not leaked");
    close(fd);
    curio_task_release(t);
    return 0;
}

Test(close, listening_socket_accept_completed_then_closed_returns_ebadf)
{
    int fds = count_fds();
    run_main(accept_completed_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- channels ---- */

static long chan_accept(void *arg)
{
    struct user *u = arg;
    curio_connection *c = NULL;
    u->rc = curio_channel_accept(u->h, &c, NULL, 0);
    if (u->rc == 0) {
        curio_connection_close(c);
        u->again = curio_channel_accept(u->h, &c, NULL, 0);
    } else {
        cr_assert_null(c);
    }
    return 0;
}

static curio_channel *bound_channel(int *port, const curio_channel_options *o)
{
    curio_channel *ch;
    cr_assert_eq(curio_channel_tcp(&ch, "127.0.0.1", 0, o), 0);
    cr_assert_eq(curio_channel_bind(ch), 0);
    curio_addr a;
    cr_assert_eq(curio_channel_address(ch, &a), 0);
    *port = curio_addr_port(&a);
    return ch;
}

static long chan_completed_main(void *arg)
{
    (void)arg;
    int port;
    curio_channel *ch = bound_channel(&port, NULL);
    struct user u = {.h = ch, .again = 1};
    curio_task *t = curio_spawn(chan_accept, &u);
    until_state(t, "READ_WAIT");
    int fd = plain_connect("127.0.0.1", port);
    cr_assert_geq(fd, 0);
    until_ready(t);
    curio_channel_close(ch);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(u.rc, -EBADF, "the documented -EBADF, not a connection");
    cr_assert_eq(u.again, 1);
    char c;
    cr_assert_eq(read(fd, &c, 1), 0, "the client was closed, not leaked");
    close(fd);
    curio_task_release(t);
    return 0;
}

Test(close, channel_accept_completed_then_closed_returns_ebadf)
{
    int fds = count_fds();
    run_main(chan_completed_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long chan_blocked_main(void *arg)
{
    (void)arg;
    int port;
    curio_channel *ch = bound_channel(&port, NULL);
    struct user u = {.h = ch, .again = 1};
    curio_task *t = curio_spawn(chan_accept, &u);
    until_state(t, "READ_WAIT");
    int64_t t0 = curio_clock();
    curio_channel_close(ch);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_lt(secs_since(t0), 0.5, "the close woke the accepting task");
    cr_assert_eq(u.rc, -EBADF);
    curio_task_release(t);
    return 0;
}

Test(close, channel_closed_while_accept_waits)
{
    int fds = count_fds();
    run_main(chan_blocked_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

static void quiet(const char *msg, void *arg)
{
    (void)msg;
    (void)arg;
}

static long chan_accept_key(void *arg)
{
    struct user *u = arg;
    curio_connection *c = NULL;
    u->rc = curio_channel_accept(u->h, &c, "key", 3);
    cr_assert_null(c);
    return 0;
}

/* The accepting task is inside the authentication of a client that never answers: it
 * finishes that step (auth_timeout), then returns -EBADF instead of waiting for the
 * next client, and the channel is freed by it. */
static long chan_auth_main(void *arg)
{
    (void)arg;
    int port;
    curio_channel_options o = {.auth_timeout = 0.2, .log = quiet};
    curio_channel *ch = bound_channel(&port, &o);
    struct user u = {.h = ch};
    curio_task *t = curio_spawn(chan_accept_key, &u);
    until_state(t, "READ_WAIT");
    int fd = plain_connect("127.0.0.1", port); /* and never answers the challenge */
    cr_assert_geq(fd, 0);
    until_ready(t);
    until_state(t, "READ_WAIT");
    curio_channel_close(ch);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(u.rc, -EBADF);
    char c[64];
    while (read(fd, c, sizeof c) > 0)
        ; /* the challenge, then end of stream: the client was closed */
    close(fd);
    curio_task_release(t);
    return 0;
}

Test(close, channel_closed_while_accept_authenticates)
{
    int fds = count_fds();
    run_main(chan_auth_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long chan_connect(void *arg)
{
    struct user *u = arg;
    curio_connection *c = NULL;
    u->rc = curio_channel_connect(u->h, &c, NULL, 0);
    cr_assert_null(c);
    return 0;
}

static long chan_connect_main(void *arg)
{
    (void)arg;
    /* Nobody listens on the path: connect retries every retry_interval. Closed while it
     * sleeps, it returns -EBADF once the sleep ends, without touching the freed channel. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/curio-close-%d.sock", (int)getpid());
    unlink(path);
    curio_channel_options o = {.retry_interval = 0.1};
    curio_channel *ch;
    cr_assert_eq(curio_channel_unix(&ch, path, &o), 0);
    struct user u = {.h = ch};
    curio_task *t = curio_spawn(chan_connect, &u);
    until_state(t, "TIME_SLEEP");
    curio_channel_close(ch);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(u.rc, -EBADF);
    curio_task_release(t);
    return 0;
}

Test(close, channel_closed_while_connect_retries)
{
    int fds = count_fds();
    run_main(chan_connect_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- connections ---- */

static long conn_recv_twice(void *arg)
{
    struct user *u = arg;
    char buf[16];
    u->rc = curio_connection_recv_into(u->h, buf, sizeof buf);
    if (u->rc >= 0)
        u->again = curio_connection_recv_into(u->h, buf, sizeof buf);
    return 0;
}

static long conn_main(void *arg)
{
    bool completed = arg != NULL;
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    curio_connection *a, *b;
    cr_assert_eq(curio_connection_open(&a, p[0], NULL), 0);
    cr_assert_eq(curio_connection_open(&b, p[1], NULL), 0);
    struct user u = {.h = a, .again = 1};
    curio_task *t = curio_spawn(conn_recv_twice, &u);
    until_state(t, "READ_WAIT");
    if (completed) {
        cr_assert_eq(curio_connection_send(b, "hi", 2), 0);
        until_ready(t);
    }
    cr_assert_eq(curio_connection_close(a), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(u.rc, -EBADF);
    cr_assert_eq(u.again, 1);
    curio_task_release(t);
    curio_connection_close(b);
    return 0;
}

Test(close, connection_closed_while_recv_waits)
{
    int fds = count_fds();
    run_main(conn_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

Test(close, connection_recv_completed_then_closed_returns_ebadf)
{
    int fds = count_fds();
    run_main(conn_main, (void *)1);
    cr_assert_eq(count_fds(), fds);
}

/* ---- connect ---- */

struct target {
    curio_socket *s;
    curio_addr a;
};

static long connect_blocked(void *arg)
{
    struct user *u = arg;
    struct target *to = u->h;
    u->rc = curio_connect(to->s, &to->a);
    return 0;
}

/* A listener whose accept queue is full drops further SYNs: a connect to it waits (the
 * client retransmits), until the close wakes it. */
static long connect_main(void *arg)
{
    (void)arg;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(lfd, 0);
    curio_addr a;
    cr_assert_eq(curio_addr_ip(&a, "127.0.0.1", 0), 0);
    cr_assert_eq(bind(lfd, &a.u.sa, a.len), 0);
    cr_assert_eq(listen(lfd, 0), 0);
    a.len = sizeof a.u;
    cr_assert_eq(getsockname(lfd, &a.u.sa, &a.len), 0);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        cr_assert_geq(fill[i], 0);
        connect(fill[i], &a.u.sa, a.len); /* EINPROGRESS, or queued */
    }
    struct target target = {.a = a};
    cr_assert_eq(curio_socket_open(&target.s, AF_INET, SOCK_STREAM, 0), 0);
    struct user u = {.h = &target};
    curio_task *t = curio_spawn(connect_blocked, &u);
    until_state(t, "WRITE_WAIT");
    curio_sleep(0.05);
    cr_assert_str_eq(curio_task_state(t), "WRITE_WAIT", "the connect waits");
    cr_assert_eq(curio_socket_close(target.s), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(u.rc, -EBADF);
    curio_task_release(t);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
    return 0;
}

Test(close, socket_closed_while_connect_waits)
{
    int fds = count_fds();
    run_main(connect_main, NULL);
    cr_assert_eq(count_fds(), fds);
}
