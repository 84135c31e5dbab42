/*
 * A socket's defaults and life as a server author meets them: TCP_NODELAY on accepted and
 * connected sockets (inherited from the listener, checked on this kernel), no silent loss
 * at close (CURIO_EUNFLUSHED, curio_socket_flush_close and curio_stream_flush_close with
 * exact dropped counts under timeouts, cancellation and a close by another task), the
 * server flushing what a handler left buffered (bounded by close_timeout, drops logged),
 * curio_socket_abort (the peer sees a reset, not the data drained), quiet servers (a peer
 * that went away is no handler failure; tasks named after the peer), curio_socket_port.
 */
#include "nettest.h"

TestSuite(lifecycle, .timeout = 60);

static int nodelay_of(curio_socket *s)
{
    int v = -1;
    socklen_t len = sizeof v;
    cr_assert_eq(curio_socket_getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    return v != 0;
}

/* Wait (yielding, no sleep) until t blocks in state. */
static void until_state(curio_task *t, const char *state)
{
    for (int i = 0; i < 100000 && strcmp(curio_task_state(t), state) != 0; i++)
        curio_yield();
    cr_assert_str_eq(curio_task_state(t), state);
}

/* ---- TCP_NODELAY ---- */

/* The kernel's own behaviour that curio relies on: accept(2) copies the listener's
 * TCP_NODELAY into the new connection, both ways. */
Test(lifecycle, kernel_accepted_socket_inherits_tcp_nodelay)
{
    for (int want = 0; want <= 1; want++) {
        int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(ls, 0);
        int v = want;
        cr_assert_eq(setsockopt(ls, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v), 0);
        curio_addr a;
        curio_addr_ip(&a, "127.0.0.1", 0);
        cr_assert_eq(bind(ls, &a.u.sa, a.len), 0);
        cr_assert_eq(listen(ls, 4), 0);
        a.len = sizeof a.u;
        cr_assert_eq(getsockname(ls, &a.u.sa, &a.len), 0);
        int c = plain_connect("127.0.0.1", curio_addr_port(&a));
        cr_assert_geq(c, 0);
        int s = accept(ls, NULL, NULL);
        cr_assert_geq(s, 0);
        socklen_t len = sizeof v;
        v = -1;
        cr_assert_eq(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
        cr_assert_eq(v != 0, want, "accepted socket's TCP_NODELAY follows the listener's");
        close(s);
        close(c);
        close(ls);
    }
}

static long nodelay_main(void *arg)
{
    (void)arg;
    /* curio_socket_open + bind + listen, curio_connect, curio_accept. */
    curio_socket *ls, *c, *s;
    cr_assert_eq(curio_socket_open(&ls, AF_INET, SOCK_STREAM, 0), 0);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", 0);
    cr_assert_eq(curio_socket_bind(ls, &a), 0);
    cr_assert_eq(curio_socket_listen(ls, 4), 0);
    cr_assert_eq(curio_socket_getsockname(ls, &a), 0);
    cr_assert_eq(curio_socket_open(&c, AF_INET, SOCK_STREAM, 0), 0);
    cr_assert_eq(nodelay_of(c), 0, "a fresh socket has Nagle on");
    cr_assert_eq(curio_connect(c, &a), 0);
    cr_assert_eq(curio_accept(ls, &s, NULL), 0);
    cr_assert_eq(nodelay_of(c), 1, "connected");
    cr_assert_eq(nodelay_of(s), 1, "accepted");
    curio_socket_close(c);
    curio_socket_close(s);
    /* Off on the listener after listen: later connections are without it. */
    int zero = 0;
    cr_assert_eq(curio_socket_setsockopt(ls, IPPROTO_TCP, TCP_NODELAY, &zero, sizeof zero), 0);
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)curio_addr_port(&a), NULL), 0);
    cr_assert_eq(curio_accept(ls, &s, NULL), 0);
    cr_assert_eq(nodelay_of(c), 1, "open_connection");
    cr_assert_eq(nodelay_of(s), 0, "the listener's setting is inherited");
    curio_socket_close(c);
    curio_socket_close(s);
    curio_socket_close(ls);

    /* tcp_server_socket, and open_connection's no_tcp_nodelay. */
    int port;
    ls = listen_on("127.0.0.1", &port);
    cr_assert_eq(nodelay_of(ls), 1);
    curio_connect_options co = {.no_tcp_nodelay = true};
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)port, &co), 0);
    cr_assert_eq(curio_accept(ls, &s, NULL), 0);
    cr_assert_eq(nodelay_of(c), 0, "no_tcp_nodelay");
    cr_assert_eq(nodelay_of(s), 1);
    curio_socket_close(c);
    curio_socket_close(s);
    curio_socket_close(ls);
    curio_server_options so = {.no_tcp_nodelay = true};
    cr_assert_eq(curio_tcp_server_socket(&ls, "127.0.0.1", 0, &so), 0);
    cr_assert_eq(nodelay_of(ls), 0);
    curio_socket_close(ls);

    /* Not TCP: nothing set, nothing fails. */
    cr_assert_eq(curio_unix_server_socket(&ls, "@curio-lifecycle-nodelay", NULL), 0);
    curio_socket_close(ls);
    return 0;
}

Test(lifecycle, tcp_nodelay_on_accepted_and_connected_sockets)
{
    int fds = count_fds();
    run_main(nodelay_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- closing with bytes in the stream's write buffer ---- */

#define WBUF (1 << 20)

/* A pair with a buffered stream on p[0]; n bytes written into its buffer, none sent. */
static curio_stream *buffered_pair(curio_socket *p[2], size_t n)
{
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    small_buffers(curio_socket_fd(p[0]));
    small_buffers(curio_socket_fd(p[1]));
    curio_stream *st;
    curio_stream_options o = {.write_buffer = WBUF};
    cr_assert_eq(curio_socket_as_stream(p[0], &st, &o), 0);
    static char junk[WBUF];
    memset(junk, 'x', sizeof junk);
    size_t done;
    cr_assert_eq(curio_stream_write(st, junk, n, &done), (ssize_t)n);
    cr_assert_eq(curio_stream_unflushed(st), n);
    return st;
}

/* Everything p receives until end of stream. */
static long drain_socket(curio_socket *p)
{
    static char buf[65536];
    long total = 0;
    ssize_t r;
    while ((r = curio_recv(p, buf, sizeof buf, 0)) > 0)
        total += r;
    return r < 0 ? r : total;
}

static long close_unflushed_main(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    buffered_pair(p, 100);
    cr_assert_eq(curio_socket_close(p[0]), CURIO_EUNFLUSHED);
    cr_assert_eq(drain_socket(p[1]), 0, "the 100 bytes were dropped");
    curio_socket_close(p[1]);
    /* Nothing buffered: 0. */
    curio_stream *st = buffered_pair(p, 10);
    cr_assert_eq(curio_stream_flush(st), 0);
    cr_assert_eq(curio_stream_unflushed(st), 0);
    cr_assert_eq(curio_socket_close(p[0]), 0);
    cr_assert_eq(curio_socket_close(p[1]), 0);
    cr_assert_eq(curio_socket_close(NULL), -EINVAL);
    cr_assert_eq(curio_stream_unflushed(NULL), 0);
    return 0;
}

Test(lifecycle, socket_close_reports_unflushed_bytes)
{
    int fds = count_fds();
    run_main(close_unflushed_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long flush_close_main(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    buffered_pair(p, 1000);
    size_t dropped = 99;
    cr_assert_eq(curio_socket_flush_close(p[0], &dropped), 0);
    cr_assert_eq(dropped, 0);
    cr_assert_eq(drain_socket(p[1]), 1000, "every byte, then end of stream");
    curio_socket_close(p[1]);
    /* No stream, and no dropped pointer. */
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    cr_assert_eq(curio_socket_flush_close(p[0], NULL), 0);
    curio_socket_close(p[1]);
    /* Bad input. */
    dropped = 99;
    cr_assert_eq(curio_socket_flush_close(NULL, &dropped), -EINVAL);
    cr_assert_eq(dropped, 0);
    cr_assert_eq(curio_stream_flush_close(NULL, &dropped), -EINVAL);
    return 0;
}

Test(lifecycle, socket_flush_close_sends_everything)
{
    int fds = count_fds();
    run_main(flush_close_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* flush_close of a buffer far larger than the pair can hold, stopped three ways while
 * blocked: the exact count dropped is what the peer then does not receive. */
struct fc {
    curio_socket *s;
    int how; /* 0: timeout, 1: cancelled, 2: closed by another task */
    int rc;
    size_t dropped;
};

static long fc_task(void *arg)
{
    struct fc *f = arg;
    curio_scope sc;
    if (f->how == 0)
        cr_assert_eq(curio_timeout_after(&sc, 0.05), 0);
    f->rc = curio_socket_flush_close(f->s, &f->dropped);
    if (f->how == 0)
        curio_scope_close(&sc);
    return 0;
}

static long flush_close_stopped_main(void *arg)
{
    int how = (int)(intptr_t)arg;
    curio_socket *p[2];
    buffered_pair(p, WBUF);
    struct fc f = {.s = p[0], .how = how, .dropped = 12345};
    curio_task *t = curio_spawn(fc_task, &f);
    until_state(t, "WRITE_WAIT");
    if (how == 1)
        cr_assert_eq(curio_cancel(t), 0);
    if (how == 2)
        cr_assert_eq(curio_socket_close(p[0]), CURIO_EUNFLUSHED);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    int want[] = {-ETIMEDOUT, -ECANCELED, -EBADF};
    cr_assert_eq(f.rc, want[how], "%s", curio_strerror(f.rc));
    cr_assert_gt(f.dropped, 0);
    long got = drain_socket(p[1]);
    cr_assert_geq(got, 0);
    if (how == 2) {
        /* The close drops the result of the send in flight (the gate's rule): those bytes
         * are counted as dropped, though some of them may have gone. */
        cr_assert_geq((size_t)got + f.dropped, WBUF, "%ld + %zu", got, f.dropped);
    } else {
        cr_assert_lt(f.dropped, WBUF, "some went before it stopped");
        cr_assert_eq((size_t)got, WBUF - f.dropped, "dropped is exact: %ld + %zu", got,
                     f.dropped);
    }
    curio_socket_close(p[1]);
    return 0;
}

Test(lifecycle, socket_flush_close_timeout_exact_dropped)
{
    int fds = count_fds();
    run_main(flush_close_stopped_main, (void *)0);
    cr_assert_eq(count_fds(), fds);
}

Test(lifecycle, socket_flush_close_cancelled_exact_dropped)
{
    int fds = count_fds();
    run_main(flush_close_stopped_main, (void *)1);
    cr_assert_eq(count_fds(), fds);
}

Test(lifecycle, socket_flush_close_closed_by_another_task)
{
    int fds = count_fds();
    run_main(flush_close_stopped_main, (void *)2);
    cr_assert_eq(count_fds(), fds);
}

/* The peer resets while the flush waits: the flush's error, the socket closed, the rest
 * dropped. */
struct resetter {
    curio_socket *peer;
};

static long reset_peer(void *arg)
{
    struct resetter *r = arg;
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    curio_socket_setsockopt(r->peer, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    curio_socket_close(r->peer);
    return 0;
}

static long flush_close_reset_main(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_buffers(curio_socket_fd(a));
    small_buffers(curio_socket_fd(b));
    curio_stream *st;
    curio_stream_options o = {.write_buffer = WBUF};
    cr_assert_eq(curio_socket_as_stream(a, &st, &o), 0);
    static char junk[WBUF];
    size_t done, dropped = 0;
    cr_assert_eq(curio_stream_write(st, junk, WBUF, &done), WBUF);
    struct resetter r = {.peer = b};
    curio_task *t = curio_spawn(reset_peer, &r); /* runs once the flush waits */
    int rc = curio_socket_flush_close(a, &dropped);
    cr_assert(rc == -ECONNRESET || rc == -EPIPE, "%s", curio_strerror(rc));
    cr_assert_gt(dropped, 0);
    cr_assert_leq(dropped, WBUF);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    return 0;
}

Test(lifecycle, socket_flush_close_peer_reset)
{
    int fds = count_fds();
    run_main(flush_close_reset_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* A task whose cancellation is pending: nothing is sent, all is dropped, s is closed. */
static long flush_close_pending_cancel_main(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    buffered_pair(p, 500);
    cr_assert_eq(curio_cancel_nowait(curio_current()), 0);
    size_t dropped;
    cr_assert_eq(curio_socket_flush_close(p[0], &dropped), -ECANCELED);
    cr_assert_eq(dropped, 500);
    curio_scope sc;
    cr_assert_eq(curio_disable_cancellation(&sc), 0);
    cr_assert_eq(drain_socket(p[1]), 0);
    curio_scope_close(&sc);
    curio_socket_close(p[1]);
    return 0;
}

Test(lifecycle, socket_flush_close_pending_cancellation_drops_all)
{
    int fds = count_fds();
    curio_run(flush_close_pending_cancel_main, NULL, NULL, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* The stream's own flush_close, over a descriptor the stream owns. */
static long stream_flush_close_main(void *arg)
{
    int how = (int)(intptr_t)arg;
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    small_buffers(sv[0]);
    small_buffers(sv[1]);
    curio_stream *st;
    curio_stream_options o = {.write_buffer = WBUF};
    cr_assert_eq(curio_stream_open(&st, sv[0], &o), 0);
    static char junk[WBUF];
    size_t n = how ? WBUF : 777, done, dropped = 1;
    cr_assert_eq(curio_stream_write(st, junk, n, &done), (ssize_t)n);
    curio_socket *peer;
    cr_assert_eq(curio_socket_wrap(&peer, sv[1]), 0);
    int rc;
    if (how) {
        curio_scope sc;
        cr_assert_eq(curio_timeout_after(&sc, 0.05), 0);
        rc = curio_stream_flush_close(st, &dropped);
        curio_scope_close(&sc);
        cr_assert_eq(rc, -ETIMEDOUT);
        cr_assert_gt(dropped, 0);
    } else {
        cr_assert_eq(curio_stream_flush_close(st, &dropped), 0);
        cr_assert_eq(dropped, 0);
    }
    cr_assert_eq((size_t)drain_socket(peer), n - dropped);
    curio_socket_close(peer);
    return 0;
}

Test(lifecycle, stream_flush_close)
{
    int fds = count_fds();
    run_main(stream_flush_close_main, (void *)0);
    run_main(stream_flush_close_main, (void *)1);
    cr_assert_eq(count_fds(), fds);
}

/* ---- abort ---- */

struct sender {
    curio_socket *s;
    ssize_t rc;
    size_t sent;
};

static long send_lots(void *arg)
{
    struct sender *x = arg;
    static char big[8 << 20];
    x->rc = curio_sendall(x->s, big, sizeof big, 0, &x->sent);
    return 0;
}

static long abort_main(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_buffers(curio_socket_fd(b));
    /* Megabytes unsent: a task blocked sending 8 MiB to a peer that does not read, and
     * the stream's buffer holding more. */
    struct sender x = {.s = a};
    curio_task *t = curio_spawn(send_lots, &x);
    until_state(t, "WRITE_WAIT");
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_socket_abort(a), 0);
    cr_assert_lt(secs_since(t0), 1.0, "abort never blocks");
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(x.rc, -EBADF, "the blocked sender gets -EBADF");
    cr_assert_lt(x.sent, (size_t)8 << 20);
    /* The peer reads what already reached it, then the reset. */
    long got = drain_socket(b);
    cr_assert_eq(got, -ECONNRESET, "the peer sees a reset, not the rest drained");
    curio_socket_close(b);
    cr_assert_eq(curio_socket_abort(NULL), -EINVAL);
    /* Not TCP: a plain close. */
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    cr_assert_eq(curio_socket_abort(p[0]), 0);
    cr_assert_eq(drain_socket(p[1]), 0);
    curio_socket_close(p[1]);
    return 0;
}

Test(lifecycle, abort_resets_with_megabytes_unsent)
{
    int fds = count_fds();
    run_main(abort_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- servers ---- */

struct srv {
    curio_socket *ls;
    int port;
    curio_server_options opts;
    long (*body)(curio_socket *c, const curio_addr *addr, struct srv *s);
    long ret;                /* what quiet_body returns */
    char log[4096];
    int nlog;
    curio_event logged;      /* set by each log line */
    curio_event done;        /* set by a handler as it returns */
    char name[64], peer[CURIO_ADDR_STRLEN];
    int nodelay;
    size_t dropped;          /* from the log line */
    int rc;
};

static void on_log(const char *msg, void *arg)
{
    struct srv *s = arg;
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof s->log - n, "%s\n", msg);
    s->nlog++;
    const char *d = strstr(msg, ": ");
    if ((d = strstr(msg, " unsent bytes dropped")) != NULL) {
        while (d > msg && d[-1] >= '0' && d[-1] <= '9')
            d--;
        s->dropped = strtoull(d, NULL, 10);
    }
    curio_event_set(&s->logged);
}

static long handler(curio_socket *c, const curio_addr *addr, void *arg)
{
    struct srv *s = arg;
    return s->body(c, addr, s);
}

static long serve(void *arg)
{
    struct srv *s = arg;
    s->opts.log = on_log;
    s->rc = curio_run_server(s->ls, handler, s, &s->opts);
    return 0;
}

/* The pattern of curio_socket_port: make the socket, read its port, spawn the server. */
static curio_task *start(struct srv *s)
{
    cr_assert_eq(curio_tcp_server_socket(&s->ls, "127.0.0.1", 0, &s->opts), 0);
    s->port = curio_socket_port(s->ls);
    cr_assert_gt(s->port, 0);
    curio_task *t = curio_spawn(serve, s);
    cr_assert_not_null(t);
    return t;
}

static void stop(struct srv *s, curio_task *t)
{
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);
    cr_assert_eq(s->rc, -ECANCELED);
}

static long names_body(curio_socket *c, const curio_addr *addr, struct srv *s)
{
    snprintf(s->name, sizeof s->name, "%s", curio_task_name(curio_current()));
    curio_addr_format(addr, s->peer, sizeof s->peer);
    s->nodelay = nodelay_of(c);
    curio_event_set(&s->done);
    return 0;
}

static long names_main(void *arg)
{
    bool off = arg != NULL;
    struct srv s = {.body = names_body, .opts.no_tcp_nodelay = off};
    curio_task *t = start(&s);
    curio_socket *c;
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)s.port, NULL), 0);
    cr_assert_eq(curio_event_wait(&s.done), 0);
    char want[8 + CURIO_ADDR_STRLEN];
    snprintf(want, sizeof want, "client %s", s.peer);
    cr_assert_str_eq(s.name, want, "the task is named after its peer");
    cr_assert_eq(strncmp(s.name, "client 127.0.0.1:", 17), 0, "%s", s.name);
    cr_assert_eq(s.nodelay, !off);
    curio_socket_close(c);
    stop(&s, t);
    cr_assert_eq(s.nlog, 0, "%s", s.log);
    return 0;
}

Test(lifecycle, server_client_task_named_after_peer_and_nodelay)
{
    int fds = count_fds();
    run_main(names_main, NULL);
    run_main(names_main, (void *)1);
    cr_assert_eq(count_fds(), fds);
}

/* A handler that ends with the peer's reset, or returns a peer-gone code: no log line. */
static long quiet_body(curio_socket *c, const curio_addr *addr, struct srv *s)
{
    (void)addr;
    char b[16];
    long r = s->ret ? s->ret : curio_recv(c, b, sizeof b, 0);
    curio_event_set(&s->done); /* the server logs, or not, before any other task runs */
    return r;
}

static long quiet_main(void *arg)
{
    (void)arg;
    struct srv s = {.body = quiet_body};
    curio_task *t = start(&s);
    /* A real reset. */
    int fd = plain_connect("127.0.0.1", s.port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "", 0), 0);
    reset_close(fd);
    cr_assert_eq(curio_event_wait(&s.done), 0);
    cr_assert_eq(s.nlog, 0, "a reset is a normal disconnect: %s", s.log);
    /* Each peer-gone code, then one that is a failure. */
    long codes[] = {-ECONNRESET, -EPIPE, -ENOTCONN, -ECONNABORTED, -EIO};
    for (int i = 0; i < 5; i++) {
        curio_event_clear(&s.done);
        s.ret = codes[i];
        curio_socket *c;
        cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)s.port, NULL), 0);
        cr_assert_eq(curio_event_wait(&s.done), 0);
        curio_socket_close(c);
        cr_assert_eq(s.nlog, i == 4, "%s: %s", curio_strerror((int)codes[i]), s.log);
    }
    cr_assert(strstr(s.log, "handler failed: ") != NULL, "%s", s.log);
    stop(&s, t);
    return 0;
}

Test(lifecycle, server_quiet_on_peer_gone)
{
    int fds = count_fds();
    run_main(quiet_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* A handler that writes into a buffered stream and returns without flushing. */
#define LEFT (4u << 20)

static long buffered_body(curio_socket *c, const curio_addr *addr, struct srv *s)
{
    (void)addr;
    (void)s;
    curio_stream *st;
    curio_stream_options o = {.write_buffer = LEFT};
    cr_assert_eq(curio_socket_as_stream(c, &st, &o), 0);
    static char junk[LEFT];
    size_t done;
    size_t n = s->ret ? LEFT : 1000;
    cr_assert_eq(curio_stream_write(st, junk, n, &done), (ssize_t)n);
    cr_assert_eq(curio_stream_unflushed(st), n, "all of it still buffered");
    curio_event_set(&s->done); /* the server's flush begins before any other task runs */
    return s->ret == 2 ? -EPIPE : 0;
}

static long server_flush_main(void *arg)
{
    (void)arg;
    struct srv s = {.body = buffered_body};
    curio_task *t = start(&s);
    curio_socket *c;
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)s.port, NULL), 0);
    cr_assert_eq(drain_socket(c), 1000, "every byte the handler left, then end of stream");
    curio_socket_close(c);
    stop(&s, t);
    cr_assert_eq(s.nlog, 0, "%s", s.log);
    return 0;
}

Test(lifecycle, server_flushes_what_the_handler_left)
{
    int fds = count_fds();
    run_main(server_flush_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long server_flush_bounded_main(void *arg)
{
    (void)arg;
    struct srv s = {.body = buffered_body, .ret = 1, .opts.close_timeout = 0.1};
    curio_task *t = start(&s);
    curio_socket *c;
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)s.port, NULL), 0);
    small_buffers(curio_socket_fd(c));
    /* The client reads nothing until the server gave up. */
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_event_wait(&s.logged), 0);
    cr_assert_geq(secs_since(t0), 0.1);
    cr_assert_eq(s.nlog, 1, "%s", s.log);
    cr_assert(strstr(s.log, " unsent bytes dropped at close: not flushed within 0.1 s") != NULL,
              "%s", s.log);
    cr_assert_gt(s.dropped, 0);
    cr_assert_lt(s.dropped, LEFT);
    cr_assert_eq((size_t)drain_socket(c), LEFT - s.dropped, "the count logged is exact");
    curio_socket_close(c);
    /* The server goes on. */
    s.ret = 0;
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)s.port, NULL), 0);
    cr_assert_eq(drain_socket(c), 1000);
    curio_socket_close(c);
    stop(&s, t);
    cr_assert_eq(s.nlog, 1, "%s", s.log);
    return 0;
}

Test(lifecycle, server_flush_bounded_by_close_timeout_and_logged)
{
    int fds = count_fds();
    run_main(server_flush_bounded_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* The server cancelled while it flushes a client (no limit): dropped, logged, exact. And a
 * handler returning a peer-gone code: dropped without a flush or a line. */
static long server_flush_cancelled_main(void *arg)
{
    (void)arg;
    struct srv s = {.body = buffered_body, .ret = 1, .opts.close_timeout = -1};
    curio_task *t = start(&s);
    curio_socket *c;
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)s.port, NULL), 0);
    small_buffers(curio_socket_fd(c));
    cr_assert_eq(curio_event_wait(&s.done), 0);
    cr_assert_eq(s.nlog, 0);
    stop(&s, t); /* waits for the client task: its flush is cancelled */
    cr_assert_eq(s.nlog, 1, "%s", s.log);
    cr_assert(strstr(s.log, " unsent bytes dropped at close: Operation canceled") != NULL,
              "%s", s.log);
    cr_assert_eq((size_t)drain_socket(c), LEFT - s.dropped, "the count logged is exact");
    curio_socket_close(c);

    struct srv q = {.body = buffered_body, .ret = 2};
    t = start(&q);
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)q.port, NULL), 0);
    cr_assert_eq(curio_event_wait(&q.done), 0);
    cr_assert_eq(drain_socket(c), 0, "dropped, not flushed");
    curio_socket_close(c);
    stop(&q, t);
    cr_assert_eq(q.nlog, 0, "%s", q.log);
    return 0;
}

Test(lifecycle, server_flush_cancelled_at_wind_down_and_peer_gone)
{
    int fds = count_fds();
    run_main(server_flush_cancelled_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* A server's client socket that its handler closed already: -EBADF, nothing else. */
static long closed_body(curio_socket *c, const curio_addr *addr, struct srv *s)
{
    (void)addr;
    cr_assert_eq(curio_socket_close(c), 0);
    size_t dropped = 7;
    s->ret = curio_socket_flush_close(c, &dropped);
    cr_assert_eq(dropped, 0);
    curio_event_set(&s->done);
    return 0;
}

static long flush_close_closed_main(void *arg)
{
    (void)arg;
    struct srv s = {.body = closed_body};
    curio_task *t = start(&s);
    curio_socket *c;
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)s.port, NULL), 0);
    cr_assert_eq(curio_event_wait(&s.done), 0);
    cr_assert_eq(s.ret, -EBADF);
    curio_socket_close(c);
    stop(&s, t);
    cr_assert_eq(s.nlog, 0, "%s", s.log);
    return 0;
}

Test(lifecycle, socket_flush_close_of_a_closed_server_socket)
{
    int fds = count_fds();
    run_main(flush_close_closed_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- curio_socket_port ---- */

static long port_main(void *arg)
{
    (void)arg;
    curio_socket *ls;
    cr_assert_eq(curio_tcp_server_socket(&ls, "127.0.0.1", 0, NULL), 0);
    curio_addr a;
    cr_assert_eq(curio_socket_getsockname(ls, &a), 0);
    cr_assert_eq(curio_socket_port(ls), curio_addr_port(&a));
    cr_assert_gt(curio_socket_port(ls), 0);
    curio_socket_close(ls);
    cr_assert_eq(curio_tcp_server_socket(&ls, "::1", 0, NULL), 0);
    cr_assert_gt(curio_socket_port(ls), 0);
    curio_socket_close(ls);
    cr_assert_eq(curio_socket_open(&ls, AF_INET, SOCK_STREAM, 0), 0);
    cr_assert_eq(curio_socket_port(ls), 0, "not bound yet");
    curio_socket_close(ls);
    cr_assert_eq(curio_unix_server_socket(&ls, "@curio-lifecycle-port", NULL), 0);
    cr_assert_eq(curio_socket_port(ls), -EAFNOSUPPORT);
    curio_socket_close(ls);
    cr_assert_eq(curio_socket_port(NULL), -EINVAL);
    return 0;
}

Test(lifecycle, socket_port)
{
    int fds = count_fds();
    run_main(port_main, NULL);
    cr_assert_eq(count_fds(), fds);
}
