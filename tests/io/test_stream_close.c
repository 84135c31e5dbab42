/*
 * Streams, closing: the descriptor is closed (or kept), also from a cancelled task and
 * outside tasks; a task blocked on a stream that is closed gets -EBADF and the stream is
 * freed after it left; no descriptor or byte of memory is left behind (ASan checks the
 * memory, count_fds the descriptors).
 */
#include "iotest.h"

#include "io.h"

static long open_close_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        int p[2];
        mkpipe(p);
        curio_stream *r = sopen(p[0], NULL), *w = sopen(p[1], NULL);
        cr_assert_eq(curio_stream_write(w, "ab\n", 3, NULL), 3);
        char line[8];
        cr_assert_eq(curio_stream_readline(r, line, sizeof line), 3);
        cr_assert_eq(curio_stream_close(w), 0);
        cr_assert_eq(curio_stream_close(r), 0);
    }
    cr_assert_eq(curio_stream_close(NULL), 0);
    return 0;
}

Test(stream_close, two_thousand_streams_leave_no_descriptor) { run_io(open_close_many, NULL); }

static long keep_fd(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream_options o = {.keep_fd = true};
    curio_stream *s = sopen(p[0], &o);
    cr_assert_eq(curio_stream_close(s), 0);
    cr_assert_neq(fcntl(p[0], F_GETFD), -1, "still open");
    close(p[0]);
    close(p[1]);
    return 0;
}

Test(stream_close, keep_fd_leaves_the_descriptor_open) { run_io(keep_fd, NULL); }

/* A cancelled task's close still closes: it is not a cancellation point. */
static long closer(void *arg)
{
    curio_stream *s = arg;
    curio_sleep(10);
    ev("closer:state=%s", ename(curio_check_cancellation()));
    ev("closer:close=%s", ename(curio_stream_close(s)));
    return -ECANCELED;
}

static long close_when_cancelled(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    curio_task *t = curio_spawn(closer, s);
    until_blocked(t);
    curio_cancel(t);
    cr_assert_eq(fcntl(p[0], F_GETFD), -1, "closed");
    close(p[1]);
    curio_task_release(t);
    return 0;
}

Test(stream_close, a_cancelled_task_still_closes)
{
    ev_reset();
    run_io(close_when_cancelled, NULL);
    cr_assert_str_eq(evlog, "closer:state=ECANCELED closer:close=0");
}

/* Inside an expired timeout scope too. */
static long close_in_expired_scope(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    curio_scope sc;
    curio_timeout_after(&sc, -1);
    cr_assert_eq(curio_check_cancellation(), -ETIMEDOUT);
    cr_assert_eq(curio_stream_close(s), 0);
    curio_scope_close(&sc);
    cr_assert_eq(fcntl(p[0], F_GETFD), -1, "closed");
    close(p[1]);
    return 0;
}

Test(stream_close, close_in_an_expired_scope) { run_io(close_in_expired_scope, NULL); }

/* ---- closing under a blocked task ---- */

struct blocked {
    curio_stream *s;
    ssize_t rc;
};

static long blocked_reader(void *arg)
{
    struct blocked *b = arg;
    char line[32];
    b->rc = curio_stream_readline(b->s, line, sizeof line);
    ev("reader=%s", ename(b->rc));
    return 0;
}

static long blocked_writer(void *arg)
{
    struct blocked *b = arg;
    static char big[1 << 20];
    b->rc = curio_stream_write(b->s, big, sizeof big, NULL);
    ev("writer=%s", ename(b->rc));
    return 0;
}

static long close_under_tasks(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    int fds = count_fds();
    curio_stream *s = sopen(sv[0], NULL);
    cr_assert_eq(write(sv[1], "partial", 7), 7);
    struct blocked r = {s, 0}, w = {s, 0};
    curio_task *tr = curio_spawn(blocked_reader, &r);
    curio_task *tw = curio_spawn(blocked_writer, &w);
    while (curio_stream_buffered(s) < 7)
        curio_yield();
    until_in_flight(tr);
    until_in_flight(tw);
    ev("close=%s", ename(curio_stream_close(s)));
    /* Both are woken with -EBADF; the last to leave frees the stream and closes. */
    cr_assert_eq(curio_join(tr, NULL), 0);
    cr_assert_eq(curio_join(tw, NULL), 0);
    cr_assert_eq(count_fds(), fds - 1, "the descriptor is closed");
    curio_task_release(tr);
    curio_task_release(tw);
    close(sv[1]);
    return 0;
}

Test(stream_close, close_wakes_blocked_reader_and_writer_with_ebadf)
{
    ev_reset();
    run_io(close_under_tasks, NULL);
    cr_assert_str_eq(evlog, "close=0 reader=EBADF writer=EBADF");
}

/* The reader's read completed (it was woken, had not run yet) when the stream is closed:
 * it gets -EBADF, not the bytes, so that it never reads again from the freed stream. */
static long read_twice(void *arg)
{
    struct blocked *b = arg;
    char c;
    b->rc = curio_stream_read(b->s, &c, 1);
    if (b->rc > 0)
        b->rc = curio_stream_read(b->s, &c, 1) == 0 ? 0 : -1000;
    ev("reader=%s", ename(b->rc));
    return 0;
}

static long close_after_completion(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    curio_stream *s = sopen(sv[0], NULL);
    struct blocked r = {s, 0};
    curio_task *tr = curio_spawn(read_twice, &r);
    until_in_flight(tr);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    for (int i = 0; i < 100000 && strcmp(curio_task_state(tr), "READY") != 0; i++)
        curio_yield();
    cr_assert_str_eq(curio_task_state(tr), "READY");
    ev("close=%s", ename(curio_stream_close(s)));
    cr_assert_eq(curio_join(tr, NULL), 0);
    curio_task_release(tr);
    close(sv[1]);
    return 0;
}

Test(stream_close, read_completed_then_closed_returns_ebadf)
{
    ev_reset();
    int fds = count_fds();
    run_io(close_after_completion, NULL);
    cr_assert_str_eq(evlog, "close=0 reader=EBADF");
    cr_assert_eq(count_fds(), fds);
}

/* Closing a stream with unsent buffered bytes while a reader is blocked. */
static long close_busy_unflushed(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    curio_stream_options o = {.write_buffer = 64};
    curio_stream *s = sopen(sv[0], &o);
    struct blocked r = {s, 0};
    curio_task *tr = curio_spawn(blocked_reader, &r);
    until_in_flight(tr);
    /* The reader is blocked; what is written now stays in the buffer. */
    cr_assert_eq(curio_stream_write(s, "later", 5, NULL), 5);
    ev("close=%s", ename(curio_stream_close(s)));
    cr_assert_eq(curio_join(tr, NULL), 0);
    curio_task_release(tr);
    close(sv[1]);
    return 0;
}

Test(stream_close, close_reports_unflushed_bytes_with_a_reader_blocked)
{
    ev_reset();
    run_io(close_busy_unflushed, NULL);
    cr_assert_str_eq(evlog, "close=EUNFLUSHED reader=EBADF");
}

/* A close from a task of the kernel after the main task ended: outside any task. */
static long leave_open(void *arg)
{
    curio_stream **out = arg;
    int p[2];
    mkpipe(p);
    *out = sopen(p[0], NULL);
    close(p[1]);
    return 0;
}

Test(stream_close, close_outside_a_task_uses_close)
{
    int fds = count_fds();
    curio_stream *s = NULL;
    run_main(leave_open, &s);
    cr_assert_eq(count_fds(), fds + 1);
    cr_assert_eq(curio_stream_close(s), 0);
    cr_assert_eq(count_fds(), fds);
}
