/*
 * Streams, writing: write and writelines (all bytes, gathered), the write buffer and
 * flush, partial counts under a timeout and a cancellation, a peer gone (-EPIPE without
 * SIGPIPE) or reset (-ECONNRESET), and one writer at a time.
 */
#include "iotest.h"

#include "io.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>

/* Read everything from fd until end of file, from a task. */
struct drain {
    int fd;
    size_t got;
    unsigned sum;
};

static long drainer(void *arg)
{
    struct drain *d = arg;
    char buf[65536];
    for (;;) {
        ssize_t n = curio_read(d->fd, buf, sizeof buf);
        if (n < 0)
            return n;
        if (n == 0)
            return 0;
        for (ssize_t i = 0; i < n; i++)
            d->sum = d->sum * 31 + (unsigned char)buf[i];
        d->got += (size_t)n;
    }
}

static unsigned checksum(const char *p, size_t n, unsigned sum)
{
    for (size_t i = 0; i < n; i++)
        sum = sum * 31 + (unsigned char)p[i];
    return sum;
}

static long write_all(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[1], NULL);
    struct drain d = {p[0], 0, 0};
    curio_task *t = curio_spawn(drainer, &d);
    size_t n = 4 << 20;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 + i / 1000);
    size_t done = 0;
    cr_assert_eq(curio_stream_write(s, data, n, &done), (ssize_t)n);
    cr_assert_eq(done, n);
    cr_assert_eq(curio_stream_write(s, data, 0, &done), 0);
    cr_assert_eq(done, 0);
    cr_assert_eq(curio_stream_write(s, NULL, 1, &done), -EINVAL);
    cr_assert_eq(curio_stream_close(s), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(d.got, n);
    cr_assert_eq(d.sum, checksum(data, n, 0));
    free(data);
    curio_task_release(t);
    close(p[0]);
    return 0;
}

Test(stream_write, four_mib_through_a_pipe) { run_io(write_all, NULL); }

static long writelines(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    curio_stream *s = sopen(sv[0], NULL);
    struct drain d = {sv[1], 0, 0};
    curio_task *t = curio_spawn(drainer, &d);
    /* 150 entries (more than one operation takes), some empty, some large. */
    struct iovec iov[150];
    static char big[200000];
    memset(big, 'B', sizeof big);
    char small[150][8];
    unsigned sum = 0;
    size_t total = 0;
    for (int i = 0; i < 150; i++) {
        if (i % 10 == 3) {
            iov[i] = (struct iovec){big, sizeof big};
        } else if (i % 7 == 0) {
            iov[i] = (struct iovec){NULL, 0};
        } else {
            int k = snprintf(small[i], sizeof small[i], "%d,", i);
            iov[i] = (struct iovec){small[i], (size_t)k};
        }
        sum = checksum(iov[i].iov_base, iov[i].iov_len, sum);
        total += iov[i].iov_len;
    }
    size_t done = 0;
    cr_assert_eq(curio_stream_writelines(s, iov, 150, &done), (ssize_t)total);
    cr_assert_eq(done, total);
    cr_assert_eq(curio_stream_writelines(s, iov, -1, &done), -EINVAL);
    cr_assert_eq(curio_stream_writelines(s, NULL, 0, &done), 0);
    curio_stream_close(s);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(d.got, total);
    cr_assert_eq(d.sum, sum);
    curio_task_release(t);
    close(sv[1]);
    return 0;
}

Test(stream_write, writelines_gathers_150_buffers_over_a_socket) { run_io(writelines, NULL); }

/* ---- the write buffer ---- */

static long write_buffer(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream_options o = {.write_buffer = 16};
    curio_stream *s = sopen(p[1], &o);
    uint64_t cycles = curio_task_cycles(curio_current());
    cr_assert_eq(curio_stream_write(s, "hello ", 6, NULL), 6);
    cr_assert_eq(curio_stream_write(s, "world", 5, NULL), 5);
    cr_assert_eq(curio_task_cycles(curio_current()), cycles, "no operation");
    cr_assert_eq(pending(p[0]), 0, "still buffered");
    cr_assert_eq(curio_stream_flush(s), 0);
    cr_assert_eq(pending(p[0]), 11);
    cr_assert_eq(curio_stream_flush(s), 0, "nothing to flush");
    /* What does not fit goes out with the buffer, in one operation. */
    cr_assert_eq(curio_stream_write(s, "abc", 3, NULL), 3);
    cycles = curio_task_cycles(curio_current());
    cr_assert_eq(curio_stream_write(s, "0123456789ABCDEF", 16, NULL), 16);
    cr_assert_eq(curio_task_cycles(curio_current()), cycles + 1, "one operation");
    cr_assert_eq(pending(p[0]), 30);
    char buf[64];
    cr_assert_eq(read(p[0], buf, sizeof buf), 30);
    cr_assert_eq(memcmp(buf, "hello worldabc0123456789ABCDEF", 30), 0);
    /* Closing with bytes buffered discards them and says so. */
    cr_assert_eq(curio_stream_write(s, "lost", 4, NULL), 4);
    cr_assert_eq(curio_stream_close(s), CURIO_EUNFLUSHED);
    cr_assert_eq(read(p[0], buf, sizeof buf), 0, "closed, nothing sent");
    close(p[0]);
    return 0;
}

Test(stream_write, write_buffer_collects_and_flushes) { run_io(write_buffer, NULL); }

/* A request left in the write buffer goes out before the stream waits for the answer. */
static long echo_peer(void *arg)
{
    int fd = *(int *)arg;
    char buf[16];
    ssize_t n = curio_read(fd, buf, sizeof buf);
    ev("peer=%.*s", (int)(n > 0 ? n : 0), buf);
    return curio_write(fd, "pong\n", 5) == 5 ? 0 : -EIO;
}

static long flush_before_read(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    curio_stream_options o = {.write_buffer = 4096};
    curio_stream *s = sopen(sv[0], &o);
    curio_task *t = curio_spawn(echo_peer, &sv[1]);
    cr_assert_eq(curio_stream_write(s, "ping", 4, NULL), 4);
    char line[16];
    ev("answer=%s", ename(curio_stream_readline(s, line, sizeof line)));
    cr_assert_str_eq(line, "pong\n");
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(curio_stream_close(s), 0);
    close(sv[1]);
    return 0;
}

Test(stream_write, write_buffer_is_sent_before_a_read_waits)
{
    ev_reset();
    run_io(flush_before_read, NULL);
    cr_assert_str_eq(evlog, "peer=ping answer=5");
}

/* ---- partial counts ---- */

static long write_timeout(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    cr_assert_eq(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
    curio_stream *s = sopen(p[1], NULL);
    size_t n = 1 << 20;
    char *data = calloc(1, n);
    size_t done = 0;
    long rc;
    int closed;
    TIMEOUT_WHILE_WAITING(0.02, rc, closed, curio_stream_write(s, data, n, &done));
    ev("write=%s", ename(rc));
    ev("close=%s", ename(closed));
    cr_assert_gt(done, 0);
    cr_assert_lt(done, n);
    cr_assert_eq((size_t)pending(p[0]), done, "done counts exactly what went in");
    free(data);
    curio_stream_close(s);
    close(p[0]);
    return 0;
}

Test(stream_write, timeout_part_way_reports_bytes_written)
{
    ev_reset();
    run_io(write_timeout, NULL);
    cr_assert_str_eq(evlog, "write=ETIMEDOUT close=ETIMEDOUT");
}

struct writer {
    curio_stream *s;
    const void *data;
    size_t n;
    size_t done;
    ssize_t rc;
};

static long big_writer(void *arg)
{
    struct writer *w = arg;
    w->rc = curio_stream_write(w->s, w->data, w->n, &w->done);
    return w->rc < 0 ? w->rc : 0;
}

static long write_cancel(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    curio_stream *s = sopen(sv[0], NULL);
    size_t n = 8 << 20;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)i;
    struct writer w = {s, data, n, 0, 0};
    curio_task *t = curio_spawn(big_writer, &w);
    until_in_flight(t);
    cr_assert_str_eq(curio_task_state(t), "WRITE_WAIT");
    /* A second writer is refused while the first waits; the raw descriptor too. */
    ev("second=%s", ename(curio_stream_write(s, "x", 1, NULL)));
    ev("raw=%s", ename(curio_write(sv[0], "x", 1)));
    ev("flush=%s", ename(curio_stream_flush(s)));
    /* Reading the other direction is not affected. */
    cr_assert_eq(write(sv[1], "r", 1), 1);
    char c;
    ev("read=%s", ename(curio_stream_read(s, &c, 1)));
    curio_cancel(t);
    ev("rc=%s", ename(w.rc));
    cr_assert_gt(w.done, 0);
    cr_assert_lt(w.done, n);
    /* The peer receives exactly the bytes reported, in order. */
    shutdown(sv[0], SHUT_WR);
    struct drain d = {sv[1], 0, 0};
    cr_assert_eq(drainer(&d), 0);
    cr_assert_eq(d.got, w.done);
    cr_assert_eq(d.sum, checksum(data, w.done, 0));
    free(data);
    curio_task_release(t);
    curio_stream_close(s);
    close(sv[1]);
    return 0;
}

Test(stream_write, cancel_part_way_reports_bytes_written)
{
    ev_reset();
    run_io(write_cancel, NULL);
    cr_assert_str_eq(evlog, "second=EBUSY raw=EBUSY flush=EBUSY read=1 rc=ECANCELED");
}

/* ---- the peer went away ---- */

static long peer_closed(void *arg)
{
    (void)arg;
    /* SIGPIPE keeps its default action: a stream on a socket must not raise it. */
    cr_assert_eq(signal(SIGPIPE, SIG_DFL), SIG_DFL);
    int sv[2];
    mksocks(sv);
    curio_stream *s = sopen(sv[0], NULL);
    close(sv[1]);
    size_t done = 9;
    ev("write=%s", ename(curio_stream_write(s, "hello", 5, &done)));
    ev("done=%zu", done);
    struct iovec iov[2] = {{"a", 1}, {"b", 1}};
    ev("writelines=%s", ename(curio_stream_writelines(s, iov, 2, &done)));
    char buf[4];
    ev("read=%s", ename(curio_stream_read(s, buf, sizeof buf)));
    curio_stream_close(s);
    return 0;
}

Test(stream_write, socket_peer_gone_is_epipe_not_sigpipe)
{
    ev_reset();
    run_io(peer_closed, NULL);
    cr_assert_str_eq(evlog, "write=EPIPE done=0 writelines=EPIPE read=0");
}

/* A peer that closes with unread bytes resets the connection. */
static long unix_reset(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    curio_stream *s = sopen(sv[0], NULL);
    cr_assert_eq(curio_stream_write(s, "unread", 6, NULL), 6);
    close(sv[1]);
    char buf[8];
    ev("read=%s", ename(curio_stream_read(s, buf, sizeof buf)));
    curio_stream_close(s);
    return 0;
}

Test(stream_write, unix_peer_reset_is_econnreset)
{
    ev_reset();
    run_io(unix_reset, NULL);
    cr_assert_str_eq(evlog, "read=ECONNRESET");
}

/* TCP on loopback: a peer closing with SO_LINGER 0 sends a RST. */
static long tcp_reset(void *arg)
{
    (void)arg;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
    cr_assert_eq(listen(l, 1), 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    int srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(srv, 0);
    close(l);
    curio_stream *s = sopen(c, NULL);
    cr_assert_eq(curio_stream_write(s, "hi\n", 3, NULL), 3);
    char line[8];
    cr_assert_eq(write(srv, "yo\n", 3), 3);
    cr_assert_eq(curio_stream_readline(s, line, sizeof line), 3);
    struct linger lg = {1, 0};
    cr_assert_eq(setsockopt(srv, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(srv);
    ev("read=%s", ename(curio_stream_readline(s, line, sizeof line)));
    curio_stream_close(s);
    return 0;
}

Test(stream_write, tcp_peer_reset_is_econnreset)
{
    ev_reset();
    run_io(tcp_reset, NULL);
    cr_assert_str_eq(evlog, "read=ECONNRESET");
}
