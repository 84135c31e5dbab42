/*
 * Tasks: spawn, join, wait, identity, yield ordering, sleep, the kernel object and
 * shutdown order.
 */
#include "testutil.h"

#include <pthread.h>

static long child_logs(void *arg)
{
    ev("child:%s", (const char *)arg);
    return 7;
}

static long spawn_does_not_switch(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(child_logs, "run");
    cr_assert_not_null(t);
    ev("main:spawned");
    long r = 0;
    cr_assert_eq(curio_join(t, &r), 0);
    ev("main:joined=%ld", r);
    /* Joining again, or a task that has ended, returns the same outcome at once. */
    r = 0;
    cr_assert_eq(curio_join(t, &r), 0);
    cr_assert_eq(r, 7);
    cr_assert(curio_task_done(t));
    cr_assert_not(curio_task_cancelled(t));
    curio_task_release(t);
    return 0;
}

Test(task, spawn_queues_without_switching)
{
    expect_log(spawn_does_not_switch, NULL, "main:spawned child:run main:joined=7");
}

static long fails(void *arg)
{
    (void)arg;
    return -EIO;
}

static long join_failure(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(fails, NULL);
    long r = 0;
    cr_assert_eq(curio_join(t, &r), 0);
    cr_assert_eq(r, -EIO, "a failed task's join returns 0 and its negative result");
    cr_assert_eq(curio_task_result(t, &r), 0);
    curio_task_release(t);
    return 0;
}

Test(task, join_reports_failure_as_result) { run_main(join_failure, NULL); }

static long join_self(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_join(curio_current(), NULL), -EDEADLK);
    cr_assert_eq(curio_cancel(curio_current()), -EDEADLK);
    return 0;
}

Test(task, join_or_cancel_self_is_an_error) { run_main(join_self, NULL); }

Test(task, blocking_outside_a_task_is_an_error)
{
    cr_assert_eq(curio_sleep(0.01), -EPERM);
    cr_assert_eq(curio_yield(), -EPERM);
    cr_assert_null(curio_spawn(child_logs, "x"));
    curio_task *t;
    cr_assert_eq(curio_spawn_ex(&t, child_logs, "x", NULL), -EPERM);
    cr_assert_null(curio_current());
    curio_scope s;
    cr_assert_eq(curio_timeout_after(&s, 1), -EPERM);
    cr_assert_eq(curio_check_cancellation(), -EPERM);
    char buf[4];
    cr_assert_eq(curio_read(0, buf, sizeof buf), -EPERM);
}

static long yielder(void *arg)
{
    for (int i = 0; i < 3; i++) {
        ev("%s%d", (const char *)arg, i);
        cr_assert_eq(curio_yield(), 0);
    }
    return 0;
}

static long yields_interleave(void *arg)
{
    (void)arg;
    curio_task *a = curio_spawn(yielder, "a");
    curio_task *b = curio_spawn(yielder, "b");
    curio_join(a, NULL);
    curio_join(b, NULL);
    curio_task_release(a);
    curio_task_release(b);
    return 0;
}

Test(task, yield_alternates_fifo)
{
    expect_log(yields_interleave, NULL, "a0 b0 a1 b1 a2 b2");
}

/* Sleeps of d * scale: deadlines 10 ms * scale apart, but each counted from when its task
 * got to sleep. */
static double scale;

static long sleeper(void *arg)
{
    double s = *(double *)arg * scale;
    int64_t t0 = curio_clock();
    int64_t now = curio_sleep(s);
    cr_assert_geq(now, t0 + (int64_t)(s * 1e9), "sleep returns the clock after the deadline");
    ev("%g", *(double *)arg);
    return 0;
}

static long sleeps_in_deadline_order(void *arg)
{
    (void)arg;
    static double d[] = {0.03, 0.01, 0.02, 0.0};
    /* The sleepers all start in one pass, before main runs again; timers fire only after
     * it. If that pass took less than the 10 ms between deadlines, the deadlines are in
     * the order of d; if a loaded machine made it longer, the run proves nothing and is
     * repeated with the sleeps scaled up. */
    for (scale = 1;; scale *= 2) {
        ev_reset();
        int64_t t0 = curio_clock();
        curio_task *t[4];
        for (int i = 0; i < 4; i++)
            t[i] = curio_spawn(sleeper, &d[i]);
        cr_assert_eq(curio_yield(), 0);
        bool in_one_go = secs_since(t0) < 0.01 * scale;
        for (int i = 0; i < 4; i++) {
            cr_assert_eq(curio_join(t[i], NULL), 0);
            curio_task_release(t[i]);
        }
        if (in_one_go)
            return 0;
    }
}

Test(task, sleepers_wake_in_deadline_order)
{
    expect_log(sleeps_in_deadline_order, NULL, "0 0.01 0.02 0.03");
}

static long bad_sleep(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_sleep(-1), -EINVAL);
    cr_assert_eq(curio_sleep(0.0 / 0.0), -EINVAL);
    return 0;
}

Test(task, sleep_rejects_negative_and_nan) { run_main(bad_sleep, NULL); }

static long long_sleeper(void *arg)
{
    (void)arg;
    return curio_sleep(1000);
}

static long joiner(void *arg)
{
    return curio_join(arg, NULL);
}

static long identity(void *arg)
{
    (void)arg;
    curio_task *self = curio_current();
    cr_assert_str_eq(curio_task_name(self), "main");
    cr_assert_eq(curio_task_parent_id(self), 0);
    cr_assert_str_eq(curio_task_state(self), "RUNNING");

    curio_spawn_options o = {.name = "kid", .daemon = true};
    curio_task *kid;
    cr_assert_eq(curio_spawn_ex(&kid, long_sleeper, NULL, &o), 0);
    curio_task *j = curio_spawn(joiner, kid);
    cr_assert_eq(curio_task_parent_id(kid), curio_task_id(self));
    cr_assert_gt(curio_task_id(kid), curio_task_id(self));
    cr_assert_eq(curio_task_id(j), curio_task_id(kid) + 1);
    cr_assert_str_eq(curio_task_name(kid), "kid");
    cr_assert(curio_task_daemon(kid));
    cr_assert_not(curio_task_daemon(j));
    char want[32];
    snprintf(want, sizeof want, "task-%llu", (unsigned long long)curio_task_id(j));
    cr_assert_str_eq(curio_task_name(j), want);
    cr_assert_str_eq(curio_task_state(kid), "READY");
    cr_assert_eq(curio_task_cycles(kid), 0);

    curio_yield();
    cr_assert_str_eq(curio_task_state(kid), "TIME_SLEEP");
    cr_assert_str_eq(curio_task_state(j), "TASK_JOIN");
    cr_assert_eq(curio_task_cycles(kid), 1);
    cr_assert_eq(curio_task_set_name(kid, "renamed"), 0);
    cr_assert_str_eq(curio_task_name(kid), "renamed");
    cr_assert_eq(curio_task_result(kid, NULL), -EBUSY);

    cr_assert_eq(curio_cancel(kid), 0);
    cr_assert_str_eq(curio_task_state(kid), "TERMINATED");
    cr_assert_geq(curio_task_cycles(kid), 2);
    long r = 0;
    cr_assert_eq(curio_join(j, &r), 0);
    cr_assert_eq(r, CURIO_ETASKCANCELLED, "the joiner saw the kid cancelled");
    curio_task_release(kid);
    curio_task_release(j);
    return 0;
}

Test(task, identity_and_states) { run_main(identity, NULL); }

static long returns_arg(void *arg) { return (long)(intptr_t)arg; }

Test(task, run_returns_main_result)
{
    long r = 0;
    cr_assert_eq(curio_run(returns_arg, (void *)(intptr_t)42, NULL, &r), 0);
    cr_assert_eq(r, 42);
    cr_assert_null(curio_kernel_current(), "curio_run destroys its kernel");
}

static long cancels_itself(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_cancel_nowait(curio_current()), 0);
    ev("requested");
    int64_t rc = curio_sleep(1);
    ev("sleep=%s", rc == -ECANCELED ? "ECANCELED" : "other");
    return rc;
}

Test(task, main_cancelled_is_reported)
{
    ev_reset();
    long r = 0;
    cr_assert_eq(curio_run(cancels_itself, NULL, NULL, &r), CURIO_ETASKCANCELLED);
    cr_assert_str_eq(evlog, "requested sleep=ECANCELED");
}

static long logs_when_cancelled(void *arg)
{
    int64_t rc = curio_sleep(1000);
    ev("%s:%s", (const char *)arg, rc == -ECANCELED ? "cancelled" : "woke");
    return rc;
}

static long spawns_three_and_returns(void *arg)
{
    (void)arg;
    curio_task_release(curio_spawn(logs_when_cancelled, "first"));
    curio_task_release(curio_spawn(logs_when_cancelled, "second"));
    curio_task *t = curio_spawn(logs_when_cancelled, "third");
    (void)t; /* left held on purpose: the kernel frees it */
    curio_yield();
    ev("main:done");
    return 0;
}

Test(task, shutdown_cancels_newest_first)
{
    expect_log(spawns_three_and_returns, NULL, "main:done third:cancelled second:cancelled first:cancelled");
}

static curio_task *persistent;

static long first_run(void *arg)
{
    (void)arg;
    persistent = curio_spawn(long_sleeper, NULL);
    ev("run1");
    return 1;
}

static long second_run(void *arg)
{
    (void)arg;
    cr_assert_not(curio_task_done(persistent), "tasks survive between runs");
    cr_assert_str_eq(curio_task_state(persistent), "TIME_SLEEP");
    cr_assert_eq(curio_cancel(persistent), 0);
    cr_assert(curio_task_cancelled(persistent));
    curio_task_release(persistent);
    ev("run2");
    return 2;
}

static long inner_run(void *arg)
{
    curio_kernel *k = arg;
    cr_assert_eq(curio_kernel_run(k, returns_arg, NULL, NULL), -EBUSY);
    return 0;
}

Test(task, kernel_object_runs_twice)
{
    ev_reset();
    curio_kernel *k;
    cr_assert_eq(curio_kernel_create(&k, NULL), 0);
    cr_assert_eq(curio_kernel_current(), k);
    curio_kernel *k2;
    cr_assert_eq(curio_kernel_create(&k2, NULL), -EBUSY, "one kernel per thread");
    long r = 0;
    cr_assert_eq(curio_kernel_run(k, first_run, NULL, &r), 0);
    cr_assert_eq(r, 1);
    cr_assert_eq(curio_kernel_run(k, second_run, NULL, &r), 0);
    cr_assert_eq(r, 2);
    cr_assert_eq(curio_kernel_run(k, inner_run, k, &r), 0);
    curio_kernel_destroy(k);
    cr_assert_null(curio_kernel_current());
    cr_assert_str_eq(evlog, "run1 run2");
}

static void *thread_kernel(void *arg)
{
    long r = 0;
    int rc = curio_run(returns_arg, arg, NULL, &r);
    return (void *)(intptr_t)(rc == 0 ? r : rc);
}

Test(task, kernels_on_two_threads)
{
    curio_kernel *k;
    cr_assert_eq(curio_kernel_create(&k, NULL), 0);
    pthread_t th;
    pthread_create(&th, NULL, thread_kernel, (void *)(intptr_t)5);
    void *res;
    pthread_join(th, &res);
    cr_assert_eq((long)(intptr_t)res, 5);
    long r = 0;
    cr_assert_eq(curio_kernel_run(k, returns_arg, (void *)(intptr_t)6, &r), 0);
    cr_assert_eq(r, 6);
    curio_kernel_destroy(k);
}

static long empty(void *arg)
{
    (void)arg;
    return 0;
}

static long many_spawns(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        curio_task *t = curio_spawn(empty, NULL);
        cr_assert_not_null(t);
        cr_assert_eq(curio_join(t, NULL), 0);
        curio_task_release(t);
    }
    return 0;
}

Test(task, spawn_join_release_many) { run_main(many_spawns, NULL); }

Test(task, strerror_covers_own_codes)
{
    cr_assert_str_eq(curio_strerror(CURIO_ETASKCANCELLED), "Task was cancelled");
    cr_assert_str_eq(curio_strerror(-ETIMEDOUT), "Connection timed out");
    cr_assert_str_eq(curio_strerror(-999999), "Unknown error");
}

static long null_arguments(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_join(NULL, NULL), -EINVAL);
    cr_assert_eq(curio_task_wait(NULL), -EINVAL);
    cr_assert_eq(curio_cancel(NULL), -EINVAL);
    cr_assert_eq(curio_cancel_nowait(NULL), -EINVAL);
    cr_assert_eq(curio_task_result(NULL, NULL), -EINVAL);
    curio_task *t;
    cr_assert_eq(curio_spawn_ex(&t, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(curio_timeout_after(NULL, 1), -EINVAL);
    cr_assert_eq(curio_scope_close(NULL), -EINVAL);
    cr_assert_not(curio_scope_expired(NULL));
    cr_assert_eq(curio_timeout_after_call(1, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(curio_group_create(NULL, CURIO_WAIT_ALL), -EINVAL);
    cr_assert_eq(curio_group_join(NULL), -EINVAL);
    cr_assert_eq(curio_group_next_done(NULL, NULL), -EINVAL);
    cr_assert_eq(curio_group_spawn(NULL, NULL, empty, NULL, NULL), -EINVAL);
    cr_assert_eq(curio_group_result(NULL, NULL), -ENOENT);
    cr_assert_eq(curio_group_size(NULL), 0);
    curio_task_release(NULL);
    curio_group_destroy(NULL);
    return 0;
}

Test(task, null_arguments_are_errors_not_crashes) { run_main(null_arguments, NULL); }

/* ---- Curio's t.cancelled (a cancel was requested) vs. ended by cancellation ---- */

static long waits_then(void *arg)
{
    curio_event *e = arg;
    int rc = curio_event_wait(e);
    ev("kid:wait=%s", rc == -ECANCELED ? "ECANCELED" : rc == 0 ? "0" : "other");
    return rc;
}

/* Catches the cancellation and returns a value instead: not ended by cancellation. */
static long catches_cancel(void *arg)
{
    int rc = waits_then(arg);
    return rc == -ECANCELED ? 5 : rc;
}

static long returns_7(void *arg)
{
    (void)arg;
    ev("kid:end");
    return 7;
}

static long cancel_requested_vs_cancelled(void *arg)
{
    (void)arg;
    /* Curio's test_late_join: cancelling a task that has ended requests nothing. */
    curio_task *t = curio_spawn(returns_7, NULL);
    cr_assert_eq(curio_yield(), 0);
    cr_assert(curio_task_done(t));
    cr_assert_eq(curio_cancel(t), 0);
    ev("late_cancel");
    cr_assert_not(curio_task_cancel_requested(t), "t.cancelled is False in Curio");
    cr_assert_not(curio_task_cancelled(t));
    curio_task_release(t);

    /* Curio's test_cancel_noblock: the request is visible at once, the ending later. */
    curio_event never = CURIO_EVENT_INIT;
    t = curio_spawn(waits_then, &never);
    cr_assert_eq(curio_yield(), 0);
    cr_assert_eq(curio_cancel_nowait(t), 0);
    ev("requested");
    cr_assert(curio_task_cancel_requested(t));
    cr_assert_not(curio_task_cancelled(t), "it has not ended yet");
    cr_assert_not(curio_task_done(t));
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert(curio_task_cancel_requested(t));
    cr_assert(curio_task_cancelled(t));
    curio_task_release(t);

    /* A task that catches the cancellation and returns a value: requested, but it did not
     * end by cancellation. */
    t = curio_spawn(catches_cancel, &never);
    cr_assert_eq(curio_yield(), 0);
    cr_assert_eq(curio_cancel_nowait(t), 0);
    long r = 0;
    cr_assert_eq(curio_join(t, &r), 0);
    ev("caught=%ld", r);
    cr_assert(curio_task_cancel_requested(t));
    cr_assert_not(curio_task_cancelled(t));
    curio_task_release(t);
    return 0;
}

Test(task, cancel_requested_is_curios_cancelled)
{
    expect_log(cancel_requested_vs_cancelled, NULL,
               "kid:end late_cancel requested kid:wait=ECANCELED kid:wait=ECANCELED caught=5");
}
