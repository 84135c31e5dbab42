/*
 * A stream over a transport (io/io.h's hook for net/'s TLS): buffering, lines, partial
 * counts, cancellation and close work unchanged over it. The transport here "encrypts"
 * by flipping a bit of every byte, over a socket pair, with curio_read/curio_write.
 */
#include "iotest.h"

#include "io.h"

struct xor_ctx {
    int fd;
    int closed;
    int recvs;
};

static ssize_t xor_recv(void *ctx, void *buf, size_t n)
{
    struct xor_ctx *x = ctx;
    x->recvs++;
    ssize_t r = curio_read(x->fd, buf, n);
    for (ssize_t i = 0; i < r; i++)
        ((char *)buf)[i] ^= 0x20;
    return r;
}

static ssize_t xor_sendv(void *ctx, const struct iovec *iov, int cnt)
{
    struct xor_ctx *x = ctx;
    char tmp[256];
    size_t k = 0;
    for (int i = 0; i < cnt && k < sizeof tmp; i++)
        for (size_t j = 0; j < iov[i].iov_len && k < sizeof tmp; j++)
            tmp[k++] = ((const char *)iov[i].iov_base)[j] ^ 0x20;
    return curio_write(x->fd, tmp, k); /* may be short: the stream sends the rest */
}

static void xor_close(void *ctx) { ((struct xor_ctx *)ctx)->closed++; }

static const curio__stream_transport xor_transport = {xor_recv, xor_sendv, xor_close};

static void flip(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] ^= 0x20;
}

static long over_transport(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    struct xor_ctx x = {sv[0], 0, 0};
    curio_stream *s;
    curio_stream_options o = {.buffer_size = 8, .max_line = 64};
    cr_assert_eq(curio__stream_open_transport(&s, sv[0], &o, &xor_transport, &x), 0);
    cr_assert_eq(curio__stream_open_transport(&s, sv[0], &o, NULL, &x), -EINVAL);
    cr_assert_eq(curio_stream_fd(s), sv[0]);
    /* Lines longer than the buffer, through the transport. */
    char wire[] = "hello through a transport\nsecond\n";
    flip(wire, sizeof wire - 1);
    cr_assert_eq(write(sv[1], wire, sizeof wire - 1), (ssize_t)sizeof wire - 1);
    char line[64];
    cr_assert_eq(curio_stream_readline(s, line, sizeof line), 26);
    cr_assert_str_eq(line, "hello through a transport\n");
    cr_assert_gt(x.recvs, 2, "one transport read per refill of the 8-byte buffer");
    cr_assert_eq(curio_stream_readline(s, line, sizeof line), 7);
    cr_assert_str_eq(line, "second\n");
    /* A gathered write of more than the transport takes at once. */
    char big[1000];
    memset(big, 'q', sizeof big);
    struct iovec iov[2] = {{"head:", 5}, {big, sizeof big}};
    size_t done;
    cr_assert_eq(curio_stream_writelines(s, iov, 2, &done), 1005);
    cr_assert_eq(done, 1005);
    char got[1100];
    size_t n = 0;
    while (n < 1005) {
        ssize_t r = read(sv[1], got + n, sizeof got - n);
        cr_assert_gt(r, 0);
        n += (size_t)r;
    }
    flip(got, n);
    cr_assert_eq(memcmp(got, "head:qqqq", 9), 0);
    /* A timeout in the middle of a line keeps it. */
    char part[] = "par";
    flip(part, 3);
    cr_assert_eq(write(sv[1], part, 3), 3);
    long rc;
    int closed;
    TIMEOUT_WHILE_WAITING(0.02, rc, closed, curio_stream_readline(s, line, sizeof line));
    ev("readline=%s", ename(rc));
    cr_assert_eq(closed, -ETIMEDOUT);
    ev("buffered=%zu", curio_stream_buffered(s));
    char rest[] = "tial\n";
    flip(rest, 5);
    cr_assert_eq(write(sv[1], rest, 5), 5);
    ev("line=%s", ename(curio_stream_readline(s, line, sizeof line)));
    cr_assert_str_eq(line, "partial\n");
    cr_assert_eq(curio_stream_close(s), 0);
    ev("closed=%d", x.closed);
    cr_assert_eq(fcntl(sv[0], F_GETFD), -1);
    close(sv[1]);
    return 0;
}

Test(stream_transport, lines_writes_and_timeouts_over_a_transport)
{
    ev_reset();
    run_io(over_transport, NULL);
    cr_assert_str_eq(evlog, "readline=ETIMEDOUT buffered=3 line=8 closed=1");
}

struct blocked {
    curio_stream *s;
};

static long reader(void *arg)
{
    struct blocked *b = arg;
    char line[16];
    ev("reader=%s", ename(curio_stream_readline(b->s, line, sizeof line)));
    return 0;
}

static long close_under_transport(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    struct xor_ctx x = {sv[0], 0, 0};
    curio_stream *s;
    cr_assert_eq(curio__stream_open_transport(&s, sv[0], NULL, &xor_transport, &x), 0);
    struct blocked b = {s};
    curio_task *t = curio_spawn(reader, &b);
    until_in_flight(t);
    ev("close=%s", ename(curio_stream_close(s)));
    cr_assert_eq(curio_join(t, NULL), 0);
    ev("closed=%d", x.closed);
    curio_task_release(t);
    close(sv[1]);
    return 0;
}

Test(stream_transport, close_wakes_a_reader_blocked_in_the_transport)
{
    ev_reset();
    run_io(close_under_transport, NULL);
    cr_assert_str_eq(evlog, "close=0 reader=EBADF closed=1");
}
