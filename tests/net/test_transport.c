/*
 * The socket's transport table (net/net.h) without TLS: a transport that XORs every byte
 * with a key, installed on one end of a socketpair, the other end plain. The socket calls
 * and the socket's stream go through the table; blocking() and the message calls refuse;
 * the transport's calls hold the socket gate's directions (a second reader gets -EBUSY);
 * a close wakes a reader inside the transport with -EBADF, calls closing once, and free
 * runs once, when the last user has left.
 */
#include "nettest.h"
#include "../../net/net.h"
#include "../../io/io.h"

#define KEY 0x5a

static int frees, closings, shutdowns;

static void flip(void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)p)[i] ^= KEY;
}

/* The recipe of docs/internals.md: enter the gate for the direction, move the bytes with
 * operations on the descriptor, leave (the last one out frees). */
static ssize_t x_recv(curio_socket *s, void *buf, size_t n, int flags)
{
    if (flags)
        return -EOPNOTSUPP;
    int rc = curio__trap_check(curio__self());
    if (rc == 0)
        rc = curio__gate_enter(&s->gate, curio__self(), CURIO__GATE_READ);
    if (rc < 0)
        return rc;
    ev("recv");
    ssize_t r = curio_read(s->fd, buf, n);
    if (r > 0)
        flip(buf, (size_t)r);
    if (curio__gate_leave(&s->gate, CURIO__GATE_READ, &r))
        curio__socket_free(s);
    return r;
}

static ssize_t put(curio_socket *s, const void *buf, size_t n)
{
    char tmp[256];
    size_t k = n < sizeof tmp ? n : sizeof tmp;
    memcpy(tmp, buf, k);
    flip(tmp, k);
    return curio_write(s->fd, tmp, k);
}

static ssize_t x_send(curio_socket *s, const void *buf, size_t n, int flags)
{
    if (flags & ~MSG_NOSIGNAL)
        return -EOPNOTSUPP;
    int rc = curio__trap_check(curio__self());
    if (rc == 0)
        rc = curio__gate_enter(&s->gate, curio__self(), CURIO__GATE_WRITE);
    if (rc < 0)
        return rc;
    ev("send");
    ssize_t r = put(s, buf, n);
    if (curio__gate_leave(&s->gate, CURIO__GATE_WRITE, &r))
        curio__socket_free(s);
    return r;
}

static ssize_t x_sendall(curio_socket *s, const void *buf, size_t n, int flags, size_t *sent)
{
    size_t done = 0;
    ssize_t r = flags & ~MSG_NOSIGNAL ? -EOPNOTSUPP : 0;
    if (r == 0)
        r = curio__gate_enter(&s->gate, curio__self(), CURIO__GATE_WRITE);
    if (r == 0) {
        ev("sendall");
        while (r >= 0 && done < n)
            if ((r = put(s, (const char *)buf + done, n - done)) > 0)
                done += (size_t)r;
        if (curio__gate_leave(&s->gate, CURIO__GATE_WRITE, &r))
            curio__socket_free(s);
    }
    if (sent)
        *sent = done;
    return r < 0 ? r : (ssize_t)done;
}

static int x_shutdown(curio_socket *s, int how)
{
    shutdowns++;
    return shutdown(s->fd, how) < 0 ? -errno : 0;
}

static void x_closing(curio_socket *s, int fd)
{
    (void)s, (void)fd;
    closings++;
    ev("closing");
}

static void x_free(void *ctx)
{
    cr_assert_eq(ctx, &frees);
    frees++;
    ev("free");
}

static ssize_t xs_recv(void *ctx, void *buf, size_t n) { return x_recv(ctx, buf, n, 0); }

static ssize_t xs_sendv(void *ctx, const struct iovec *iov, int cnt)
{
    (void)cnt;
    return x_send(ctx, iov[0].iov_base, iov[0].iov_len, 0); /* one piece at a time */
}

static const curio__stream_transport xs = {xs_recv, xs_sendv, NULL};
static const curio__socket_transport xt = {
    .recv = x_recv,
    .send = x_send,
    .sendall = x_sendall,
    .shutdown = x_shutdown,
    .closing = x_closing,
    .free = x_free,
    .stream = &xs,
};

static curio_socket *pair[2]; /* [0] carries the transport, [1] is plain */

static void setup(void)
{
    ev_reset();
    frees = closings = shutdowns = 0;
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, pair), 0);
}

TestSuite(transport, .init = setup, .timeout = 30);

static long routes_main(void *arg)
{
    (void)arg;
    curio__socket_set_transport(pair[0], &xt, &frees);
    char buf[16];
    cr_assert_eq(curio_send(pair[0], "hello", 5, 0), 5);
    cr_assert_eq(curio_recv(pair[1], buf, sizeof buf, 0), 5);
    cr_assert_neq(memcmp(buf, "hello", 5), 0, "the descriptor carries the transport's bytes");
    flip(buf, 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);

    char w[5] = "world";
    flip(w, 5);
    cr_assert_eq(curio_send(pair[1], w, 5, 0), 5);
    cr_assert_eq(curio_recv(pair[0], buf, sizeof buf, 0), 5);
    cr_assert_eq(memcmp(buf, "world", 5), 0);

    size_t sent = 99;
    cr_assert_eq(curio_sendall(pair[0], "abc", 3, 0, &sent), 3);
    cr_assert_eq(sent, 3);
    cr_assert_eq(curio_sendall(pair[0], "abc", 3, MSG_DONTWAIT, &sent), -EOPNOTSUPP);
    cr_assert_eq(sent, 0);
    cr_assert_eq(curio_recv(pair[1], buf, 3, MSG_WAITALL), 3);
    flip(buf, 3);
    cr_assert_eq(memcmp(buf, "abc", 3), 0);

    /* What the descriptor cannot carry for a transport. */
    curio_addr a;
    struct msghdr m = {0};
    cr_assert_eq(curio_socket_blocking(pair[0]), -EOPNOTSUPP);
    cr_assert_eq(curio_recvmsg(pair[0], &m, 0), -EOPNOTSUPP);
    cr_assert_eq(curio_sendmsg(pair[0], &m, 0), -EOPNOTSUPP);
    cr_assert_eq(curio_recvfrom(pair[0], buf, 1, 0, &a), -EOPNOTSUPP);
    cr_assert_eq(curio_sendto(pair[0], "x", 1, 0, NULL), -EOPNOTSUPP);

    cr_assert_eq(curio_socket_shutdown(pair[0], SHUT_WR), 0);
    cr_assert_eq(shutdowns, 1);
    cr_assert_eq(curio_recv(pair[1], buf, 1, 0), 0, "the shutdown reached the descriptor");
    cr_assert_eq(curio_socket_close(pair[0]), 0);
    curio_socket_close(pair[1]);
    return 0;
}

Test(transport, socket_calls_go_through_the_table)
{
    cr_assert_eq(run_main(routes_main, NULL), 0);
    cr_assert_str_eq(evlog, "send recv sendall closing free");
    cr_assert_eq(closings, 1);
    cr_assert_eq(frees, 1);
}

/* The stream made before the transport was installed, and one made after. */
static long stream_main(void *arg)
{
    bool before = arg != NULL;
    curio_stream *st = NULL;
    if (before)
        cr_assert_eq(curio_socket_as_stream(pair[0], &st, NULL), 0);
    curio__socket_set_transport(pair[0], &xt, &frees);
    if (!before)
        cr_assert_eq(curio_socket_as_stream(pair[0], &st, NULL), 0);
    char line[] = "one line\n";
    flip(line, sizeof line - 1);
    cr_assert_eq(curio_sendall(pair[1], line, sizeof line - 1, 0, NULL), sizeof line - 1);
    char buf[32];
    cr_assert_eq(curio_stream_readline(st, buf, sizeof buf), 9);
    cr_assert_eq(memcmp(buf, "one line\n", 9), 0);
    cr_assert_eq(curio_stream_write(st, "out", 3, NULL), 3);
    cr_assert_eq(curio_stream_flush(st), 0);
    cr_assert_eq(curio_recv(pair[1], buf, 3, MSG_WAITALL), 3);
    flip(buf, 3);
    cr_assert_eq(memcmp(buf, "out", 3), 0);
    curio_socket_close(pair[0]);
    curio_socket_close(pair[1]);
    return 0;
}

Test(transport, stream_made_before) { cr_assert_eq(run_main(stream_main, ""), 0); }
Test(transport, stream_made_after) { cr_assert_eq(run_main(stream_main, NULL), 0); }

/* A reader inside the transport; a second reader is refused by the gate; a close wakes
 * the first with -EBADF, and the handle goes with it, after it left. */
static long reader(void *arg)
{
    (void)arg;
    char b;
    ssize_t r = curio_recv(pair[0], &b, 1, 0);
    ev("reader %s", r == -EBADF ? "EBADF" : "other");
    return r;
}

static long close_main(void *arg)
{
    (void)arg;
    curio__socket_set_transport(pair[0], &xt, &frees);
    curio_task *t = curio_spawn(reader, NULL);
    cr_assert_not_null(t);
    cr_assert_eq(curio_yield(), 0); /* the reader is in the transport's recv now */
    char b;
    cr_assert_eq(curio_recv(pair[0], &b, 1, 0), -EBUSY, "one reader at a time");
    cr_assert_not_null(pair[0]->gate.reader, "the transport's reader holds the gate");
    ev("close");
    cr_assert_eq(curio_socket_close(pair[0]), 0);
    cr_assert_eq(frees, 0, "the reader is still inside");
    long r = 0;
    cr_assert_eq(curio_join(t, &r), 0);
    cr_assert_eq(r, -EBADF);
    curio_socket_close(pair[1]);
    return 0;
}

Test(transport, close_wakes_the_reader_and_the_last_one_out_frees)
{
    cr_assert_eq(run_main(close_main, NULL), 0);
    cr_assert_str_eq(evlog, "recv close closing free reader EBADF");
    cr_assert_eq(frees, 1);
    cr_assert_eq(closings, 1);
}
