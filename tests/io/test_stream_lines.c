/*
 * Streams, lines: readline (copying), readline_ref (iteration), readlines; lines split
 * across refills, the last line without '\n', the limits (cap, max_line, very long lines,
 * a peer that never sends '\n'), timeouts and cancellation part-way through a line.
 */
#include "iotest.h"

#include "io.h"

static long basics(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream_options o = {.buffer_size = 8, .max_line = 64};
    curio_stream *s = sopen(p[0], &o);
    const char *text = "one\n\nthree is longer\nfour\nlast";
    cr_assert_eq(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
    close(p[1]);
    char buf[64];
    const char *l;
    cr_assert_eq(curio_stream_readline(s, buf, sizeof buf), 4);
    cr_assert_str_eq(buf, "one\n");
    cr_assert_eq(curio_stream_readline(s, buf, sizeof buf), 1);
    cr_assert_str_eq(buf, "\n");
    ssize_t n = curio_stream_readline_ref(s, &l);
    cr_assert_eq(n, 16, "a line longer than the buffer: it grew");
    cr_assert_eq(memcmp(l, "three is longer\n", 16), 0);
    cr_assert_eq(curio_stream_readline(s, buf, sizeof buf), 5);
    cr_assert_str_eq(buf, "four\n");
    cr_assert_eq(curio_stream_readline_ref(s, &l), 4, "the last line lacks its newline");
    cr_assert_eq(memcmp(l, "last", 4), 0);
    cr_assert_eq(curio_stream_readline_ref(s, &l), 0, "end of stream");
    cr_assert_null(l);
    cr_assert_eq(curio_stream_readline(s, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(curio_stream_readline(s, NULL, 4), -EINVAL);
    cr_assert_eq(curio_stream_readline(s, buf, 0), -EINVAL);
    cr_assert_eq(curio_stream_readline_ref(s, NULL), -EINVAL);
    curio_stream_close(s);
    return 0;
}

Test(stream_lines, lines_across_refills_and_the_last_line) { run_io(basics, NULL); }

/* A line that does not fit the caller's buffer: -EMSGSIZE, nothing consumed. */
static long too_small(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "abcdef\nxyz", 10), 10);
    char buf[7];
    cr_assert_eq(curio_stream_readline(s, buf, sizeof buf), -EMSGSIZE, "7 bytes + NUL");
    cr_assert_eq(curio_stream_buffered(s), 10);
    char big[8];
    cr_assert_eq(curio_stream_readline(s, big, sizeof big), 7);
    cr_assert_str_eq(big, "abcdef\n");
    close(p[1]);
    /* "xyz" at the end of stream fits exactly in 4 bytes. */
    char four[4];
    cr_assert_eq(curio_stream_readline(s, four, sizeof four), 3);
    cr_assert_str_eq(four, "xyz");
    curio_stream_close(s);
    return 0;
}

Test(stream_lines, line_longer_than_cap_is_emsgsize) { run_io(too_small, NULL); }

/* max_line bounds the buffer: a line of exactly max_line bytes is fine, one byte more is
 * -EMSGSIZE with every byte still readable, and the grown buffer shrinks back. */
static long max_line(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream_options o = {.buffer_size = 16, .max_line = 64};
    curio_stream *s = sopen(p[0], &o);
    char line[80];
    memset(line, 'a', sizeof line);
    line[63] = '\n';
    cr_assert_eq(write(p[1], line, 64), 64);
    const char *l;
    cr_assert_eq(curio_stream_readline_ref(s, &l), 64);
    cr_assert_leq(s->rcap, 65);
    memset(line, 'b', sizeof line);
    line[64] = '\n';
    cr_assert_eq(write(p[1], line, 65), 65);
    cr_assert_eq(curio_stream_readline_ref(s, &l), -EMSGSIZE);
    cr_assert_leq(s->rcap, 65, "the buffer never grows past max_line + 1");
    char got[80];
    size_t done;
    cr_assert_eq(curio_stream_read_exactly(s, got, 65, &done), 65, "the bytes are all there");
    cr_assert_eq(memcmp(got, line, 65), 0);
    cr_assert_eq(write(p[1], "ok\n", 3), 3);
    cr_assert_eq(curio_stream_readline_ref(s, &l), 3);
    cr_assert_eq(s->rcap, 16, "back to buffer_size once empty");
    /* An unterminated last line of exactly max_line bytes is a line. */
    memset(line, 'c', 64);
    cr_assert_eq(write(p[1], line, 64), 64);
    close(p[1]);
    cr_assert_eq(curio_stream_readline_ref(s, &l), 64);
    cr_assert_eq(curio_stream_readline_ref(s, &l), 0);
    curio_stream_close(s);
    return 0;
}

Test(stream_lines, max_line_bounds_the_buffer) { run_io(max_line, NULL); }

/* ---- very long lines, from a writer task ---- */

struct longw {
    int fd;
    size_t len;  /* bytes before the '\n' */
    bool newline;
};

static long long_writer(void *arg)
{
    struct longw *w = arg;
    char chunk[4096];
    memset(chunk, 'L', sizeof chunk);
    size_t sent = 0;
    while (sent < w->len) {
        size_t k = w->len - sent < sizeof chunk ? w->len - sent : sizeof chunk;
        ssize_t n = curio_write(w->fd, chunk, k);
        if (n < 0)
            return n;
        sent += (size_t)n;
    }
    if (w->newline && curio_write(w->fd, "\nnext\n", 6) != 6)
        return -EIO;
    return 0;
}

static long very_long_line(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream_options o = {.max_line = 4 << 20};
    curio_stream *s = sopen(p[0], &o);
    struct longw w = {p[1], 3 << 20, true};
    curio_task *t = curio_spawn(long_writer, &w);
    const char *l;
    ssize_t n = curio_stream_readline_ref(s, &l);
    cr_assert_eq(n, (ssize_t)w.len + 1);
    for (size_t i = 0; i < w.len; i++)
        if (l[i] != 'L')
            cr_assert_fail("byte %zu", i);
    cr_assert_eq(l[w.len], '\n');
    cr_assert_eq(curio_stream_readline_ref(s, &l), 5);
    cr_assert_eq(memcmp(l, "next\n", 5), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    close(p[1]);
    curio_stream_close(s);
    return 0;
}

Test(stream_lines, a_3_mib_line) { run_io(very_long_line, NULL); }

/* A peer that sends megabytes without a newline cannot make the buffer grow past the
 * limit: the reader learns it at max_line, and the writer is still blocked. */
static long endless_line(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL); /* max_line: 64 KiB */
    struct longw w = {p[1], 16 << 20, false};
    curio_task *t = curio_spawn(long_writer, &w);
    const char *l;
    ev("ref=%s", ename(curio_stream_readline_ref(s, &l)));
    cr_assert_leq(s->rcap, 64 * 1024 + 1);
    cr_assert_gt(curio_stream_buffered(s), 64 * 1024);
    ev("writer=%s", curio_task_done(t) ? "done" : "blocked");
    curio_cancel(t);
    curio_task_release(t);
    close(p[1]);
    curio_stream_close(s);
    return 0;
}

Test(stream_lines, a_line_without_end_stops_at_max_line)
{
    ev_reset();
    run_io(endless_line, NULL);
    cr_assert_str_eq(evlog, "ref=EMSGSIZE writer=blocked");
}

/* ---- iteration and readlines ---- */

struct lines_out {
    int fd;
    int count;
};

static long numbered_writer(void *arg)
{
    struct lines_out *w = arg;
    char buf[64];
    for (int i = 0; i < w->count; i++) {
        int n = snprintf(buf, sizeof buf, "line %d %.*s\n", i, i % 40, "......................"
                         "..................");
        if (curio_write(w->fd, buf, (size_t)n) != n)
            return -EIO;
    }
    close(w->fd);
    return 0;
}

static long iterate(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream_options o = {.buffer_size = 1000};
    curio_stream *s = sopen(p[0], &o);
    struct lines_out w = {p[1], 20000};
    curio_task *t = curio_spawn(numbered_writer, &w);
    const char *l;
    ssize_t n;
    int i = 0;
    while ((n = curio_stream_readline_ref(s, &l)) > 0) {
        char want[64];
        int k = snprintf(want, sizeof want, "line %d %.*s\n", i, i % 40,
                         "........................................");
        cr_assert_eq(n, k, "line %d", i);
        cr_assert_eq(memcmp(l, want, (size_t)k), 0, "line %d", i);
        i++;
    }
    cr_assert_eq(n, 0);
    cr_assert_eq(i, w.count);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    curio_stream_close(s);
    return 0;
}

Test(stream_lines, iterate_over_20000_lines) { run_io(iterate, NULL); }

static long readlines(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "a\nbb\n\nccc", 9), 9);
    close(p[1]);
    char **v;
    size_t n;
    cr_assert_eq(curio_stream_readlines(s, &v, &n), 0);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(v[0], "a\n");
    cr_assert_str_eq(v[1], "bb\n");
    cr_assert_str_eq(v[2], "\n");
    cr_assert_str_eq(v[3], "ccc");
    curio_lines_free(v, n);
    cr_assert_eq(curio_stream_readlines(s, &v, &n), 0);
    cr_assert_eq(n, 0);
    curio_lines_free(v, n);
    curio_lines_free(NULL, 0);
    cr_assert_eq(curio_stream_readlines(s, NULL, &n), -EINVAL);
    curio_stream_close(s);
    return 0;
}

Test(stream_lines, readlines_to_the_end) { run_io(readlines, NULL); }

/* readlines interrupted by a timeout: the whole lines so far, the partial one kept. */
static long readlines_timeout(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "one\ntwo\nthr", 11), 11);
    char **v;
    size_t n;
    long rc;
    int closed;
    TIMEOUT_WHILE_WAITING(0.02, rc, closed, curio_stream_readlines(s, &v, &n));
    ev("readlines=%s", ename(rc));
    cr_assert_eq(closed, -ETIMEDOUT);
    ev("n=%zu", n);
    cr_assert_str_eq(v[1], "two\n");
    curio_lines_free(v, n);
    ev("buffered=%zu", curio_stream_buffered(s));
    cr_assert_eq(write(p[1], "ee\n", 3), 3);
    char buf[16];
    ev("line=%s", ename(curio_stream_readline(s, buf, sizeof buf)));
    cr_assert_str_eq(buf, "three\n");
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(stream_lines, readlines_timeout_keeps_lines_and_partial)
{
    ev_reset();
    run_io(readlines_timeout, NULL);
    cr_assert_str_eq(evlog, "readlines=ETIMEDOUT n=2 buffered=3 line=6");
}

/* ---- part-way through a line ---- */

struct lreader {
    curio_stream *s;
    char line[64];
    ssize_t got;
    long next;
};

static long one_line(void *arg)
{
    struct lreader *r = arg;
    r->got = curio_stream_readline(r->s, r->line, sizeof r->line);
    r->next = curio_yield();
    return r->got < 0 ? r->got : 0;
}

static long cancel_mid_line(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "hel", 3), 3);
    struct lreader r = {.s = s};
    curio_task *t = curio_spawn(one_line, &r);
    while (curio_stream_buffered(s) < 3)
        curio_yield();
    until_in_flight(t);
    curio_cancel(t);
    ev("got=%s buffered=%zu", ename(r.got), curio_stream_buffered(s));
    cr_assert_eq(write(p[1], "lo\n", 3), 3);
    char buf[16];
    ev("line=%s", ename(curio_stream_readline(s, buf, sizeof buf)));
    cr_assert_str_eq(buf, "hello\n");
    curio_task_release(t);
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(stream_lines, cancel_mid_line_keeps_the_partial_line)
{
    ev_reset();
    run_io(cancel_mid_line, NULL);
    cr_assert_str_eq(evlog, "got=ECANCELED buffered=3 line=6");
}

/* The end of a line arriving as the cancel lands: the line is returned, or stays whole in
 * the stream. */
static long cancel_races_newline(void *arg)
{
    int *outcomes = arg;
    for (int i = 0; i < 300; i++) {
        int p[2];
        mkpipe(p);
        curio_stream *s = sopen(p[0], NULL);
        cr_assert_eq(write(p[1], "ab", 2), 2);
        struct lreader r = {.s = s};
        curio_task *t = curio_spawn(one_line, &r);
        while (curio_stream_buffered(s) < 2)
            curio_yield();
        until_in_flight(t); /* the second refill, "ab" buffered */
        cr_assert_eq(write(p[1], "c\nd\n", 4), 4);
        if (i % 2)
            until_op_done(t);
        curio_cancel(t);
        char buf[16];
        if (r.got > 0) {
            outcomes[0]++;
            cr_assert_str_eq(r.line, "abc\n");
            cr_assert_eq(r.next, -ECANCELED);
        } else {
            outcomes[1]++;
            cr_assert_eq(r.got, -ECANCELED);
            cr_assert_eq(curio_stream_readline(s, buf, sizeof buf), 4);
            cr_assert_str_eq(buf, "abc\n");
        }
        cr_assert_eq(curio_stream_readline(s, buf, sizeof buf), 2);
        cr_assert_str_eq(buf, "d\n");
        curio_stream_close(s);
        close(p[1]);
        curio_task_release(t);
    }
    return 0;
}

Test(stream_lines, cancel_racing_the_newline_loses_nothing)
{
    int outcomes[2] = {0, 0};
    run_io(cancel_races_newline, outcomes);
    cr_assert_eq(outcomes[0] + outcomes[1], 300);
    cr_log_info("line won %d times, cancel won %d times", outcomes[0], outcomes[1]);
}
