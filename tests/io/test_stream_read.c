/*
 * Streams, reading: read(n) (buffered and direct), read_exactly, read_all; end of stream,
 * bad descriptors, timeouts and cancellation (blocked, and racing data: nothing lost),
 * partial counts, and Curio's ResourceBusy for a second reader.
 */
#include "iotest.h"

#include "io.h"

/* ---- read(n) ---- */

static long read_basic(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "hello world", 11), 11);
    char buf[64];
    cr_assert_eq(curio_stream_read(s, buf, 5), 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    cr_assert_eq(curio_stream_buffered(s), 6, "one read took all there was");
    /* Buffered bytes come back without an operation (the task is not scheduled again). */
    uint64_t cycles = curio_task_cycles(curio_current());
    cr_assert_eq(curio_stream_read(s, buf, sizeof buf), 6);
    cr_assert_eq(curio_task_cycles(curio_current()), cycles);
    cr_assert_eq(memcmp(buf, " world", 6), 0);
    cr_assert_eq(curio_stream_read(s, buf, 0), 0);
    close(p[1]);
    cr_assert_eq(curio_stream_read(s, buf, sizeof buf), 0, "end of stream");
    cr_assert_eq(curio_stream_read(s, buf, sizeof buf), 0, "and again");
    cr_assert_eq(curio_stream_read(s, NULL, 1), -EINVAL);
    cr_assert_eq(curio_stream_read(NULL, buf, 1), -EINVAL);
    cr_assert_eq(curio_stream_close(s), 0);
    return 0;
}

Test(stream_read, buffered_read_then_end_of_stream) { run_io(read_basic, NULL); }

static long read_direct(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream_options o = {.buffer_size = 16};
    curio_stream *s = sopen(p[0], &o);
    char data[40], buf[64];
    memset(data, 'd', sizeof data);
    cr_assert_eq(write(p[1], data, sizeof data), 40);
    /* A read of at least buffer_size with nothing buffered goes straight into buf. */
    cr_assert_eq(curio_stream_read(s, buf, sizeof buf), 40);
    cr_assert_null(s->rbuf, "the buffer was never needed");
    cr_assert_eq(memcmp(buf, data, 40), 0);
    /* A smaller one fills the buffer and copies out of it. */
    cr_assert_eq(write(p[1], data, 10), 10);
    cr_assert_eq(curio_stream_read(s, buf, 4), 4);
    cr_assert_not_null(s->rbuf);
    cr_assert_eq(curio_stream_buffered(s), 6);
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(stream_read, large_reads_bypass_the_buffer) { run_io(read_direct, NULL); }

Test(stream_read, calls_outside_a_task_are_eperm)
{
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    char buf[4];
    size_t done = 99;
    cr_assert_eq(curio_stream_read(s, buf, 4), -EPERM);
    cr_assert_eq(curio_stream_read_exactly(s, buf, 4, &done), -EPERM);
    cr_assert_eq(done, 0);
    cr_assert_eq(curio_stream_readline(s, buf, 4), -EPERM);
    cr_assert_eq(curio_stream_write(s, "x", 1, &done), -EPERM);
    cr_assert_eq(curio_stream_flush(s), -EPERM);
    cr_assert_eq(curio_stream_blocking(s), -EPERM);
    cr_assert_eq(curio_stream_fd(s), p[0]);
    cr_assert_eq(curio_stream_close(s), 0, "close works anywhere");
    cr_assert_eq(fcntl(p[0], F_GETFD), -1, "and closed the descriptor");
    close(p[1]);
}

static long bad_descriptors(void *arg)
{
    (void)arg;
    curio_stream *s = (curio_stream *)1;
    cr_assert_eq(curio_stream_open(&s, -1, NULL), -EBADF);
    cr_assert_null(s);
    int p[2];
    mkpipe(p);
    close(p[1]);
    cr_assert_eq(curio_stream_open(&s, p[1], NULL), -EBADF, "a closed descriptor");
    cr_assert_eq(curio_stream_open(NULL, p[0], NULL), -EINVAL);
    /* A descriptor closed behind the stream's back. */
    curio_stream_options keep = {.keep_fd = true};
    s = sopen(p[0], &keep);
    close(p[0]);
    char buf[8];
    cr_assert_eq(curio_stream_read(s, buf, sizeof buf), -EBADF);
    size_t done = 7;
    cr_assert_eq(curio_stream_write(s, "abc", 3, &done), -EBADF);
    cr_assert_eq(done, 0);
    cr_assert_eq(curio_stream_close(s), 0);
    return 0;
}

Test(stream_read, bad_descriptors_are_ebadf) { run_io(bad_descriptors, NULL); }

/* ---- read_exactly ---- */

struct feed {
    int fd;
    const char *chunks[8];
};

/* Writes each chunk, yielding twice between them so the reader blocks in between. */
static long feeder(void *arg)
{
    struct feed *f = arg;
    for (int i = 0; f->chunks[i]; i++) {
        curio_yield();
        curio_yield();
        size_t done;
        ssize_t n = curio_write(f->fd, f->chunks[i], strlen(f->chunks[i]));
        (void)done;
        if (n < 0)
            return n;
    }
    return 0;
}

static long read_exactly(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream_options o = {.buffer_size = 8};
    curio_stream *s = sopen(p[0], &o);
    struct feed f = {p[1], {"ab", "cdefg", "hijklmnop", "qrst", NULL}};
    curio_task *t = curio_spawn(feeder, &f);
    char buf[32] = {0};
    size_t done = 0;
    /* 12 bytes arriving in pieces: through the buffer for the small remainders. */
    cr_assert_eq(curio_stream_read_exactly(s, buf, 12, &done), 12);
    cr_assert_eq(done, 12);
    cr_assert_eq(memcmp(buf, "abcdefghijkl", 12), 0);
    /* The rest and then the end: CURIO_EINCOMPLETE with the count. */
    cr_assert_eq(curio_join(t, NULL), 0);
    close(p[1]);
    memset(buf, 0, sizeof buf);
    cr_assert_eq(curio_stream_read_exactly(s, buf, 20, &done), CURIO_EINCOMPLETE);
    cr_assert_eq(done, 8);
    cr_assert_str_eq(buf, "mnopqrst");
    cr_assert_eq(curio_stream_read_exactly(s, buf, 0, &done), 0);
    cr_assert_eq(curio_stream_read_exactly(s, buf, 1, NULL), CURIO_EINCOMPLETE);
    curio_task_release(t);
    curio_stream_close(s);
    return 0;
}

Test(stream_read, read_exactly_across_refills_and_early_end) { run_io(read_exactly, NULL); }

static long read_exactly_keeps_extra(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "0123456789", 10), 10);
    char buf[4];
    cr_assert_eq(curio_stream_read_exactly(s, buf, 4, NULL), 4);
    cr_assert_eq(curio_stream_buffered(s), 6, "bytes past n are not consumed");
    char rest[8];
    cr_assert_eq(curio_stream_read(s, rest, sizeof rest), 6);
    cr_assert_eq(memcmp(rest, "456789", 6), 0);
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(stream_read, read_exactly_consumes_only_n) { run_io(read_exactly_keeps_extra, NULL); }

/* ---- read_all ---- */

struct bulk {
    int fd;
    size_t n;
};

static long bulk_writer(void *arg)
{
    struct bulk *b = arg;
    char chunk[5000];
    size_t sent = 0;
    while (sent < b->n) {
        size_t k = b->n - sent < sizeof chunk ? b->n - sent : sizeof chunk;
        for (size_t i = 0; i < k; i++)
            chunk[i] = (char)('a' + (sent + i) % 26);
        ssize_t w = curio_write(b->fd, chunk, k);
        if (w < 0)
            return w;
        sent += (size_t)w;
    }
    close(b->fd);
    return 0;
}

static long read_all(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream_options o = {.buffer_size = 4096};
    curio_stream *s = sopen(p[0], &o);
    struct bulk b = {p[1], 1 << 20};
    curio_task *t = curio_spawn(bulk_writer, &b);
    char head[10];
    cr_assert_eq(curio_stream_read(s, head, 10), 10);
    char *data;
    size_t len;
    cr_assert_eq(curio_stream_read_all(s, &data, &len), (ssize_t)b.n - 10);
    cr_assert_eq(len, b.n - 10);
    cr_assert_eq(data[len], 0, "NUL-terminated");
    for (size_t i = 0; i < len; i++)
        if (data[i] != (char)('a' + (i + 10) % 26))
            cr_assert_fail("byte %zu is wrong", i);
    free(data);
    cr_assert_eq(curio_stream_read_all(s, &data, &len), 0, "nothing left");
    cr_assert_eq(len, 0);
    cr_assert_str_eq(data, "");
    free(data);
    cr_assert_eq(curio_stream_read_all(s, NULL, &len), -EINVAL);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    curio_stream_close(s);
    return 0;
}

Test(stream_read, read_all_of_a_megabyte) { run_io(read_all, NULL); }

/* ---- timeouts ---- */

static long read_timeout(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    char buf[16];
    curio_scope sc;
    int64_t t0 = curio_clock();
    curio_timeout_after(&sc, 0.02);
    ev("read=%s", ename(curio_stream_read(s, buf, sizeof buf)));
    cr_assert_geq(secs_since(t0), 0.02);
    ev("close=%s", ename(curio_scope_close(&sc)));
    cr_assert_eq(write(p[1], "late", 4), 4);
    ev("after=%s", ename(curio_stream_read(s, buf, sizeof buf)));
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(stream_read, read_times_out_on_an_empty_pipe)
{
    ev_reset();
    run_io(read_timeout, NULL);
    cr_assert_str_eq(evlog, "read=ETIMEDOUT close=ETIMEDOUT after=4");
}

static long read_exactly_timeout(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "abc", 3), 3);
    char buf[10];
    size_t done = 0;
    long rc;
    int closed;
    TIMEOUT_WHILE_WAITING(0.02, rc, closed, curio_stream_read_exactly(s, buf, 10, &done));
    ev("exactly=%s", ename(rc));
    ev("done=%zu", done);
    ev("close=%s", ename(closed));
    cr_assert_eq(memcmp(buf, "abc", 3), 0, "the bytes read are in buf");
    cr_assert_eq(write(p[1], "defghijklm", 10), 10);
    cr_assert_eq(curio_stream_read_exactly(s, buf, 7, &done), 7);
    cr_assert_eq(memcmp(buf, "defghij", 7), 0, "the rest follows, nothing lost");
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(stream_read, read_exactly_timeout_reports_partial_count)
{
    ev_reset();
    run_io(read_exactly_timeout, NULL);
    cr_assert_str_eq(evlog, "exactly=ETIMEDOUT done=3 close=ETIMEDOUT");
}

/* An expired scope: every read is -ETIMEDOUT at once, except one that finds its bytes
 * already buffered (not a cancellation point, like joining an ended task). */
static long expired_scope(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "xy", 2), 2);
    char c;
    cr_assert_eq(curio_stream_read(s, &c, 1), 1);
    curio_scope sc;
    curio_timeout_after(&sc, -1);
    ev("buffered=%s", ename(curio_stream_read(s, &c, 1)));
    ev("empty=%s", ename(curio_stream_read(s, &c, 1)));
    ev("close=%s", ename(curio_scope_close(&sc)));
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(stream_read, expired_scope_still_hands_over_buffered_bytes)
{
    ev_reset();
    run_io(expired_scope, NULL);
    cr_assert_str_eq(evlog, "buffered=1 empty=ETIMEDOUT close=ETIMEDOUT");
}

/* ---- cancellation ---- */

struct reader {
    curio_stream *s;
    char buf[64];
    size_t n;
    size_t done;
    ssize_t got;
    long next;
};

static long exact_reader(void *arg)
{
    struct reader *r = arg;
    r->got = curio_stream_read_exactly(r->s, r->buf, r->n, &r->done);
    r->next = curio_yield();
    return r->got < 0 ? r->got : 0;
}

static long cancel_blocked(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "abcd", 4), 4);
    struct reader r = {.s = s, .n = 10};
    curio_task *t = curio_spawn(exact_reader, &r);
    until_blocked(t);
    cr_assert_str_eq(curio_task_state(t), "READ_WAIT");
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert(curio_task_cancelled(t));
    ev("got=%s done=%zu", ename(r.got), r.done);
    cr_assert_eq(memcmp(r.buf, "abcd", 4), 0);
    /* Data that comes later is still there for the next reader. */
    cr_assert_eq(write(p[1], "efgh", 4), 4);
    char buf[8];
    ev("later=%s", ename(curio_stream_read(s, buf, sizeof buf)));
    cr_assert_eq(memcmp(buf, "efgh", 4), 0);
    curio_task_release(t);
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(stream_read, cancel_while_blocked_reports_partial_count)
{
    ev_reset();
    run_io(cancel_blocked, NULL);
    cr_assert_str_eq(evlog, "got=ECANCELED done=4 later=4");
}

static long plain_reader(void *arg)
{
    struct reader *r = arg;
    r->got = curio_stream_read(r->s, r->buf, r->n);
    r->next = curio_yield();
    return r->got < 0 ? r->got : 0;
}

/* Data written in the same instant as the cancel: whichever wins, no byte is lost (it is
 * either returned, or in the stream's buffer, or still in the pipe). */
static long cancel_races_data(void *arg)
{
    int *outcomes = arg;
    for (int i = 0; i < 300; i++) {
        int p[2];
        mkpipe(p);
        curio_stream *s = sopen(p[0], NULL);
        struct reader r = {.s = s, .n = 1};
        curio_task *t = curio_spawn(plain_reader, &r);
        until_in_flight(t);
        cr_assert_eq(write(p[1], "xy", 2), 2);
        if (i % 2)
            until_op_done(t); /* the read completed; the cancel comes before it runs */
        curio_cancel(t);
        char rest[4];
        size_t seen;
        if (r.got == 1) {
            outcomes[0]++;
            cr_assert_eq(r.buf[0], 'x');
            cr_assert_eq(r.next, -ECANCELED, "delivered at the next call instead");
            cr_assert_eq(curio_stream_read(s, rest, sizeof rest), 1);
            cr_assert_eq(rest[0], 'y');
            seen = 2;
        } else {
            outcomes[1]++;
            cr_assert_eq(r.got, -ECANCELED);
            cr_assert_eq(curio_stream_read(s, rest, sizeof rest), 2);
            cr_assert_eq(memcmp(rest, "xy", 2), 0);
            seen = 2;
        }
        cr_assert_eq(seen, 2);
        curio_stream_close(s);
        close(p[1]);
        curio_task_release(t);
    }
    return 0;
}

Test(stream_read, cancel_racing_data_loses_nothing)
{
    int outcomes[2] = {0, 0};
    run_io(cancel_races_data, outcomes);
    cr_assert_eq(outcomes[0] + outcomes[1], 300);
    cr_log_info("data won %d times, cancel won %d times", outcomes[0], outcomes[1]);
}

/* ---- one reader at a time ---- */

static long line_reader(void *arg)
{
    struct reader *r = arg;
    char line[32];
    ssize_t n = curio_stream_readline(r->s, line, sizeof line);
    ev("reader=%s:%s", ename(n), n > 0 ? line : "");
    return 0;
}

static long resource_busy(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "abc", 3), 3);
    struct reader r = {.s = s};
    curio_task *t = curio_spawn(line_reader, &r);
    while (curio_stream_buffered(s) < 3)
        curio_yield();
    until_blocked(t); /* refilling in the middle of a line, "abc" buffered */
    char buf[8];
    ev("read=%s", ename(curio_stream_read(s, buf, sizeof buf)));
    ev("raw=%s", ename(curio_read(p[0], buf, sizeof buf)));
    ev("readline=%s", ename(curio_stream_readline(s, buf, sizeof buf)));
    const char *l;
    ev("ref=%s", ename(curio_stream_readline_ref(s, &l)));
    ev("blocking=%s", ename(curio_stream_blocking(s)));
    ev("write=%s", ename(curio_write(p[1], "de\n", 3)));
    cr_assert_eq(curio_join(t, NULL), 0);
    ev("free=%s", ename(curio_stream_read(s, buf, 0)));
    curio_task_release(t);
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(stream_read, second_reader_is_busy_even_with_bytes_buffered)
{
    ev_reset();
    run_io(resource_busy, NULL);
    cr_assert_str_eq(evlog, "read=EBUSY raw=EBUSY readline=EBUSY ref=EBUSY blocking=EBUSY "
                            "write=3 reader=6:abcde\n free=0");
}
