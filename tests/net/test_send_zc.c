/*
 * curio_send_zc and curio_sendall_zc (IORING_OP_SEND_ZC): large buffers arrive whole, the
 * buffer invariant (the call returns only once the kernel no longer reads the buffer),
 * peer reset, timeout and cancellation while blocked, in flight and after the first CQE
 * with exact partial counts, close by another task, bad input, the fallback to the plain
 * send (forced through curio__op_deny, and for Unix sockets), no descriptor left behind.
 */
#include "nettest.h"
#include "kernel.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

TestSuite(send_zc, .timeout = 60);

static const char *name(ssize_t rc)
{
    switch (rc) {
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case -EBADF: return "EBADF";
    case -EPIPE: return "EPIPE";
    case -ECONNRESET: return "ECONNRESET";
    default: break;
    }
    static char buf[32];
    snprintf(buf, sizeof buf, "%zd", rc);
    return buf;
}

static bool have_zc(void) { return curio__op_supported(IORING_OP_SEND_ZC); }

/* Bytes queued on fd that the peer has not acknowledged yet (TCP's SIOCOUTQ). */
static int unacked(curio_socket *s)
{
    int n = -1;
    cr_assert_eq(ioctl(curio_socket_fd(s), SIOCOUTQ, &n), 0);
    return n;
}

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 31 + seed) % 251);
}

/* A receive buffer small enough that the sender's queue backs up, and still larger than
 * loopback's MSS (about 32 KiB here, 64 KiB MTU): a window below one MSS leaves the
 * sender to the persist timer's probes, which crawl. */
static void small_rcvbuf(curio_socket *s)
{
    int sz = 65536;
    setsockopt(curio_socket_fd(s), SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}

/* A send buffer that takes 256 KiB at once (Linux doubles what is asked, up to
 * net.core.wmem_max: 208 KiB by default, so at least 416 KiB). */
static void big_sndbuf(curio_socket *s)
{
    int sz = 1 << 20;
    setsockopt(curio_socket_fd(s), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
}

/* ---- a receiving task: reads until end of stream (or reset), checks the pattern ---- */

struct rx {
    curio_socket *s;
    unsigned seed;
    size_t got;
    ssize_t last;     /* 0 at end of stream, or the error */
    bool mismatch;
    bool slow;        /* yield after every chunk, so that the sender runs ahead */
    double start_after; /* curio_clock() in ns to wait for before the first read; 0: none */
};

static long receive_all(void *arg)
{
    struct rx *r = arg;
    if (r->start_after > 0) {
        while ((double)curio_clock() <= r->start_after)
            curio_sleep(0.01);
        ev("reader=start");
    }
    unsigned char *buf = malloc(65536);
    for (;;) {
        ssize_t n = curio_recv(r->s, buf, 65536, 0);
        if (n <= 0) {
            r->last = n;
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != (unsigned char)(((r->got + (size_t)i) * 31 + r->seed) % 251))
                r->mismatch = true;
        r->got += (size_t)n;
        if (r->slow)
            curio_yield();
    }
    free(buf);
    return 0;
}

/* ---- success ---- */

static long large_buffers(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    size_t sizes[] = {1, 4096, CURIO_SEND_ZC_MIN - 1, CURIO_SEND_ZC_MIN, 1u << 20, 16u << 20};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        total += sizes[i];
    unsigned char *buf = malloc(total + 65536);
    pattern(buf, total + 65536, 7);
    struct rx r = {.s = b, .seed = 7};
    curio_task *t = curio_spawn(receive_all, &r);
    size_t off = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t sent = 12345;
        cr_assert_eq(curio_sendall_zc(a, buf + off, sizes[i], 0, &sent), (ssize_t)sizes[i]);
        cr_assert_eq(sent, sizes[i]);
        off += sizes[i];
    }
    /* curio_send_zc: one operation, the count it moved. */
    ssize_t n = curio_send_zc(a, buf + total, 65536, 0);
    cr_assert_gt(n, 0);
    cr_assert_eq(curio_socket_shutdown(a, SHUT_WR), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(r.last, 0);
    cr_assert_eq(r.got, total + (size_t)n);
    cr_assert_not(r.mismatch, "the receiver saw the bytes that were sent");
    curio_socket_close(a);
    curio_socket_close(b);
    free(buf);
    return 0;
}

Test(send_zc, large_buffers_arrive_whole)
{
    int fds = count_fds();
    run_main(large_buffers, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- the buffer invariant ----
 * The receiver has a tiny buffer and reads slowly, so that when a plain send would have
 * returned most bytes are still queued at the sender, made from the caller's pages. The
 * zero-copy call returns only when the peer has acknowledged all of them (SIOCOUTQ 0):
 * the buffer is overwritten at once, and the receiver still sees only the original bytes. */
static long invariant(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_rcvbuf(b);
    size_t n = 4u << 20;
    unsigned char *buf = malloc(n);
    struct rx r = {.s = b, .seed = 3, .slow = true};
    curio_task *t = curio_spawn(receive_all, &r);
    for (int round = 0; round < 4; round++) {
        /* Each round sends the next n bytes of the pattern. */
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)((((size_t)round * n + i) * 31 + 3) % 251);
        cr_assert_eq(curio_sendall_zc(a, buf, n, 0, NULL), (ssize_t)n);
        if (have_zc())
            cr_assert_eq(unacked(a), 0, "returned while the kernel still held the buffer");
        memset(buf, 0xff, n); /* the caller's again */
    }
    cr_assert_eq(curio_socket_shutdown(a, SHUT_WR), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(r.got, 4 * n);
    cr_assert_not(r.mismatch, "the receiver saw a byte written after the call returned");
    curio_socket_close(a);
    curio_socket_close(b);
    free(buf);
    return 0;
}

Test(send_zc, returns_only_when_the_kernel_let_go_of_the_buffer)
{
    int fds = count_fds();
    run_main(invariant, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- peer reset mid-transfer ---- */

static long reset_peer(void *arg)
{
    int fd = plain_connect("127.0.0.1", *(int *)arg);
    if (fd < 0)
        return fd;
    char c;
    if (read_full(fd, &c, 1) != 1)
        return -EIO;
    reset_close(fd);
    return 0;
}

static long reset_mid(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port), *c;
    peer p;
    peer_start(&p, reset_peer, &port);
    cr_assert_eq(curio_accept(ls, &c, NULL), 0);
    small_buffers(curio_socket_fd(c));
    size_t total = 32u << 20, sent = 0;
    char *big = calloc(1, total);
    /* The peer reads one byte and resets: the rest cannot go. */
    ssize_t rc = curio_sendall_zc(c, big, total, 0, &sent);
    cr_assert(rc == -ECONNRESET || rc == -EPIPE, "sendall_zc into a reset: %s", name(rc));
    cr_assert_geq(sent, 1);
    cr_assert_lt(sent, total);
    cr_assert_eq(peer_join(&p), 0);
    free(big);
    curio_socket_close(c);
    curio_socket_close(ls);
    return 0;
}

Test(send_zc, peer_reset_mid_transfer)
{
    int fds = count_fds();
    run_main(reset_mid, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- timeout while blocked: the peer does not read ----
 * The scope expires while the operation waits for room: the operation ends with the count
 * queued so far, and the call still waits until the kernel lets go of the buffer, which
 * needs the peer to read. The reader starts only once the deadline has passed; the call
 * returns after that, and the peer gets exactly *sent bytes. */
static long timeout_blocked(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_buffers(curio_socket_fd(a));
    small_buffers(curio_socket_fd(b));
    size_t total = 8u << 20, sent = 12345;
    unsigned char *big = malloc(total);
    pattern(big, total, 5);
    struct rx r = {.s = b, .seed = 5};
    curio_scope sc;
    cr_assert_eq(curio_timeout_after(&sc, 0.05), 0);
    r.start_after = (double)curio_clock() + 0.07e9; /* after the scope's deadline */
    curio_task *t = curio_spawn(receive_all, &r);
    ssize_t rc = curio_sendall_zc(a, big, total, 0, &sent);
    ev("sender=%s", name(rc));
    cr_assert_eq(curio_scope_close(&sc), -ETIMEDOUT);
    cr_assert_eq(rc, -ETIMEDOUT, "%s", name(rc));
    cr_assert_lt(sent, total);
    curio_socket_close(a);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(r.last, 0);
    cr_assert_eq(r.got, sent, "peer got %zu, sendall_zc said %zu", r.got, sent);
    cr_assert_not(r.mismatch);
    curio_socket_close(b);
    free(big);
    return 0;
}

Test(send_zc, timeout_while_blocked_reports_the_bytes_sent)
{
    int fds = count_fds();
    /* With zero-copy the call returns only after the reader started; without it, the
     * plain send returns at the deadline. */
    ev_reset();
    run_main(timeout_blocked, NULL);
    if (have_zc())
        cr_assert_str_eq(evlog, "reader=start sender=ETIMEDOUT");
    cr_assert_eq(count_fds(), fds);
}

/* ---- timeout after the first CQE: everything is queued, the call waits for the peer's
 * acknowledgement when the deadline passes. Nothing is left to cancel: the call returns
 * its full count, and the next blocking call reports the deadline. */
static long timeout_after_queued(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_rcvbuf(b);
    big_sndbuf(a);
    size_t n = 256u << 10, sent = 0;
    unsigned char *buf = malloc(n);
    pattern(buf, n, 9);
    struct rx r = {.s = b, .seed = 9};
    curio_scope sc;
    cr_assert_eq(curio_timeout_after(&sc, 0.05), 0);
    r.start_after = (double)curio_clock() + 0.07e9;
    curio_task *t = curio_spawn(receive_all, &r);
    ssize_t rc = curio_sendall_zc(a, buf, n, 0, &sent);
    ev("sender=%s", name(rc));
    ev("next=%s", name(curio_send(a, "x", 1, 0)));
    cr_assert_eq(curio_scope_close(&sc), -ETIMEDOUT);
    cr_assert_eq(sent, n);
    curio_socket_close(a);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(r.got, n);
    cr_assert_not(r.mismatch);
    curio_socket_close(b);
    free(buf);
    return 0;
}

Test(send_zc, timeout_after_everything_was_queued_returns_the_count)
{
    if (!have_zc())
        cr_skip_test("no IORING_OP_SEND_ZC");
    expect_log(timeout_after_queued, NULL, "reader=start sender=262144 next=ETIMEDOUT");
}

/* ---- cancellation: blocked (the buffers were full before the call), in flight (part
 * of the buffer went), and after the first CQE (all of it is queued, not acknowledged).
 * The canceller requests the cancellation without waiting, then reads everything: the
 * peer receives exactly what was prefilled plus what the call reported. ---- */

struct sender {
    curio_socket *s;
    const unsigned char *buf;
    size_t n, sent;
    ssize_t rc, next;
};

static long sends(void *arg)
{
    struct sender *x = arg;
    x->rc = curio_sendall_zc(x->s, x->buf, x->n, 0, &x->sent);
    ev("sender=%s", name(x->rc));
    if (x->rc == -EBADF)
        return 0; /* s may be freed: not to be used again */
    x->next = curio_send(x->s, "x", 0, 0);
    ev("next=%s", name(x->next));
    return 0;
}

enum when { BLOCKED, IN_FLIGHT, QUEUED };

static long cancel_sender(void *arg)
{
    enum when w = *(enum when *)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    if (w == QUEUED) {
        small_rcvbuf(b);
        big_sndbuf(a);
    } else {
        small_buffers(curio_socket_fd(a));
        small_buffers(curio_socket_fd(b));
    }
    size_t prefill = w == BLOCKED ? fill_socket(curio_socket_fd(a)) : 0;
    size_t total = w == QUEUED ? 256u << 10 : 8u << 20;
    unsigned char *big = malloc(total);
    pattern(big, total, 0);
    struct sender x = {.s = a, .buf = big, .n = total, .sent = 777};
    curio_task *t = curio_spawn(sends, &x);
    if (w == BLOCKED)
        curio_yield();
    else
        curio_sleep(0.02);
    cr_assert_str_eq(curio_task_state(t), "WRITE_WAIT");
    /* QUEUED: the whole buffer fits in the send buffer, so its first CQE came at once;
     * the peer has not acknowledged it all, so the call waits for the notification. The
     * full count in the log shows that the cancellation came after the first CQE. */
    if (w == QUEUED && have_zc())
        cr_assert_gt(unacked(a), 0, "not all acknowledged");
    cr_assert_eq(curio_cancel_nowait(t), 0);
    ev("cancel");
    /* The canceller reads what was prefilled (zeros), then a reader task the rest: the
     * sender returns only once the peer has acknowledged what it queued. */
    size_t got = 0;
    unsigned char *rb = malloc(65536);
    ssize_t n;
    while (got < prefill &&
           (n = curio_recv(b, rb, 65536 < prefill - got ? 65536 : prefill - got, 0)) > 0)
        got += (size_t)n;
    cr_assert_eq(got, prefill);
    struct rx r = {.s = b, .seed = 0};
    curio_task *rt = curio_spawn(receive_all, &r);
    curio_join(t, NULL);
    curio_task_release(t);
    curio_socket_close(a);
    cr_assert_eq(curio_join(rt, NULL), 0);
    curio_task_release(rt);
    cr_assert_eq(r.last, 0);
    cr_assert_eq(r.got, x.sent, "peer got %zu + %zu prefilled, sendall_zc said %zu", r.got,
                 prefill, x.sent);
    cr_assert_not(r.mismatch);
    if (w == IN_FLIGHT)
        cr_assert_gt(x.sent, 0);
    if (w == QUEUED)
        cr_assert_eq(x.sent, total);
    else
        cr_assert_lt(x.sent, total);
    curio_socket_close(b);
    free(rb);
    free(big);
    return 0;
}

Test(send_zc, cancel_while_blocked)
{
    enum when w = BLOCKED;
    int fds = count_fds();
    expect_log(cancel_sender, &w, "cancel sender=ECANCELED next=ECANCELED");
    cr_assert_eq(count_fds(), fds);
}

Test(send_zc, cancel_in_flight_reports_partial_count)
{
    enum when w = IN_FLIGHT;
    expect_log(cancel_sender, &w, "cancel sender=ECANCELED next=ECANCELED");
}

Test(send_zc, cancel_after_everything_was_queued_returns_the_count)
{
    if (!have_zc())
        cr_skip_test("no IORING_OP_SEND_ZC");
    enum when w = QUEUED;
    expect_log(cancel_sender, &w, "cancel sender=262144 next=ECANCELED");
}

/* ---- close by another task while the sender waits for a peer that does not read ----
 * The close resets the connection, which releases the buffer: the call returns -EBADF at
 * once instead of waiting for the peer. */
static long close_while_blocked(void *arg)
{
    bool after_queued = *(bool *)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_rcvbuf(b);
    if (after_queued)
        big_sndbuf(a);
    size_t total = after_queued ? 256u << 10 : 8u << 20;
    unsigned char *big = malloc(total);
    pattern(big, total, 0);
    struct sender x = {.s = a, .buf = big, .n = total, .sent = 777};
    curio_task *t = curio_spawn(sends, &x);
    curio_sleep(0.02);
    cr_assert_str_eq(curio_task_state(t), "WRITE_WAIT");
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_socket_close(a), 0);
    ev("closed");
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_lt(secs_since(t0), 1.0, "the close woke the sender");
    curio_task_release(t);
    cr_assert_eq(x.rc, -EBADF, "%s", name(x.rc));
    cr_assert_leq(x.sent, total);
    /* The peer sees the reset (after what had arrived). */
    char *rb = malloc(65536);
    ssize_t n;
    while ((n = curio_recv(b, rb, 65536, 0)) > 0)
        ;
    cr_assert(n == -ECONNRESET || n == 0, "%s", name(n));
    free(rb);
    curio_socket_close(b);
    free(big);
    return 0;
}

Test(send_zc, close_by_another_task_while_blocked)
{
    bool after_queued = false;
    int fds = count_fds();
    expect_log(close_while_blocked, &after_queued, "closed sender=EBADF");
    cr_assert_eq(count_fds(), fds);
}

Test(send_zc, close_by_another_task_after_everything_was_queued)
{
    bool after_queued = true;
    int fds = count_fds();
    expect_log(close_while_blocked, &after_queued, "closed sender=EBADF");
    cr_assert_eq(count_fds(), fds);
}

/* ---- the fallback: forced (a kernel without the opcode), a Unix socket, UDP ---- */

static long fallback(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_rcvbuf(b);
    big_sndbuf(a);
    size_t n = 256u << 10;
    unsigned char *buf = malloc(n);
    pattern(buf, n, 1);
    /* The plain send returns once the bytes are queued, with the peer not reading: the
     * zero-copy one could not. */
    cr_assert_eq(curio_sendall_zc(a, buf, n, 0, NULL), (ssize_t)n);
    cr_assert_gt(unacked(a), 0, "returned before the peer acknowledged: the plain send");
    cr_assert_eq(curio_send_zc(a, buf, 1, 0), 1);
    curio_socket_close(a);
    struct rx r = {.s = b, .seed = 1};
    receive_all(&r);
    cr_assert_eq(r.got, n + 1);
    curio_socket_close(b);
    free(buf);
    return 0;
}

Test(send_zc, forced_fallback_to_the_plain_send)
{
    curio__op_deny(IORING_OP_SEND_ZC); /* as on kernels before 6.0 */
    int fds = count_fds();
    run_main(fallback, NULL);
    cr_assert_eq(count_fds(), fds);
    curio__op_probe_reset();
}

static long other_sockets(void *arg)
{
    (void)arg;
    /* Unix: the kernel has no zero-copy there; the plain send. */
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    size_t n = 1u << 20;
    unsigned char *buf = malloc(n);
    pattern(buf, n, 2);
    struct rx r = {.s = p[1], .seed = 2};
    curio_task *t = curio_spawn(receive_all, &r);
    cr_assert_eq(curio_sendall_zc(p[0], buf, n - 1, 0, NULL), (ssize_t)(n - 1));
    cr_assert_eq(curio_send_zc(p[0], buf + n - 1, 1, 0), 1);
    curio_socket_close(p[0]);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(r.got, n);
    cr_assert_not(r.mismatch);
    curio_socket_close(p[1]);
    /* UDP: one datagram, zero-copy. */
    curio_socket *u, *v;
    cr_assert_eq(curio_socket_open(&u, AF_INET, SOCK_DGRAM, 0), 0);
    cr_assert_eq(curio_socket_open(&v, AF_INET, SOCK_DGRAM, 0), 0);
    curio_addr va;
    cr_assert_eq(curio_addr_ip(&va, "127.0.0.1", 0), 0);
    cr_assert_eq(curio_socket_bind(v, &va), 0);
    cr_assert_eq(curio_socket_getsockname(v, &va), 0);
    cr_assert_eq(curio_connect(u, &va), 0);
    cr_assert_eq(curio_send_zc(u, buf, 1000, 0), 1000);
    cr_assert_eq(curio_recv(v, buf + 4096, 2000, 0), 1000);
    cr_assert_eq(memcmp(buf, buf + 4096, 1000), 0);
    curio_socket_close(u);
    curio_socket_close(v);
    free(buf);
    return 0;
}

Test(send_zc, unix_and_udp_sockets)
{
    int fds = count_fds();
    run_main(other_sockets, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- bad input ---- */

static long bad_input(void *arg)
{
    (void)arg;
    size_t sent = 9;
    char c = 0;
    cr_assert_eq(curio_send_zc(NULL, &c, 1, 0), -EINVAL);
    cr_assert_eq(curio_sendall_zc(NULL, &c, 1, 0, &sent), -EINVAL);
    cr_assert_eq(sent, 0);
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    cr_assert_eq(curio_sendall_zc(p[0], "", 0, 0, &sent), 0);
    cr_assert_eq(sent, 0);
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    cr_assert_eq(curio_send_zc(a, "", 0, 0), 0);
    cr_assert_eq(curio_cancel_nowait(curio_current()), 0);
    cr_assert_eq(curio_sendall_zc(a, "", 0, 0, &sent), -ECANCELED, "a cancellation point");
    cr_assert_eq(curio_send_zc(a, "x", 1, 0), -ECANCELED);
    curio_socket_close(p[0]);
    curio_socket_close(p[1]);
    curio_socket_close(a);
    curio_socket_close(b);
    return 0;
}

Test(send_zc, bad_input_and_sticky_cancel)
{
    long r = -1;
    curio_run(bad_input, NULL, NULL, &r);
    /* Outside a task. */
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    size_t sent = 9;
    cr_assert_eq(curio_sendall_zc(p[0], "x", 1, 0, &sent), -EPERM);
    cr_assert_eq(sent, 0);
    cr_assert_eq(curio_send_zc(p[0], "x", 1, 0), -EPERM);
    curio_socket_close(p[0]);
    curio_socket_close(p[1]);
}
