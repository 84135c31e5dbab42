/*
 * curio_recv_buf / curio_buf_release: data in the kernel's ring buffers, in order across
 * many CQEs; end of stream and reset after the data; a tiny ring exhausted (-ENOBUFS) with
 * every byte kept; timeout, cancellation and close while blocked; curio_recv on a socket
 * in buffer mode; bad input; the forced fallback; no descriptor or buffer left.
 */
#include "nettest.h"
#include "../../kernel/bufring.h"

#include <stdlib.h>

static curio__bufring *ring(void) { return curio__bufring_of(curio_kernel_current()); }

static void pair(curio_socket *sv[2])
{
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, sv), 0);
}

/* ---- success, and one socket left idle holds no buffer ---- */

static long basic(void *arg)
{
    (void)arg;
    curio_socket *sv[2];
    pair(sv);
    cr_assert_eq(write(curio_socket_fd(sv[1]), "hello", 5), 5);
    curio_buf b;
    cr_assert_eq(curio_recv_buf(sv[0], &b), 5);
    cr_assert_eq(memcmp(b.data, "hello", 5), 0);
    cr_assert_neq(b.id, 0);
    if (ring())
        cr_assert_eq(ring()->out, 1);
    curio_buf_release(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.id, 0);
    curio_buf_release(&b); /* empty: no-op */
    curio_buf_release(NULL);
    if (ring())
        cr_assert_eq(ring()->out, 0);
    curio_socket_close(sv[0]);
    curio_socket_close(sv[1]);
    return 0;
}

Test(bufring, receives_into_a_ring_buffer)
{
    int fds = count_fds();
    run_main(basic, NULL);
    cr_assert_eq(count_fds(), fds);
}

Test(bufring, forced_fallback_uses_a_heap_buffer)
{
    int fds = count_fds();
    curio__bufring_disabled = true;
    run_main(basic, NULL);
    curio__bufring_disabled = false;
    cr_assert_eq(count_fds(), fds);
}

/* ---- many CQEs, every byte in order ---- */

#define BIG (1u << 20)

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + (i >> 9)); }

static long writer(void *arg)
{
    curio_socket *s = arg;
    unsigned char *buf = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = pattern(i);
    /* uneven chunks, so that the CQEs do not line up with the buffers */
    size_t off = 0, step = 1;
    while (off < BIG) {
        size_t n = step % 9000 + 1;
        if (n > BIG - off)
            n = BIG - off;
        cr_assert_eq(curio_sendall(s, buf + off, n, 0, NULL), (ssize_t)n);
        off += n;
        step = step * 31 + 7;
    }
    free(buf);
    curio_socket_shutdown(s, SHUT_WR);
    return 0;
}

struct order_result {
    size_t total;
    unsigned heap, ringbufs, held_max;
};

/* Read to EOF holding up to `hold` buffers at a time (released oldest first). */
static long read_all(curio_socket *s, unsigned hold, struct order_result *res)
{
    curio_buf *held = calloc(hold + 1, sizeof *held);
    unsigned nheld = 0;
    ssize_t n;
    curio_buf b;
    while ((n = curio_recv_buf(s, &b)) > 0) {
        cr_assert_eq((size_t)n, b.len);
        for (size_t i = 0; i < b.len; i++)
            cr_assert_eq((unsigned char)b.data[i], pattern(res->total + i), "byte %zu",
                         res->total + i);
        res->total += b.len;
        if (b.id == UINT32_MAX)
            res->heap++;
        else
            res->ringbufs++;
        held[nheld++] = b;
        if (nheld > res->held_max)
            res->held_max = nheld;
        if (nheld > hold) {
            curio_buf_release(&held[0]);
            memmove(held, held + 1, --nheld * sizeof *held);
        }
    }
    cr_assert_eq(n, 0, "%s", curio_strerror((int)n));
    cr_assert_eq(b.id, 0);
    for (unsigned i = 0; i < nheld; i++)
        curio_buf_release(&held[i]);
    free(held);
    return 0;
}

struct order_arg {
    unsigned hold;
    struct order_result res;
};

static long ordered(void *arg)
{
    struct order_arg *a = arg;
    curio_socket *sv[2];
    pair(sv);
    curio_task *w = curio_spawn(writer, sv[1]);
    read_all(sv[0], a->hold, &a->res);
    cr_assert_eq(curio_join(w, NULL), 0);
    cr_assert_eq(a->res.total, BIG);
    if (ring())
        cr_assert_eq(ring()->out, 0);
    curio_socket_close(sv[0]);
    curio_socket_close(sv[1]);
    return 0;
}

Test(bufring, a_megabyte_in_order_across_many_cqes)
{
    struct order_arg a = {.hold = 0};
    run_main(ordered, &a);
    cr_assert_gt(a.res.ringbufs, 100);
}

Test(bufring, a_megabyte_in_order_through_the_forced_fallback)
{
    struct order_arg a = {.hold = 3};
    curio__bufring_disabled = true;
    run_main(ordered, &a);
    curio__bufring_disabled = false;
    cr_assert_eq(a.res.ringbufs, 0);
    cr_assert_gt(a.res.heap, 100);
}

/* A ring of 4 buffers of 64 bytes, with the reader holding 8: the ring runs dry
 * (-ENOBUFS ends the multishot) and the reader goes on through heap buffers, losing
 * nothing. */
Test(bufring, exhausted_ring_falls_back_without_losing_a_byte)
{
    struct order_arg a = {.hold = 8};
    curio_options o = {.recv_buffers = 4, .recv_buffer_size = 64};
    long r = -1;
    cr_assert_eq(curio_run(ordered, &a, &o, &r), 0);
    cr_assert_eq(r, 0);
    cr_assert_gt(a.res.heap, 0, "the ring never ran dry");
    cr_assert_gt(a.res.ringbufs, 0);
}

/* ---- end of stream and reset come after the data ---- */

static long eof_after_data(void *arg)
{
    (void)arg;
    curio_socket *sv[2];
    pair(sv);
    curio_buf b;
    cr_assert_eq(write(curio_socket_fd(sv[1]), "x", 1), 1);
    cr_assert_eq(curio_recv_buf(sv[0], &b), 1); /* the multishot stays armed */
    curio_buf_release(&b);
    cr_assert_eq(write(curio_socket_fd(sv[1]), "abc", 3), 3);
    cr_assert_eq(write(curio_socket_fd(sv[1]), "defg", 4), 4);
    curio_socket_close(sv[1]);
    cr_assert_geq(curio_sleep(0.02), 0); /* let the CQEs queue up with nobody waiting */
    size_t got = 0;
    char all[8] = {0};
    ssize_t n;
    while ((n = curio_recv_buf(sv[0], &b)) > 0) {
        memcpy(all + got, b.data, b.len);
        got += b.len;
        curio_buf_release(&b);
    }
    cr_assert_eq(n, 0);
    cr_assert_str_eq(all, "abcdefg");
    cr_assert_eq(curio_recv_buf(sv[0], &b), 0); /* and again */
    curio_socket_close(sv[0]);
    return 0;
}

Test(bufring, eof_after_the_data)
{
    int fds = count_fds();
    run_main(eof_after_data, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long reset_after_data(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port);
    int peer = plain_connect("127.0.0.1", port);
    curio_socket *s;
    cr_assert_eq(curio_accept(ls, &s, NULL), 0);
    curio_socket_close(ls);
    curio_buf b;
    cr_assert_eq(write(peer, "x", 1), 1);
    cr_assert_eq(curio_recv_buf(s, &b), 1);
    curio_buf_release(&b);
    cr_assert_eq(write(peer, "data", 4), 4);
    cr_assert_geq(curio_sleep(0.02), 0);
    reset_close(peer);
    char all[8] = {0};
    size_t got = 0;
    ssize_t n;
    while ((n = curio_recv_buf(s, &b)) > 0) {
        memcpy(all + got, b.data, b.len);
        got += b.len;
        curio_buf_release(&b);
    }
    cr_assert_eq(n, -ECONNRESET, "%s", curio_strerror((int)n));
    cr_assert_str_eq(all, "data");
    curio_socket_close(s);
    return 0;
}

Test(bufring, reset_after_the_data)
{
    int fds = count_fds();
    run_main(reset_after_data, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- timeout, cancellation, close while blocked ---- */

static int recv_op(void *arg)
{
    curio_buf b;
    int rc = (int)curio_recv_buf(arg, &b);
    cr_assert_eq(b.id, 0);
    return rc;
}

static long timeout_blocked(void *arg)
{
    (void)arg;
    curio_socket *sv[2];
    pair(sv);
    int closed;
    int64_t t0 = curio_clock();
    cr_assert_eq(timeout_while_waiting(0.05, recv_op, sv[0], &closed), -ETIMEDOUT);
    cr_assert_eq(closed, -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.04);
    /* nothing lost, the socket still usable */
    cr_assert_eq(write(curio_socket_fd(sv[1]), "late", 4), 4);
    curio_buf b;
    cr_assert_eq(curio_recv_buf(sv[0], &b), 4);
    cr_assert_eq(memcmp(b.data, "late", 4), 0);
    curio_buf_release(&b);
    curio_socket_close(sv[0]);
    curio_socket_close(sv[1]);
    if (ring())
        cr_assert_eq(ring()->out, 0);
    return 0;
}

Test(bufring, timeout_while_blocked)
{
    int fds = count_fds();
    run_main(timeout_blocked, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long blocked_reader(void *arg)
{
    curio_buf b;
    ssize_t n = curio_recv_buf(arg, &b);
    ev("reader %zd", n);
    if (n > 0)
        curio_buf_release(&b);
    cr_assert_eq(b.id, 0);
    return n;
}

static void wait_blocked(curio_task *t)
{
    while (strcmp(curio_task_state(t), "READ_WAIT") != 0)
        cr_assert_eq(curio_yield(), 0);
}

static long cancel_blocked(void *arg)
{
    bool with_data = arg != NULL;
    curio_socket *sv[2];
    pair(sv);
    curio_task *t = curio_spawn(blocked_reader, sv[0]);
    wait_blocked(t);
    /* with_data: the data is on its way as the cancellation lands (in flight) */
    if (with_data)
        cr_assert_eq(write(curio_socket_fd(sv[1]), "kept", 4), 4);
    cr_assert_eq(curio_cancel(t), 0);
    ev("cancelled");
    /* The reader either was cancelled, and the data waits for the next call, or (the
     * fallback's poll completed before its cancel) received it: never lost. */
    bool got_it = !curio_task_cancelled(t);
    curio_task_release(t);
    if (!with_data)
        cr_assert_eq(write(curio_socket_fd(sv[1]), "kept", 4), 4);
    cr_assert(!got_it || with_data);
    if (!got_it) {
        curio_buf b;
        cr_assert_eq(curio_recv_buf(sv[0], &b), 4);
        cr_assert_eq(memcmp(b.data, "kept", 4), 0);
        curio_buf_release(&b);
    }
    curio_socket_close(sv[0]);
    curio_socket_close(sv[1]);
    return 0;
}

Test(bufring, cancel_while_blocked)
{
    expect_log(cancel_blocked, NULL, "reader -125 cancelled");
}

Test(bufring, cancel_while_data_is_in_flight_keeps_the_data)
{
    expect_log(cancel_blocked, (void *)1, "reader -125 cancelled");
}

Test(bufring, cancel_while_blocked_in_the_fallback)
{
    curio__bufring_disabled = true;
    expect_log(cancel_blocked, NULL, "reader -125 cancelled");
    ev_reset();
    run_main(cancel_blocked, (void *)1);
    cr_assert(!strcmp(evlog, "reader -125 cancelled") || !strcmp(evlog, "reader 4 cancelled"),
              "%s", evlog);
    curio__bufring_disabled = false;
}

static long close_blocked(void *arg)
{
    (void)arg;
    curio_socket *sv[2];
    pair(sv);
    curio_task *t = curio_spawn(blocked_reader, sv[0]);
    wait_blocked(t);
    ev("close");
    curio_socket_close(sv[0]);
    long r;
    cr_assert_eq(curio_join(t, &r), 0);
    cr_assert_eq(r, -EBADF);
    curio_task_release(t);
    curio_socket_close(sv[1]);
    return 0;
}

Test(bufring, close_while_blocked)
{
    int fds = count_fds();
    expect_log(close_blocked, NULL, "close reader -9");
    cr_assert_eq(count_fds(), fds);
}

Test(bufring, close_while_blocked_in_the_fallback)
{
    int fds = count_fds();
    curio__bufring_disabled = true;
    expect_log(close_blocked, NULL, "close reader -9");
    curio__bufring_disabled = false;
    cr_assert_eq(count_fds(), fds);
}

Test(bufring, timeout_while_blocked_in_the_fallback)
{
    int fds = count_fds();
    curio__bufring_disabled = true;
    run_main(timeout_blocked, NULL);
    curio__bufring_disabled = false;
    cr_assert_eq(count_fds(), fds);
}

/* Buffers queued on a socket nobody reads go back to the ring at its close. */
static long close_with_queued(void *arg)
{
    (void)arg;
    curio_socket *sv[2];
    pair(sv);
    curio_buf b;
    cr_assert_eq(write(curio_socket_fd(sv[1]), "x", 1), 1);
    cr_assert_eq(curio_recv_buf(sv[0], &b), 1);
    curio_buf_release(&b);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(write(curio_socket_fd(sv[1]), "abcd", 4), 4);
        cr_assert_geq(curio_sleep(0.005), 0);
    }
    cr_assert_gt(ring()->out, 0);
    curio_socket_close(sv[0]);
    cr_assert_eq(ring()->out, 0);
    cr_assert_geq(curio_sleep(0.01), 0); /* the cancelled multishot's last CQE */
    cr_assert_eq(ring()->out, 0);
    curio_socket_close(sv[1]);
    return 0;
}

Test(bufring, close_returns_queued_buffers)
{
    int fds = count_fds();
    run_main(close_with_queued, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* A second reader is refused while one waits. */
static long busy(void *arg)
{
    (void)arg;
    curio_socket *sv[2];
    pair(sv);
    curio_task *t = curio_spawn(blocked_reader, sv[0]);
    wait_blocked(t);
    curio_buf b;
    cr_assert_eq(curio_recv_buf(sv[0], &b), -EBUSY);
    char c;
    cr_assert_eq(curio_recv(sv[0], &c, 1, 0), -EBUSY);
    cr_assert_eq(write(curio_socket_fd(sv[1]), "z", 1), 1);
    long r;
    cr_assert_eq(curio_join(t, &r), 0);
    cr_assert_eq(r, 1);
    curio_task_release(t);
    curio_socket_close(sv[0]);
    curio_socket_close(sv[1]);
    return 0;
}

Test(bufring, second_reader_is_busy) { run_main(busy, NULL); }

/* ---- curio_recv on a socket in buffer mode: the queued bytes first ---- */

static long mixed(void *arg)
{
    (void)arg;
    curio_socket *sv[2];
    pair(sv);
    curio_buf b;
    cr_assert_eq(write(curio_socket_fd(sv[1]), "x", 1), 1);
    cr_assert_eq(curio_recv_buf(sv[0], &b), 1);
    curio_buf_release(&b);
    cr_assert_eq(write(curio_socket_fd(sv[1]), "abcdef", 6), 6);
    cr_assert_geq(curio_sleep(0.02), 0); /* queued */
    char buf[16] = {0};
    cr_assert_eq(curio_recv(sv[0], buf, 2, 0), 2);
    cr_assert_eq(memcmp(buf, "ab", 2), 0);
    cr_assert_eq(curio_recv(sv[0], buf, 2, MSG_PEEK), -EINVAL);
    cr_assert_eq(curio_recvfrom(sv[0], buf, 2, 0, NULL), -EBUSY);
    curio_stream *st;
    cr_assert_eq(curio_socket_as_stream(sv[0], &st, NULL), -EBUSY);
    cr_assert_eq(curio_socket_blocking(sv[0]), -EBUSY);
    cr_assert_eq(curio_recv_buf(sv[0], &b), 4); /* the rest of the same buffer */
    cr_assert_eq(memcmp(b.data, "cdef", 4), 0);
    curio_buf_release(&b);
    cr_assert_eq(write(curio_socket_fd(sv[1]), "gh", 2), 2);
    cr_assert_eq(curio_recv(sv[0], buf, sizeof buf, 0), 2);
    cr_assert_eq(memcmp(buf, "gh", 2), 0);
    curio_socket_close(sv[1]);
    cr_assert_eq(curio_recv(sv[0], buf, sizeof buf, 0), 0);
    curio_socket_close(sv[0]);
    if (ring())
        cr_assert_eq(ring()->out, 0);
    return 0;
}

Test(bufring, plain_recv_sees_the_queued_bytes_first) { run_main(mixed, NULL); }

/* ---- bad input ---- */

static long bad_input(void *arg)
{
    (void)arg;
    curio_buf b = {.data = (char *)1, .len = 1, .id = 1};
    cr_assert_eq(curio_recv_buf(NULL, &b), -EINVAL);
    cr_assert_eq(b.id, 0);
    curio_socket *sv[2];
    pair(sv);
    cr_assert_eq(curio_recv_buf(sv[0], NULL), -EINVAL);
    curio_socket *d;
    cr_assert_eq(curio_socket_open(&d, AF_INET, SOCK_DGRAM, 0), 0);
    cr_assert_eq(curio_recv_buf(d, &b), -EOPNOTSUPP);
    curio_socket_close(d);
    curio_socket_close(sv[1]);
    cr_assert_eq(curio_recv_buf(sv[0], &b), 0); /* peer gone: end of stream */
    cr_assert_eq(curio_socket_shutdown(sv[0], SHUT_RDWR) <= 0, 1);
    curio_socket_close(sv[0]);
    return 0;
}

Test(bufring, bad_input) { run_main(bad_input, NULL); }

Test(bufring, outside_a_task_is_eperm)
{
    curio_socket *sv[2];
    curio_kernel *k;
    cr_assert_eq(curio_kernel_create(&k, NULL), 0);
    pair(sv);
    curio_buf b;
    cr_assert_eq(curio_recv_buf(sv[0], &b), -EPERM);
    curio_socket_close(sv[0]);
    curio_socket_close(sv[1]);
    curio_kernel_destroy(k);
}

/* ---- idle connections hold no buffer ---- */

#define IDLE 100

static long idle_echo(void *arg)
{
    curio_socket *s = arg;
    curio_buf b;
    ssize_t n;
    while ((n = curio_recv_buf(s, &b)) > 0) {
        n = curio_sendall(s, b.data, b.len, 0, NULL);
        curio_buf_release(&b);
        if (n < 0)
            break;
    }
    return n;
}

static long idle_many(void *arg)
{
    (void)arg;
    curio_socket *sv[IDLE][2];
    curio_task *t[IDLE];
    for (int i = 0; i < IDLE; i++) {
        pair(sv[i]);
        t[i] = curio_spawn(idle_echo, sv[i][1]);
    }
    for (int i = 0; i < IDLE; i++)
        wait_blocked(t[i]);
    cr_assert_not_null(ring());
    cr_assert_eq(ring()->out, 0, "waiting echo tasks hold no buffer");
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < IDLE; i++)
            cr_assert_eq(curio_sendall(sv[i][0], "ping", 4, 0, NULL), 4);
        for (int i = 0; i < IDLE; i++) {
            char back[4];
            size_t got = 0;
            while (got < 4) {
                ssize_t n = curio_recv(sv[i][0], back + got, 4 - got, 0);
                cr_assert_gt(n, 0);
                got += (size_t)n;
            }
            cr_assert_eq(memcmp(back, "ping", 4), 0);
        }
        for (int i = 0; i < IDLE; i++)
            wait_blocked(t[i]);
        cr_assert_eq(ring()->out, 0, "idle again, nothing held");
    }
    for (int i = 0; i < IDLE; i++) {
        curio_socket_close(sv[i][0]);
        long r;
        cr_assert_eq(curio_join(t[i], &r), 0);
        cr_assert_eq(r, 0);
        curio_task_release(t[i]);
        curio_socket_close(sv[i][1]);
    }
    return 0;
}

Test(bufring, idle_echo_tasks_hold_no_buffer)
{
    int fds = count_fds();
    run_main(idle_many, NULL);
    cr_assert_eq(count_fds(), fds);
}
