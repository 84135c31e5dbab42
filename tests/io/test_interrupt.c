/*
 * Every blocking call of the layer, interrupted: in a cancelled task it returns -ECANCELED
 * and in an expired scope -ETIMEDOUT (sticky: at once), without consuming or losing a
 * byte, while the releasing calls (close, tell, buffered, unblock) still work; and the
 * calls not covered elsewhere, interrupted part-way: read_all, writelines and flush
 * report what went through, file reads and writes on a FIFO.
 */
#include "iotest.h"

#include <stdlib.h>
#include <sys/stat.h>

static char path[64];

static void setup(void)
{
    strcpy(path, "/tmp/curio-interrupt-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "line one\nline two\n", 18), 18);
    close(fd);
}

static void teardown(void) { unlink(path); }

TestSuite(interrupt, .init = setup, .fini = teardown);

/* Calls every blocking call once and logs what each returned. */
static void every_call(int expect, curio_stream *s, curio_file *f)
{
    char buf[32], *data1, *data2;
    const char *l;
    char **v1, **v2;
    size_t n1, n2, n3, n4, done;
    struct stat st;
    struct iovec iov = {"x", 1};
    curio_file *g = NULL;
    long r[] = {
        curio_read(curio_stream_fd(s), buf, sizeof buf),
        curio_write(curio_stream_fd(s), "x", 1),
        curio_stream_read(s, buf, sizeof buf),
        curio_stream_read_exactly(s, buf, 4, &done),
        curio_stream_read_all(s, &data1, &n1),
        curio_stream_readline(s, buf, sizeof buf),
        curio_stream_readline_ref(s, &l),
        curio_stream_readlines(s, &v1, &n2),
        curio_stream_write(s, "abc", 3, &done),
        curio_stream_writelines(s, &iov, 1, &done),
        curio_aopen(&g, path, "r"),
        curio_file_open(&g, path, O_RDONLY, 0),
        curio_file_read(f, buf, sizeof buf),
        curio_file_write(f, "abc", 3, &done),
        curio_file_read_all(f, &data2, &n3),
        curio_file_readline(f, buf, sizeof buf),
        curio_file_readline_ref(f, &l),
        curio_file_readlines(f, &v2, &n4),
        curio_file_pread(f, buf, 4, 0),
        curio_file_pwrite(f, "abc", 3, 100),
        curio_file_fsync(f),
        curio_file_datasync(f),
        curio_file_stat(f, &st),
        curio_file_truncate(f, 1),
    };
    free(data1);
    free(data2);
    curio_lines_free(v1, n2);
    curio_lines_free(v2, n4);
    for (size_t i = 0; i < sizeof r / sizeof *r; i++)
        cr_assert_eq(r[i], expect, "call %zu returned %s", i, ename(r[i]));
    cr_assert_null(g);
}

static long cancelled_task(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    cr_assert_eq(write(sv[1], "ab\ncd\n", 6), 6);
    curio_stream *s = sopen(sv[0], NULL);
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, path, "r+"), 0);
    curio_cancel_nowait(curio_current());
    every_call(-ECANCELED, s, f);
    /* Releasing still works, and nothing was consumed or written. */
    cr_assert_eq(curio_file_tell(f), 0);
    cr_assert_eq(curio_stream_buffered(s), 0);
    cr_assert_eq(pending(sv[0]), 6);
    cr_assert_eq(pending(sv[1]), 0);
    cr_assert_eq(curio_stream_close(s), 0);
    cr_assert_eq(curio_file_close(f), 0);
    close(sv[1]);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_size, 18, "nothing was written or truncated");
    return -ECANCELED;
}

Test(interrupt, every_call_in_a_cancelled_task_is_ecanceled)
{
    int fds = count_fds();
    long r = 0;
    cr_assert_eq(curio_run(cancelled_task, NULL, NULL, &r), CURIO_ETASKCANCELLED);
    cr_assert_eq(count_fds(), fds);
}

static long expired_scope(void *arg)
{
    (void)arg;
    int sv[2];
    mksocks(sv);
    cr_assert_eq(write(sv[1], "ab\ncd\n", 6), 6);
    curio_stream *s = sopen(sv[0], NULL);
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, path, "r+"), 0);
    curio_scope sc;
    curio_timeout_after(&sc, -1);
    every_call(-ETIMEDOUT, s, f);
    cr_assert_eq(curio_scope_close(&sc), -ETIMEDOUT);
    /* Outside the scope everything is there and works. */
    char line[16];
    cr_assert_eq(curio_stream_readline(s, line, sizeof line), 3);
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 9);
    cr_assert_str_eq(line, "line one\n");
    curio_stream_close(s);
    curio_file_close(f);
    close(sv[1]);
    return 0;
}

Test(interrupt, every_call_in_an_expired_scope_is_etimedout) { run_io(expired_scope, NULL); }

/* ---- part-way ---- */

static long read_all_timeout(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "partial", 7), 7);
    char *data;
    size_t len;
    long rc;
    int closed;
    TIMEOUT_WHILE_WAITING(0.02, rc, closed, curio_stream_read_all(s, &data, &len));
    ev("read_all=%s", ename(rc));
    cr_assert_eq(closed, -ETIMEDOUT);
    ev("len=%zu", len);
    cr_assert_str_eq(data, "partial", "what was read is handed over");
    free(data);
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(interrupt, read_all_timeout_hands_over_what_was_read)
{
    ev_reset();
    run_io(read_all_timeout, NULL);
    cr_assert_str_eq(evlog, "read_all=ETIMEDOUT len=7");
}

static long writelines_and_flush_timeout(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    cr_assert_eq(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
    curio_stream_options o = {.write_buffer = 6000};
    curio_stream *s = sopen(p[1], &o);
    static char a[2500], b[5000];
    memset(a, 'a', sizeof a);
    memset(b, 'b', sizeof b);
    struct iovec iov[2] = {{a, sizeof a}, {b, sizeof b}};
    size_t done = 0;
    long rc;
    int closed;
    TIMEOUT_WHILE_WAITING(0.02, rc, closed, curio_stream_writelines(s, iov, 2, &done));
    ev("writelines=%s", ename(rc));
    cr_assert_eq(closed, -ETIMEDOUT);
    ev("done=%zu", done);
    cr_assert_eq((size_t)pending(p[0]), done, "done is what the pipe holds");
    /* Buffered bytes that a timed-out flush could not send stay buffered. */
    char buf[8192];
    cr_assert_eq(read(p[0], buf, sizeof buf), (ssize_t)done);
    cr_assert_eq(curio_stream_write(s, b, 5000, NULL), 5000, "fits the buffer");
    cr_assert_eq(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
    char fill[2000];
    memset(fill, 'f', sizeof fill);
    cr_assert_eq(write(p[1], fill, sizeof fill), 2000); /* leave room for ~2 KiB only */
    TIMEOUT_WHILE_WAITING(0.02, rc, closed, curio_stream_flush(s));
    ev("flush=%s", ename(rc));
    cr_assert_eq(closed, -ETIMEDOUT);
    size_t got = (size_t)read(p[0], buf, sizeof buf);
    cr_assert_gt(got, 2000);
    ev("flush2=%s", ename(curio_stream_flush(s)));
    got += (size_t)read(p[0], buf, sizeof buf);
    ev("total=%zu", got - 2000);
    curio_stream_close(s);
    close(p[0]);
    return 0;
}

Test(interrupt, writelines_and_flush_timeouts_keep_count_and_buffer)
{
    ev_reset();
    run_io(writelines_and_flush_timeout, NULL);
    cr_assert_str_eq(evlog, "writelines=ETIMEDOUT done=4096 flush=ETIMEDOUT flush2=0 "
                            "total=5000");
}

struct fifo_reader {
    curio_file *f;
    char buf[16];
    ssize_t got;
};

static long file_reader(void *arg)
{
    struct fifo_reader *r = arg;
    r->got = curio_file_read(r->f, r->buf, sizeof r->buf);
    return 0;
}

static long file_on_fifo(void *arg)
{
    (void)arg;
    char fifo[96];
    snprintf(fifo, sizeof fifo, "%s.fifo", path);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    int other = open(fifo, O_RDWR | O_CLOEXEC); /* both ends: opens never wait */
    curio_file *r, *w;
    cr_assert_eq(curio_aopen(&r, fifo, "r"), 0);
    cr_assert_eq(curio_aopen(&w, fifo, "w"), 0);
    /* A blocked file read cancelled; the bytes written afterwards are all read. */
    struct fifo_reader fr = {r, {0}, 0};
    curio_task *t = curio_spawn(file_reader, &fr);
    until_in_flight(t);
    curio_cancel(t);
    ev("read=%s", ename(fr.got));
    curio_task_release(t);
    cr_assert_eq(curio_file_write(w, "after", 5, NULL), 5);
    char buf[16];
    ev("next=%s", ename(curio_file_read(r, buf, sizeof buf)));
    /* A file write that fills the FIFO times out with the count. */
    cr_assert_eq(fcntl(curio_file_fd(w), F_SETPIPE_SZ, 4096), 4096);
    static char big[100000];
    size_t done;
    long rc;
    int closed;
    TIMEOUT_WHILE_WAITING(0.02, rc, closed, curio_file_write(w, big, sizeof big, &done));
    ev("write=%s", ename(rc));
    cr_assert_eq(closed, -ETIMEDOUT);
    ev("done=%zu", done);
    cr_assert_eq((size_t)pending(other), done);
    curio_file_close(r);
    curio_file_close(w);
    close(other);
    unlink(fifo);
    return 0;
}

Test(interrupt, file_read_and_write_on_a_fifo)
{
    ev_reset();
    run_io(file_on_fifo, NULL);
    cr_assert_str_eq(evlog, "read=ECANCELED next=5 write=ETIMEDOUT done=4096");
}
