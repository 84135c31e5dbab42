/*
 * Cancellation: delivered at the blocked call or the next one, sticky, waited for,
 * deferred by disable_cancellation, and never losing an in-flight operation's result.
 */
#include "testutil.h"

#include <unistd.h>

static const char *name(long rc)
{
    switch (rc) {
    case 0: return "ok";
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case CURIO_ETASKCANCELLED: return "TASKCANCELLED";
    default: return rc > 0 ? "positive" : "other";
    }
}

static long sleeper(void *arg)
{
    (void)arg;
    int64_t rc = curio_sleep(1000);
    ev("kid:sleep=%s", name(rc < 0 ? rc : 0));
    return rc < 0 ? rc : 0;
}

static long cancel_blocked_in_sleep(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(sleeper, NULL);
    curio_yield();
    ev("parent:cancel");
    cr_assert_eq(curio_cancel(t), 0);
    ev("parent:cancelled");
    cr_assert(curio_task_done(t));
    cr_assert(curio_task_cancelled(t));
    cr_assert_eq(curio_join(t, NULL), CURIO_ETASKCANCELLED);
    curio_task_release(t);
    return 0;
}

Test(cancel, blocked_in_sleep_and_cancel_waits)
{
    expect_log(cancel_blocked_in_sleep, NULL, "parent:cancel kid:sleep=ECANCELED parent:cancelled");
}

static long grandchild(void *arg)
{
    (void)arg;
    curio_sleep(0.02);
    ev("grandchild:done");
    return 5;
}

static long joins_grandchild(void *arg)
{
    curio_task **g = arg;
    *g = curio_spawn(grandchild, NULL);
    long rc = curio_join(*g, NULL);
    ev("child:join=%s", name(rc));
    return rc;
}

static long cancel_blocked_in_join(void *arg)
{
    (void)arg;
    curio_task *g = NULL;
    curio_task *t = curio_spawn(joins_grandchild, &g);
    curio_yield();
    cr_assert_str_eq(curio_task_state(t), "TASK_JOIN");
    cr_assert_eq(curio_cancel(t), 0);
    long r = 0;
    cr_assert_eq(curio_join(g, &r), 0, "the joined task is not affected");
    cr_assert_eq(r, 5);
    curio_task_release(t);
    curio_task_release(g);
    return 0;
}

Test(cancel, blocked_in_join)
{
    expect_log(cancel_blocked_in_join, NULL, "child:join=ECANCELED grandchild:done");
}

static long runs_then_blocks(void *arg)
{
    (void)arg;
    ev("kid:started");
    long rc = curio_check_cancellation();
    ev("kid:check=%s", name(rc));
    rc = curio_yield();
    ev("kid:yield=%s", name(rc));
    rc = curio_sleep(0.001);
    ev("kid:sleep=%s", name(rc < 0 ? rc : 0));
    return rc < 0 ? rc : 0;
}

static long cancel_runnable(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(runs_then_blocks, NULL);
    /* Not started yet: it still runs, and its first blocking call is cancelled. */
    ev("parent:cancel");
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert(curio_task_cancelled(t));
    curio_task_release(t);
    return 0;
}

Test(cancel, while_runnable_is_delivered_at_next_call_and_sticky)
{
    expect_log(cancel_runnable, NULL, "parent:cancel kid:started kid:check=ECANCELED "
                                 "kid:yield=ECANCELED kid:sleep=ECANCELED");
}

static long second_canceller(void *arg)
{
    ev("c2:cancel");
    long rc = curio_cancel(arg);
    ev("c2:returned=%s", name(rc));
    return rc;
}

static long cancel_twice(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(sleeper, NULL);
    curio_task *c2 = curio_spawn(second_canceller, t);
    curio_yield(); /* t sleeps, c2 is waiting for t to end */
    ev("main:cancel");
    cr_assert_eq(curio_cancel(t), 0);
    ev("main:returned");
    cr_assert_eq(curio_cancel(t), 0, "cancelling an ended task just returns");
    cr_assert_eq(curio_cancel_nowait(t), 0);
    cr_assert_eq(curio_join(c2, NULL), 0);
    curio_task_release(t);
    curio_task_release(c2);
    return 0;
}

Test(cancel, twice_and_from_two_tasks)
{
    ev_reset();
    run_main(cancel_twice, NULL);
    /* The first cancel (c2's) was delivered; main's second one only waits. Both return
     * once the task has ended, in the order they started waiting. */
    cr_assert_str_eq(evlog,
                     "c2:cancel main:cancel kid:sleep=ECANCELED c2:returned=ok main:returned");
}

static long catches_and_returns(void *arg)
{
    (void)arg;
    int64_t rc = curio_sleep(1000);
    cr_assert_eq(rc, -ECANCELED);
    return 7; /* swallowed the cancellation, like `except CancelledError: return 7` */
}

static long cancel_swallowed(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(catches_and_returns, NULL);
    curio_yield();
    curio_cancel(t);
    long r = 0;
    cr_assert_eq(curio_join(t, &r), 0);
    cr_assert_eq(r, 7);
    cr_assert_not(curio_task_cancelled(t));
    curio_task_release(t);
    return 0;
}

Test(cancel, task_that_returns_normally_is_not_cancelled) { run_main(cancel_swallowed, NULL); }

static long nowait_order(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(sleeper, NULL);
    curio_yield();
    cr_assert_eq(curio_cancel_nowait(t), 0);
    ev("main:requested");
    cr_assert_eq(curio_task_wait(t), 0);
    ev("main:waited");
    curio_task_release(t);
    return 0;
}

Test(cancel, nowait_does_not_wait)
{
    expect_log(nowait_order, NULL, "main:requested kid:sleep=ECANCELED main:waited");
}

static long shielded(void *arg)
{
    (void)arg;
    curio_scope outer, inner;
    curio_disable_cancellation(&outer);
    int64_t rc = curio_sleep(0.02);
    ev("kid:sleep1=%s", name(rc < 0 ? rc : 0));
    ev("kid:pending=%s", name(curio_check_cancellation()));
    curio_disable_cancellation(&inner);
    rc = curio_sleep(0.001);
    ev("kid:sleep2=%s", name(rc < 0 ? rc : 0));
    cr_assert_eq(curio_scope_close(&inner), 0);
    rc = curio_yield();
    ev("kid:yield=%s", name(rc));
    cr_assert_eq(curio_scope_close(&outer), 0);
    rc = curio_sleep(1000);
    ev("kid:sleep3=%s", name(rc < 0 ? rc : 0));
    return rc < 0 ? rc : 0;
}

static long cancel_deferred(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(shielded, NULL);
    curio_yield();
    ev("main:cancel");
    cr_assert_eq(curio_cancel(t), 0);
    ev("main:done");
    cr_assert(curio_task_cancelled(t));
    curio_task_release(t);
    return 0;
}

Test(cancel, disable_cancellation_nested_delivers_at_end)
{
    expect_log(cancel_deferred, NULL, "main:cancel kid:sleep1=ok kid:pending=ECANCELED kid:sleep2=ok "
                                 "kid:yield=ok kid:sleep3=ECANCELED main:done");
}

static long cleanup_after_cancel(void *arg)
{
    (void)arg;
    int64_t rc = curio_sleep(1000);
    cr_assert_eq(rc, -ECANCELED);
    cr_assert_eq(curio_sleep(0.001), -ECANCELED, "sticky");
    curio_scope s;
    curio_disable_cancellation(&s);
    rc = curio_sleep(0.005); /* a goodbye that must block */
    ev("kid:cleanup=%s", name(rc < 0 ? rc : 0));
    curio_scope_close(&s);
    return -ECANCELED;
}

static long cleanup_test(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(cleanup_after_cancel, NULL);
    curio_yield();
    curio_cancel(t);
    ev("main:done");
    cr_assert_eq(curio_join(t, NULL), CURIO_ETASKCANCELLED);
    curio_task_release(t);
    return 0;
}

Test(cancel, blocking_cleanup_inside_disable_cancellation)
{
    expect_log(cleanup_test, NULL, "kid:cleanup=ok main:done");
}

/* ---- in-flight I/O ---- */

struct pipe_reader {
    int fd;
    char buf[16];
    ssize_t got;
    long second;
};

static long reads_pipe(void *arg)
{
    struct pipe_reader *r = arg;
    r->got = curio_read(r->fd, r->buf, sizeof r->buf);
    r->second = curio_yield();
    ev("reader:read=%s", r->got > 0 ? "data" : name(r->got));
    return r->got < 0 ? r->got : 0;
}

static long cancel_in_flight_read(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    struct pipe_reader r = {.fd = p[0]};
    curio_task *t = curio_spawn(reads_pipe, &r);
    curio_yield();
    cr_assert_str_eq(curio_task_state(t), "READ_WAIT");
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert_eq(r.got, -ECANCELED);
    /* Data that arrives afterwards was not consumed by the cancelled read. */
    cr_assert_eq(write(p[1], "hello", 5), 5);
    char buf[16];
    cr_assert_eq(curio_read(p[0], buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    close(p[0]);
    close(p[1]);
    curio_task_release(t);
    return 0;
}

Test(cancel, in_flight_read_then_data_arrives)
{
    ev_reset();
    int fds = count_fds();
    run_main(cancel_in_flight_read, NULL);
    cr_assert_str_eq(evlog, "reader:read=ECANCELED");
    cr_assert_eq(count_fds(), fds, "no descriptor leaked");
}

/* Data written in the same instant as the cancel: whichever wins, no byte is lost. */
static long race_data_and_cancel(void *arg)
{
    int *outcomes = arg;
    for (int i = 0; i < 300; i++) {
        int p[2];
        cr_assert_eq(pipe(p), 0);
        struct pipe_reader r = {.fd = p[0]};
        curio_task *t = curio_spawn(reads_pipe, &r);
        curio_yield();
        cr_assert_eq(write(p[1], "x", 1), 1);
        if (i % 2)
            curio_yield(); /* let the completion be reaped first, sometimes */
        curio_cancel(t);
        if (r.got == 1) {
            outcomes[0]++;
            cr_assert_eq(r.buf[0], 'x');
            cr_assert_eq(r.second, -ECANCELED, "delivered at the next call instead");
        } else {
            outcomes[1]++;
            cr_assert_eq(r.got, -ECANCELED);
            char c;
            cr_assert_eq(read(p[0], &c, 1), 1, "the byte is still in the pipe");
            cr_assert_eq(c, 'x');
        }
        close(p[0]);
        close(p[1]);
        curio_task_release(t);
    }
    return 0;
}

Test(cancel, in_flight_read_racing_data_loses_nothing)
{
    ev_reset();
    int outcomes[2] = {0, 0};
    run_main(race_data_and_cancel, outcomes);
    cr_assert_eq(outcomes[0] + outcomes[1], 300);
    cr_log_info("data won %d times, cancel won %d times", outcomes[0], outcomes[1]);
}

static long cancel_pending_outside(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(sleeper, NULL);
    curio_yield();
    curio_cancel_nowait(t);
    curio_cancel_nowait(t);
    cr_assert_eq(curio_task_wait(t), 0);
    curio_task_release(t);
    return 0;
}

Test(cancel, repeated_nowait_is_harmless)
{
    expect_log(cancel_pending_outside, NULL, "kid:sleep=ECANCELED");
}

static long polls_and_returns(void *arg)
{
    (void)arg;
    curio_scope s;
    curio_disable_cancellation(&s);
    curio_sleep(0.01);
    long rc = curio_check_cancellation();
    curio_scope_close(&s);
    return rc; /* propagating what the poll said: the task counts as cancelled */
}

static long check_counts(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(polls_and_returns, NULL);
    curio_yield();
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert(curio_task_cancelled(t));
    cr_assert_eq(curio_join(t, NULL), CURIO_ETASKCANCELLED);
    curio_task_release(t);
    return 0;
}

Test(cancel, polled_cancellation_returned_counts_as_cancelled) { run_main(check_counts, NULL); }

static curio_task *kept;

static long keeps_itself(void *arg)
{
    (void)arg;
    kept = curio_task_retain(curio_current());
    return 3;
}

static long retain_outlives_spawner_handle(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(keeps_itself, NULL);
    curio_task_release(t); /* the spawner lets go at once */
    curio_yield();
    cr_assert_not_null(kept);
    cr_assert(curio_task_done(kept), "the retained record is still readable");
    long r = 0;
    cr_assert_eq(curio_join(kept, &r), 0);
    cr_assert_eq(r, 3);
    curio_task_release(kept);
    return 0;
}

Test(cancel, retained_current_task_outlives_its_spawner_handle)
{
    run_main(retain_outlives_spawner_handle, NULL);
}
