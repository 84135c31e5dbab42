/*
 * Streams, an idle socket holds no read buffer: after a refill that brought less than
 * read(n) asked for, the buffer is freed and read(n) receives into the caller's memory,
 * until a read fills all n bytes. No byte is lost or reordered across the switches, the
 * write buffer is still sent before waiting, cancellation and timeouts lose nothing, and
 * a read on a pipe keeps its buffer.
 */
#include "iotest.h"

#include "io.h"

/* Read once with read(n) and log "count:text [direct|buffered] [rbuf|-]". */
static void rd(curio_stream *s, size_t n)
{
    char buf[256];
    ssize_t r = curio_stream_read(s, buf, n);
    ev("%s:%.*s %s %s", ename(r), r > 0 ? (int)r : 0, buf, s->rdirect ? "direct" : "buffered",
       s->rbuf ? "rbuf" : "-");
}

static long switches(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    curio_stream *s = sopen(sv[0], NULL);
    cr_assert_eq(write(sv[1], "abc", 3), 3);
    rd(s, 8);                                     /* refill brought 3 < 8: freed */
    cr_assert_eq(write(sv[1], "0123456789", 10), 10);
    rd(s, 8);                                     /* direct, all 8: buffered again */
    rd(s, 8);                                     /* the 2 left, through the buffer */
    cr_assert_eq(write(sv[1], "xy", 2), 2);
    rd(s, 8);                                     /* direct */
    cr_assert_eq(write(sv[1], "one\ntwo\n", 8), 8);
    char line[16];
    ssize_t n = curio_stream_readline(s, line, sizeof line);
    ev("line=%s:%.*s", ename(n), n > 0 ? (int)n - 1 : 0, line);
    rd(s, 8);                                     /* buffered bytes first */
    close(sv[1]);
    rd(s, 8);                                     /* end of stream */
    cr_assert_eq(curio_stream_close(s), 0);
    return 0;
}

Test(stream_idle, buffer_freed_after_small_message_and_back_after_full_read)
{
    ev_reset();
    run_io(switches, NULL);
    cr_assert_str_eq(evlog, "3:abc direct - 8:01234567 buffered - 2:89 direct - "
                            "2:xy direct - line=4:one 4:two\n direct rbuf 0: direct rbuf");
}

/* Bytes arriving in many pieces come out whole and in order through both paths. */
static long order(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    curio_stream *s = sopen(sv[0], NULL);
    char sent[4000], got[4000];
    for (size_t i = 0; i < sizeof sent; i++)
        sent[i] = (char)('a' + i * 7 % 26);
    size_t w = 0, r = 0;
    unsigned sizes[] = {1, 5, 64, 3, 300, 17, 1000, 2, 9};
    for (unsigned i = 0; r < sizeof sent; i++) {
        size_t chunk = sizes[i % 9];
        if (w < sizeof sent) {
            if (chunk > sizeof sent - w)
                chunk = sizeof sent - w;
            cr_assert_eq(write(sv[1], sent + w, chunk), (ssize_t)chunk);
            w += chunk;
        }
        size_t want = sizes[(i + 4) % 9] + 1;
        if (want > sizeof got - r)
            want = sizeof got - r;
        ssize_t n = curio_stream_read(s, got + r, want);
        cr_assert_gt(n, 0);
        r += (size_t)n;
    }
    cr_assert_eq(memcmp(sent, got, sizeof sent), 0);
    curio_stream_close(s);
    close(sv[1]);
    return 0;
}

Test(stream_idle, bytes_in_order_across_switches) { run_io(order, NULL); }

/* The peer answers only what it was sent: a direct read must send the write buffer first. */
static long answerer(void *arg)
{
    int fd = *(int *)arg;
    char buf[16];
    ssize_t n = curio_read(fd, buf, sizeof buf);
    ev("peer got %.*s", n > 0 ? (int)n : 0, buf);
    cr_assert_eq(curio_write(fd, "pong", 4), 4);
    return 0;
}

static long flush_first(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    curio_stream_options o = {.write_buffer = 64};
    curio_stream *s = sopen(sv[0], &o);
    cr_assert_eq(write(sv[1], "hi", 2), 2);
    rd(s, 8);
    curio_task *t = curio_spawn(answerer, &sv[1]);
    cr_assert_eq(curio_stream_write(s, "ping", 4, NULL), 4);
    ev("buffered %zu", s->wlen - s->wstart);
    rd(s, 8);
    curio_join(t, NULL);
    curio_task_release(t);
    curio_stream_close(s);
    close(sv[1]);
    return 0;
}

Test(stream_idle, direct_read_sends_the_write_buffer_first)
{
    ev_reset();
    run_io(flush_first, NULL);
    cr_assert_str_eq(evlog, "2:hi direct - buffered 4 peer got ping 4:pong direct -");
}

struct reader {
    curio_stream *s;
    ssize_t got;
    char buf[8];
};

static long reader(void *arg)
{
    struct reader *r = arg;
    r->got = curio_stream_read(r->s, r->buf, sizeof r->buf);
    return 0;
}

/* Cancelled and timed out while parked in a direct read: the bytes that come later are
 * all there for the next read. */
static long cancel_direct(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    curio_stream *s = sopen(sv[0], NULL);
    cr_assert_eq(write(sv[1], "a", 1), 1);
    rd(s, 8);
    struct reader r = {.s = s};
    curio_task *t = curio_spawn(reader, &r);
    until_in_flight(t);
    cr_assert_eq(curio_cancel(t), 0);
    ev("cancelled %s", ename(r.got));
    curio_task_release(t);
    char buf[8];
    ssize_t n;
    int closed;
    TIMEOUT_WHILE_WAITING(0.01, n, closed, curio_stream_read(s, buf, sizeof buf));
    ev("timeout %s %s %s", ename(n), ename(closed), s->rdirect ? "direct" : "buffered");
    cr_assert_eq(write(sv[1], "bcd", 3), 3);
    rd(s, 8);
    curio_stream_close(s);
    close(sv[1]);
    return 0;
}

Test(stream_idle, cancel_in_direct_read_loses_nothing)
{
    ev_reset();
    run_io(cancel_direct, NULL);
    cr_assert_str_eq(evlog, "1:a direct - cancelled ECANCELED timeout ETIMEDOUT ETIMEDOUT direct 3:bcd direct -");
}

/* A pipe keeps its buffer (only sockets switch). */
static long pipe_keeps(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "abc", 3), 3);
    rd(s, 8);
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(stream_idle, pipe_keeps_its_buffer)
{
    ev_reset();
    run_io(pipe_keeps, NULL);
    cr_assert_str_eq(evlog, "3:abc buffered rbuf");
}
