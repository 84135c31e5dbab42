/*
 * The blocking() escape: a stream or file hands its descriptor to ordinary blocking code
 * and takes it back; buffered bytes are neither lost nor reordered.
 */
#include "iotest.h"

#include <stdlib.h>

static long stream_escape(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    cr_assert_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    curio_stream_options o = {.write_buffer = 64};
    curio_stream *s = sopen(p[1], &o);
    cr_assert_eq(curio_stream_write(s, "buffered ", 9, NULL), 9);
    cr_assert_eq(pending(p[0]), 0);
    int fd = curio_stream_blocking(s);
    cr_assert_eq(fd, p[1]);
    cr_assert_eq(pending(p[0]), 9, "the write buffer went out first");
    cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0, "in blocking mode");
    cr_assert_eq(write(fd, "raw ", 4), 4);
    /* Meanwhile the stream refuses everything, from any task. */
    char c;
    ev("read=%s", ename(curio_stream_read(s, &c, 1)));
    ev("write=%s", ename(curio_stream_write(s, "x", 1, NULL)));
    ev("flush=%s", ename(curio_stream_flush(s)));
    ev("again=%s", ename(curio_stream_blocking(s)));
    curio_stream_unblock(s);
    cr_assert_neq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0, "the flags are back");
    curio_stream_unblock(s); /* a second unblock does nothing */
    cr_assert_eq(curio_stream_write(s, "stream", 6, NULL), 6);
    cr_assert_eq(curio_stream_flush(s), 0);
    char buf[32];
    cr_assert_eq(read(p[0], buf, sizeof buf), 19);
    cr_assert_eq(memcmp(buf, "buffered raw stream", 19), 0, "in order");
    curio_stream_close(s);
    close(p[0]);
    return 0;
}

Test(blocking, stream_hands_out_its_descriptor_and_takes_it_back)
{
    ev_reset();
    run_io(stream_escape, NULL);
    cr_assert_str_eq(evlog, "read=EBUSY write=EBUSY flush=EBUSY again=EBUSY");
}

static long stream_with_unread(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    cr_assert_eq(write(p[1], "ab", 2), 2);
    char c;
    cr_assert_eq(curio_stream_read(s, &c, 1), 1);
    ev("unread=%s", ename(curio_stream_blocking(s)));
    cr_assert_eq(curio_stream_read(s, &c, 1), 1);
    ev("empty=%s", curio_stream_blocking(s) == p[0] ? "fd" : "?");
    curio_stream_unblock(s);
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(blocking, stream_with_unread_bytes_is_busy)
{
    ev_reset();
    run_io(stream_with_unread, NULL);
    cr_assert_str_eq(evlog, "unread=EBUSY empty=fd");
}

static long reads_one(void *arg)
{
    curio_stream *s = arg;
    char c;
    return curio_stream_read(s, &c, 1);
}

static long stream_in_use(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream *s = sopen(p[0], NULL);
    curio_task *t = curio_spawn(reads_one, s);
    until_in_flight(t);
    ev("busy=%s", ename(curio_stream_blocking(s)));
    cr_assert_eq(write(p[1], "z", 1), 1);
    long r;
    cr_assert_eq(curio_join(t, &r), 0);
    ev("reader=%ld", r);
    curio_task_release(t);
    curio_stream_close(s);
    close(p[1]);
    return 0;
}

Test(blocking, stream_in_use_by_another_task_is_busy)
{
    ev_reset();
    run_io(stream_in_use, NULL);
    cr_assert_str_eq(evlog, "busy=EBUSY reader=1");
}

/* ---- files ---- */

static char *tmpfile_with(const char *content)
{
    static char path[64];
    strcpy(path, "/tmp/curio-blocking-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

static long file_escape(void *arg)
{
    (void)arg;
    char *path = tmpfile_with("a\nb\nc\n");
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, path, "r"), 0);
    char line[8];
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 2);
    int fd = curio_file_blocking(f);
    cr_assert_eq(fd, curio_file_fd(f));
    /* The descriptor is at the file's position: blocking code reads what is buffered. */
    char buf[8];
    cr_assert_eq(read(fd, buf, sizeof buf), 4);
    cr_assert_eq(memcmp(buf, "b\nc\n", 4), 0);
    ev("readline=%s", ename(curio_file_readline(f, line, sizeof line)));
    ev("seek=%s", ename(curio_file_seek(f, 0, SEEK_SET)));
    ev("flush=%s", ename(curio_file_flush(f)));
    ev("again=%s", ename(curio_file_blocking(f)));
    cr_assert_eq(lseek(fd, 2, SEEK_SET), 2);
    curio_file_unblock(f);
    /* The file goes on from where the blocking code left the descriptor. */
    cr_assert_eq(curio_file_tell(f), 2);
    ev("line=%s", ename(curio_file_readline(f, line, sizeof line)));
    cr_assert_str_eq(line, "b\n");
    cr_assert_eq(curio_file_tell(f), 4);
    cr_assert_eq(curio_file_close(f), 0);
    unlink(path);
    return 0;
}

Test(blocking, file_gives_back_its_buffer_and_position)
{
    ev_reset();
    run_io(file_escape, NULL);
    cr_assert_str_eq(evlog, "readline=EBUSY seek=EBUSY flush=EBUSY again=EBUSY line=2");
}
