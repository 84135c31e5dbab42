/*
 * curio_read / curio_write on descriptors: success, EOF, bad descriptors, broken pipes.
 * (Timeouts and cancellation of in-flight reads are in test_timeout.c and test_cancel.c.)
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

static long pipe_roundtrip(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(curio_write(p[1], "hello", 5), 5);
    char buf[16];
    cr_assert_eq(curio_read(p[0], buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    close(p[1]);
    cr_assert_eq(curio_read(p[0], buf, sizeof buf), 0, "EOF once the writer closed");
    close(p[0]);
    cr_assert_eq(curio_read(p[0], buf, sizeof buf), -EBADF);
    cr_assert_eq(curio_write(-1, "x", 1), -EBADF);
    return 0;
}

Test(io, pipe_success_eof_and_bad_fd)
{
    int fds = count_fds();
    run_main(pipe_roundtrip, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long broken_pipe(void *arg)
{
    (void)arg;
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    close(p[0]);
    cr_assert_eq(curio_write(p[1], "x", 1), -EPIPE);
    close(p[1]);
    return 0;
}

Test(io, write_to_closed_pipe_is_epipe) { run_main(broken_pipe, NULL); }

struct xfer {
    int fd;
    size_t total;
};

static long writer(void *arg)
{
    struct xfer *x = arg;
    static char chunk[65536];
    memset(chunk, 'z', sizeof chunk);
    size_t sent = 0;
    while (sent < x->total) {
        ssize_t n = curio_write(x->fd, chunk, sizeof chunk);
        if (n < 0)
            return n;
        sent += (size_t)n;
    }
    close(x->fd);
    return (long)sent;
}

static long blocked_reader_and_writer(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    struct xfer x = {.fd = p[1], .total = 8 << 20};
    curio_task *w = curio_spawn(writer, &x);
    size_t got = 0;
    char buf[4096];
    for (;;) {
        ssize_t n = curio_read(p[0], buf, sizeof buf);
        cr_assert_geq(n, 0);
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            cr_assert_eq(buf[i], 'z');
        got += (size_t)n;
    }
    long sent = 0;
    cr_assert_eq(curio_join(w, &sent), 0);
    cr_assert_eq((size_t)sent, got, "every byte written was read");
    cr_assert_geq(got, x.total);
    close(p[0]);
    curio_task_release(w);
    return 0;
}

Test(io, writer_and_reader_tasks_move_8_mib) { run_main(blocked_reader_and_writer, NULL); }

static long regular_file(void *arg)
{
    (void)arg;
    char path[] = "/tmp/curio-io-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    cr_assert_eq(curio_write(fd, "line one\n", 9), 9);
    lseek(fd, 0, SEEK_SET);
    char buf[32];
    cr_assert_eq(curio_read(fd, buf, sizeof buf), 9);
    cr_assert_eq(curio_read(fd, buf, sizeof buf), 0);
    close(fd);
    return 0;
}

Test(io, regular_file_uses_file_position) { run_main(regular_file, NULL); }

/* Curio's ResourceBusy: while one task waits to read a descriptor, a second reader gets
 * -EBUSY at once; writing is the other direction and is not affected; once the first
 * reader's call has returned (with data, or cancelled) the descriptor is free again. */
struct busy {
    int rfd, wfd;
};

static long first_reader(void *arg)
{
    struct busy *b = arg;
    char c;
    ssize_t n = curio_read(b->rfd, &c, 1);
    ev("first=%zd", n);
    n = curio_read(b->rfd, &c, 1);
    ev("again=%zd", n);
    return 0;
}

static long resource_busy(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    struct busy b = {p[0], p[1]};
    curio_task *t = curio_spawn(first_reader, &b);
    curio_yield(); /* t is now blocked reading p[0] */
    char c;
    ev("second=%zd", curio_read(p[0], &c, 1));
    ev("write=%zd", curio_write(p[1], "x", 1));
    while (strstr(evlog, "first=") == NULL)
        curio_yield();
    curio_yield();                      /* t is blocked in its second read */
    ev("busy=%zd", curio_read(p[0], &c, 1));
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert_eq(curio_write(p[1], "y", 1), 1);
    ev("after=%zd", curio_read(p[0], &c, 1)); /* the claim went with the cancelled call */
    ev("c=%c", c);
    curio_task_release(t);
    close(p[0]);
    close(p[1]);
    return 0;
}

Test(io, second_reader_is_busy_until_the_first_returns)
{
    ev_reset();
    run_main(resource_busy, NULL);
    cr_assert_str_eq(evlog, "second=-16 write=1 first=1 busy=-16 again=-125 after=1 c=y");
}
