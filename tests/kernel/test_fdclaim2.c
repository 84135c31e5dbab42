/*
 * curio__op_begin_fd2: an operation that claims two descriptors, here a splice between a
 * pipe and a socketpair. It moves data; a second task on either end gets -EBUSY and leaves
 * nothing claimed; both claims are released when the operation completes, times out or
 * is cancelled while in flight.
 */
#include "testutil.h"
#include "kernel.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

/* One splice of up to n bytes, holding in's read side and out's write side. */
static ssize_t splice_op(int in, int out, unsigned n)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin_fd2(&op, &sqe, in, CURIO__FD_READ, out, CURIO__FD_WRITE);
    if (rc < 0)
        return rc;
    io_uring_prep_splice(sqe, in, -1, out, -1, n, 0);
    return curio__op_wait(&op, sqe, "SPLICE_WAIT");
}

struct ends {
    int p[2];  /* a pipe */
    int sv[2]; /* a socketpair */
    double timeout;
    ssize_t rc;
};

static void open_ends(struct ends *e)
{
    cr_assert_eq(pipe(e->p), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, e->sv), 0);
}

static void close_ends(struct ends *e)
{
    close(e->p[0]);
    close(e->p[1]);
    close(e->sv[0]);
    close(e->sv[1]);
}

static curio__task *claimant(int fd, int dir)
{
    return curio__fd_claimant(curio__task_kernel(curio__self()), fd, dir);
}

static void assert_unclaimed(struct ends *e)
{
    for (int i = 0; i < 2; i++)
        for (int dir = 0; dir < 2; dir++) {
            cr_assert_null(claimant(e->p[i], dir), "pipe end %d dir %d", i, dir);
            cr_assert_null(claimant(e->sv[i], dir), "socket end %d dir %d", i, dir);
        }
}

static long both_ways(void *arg)
{
    (void)arg;
    struct ends e;
    open_ends(&e);
    char buf[16];
    cr_assert_eq(write(e.p[1], "hello", 5), 5);
    cr_assert_eq(splice_op(e.p[0], e.sv[0], sizeof buf), 5, "pipe -> socket");
    cr_assert_eq(read(e.sv[1], buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    cr_assert_eq(write(e.sv[1], "world", 5), 5);
    cr_assert_eq(splice_op(e.sv[0], e.p[1], sizeof buf), 5, "socket -> pipe");
    cr_assert_eq(read(e.p[0], buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "world", 5), 0);
    assert_unclaimed(&e);
    cr_assert_eq(splice_op(-1, e.p[1], 1), -EBADF);
    cr_assert_eq(splice_op(e.p[0], -1, 1), -EBADF);
    assert_unclaimed(&e);
    close_ends(&e);
    return 0;
}

Test(fdclaim2, splice_both_ways_releases_both_claims) { run_main(both_ways, NULL); }

/* Splices from the (empty) socket into the pipe, within e->timeout if it is set. */
static long splicer(void *arg)
{
    struct ends *e = arg;
    curio_scope s;
    if (e->timeout > 0)
        cr_assert_eq(curio_timeout_after(&s, e->timeout), 0);
    ev("splice:begin");
    e->rc = splice_op(e->sv[0], e->p[1], 64);
    ev("splice=%zd", e->rc);
    if (e->timeout > 0)
        curio_scope_close(&s);
    return 0;
}

/* Yield until the splicer holds both its claims. */
static void until_claimed(struct ends *e)
{
    while (!claimant(e->sv[0], CURIO__FD_READ) || !claimant(e->p[1], CURIO__FD_WRITE))
        curio_yield();
}

static long busy_ends(void *arg)
{
    (void)arg;
    struct ends e = {0};
    open_ends(&e);
    curio_task *t = curio_spawn(splicer, &e);
    until_claimed(&e);
    char buf[8];
    int q[2];
    cr_assert_eq(pipe(q), 0);
    /* Either end, through a one-descriptor call or a two-descriptor one. */
    cr_assert_eq(curio_read(e.sv[0], buf, sizeof buf), -EBUSY);
    cr_assert_eq(curio_write(e.p[1], "x", 1), -EBUSY);
    cr_assert_eq(splice_op(e.sv[0], q[1], 8), -EBUSY, "the first descriptor is busy");
    cr_assert_null(claimant(q[1], CURIO__FD_WRITE), "nothing left claimed");
    cr_assert_eq(splice_op(q[0], e.p[1], 8), -EBUSY, "the second descriptor is busy");
    cr_assert_null(claimant(q[0], CURIO__FD_READ), "the first claim was given back");
    /* The other directions are free. */
    cr_assert_eq(curio_write(e.sv[0], "ab", 2), 2);
    cr_assert_eq(read(e.sv[1], buf, sizeof buf), 2);
    ev("main:send");
    cr_assert_eq(write(e.sv[1], "hello", 5), 5);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(e.rc, 5);
    cr_assert_eq(read(e.p[0], buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    assert_unclaimed(&e);
    close(q[0]);
    close(q[1]);
    close_ends(&e);
    return 0;
}

Test(fdclaim2, a_second_task_on_either_end_is_busy)
{
    expect_log(busy_ends, NULL, "splice:begin main:send splice=5");
}

static long timed_out(void *arg)
{
    (void)arg;
    struct ends e = {.timeout = 0.05};
    open_ends(&e);
    int64_t t0 = curio_clock();
    curio_task *t = curio_spawn(splicer, &e);
    until_claimed(&e);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(e.rc, -ETIMEDOUT);
    cr_assert_geq(curio_clock() - t0, 50000000, "not before the deadline");
    assert_unclaimed(&e);
    /* Both ends work again, for another task. */
    char buf[8];
    cr_assert_eq(write(e.sv[1], "ok", 2), 2);
    cr_assert_eq(splice_op(e.sv[0], e.p[1], sizeof buf), 2);
    cr_assert_eq(curio_read(e.p[0], buf, sizeof buf), 2);
    close_ends(&e);
    return 0;
}

Test(fdclaim2, a_timeout_in_flight_releases_both)
{
    expect_log(timed_out, NULL, "splice:begin splice=-110");
}

static long cancelled(void *arg)
{
    (void)arg;
    struct ends e = {0};
    open_ends(&e);
    curio_task *t = curio_spawn(splicer, &e);
    until_claimed(&e);
    ev("main:cancel");
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);
    cr_assert_eq(e.rc, -ECANCELED);
    assert_unclaimed(&e);
    char buf[8];
    cr_assert_eq(write(e.sv[1], "ok", 2), 2);
    cr_assert_eq(splice_op(e.sv[0], e.p[1], sizeof buf), 2);
    cr_assert_eq(curio_read(e.p[0], buf, sizeof buf), 2);
    close_ends(&e);
    return 0;
}

Test(fdclaim2, a_cancellation_in_flight_releases_both)
{
    expect_log(cancelled, NULL, "splice:begin main:cancel splice=-125");
}

/* The peer closes while the splice waits: it ends with 0 (end of stream), both claims are
 * released, and no descriptor is left behind. */
static long peer_closes(void *arg)
{
    (void)arg;
    int fds = count_fds();
    struct ends e = {0};
    open_ends(&e);
    curio_task *t = curio_spawn(splicer, &e);
    until_claimed(&e);
    ev("main:close peer");
    cr_assert_eq(close(e.sv[1]), 0);
    e.sv[1] = -1;
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(e.rc, 0, "end of stream");
    assert_unclaimed(&e);
    close(e.p[0]);
    close(e.p[1]);
    close(e.sv[0]);
    cr_assert_eq(count_fds(), fds);
    return 0;
}

Test(fdclaim2, the_peer_closing_ends_it_with_eof)
{
    expect_log(peer_closes, NULL, "splice:begin main:close peer splice=0");
}
