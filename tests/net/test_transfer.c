/*
 * recv, send, sendall on connected sockets (TCP over IPv4 and IPv6, Unix): success, end of
 * stream, half-close, peer reset, timeouts and cancellation while blocked and in flight,
 * the partial counts, Curio's ResourceBusy, and that no byte or descriptor is lost.
 */
#include "nettest.h"

static const char *name(ssize_t rc)
{
    switch (rc) {
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case -EBADF: return "EBADF";
    case -EBUSY: return "EBUSY";
    case -EPIPE: return "EPIPE";
    case -ECONNRESET: return "ECONNRESET";
    default: break;
    }
    static char buf[32];
    snprintf(buf, sizeof buf, "%zd", rc);
    return buf;
}

/* ---- success, EOF, half-close ---- */

static void roundtrip(curio_socket *a, curio_socket *b)
{
    char buf[64];
    cr_assert_eq(curio_sendall(a, "hello", 5, 0, NULL), 5);
    cr_assert_eq(curio_recv(b, buf, sizeof buf, 0), 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    cr_assert_eq(curio_send(b, "back", 4, 0), 4);
    cr_assert_eq(curio_recv(a, buf, sizeof buf, 0), 4);
    cr_assert_eq(memcmp(buf, "back", 4), 0);
    /* Half-close: a stops sending; b reads end of stream and can still answer. */
    cr_assert_eq(curio_socket_shutdown(a, SHUT_WR), 0);
    cr_assert_eq(curio_recv(b, buf, sizeof buf, 0), 0);
    cr_assert_eq(curio_sendall(b, "bye", 3, 0, NULL), 3);
    cr_assert_eq(curio_recv(a, buf, sizeof buf, 0), 3);
    curio_socket_close(b);
    cr_assert_eq(curio_recv(a, buf, sizeof buf, 0), 0, "EOF once the peer closed");
    curio_socket_close(a);
}

static long tcp4(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    roundtrip(a, b);
    return 0;
}

static long tcp6(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("::1", &port), *a, *b;
    cr_assert_eq(curio_open_connection(&a, "::1", (uint16_t)port, NULL), 0);
    curio_addr peer, local;
    cr_assert_eq(curio_accept(ls, &b, &peer), 0);
    cr_assert_eq(peer.u.sa.sa_family, AF_INET6);
    cr_assert_eq(curio_socket_getsockname(a, &local), 0);
    cr_assert_eq(curio_addr_port(&local), curio_addr_port(&peer));
    curio_socket_close(ls);
    roundtrip(a, b);
    return 0;
}

static long unix_stream(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    roundtrip(p[0], p[1]);
    return 0;
}

Test(transfer, tcp4_success_half_close_and_eof)
{
    int fds = count_fds();
    run_main(tcp4, NULL);
    cr_assert_eq(count_fds(), fds);
}

Test(transfer, tcp6_success_half_close_and_eof)
{
    int fds = count_fds();
    run_main(tcp6, NULL);
    cr_assert_eq(count_fds(), fds);
}

Test(transfer, unix_success_half_close_and_eof)
{
    int fds = count_fds();
    run_main(unix_stream, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- a large transfer between two tasks: every byte, in order ---- */

struct bulk {
    curio_socket *s;
    size_t total;
    unsigned char *data;
};

static long bulk_sender(void *arg)
{
    struct bulk *b = arg;
    size_t sent = 0;
    ssize_t rc = curio_sendall(b->s, b->data, b->total, 0, &sent);
    cr_assert_eq(rc, (ssize_t)b->total);
    cr_assert_eq(sent, b->total);
    curio_socket_shutdown(b->s, SHUT_WR);
    return 0;
}

static long bulk(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    struct bulk x = {.s = a, .total = 16u << 20};
    x.data = malloc(x.total);
    for (size_t i = 0; i < x.total; i++)
        x.data[i] = (unsigned char)(i * 7 + (i >> 12));
    curio_task *t = curio_spawn(bulk_sender, &x);
    unsigned char *buf = malloc(65536);
    size_t got = 0;
    for (;;) {
        ssize_t n = curio_recv(b, buf, 65536, 0);
        cr_assert_geq(n, 0);
        if (n == 0)
            break;
        cr_assert_leq(got + (size_t)n, x.total);
        cr_assert_eq(memcmp(buf, x.data + got, (size_t)n), 0, "in order at %zu", got);
        got += (size_t)n;
    }
    cr_assert_eq(got, x.total);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    free(buf);
    free(x.data);
    curio_socket_close(a);
    curio_socket_close(b);
    return 0;
}

Test(transfer, sendall_16_mib_between_tasks) { run_main(bulk, NULL); }

/* ---- peer reset ---- */

/* A plain client: connect, send one byte, wait for one byte back, reset the connection. */
static long reset_peer(void *arg)
{
    int fd = plain_connect("127.0.0.1", *(int *)arg);
    if (fd < 0)
        return fd;
    char c;
    if (write_full(fd, "x", 1) < 0 || read_full(fd, &c, 1) != 1)
        return -EIO;
    reset_close(fd);
    return 0;
}

static long reset_while_receiving(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port), *c;
    peer p;
    peer_start(&p, reset_peer, &port);
    cr_assert_eq(curio_accept(ls, &c, NULL), 0);
    char buf[16];
    cr_assert_eq(curio_recv(c, buf, sizeof buf, 0), 1);
    cr_assert_eq(curio_send(c, "y", 1, 0), 1);
    ssize_t rc = curio_recv(c, buf, sizeof buf, 0); /* blocked when the reset arrives */
    cr_assert_eq(rc, -ECONNRESET, "recv after the peer's reset: %s", name(rc));
    cr_assert_eq(peer_join(&p), 0);
    curio_socket_close(c);
    curio_socket_close(ls);
    return 0;
}

Test(transfer, peer_reset_while_blocked_in_recv)
{
    int fds = count_fds();
    run_main(reset_while_receiving, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long reset_while_sending(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port), *c;
    peer p;
    peer_start(&p, reset_peer, &port);
    cr_assert_eq(curio_accept(ls, &c, NULL), 0);
    small_buffers(curio_socket_fd(c));
    char one;
    cr_assert_eq(curio_recv(c, &one, 1, 0), 1);
    size_t total = 32u << 20, sent = 0;
    char *big = calloc(1, total);
    /* The peer reads the first byte and resets: the rest cannot go. */
    ssize_t rc = curio_sendall(c, big, total, 0, &sent);
    cr_assert(rc == -ECONNRESET || rc == -EPIPE, "sendall into a reset: %s", name(rc));
    cr_assert_geq(sent, 1);
    cr_assert_lt(sent, total);
    cr_assert_eq(peer_join(&p), 0);
    free(big);
    curio_socket_close(c);
    curio_socket_close(ls);
    return 0;
}

Test(transfer, peer_reset_mid_sendall_reports_what_went)
{
    int fds = count_fds();
    run_main(reset_while_sending, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long send_after_peer_closed(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    struct linger l = {.l_onoff = 1, .l_linger = 0}; /* close with a reset */
    cr_assert_eq(curio_socket_setsockopt(b, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    curio_socket_close(b);
    char buf[4];
    cr_assert_eq(curio_recv(a, buf, sizeof buf, 0), -ECONNRESET);
    ssize_t rc = curio_send(a, "x", 1, 0);
    cr_assert_eq(rc, -EPIPE, "no SIGPIPE, -EPIPE: %s", name(rc));
    curio_socket_close(a);
    return 0;
}

Test(transfer, send_to_a_reset_peer_is_epipe_not_sigpipe) { run_main(send_after_peer_closed, NULL); }

/* ---- timeouts ---- */

static long recv_timeout(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    char buf[8];
    curio_scope sc;
    int64_t t0 = curio_clock();
    curio_timeout_after(&sc, 0.05);
    ssize_t rc = curio_recv(b, buf, sizeof buf, 0);
    cr_assert_eq(rc, -ETIMEDOUT, "%s", name(rc));
    cr_assert_eq(curio_recv(b, buf, sizeof buf, 0), -ETIMEDOUT, "sticky inside the scope");
    cr_assert_eq(curio_scope_close(&sc), -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.05);
    /* Nothing was consumed: data sent now arrives whole. */
    cr_assert_eq(curio_sendall(a, "later", 5, 0, NULL), 5);
    cr_assert_eq(curio_recv(b, buf, sizeof buf, 0), 5);
    cr_assert_eq(memcmp(buf, "later", 5), 0);
    curio_socket_close(a);
    curio_socket_close(b);
    return 0;
}

Test(transfer, recv_timeout_then_data_still_arrives) { run_main(recv_timeout, NULL); }

/* sendall into a peer that does not read: the scope expires with part of the data sent;
 * exactly that part reaches the peer. */
static long sendall_timeout(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_buffers(curio_socket_fd(a));
    small_buffers(curio_socket_fd(b));
    size_t total = 8u << 20, sent = 12345;
    char *big = calloc(1, total);
    ssize_t rc;
    int closed;
    TIMEOUT_WHILE_WAITING(0.05, rc, closed, curio_sendall(a, big, total, 0, &sent));
    cr_assert_eq(closed, -ETIMEDOUT);
    cr_assert_eq(rc, -ETIMEDOUT, "%s", name(rc));
    cr_assert_gt(sent, 0, "the buffers took some");
    cr_assert_lt(sent, total);
    curio_socket_close(a);
    /* The peer gets exactly what sendall reported. */
    size_t got = 0;
    ssize_t n;
    while ((n = curio_recv(b, big, total, 0)) > 0)
        got += (size_t)n;
    cr_assert_eq(n, 0);
    cr_assert_eq(got, sent, "peer got %zu, sendall said %zu", got, sent);
    curio_socket_close(b);
    free(big);
    return 0;
}

Test(transfer, sendall_timeout_reports_the_bytes_sent) { run_main(sendall_timeout, NULL); }

/* ---- cancellation, while blocked (queued, not yet submitted) and in flight ---- */

struct reader {
    curio_socket *s;
    char buf[16];
    ssize_t got;
};

static long reads(void *arg)
{
    struct reader *r = arg;
    r->got = curio_recv(r->s, r->buf, sizeof r->buf, 0);
    ev("reader=%s", r->got > 0 ? "data" : name(r->got));
    return r->got < 0 ? r->got : 0;
}

static long cancel_recv(void *arg)
{
    bool in_flight = *(bool *)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    struct reader r = {.s = b};
    curio_task *t = curio_spawn(reads, &r);
    if (in_flight)
        curio_sleep(0.01); /* the scheduler has submitted the receive */
    else
        curio_yield();     /* queued in the SQ, not yet submitted */
    cr_assert_str_eq(curio_task_state(t), "READ_WAIT");
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert(curio_task_cancelled(t));
    cr_assert_eq(r.got, -ECANCELED);
    /* The direction is free again and no byte was taken. */
    cr_assert_eq(curio_sendall(a, "hello", 5, 0, NULL), 5);
    char buf[8];
    cr_assert_eq(curio_recv(b, buf, sizeof buf, 0), 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    curio_task_release(t);
    curio_socket_close(a);
    curio_socket_close(b);
    return 0;
}

Test(transfer, cancel_recv_blocked_before_submission)
{
    bool in_flight = false;
    int fds = count_fds();
    expect_log(cancel_recv, &in_flight, "reader=ECANCELED");
    cr_assert_eq(count_fds(), fds);
}

Test(transfer, cancel_recv_in_flight)
{
    bool in_flight = true;
    int fds = count_fds();
    expect_log(cancel_recv, &in_flight, "reader=ECANCELED");
    cr_assert_eq(count_fds(), fds);
}

/* Data arriving in the same instant as the cancel: whichever wins, nothing is lost. */
static long recv_race(void *arg)
{
    int *outcomes = arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    for (int i = 0; i < 200; i++) {
        struct reader r = {.s = b};
        curio_task *t = curio_spawn(reads, &r);
        curio_yield();
        if (i % 3 == 0)
            curio_sleep(0.0005);
        cr_assert_eq(send(curio_socket_fd(a), "x", 1, 0), 1);
        if (i % 2)
            curio_yield();
        curio_cancel(t);
        if (r.got == 1) {
            outcomes[0]++;
            cr_assert_eq(r.buf[0], 'x');
        } else {
            outcomes[1]++;
            cr_assert_eq(r.got, -ECANCELED);
            char c;
            cr_assert_eq(curio_recv(b, &c, 1, 0), 1, "the byte is still there");
            cr_assert_eq(c, 'x');
        }
        curio_task_release(t);
    }
    curio_socket_close(a);
    curio_socket_close(b);
    return 0;
}

Test(transfer, recv_racing_cancel_loses_nothing)
{
    int outcomes[2] = {0, 0};
    run_main(recv_race, outcomes);
    cr_assert_eq(outcomes[0] + outcomes[1], 200);
    cr_log_info("data won %d, cancel won %d", outcomes[0], outcomes[1]);
}

struct sender {
    curio_socket *s;
    const char *buf;
    size_t n, sent;
    ssize_t rc;
};

static long sends(void *arg)
{
    struct sender *x = arg;
    x->rc = curio_sendall(x->s, x->buf, x->n, 0, &x->sent);
    ev("sender=%s", name(x->rc));
    return x->rc < 0 ? x->rc : 0;
}

/* blocked: the peer's buffers are full before sendall starts, so nothing can go;
 * in flight: sendall has moved part of its buffer when the cancel comes. Either way the
 * peer then receives exactly what was in the buffers plus what sendall reported. */
static long cancel_sendall(void *arg)
{
    bool in_flight = *(bool *)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_buffers(curio_socket_fd(a));
    small_buffers(curio_socket_fd(b));
    size_t prefill = in_flight ? 0 : fill_socket(curio_socket_fd(a));
    size_t total = 8u << 20;
    char *big = calloc(1, total);
    struct sender x = {.s = a, .buf = big, .n = total, .sent = 777};
    curio_task *t = curio_spawn(sends, &x);
    if (in_flight)
        curio_sleep(0.02);
    else
        curio_yield();
    cr_assert_str_eq(curio_task_state(t), "WRITE_WAIT");
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert_eq(x.rc, -ECANCELED);
    if (in_flight)
        cr_assert_gt(x.sent, 0);
    cr_assert_lt(x.sent, total);
    curio_socket_close(a);
    size_t got = 0;
    ssize_t n;
    while ((n = curio_recv(b, big, total, 0)) > 0)
        got += (size_t)n;
    cr_assert_eq(n, 0);
    cr_assert_eq(got, prefill + x.sent, "peer got %zu = %zu prefilled + %zu reported", got,
                 prefill, x.sent);
    curio_task_release(t);
    curio_socket_close(b);
    free(big);
    return 0;
}

Test(transfer, cancel_sendall_blocked)
{
    bool in_flight = false;
    expect_log(cancel_sendall, &in_flight, "sender=ECANCELED");
}

Test(transfer, cancel_sendall_in_flight_reports_partial_count)
{
    bool in_flight = true;
    expect_log(cancel_sendall, &in_flight, "sender=ECANCELED");
}

/* ---- one waiter per direction ---- */

static long busy(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    struct reader r = {.s = b};
    curio_task *t = curio_spawn(reads, &r);
    curio_yield();
    char c;
    ev("second=%s", name(curio_recv(b, &c, 1, 0)));
    ev("send=%s", name(curio_send(b, "z", 1, 0))); /* the other direction is free */
    cr_assert_eq(curio_recv(a, &c, 1, 0), 1);
    cr_assert_eq(curio_send(a, "w", 1, 0), 1);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(curio_send(a, "v", 1, 0), 1);
    ev("after=%s", name(curio_recv(b, &c, 1, 0)));
    curio_task_release(t);
    curio_socket_close(a);
    curio_socket_close(b);
    return 0;
}

Test(transfer, second_receiver_is_busy_other_direction_is_not)
{
    expect_log(busy, NULL, "second=EBUSY send=1 reader=data after=1");
}

/* ---- misuse ---- */

static long misuse(void *arg)
{
    (void)arg;
    char c;
    cr_assert_eq(curio_recv(NULL, &c, 1, 0), -EINVAL);
    cr_assert_eq(curio_send(NULL, &c, 1, 0), -EINVAL);
    size_t sent = 99;
    cr_assert_eq(curio_sendall(NULL, &c, 1, 0, &sent), -EINVAL);
    cr_assert_eq(sent, 0);
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    cr_assert_eq(curio_sendall(p[0], "", 0, 0, &sent), 0);
    curio_cancel_nowait(curio_current());
    cr_assert_eq(curio_sendall(p[0], "", 0, 0, &sent), -ECANCELED, "still a cancellation point");
    cr_assert_eq(curio_recv(p[0], &c, 1, 0), -ECANCELED);
    curio_socket_close(p[0]);
    curio_socket_close(p[1]);
    return -ECANCELED;
}

Test(transfer, null_socket_empty_sendall_and_sticky_cancel)
{
    cr_assert_eq(curio_run(misuse, NULL, NULL, NULL), CURIO_ETASKCANCELLED);
}

Test(transfer, outside_a_task_is_eperm)
{
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    char c;
    size_t sent = 5;
    cr_assert_eq(curio_recv(p[0], &c, 1, 0), -EPERM);
    cr_assert_eq(curio_send(p[0], "x", 1, 0), -EPERM);
    cr_assert_eq(curio_sendall(p[0], "x", 1, 0, &sent), -EPERM);
    cr_assert_eq(sent, 0);
    cr_assert_eq(curio_socket_close(p[0]), 0);
    cr_assert_eq(curio_socket_close(p[1]), 0);
}
