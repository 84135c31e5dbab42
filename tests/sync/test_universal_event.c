/*
 * UniversalEvent: set from a pthread wakes waiting tasks (in line order) and threads; set
 * from a task wakes waiting threads; timeouts from threads and tasks; cancellation; a
 * wait satisfied at the moment its task is cancelled succeeds; a thread/task ping-pong
 * that would hang on a lost wake-up.
 */
#include "synctest.h"

#include "../../sync/universal.h"

#include <math.h>
#include <stdatomic.h>
#include <time.h>

static curio_universal_event *e, *e2;
static int thread_rc;

static size_t waiting(void) { return curio__universal_event_waiting(e); }

/* Sleep a little until n wait; after 20 s (the tests' .timeout is 30) they never will. */
static void until_waiting(size_t n, bool in_task)
{
    int64_t t0 = curio_clock();
    while (waiting() != n) {
        cr_assert_lt(secs_since(t0), 20.0, "waiters never arrived");
        if (in_task)
            cr_assert_gt(curio_sleep(0.0002), 0);
        else
            nanosleep(&(struct timespec){0, 100000}, NULL);
    }
}

static void *set_from_thread(void *arg)
{
    thread_rc = curio_universal_event_set(arg);
    return NULL;
}

static void *wait_from_thread(void *arg)
{
    int *rc = arg;
    *rc = curio_universal_event_wait(e);
    return NULL;
}

static long task_waiter(void *arg)
{
    const char *name = arg;
    int rc = curio_universal_event_wait(e);
    ev("%s:%s", name, rcname(rc));
    return rc;
}

static long thread_sets(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_event_create(&e), 0);
    cr_assert(!curio_universal_event_is_set(e));
    curio_task *w1 = curio_spawn(task_waiter, "w1");
    curio_task *w2 = curio_spawn(task_waiter, "w2");
    curio_task *w3 = curio_spawn(task_waiter, "w3");
    int trc = -1;
    pthread_t tw, ts;
    cr_assert_eq(pthread_create(&tw, NULL, wait_from_thread, &trc), 0);
    until_waiting(4, true);
    ev("main:set");
    cr_assert_eq(pthread_create(&ts, NULL, set_from_thread, e), 0);
    cr_assert_eq(join_release(w1) + join_release(w2) + join_release(w3), 0);
    cr_assert_eq(pthread_join(ts, NULL), 0);
    cr_assert_eq(pthread_join(tw, NULL), 0);
    cr_assert_eq(thread_rc, 0);
    cr_assert_eq(trc, 0, "the waiting thread was woken too");
    cr_assert(curio_universal_event_is_set(e));
    cr_assert_eq(curio_universal_event_wait(e), 0, "set: at once");
    cr_assert_eq(curio_universal_event_clear(e), 0);
    cr_assert(!curio_universal_event_is_set(e));
    cr_assert_eq(curio_universal_event_destroy(e), 0);
    return 0;
}

Test(universal_event, set_from_a_thread_wakes_tasks_in_order_and_threads, .timeout = 30)
{
    expect_log(thread_sets, NULL, "main:set w1:ok w2:ok w3:ok");
}

static long task_sets(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_event_create(&e), 0);
    int rc[3] = {-1, -1, -1};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, wait_from_thread, &rc[i]), 0);
    until_waiting(3, true);
    cr_assert_eq(curio_universal_event_set(e), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        cr_assert_eq(rc[i], 0);
    }
    cr_assert_eq(curio_universal_event_destroy(e), 0);
    return 0;
}

Test(universal_event, set_from_a_task_wakes_threads, .timeout = 30)
{
    run_main(task_sets, NULL);
}

Test(universal_event, thread_timeouts, .timeout = 30)
{
    cr_assert_eq(curio_universal_event_create(&e), 0);
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_universal_event_wait_timeout(e, 0.01), -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.01);
    cr_assert_eq(curio_universal_event_wait_timeout(e, 0), -ETIMEDOUT);
    cr_assert_eq(curio_universal_event_wait_timeout(e, -1), -EINVAL);
    cr_assert_eq(curio_universal_event_wait_timeout(e, NAN), -EINVAL);
    cr_assert_eq(waiting(), 0);
    cr_assert_eq(curio_universal_event_set(e), 0);
    cr_assert_eq(curio_universal_event_wait_timeout(e, 0), 0);
    cr_assert_eq(curio_universal_event_wait_timeout(e, INFINITY), 0);
    cr_assert_eq(curio_universal_event_destroy(e), 0);
}

static int wait_op(void *arg) { return curio_universal_event_wait(arg); }
static int wait_timeout_op(void *arg, double s)
{
    return curio_universal_event_wait_timeout(arg, s);
}

/* Main logs the result once it has joined the task: two timers due in one round fire in
 * the order of their deadlines, which a repeated wait (timeout_while_waiting) changes. */
static long timed_task(void *arg)
{
    const char *how = arg;
    int rc;
    if (how[0] == 's') {
        int close;
        rc = timeout_while_waiting(0.005, wait_op, e, &close);
        cr_assert_eq(close, -ETIMEDOUT);
    } else {
        rc = own_timeout_while_waiting(0.005, wait_timeout_op, e);
    }
    return rc;
}

static void joined(curio_task *t, const char *how)
{
    long r;
    cr_assert_eq(curio_join(t, &r), 0);
    ev("%s:%s", how, rcname(r));
}

static long task_interrupts(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_event_create(&e), 0);
    curio_task *a = curio_spawn(timed_task, "scope");
    curio_task *b = curio_spawn(timed_task, "timeout");
    curio_task *c = curio_spawn(task_waiter, "c");
    curio_task *d = curio_spawn(task_waiter, "d");
    /* All four wait in the first pass (timers fire only after it). The timeouts are waited
     * for before c is cancelled, so neither can overtake the other. */
    yield_until_state(d, "EVENT_WAIT");
    cr_assert_eq(waiting(), 4);
    joined(a, "scope");
    joined(b, "timeout");
    cr_assert_eq(curio_cancel(c), 0);
    cr_assert_eq(waiting(), 1, "only d is left in line");
    ev("main:set");
    cr_assert_eq(curio_universal_event_set(e), 0);
    cr_assert_eq(join_release(d), 0);
    curio_task_release(a);
    curio_task_release(b);
    curio_task_release(c);
    cr_assert_eq(curio_universal_event_destroy(e), 0);
    return 0;
}

Test(universal_event, task_waits_under_timeout_and_cancel, .timeout = 30)
{
    expect_log(task_interrupts, NULL,
               "scope:ETIMEDOUT timeout:ETIMEDOUT c:ECANCELED main:set d:ok");
}

/* Cancelled (not yet run), then set from a thread: the wait was satisfied and succeeds;
 * the cancellation arrives at the next blocking call. */
static long wait_then_yield(void *arg)
{
    (void)arg;
    int rc = curio_universal_event_wait(e);
    int next = curio_yield();
    ev("w:%s,%s", rcname(rc), rcname(next));
    return rc < 0 ? rc : next;
}

static long satisfied_then_cancelled(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_event_create(&e), 0);
    curio_task *w = curio_spawn(wait_then_yield, NULL);
    yield_until_state(w, "EVENT_WAIT");
    curio_cancel_nowait(w);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, set_from_thread, e), 0);
    cr_assert_eq(pthread_join(th, NULL), 0); /* the kernel is held: w has not run */
    cr_assert_eq(curio_task_wait(w), 0);
    cr_assert(curio_task_cancelled(w));
    curio_task_release(w);
    cr_assert_eq(curio_universal_event_destroy(e), 0);
    return 0;
}

Test(universal_event, set_racing_a_cancellation_satisfies_the_wait, .timeout = 30)
{
    expect_log(satisfied_then_cancelled, NULL, "w:ok,ECANCELED");
}

/* ---- ping-pong: any lost wake-up hangs it ---- */

#define ROUNDS 3000

static void *ponger(void *arg)
{
    (void)arg;
    thread_rc = 0;
    for (int i = 0; i < ROUNDS; i++) {
        thread_rc |= curio_universal_event_wait(e);
        thread_rc |= curio_universal_event_clear(e);
        thread_rc |= curio_universal_event_set(e2);
    }
    return NULL;
}

static long pinger(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_event_create(&e), 0);
    cr_assert_eq(curio_universal_event_create(&e2), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, ponger, NULL), 0);
    curio_scope s;
    cr_assert_eq(curio_timeout_after(&s, 20), 0); /* a lost wake-up fails, not hangs */
    for (int i = 0; i < ROUNDS; i++) {
        cr_assert_eq(curio_universal_event_set(e), 0);
        cr_assert_eq(curio_universal_event_wait(e2), 0, "round %d", i);
        cr_assert_eq(curio_universal_event_clear(e2), 0);
    }
    cr_assert_eq(curio_scope_close(&s), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(thread_rc, 0);
    cr_assert_eq(curio_universal_event_destroy(e), 0);
    cr_assert_eq(curio_universal_event_destroy(e2), 0);
    return 0;
}

Test(universal_event, thread_task_ping_pong_loses_no_wakeup, .timeout = 30)
{
    run_main(pinger, NULL);
}

/* ---- outside tasks, destroy, NULL ---- */

Test(universal_event, kernel_thread_outside_tasks_and_destroy, .timeout = 30)
{
    cr_assert_eq(curio_universal_event_create(&e), 0);
    curio_kernel *k;
    cr_assert_eq(curio_kernel_create(&k, NULL), 0);
    cr_assert_eq(curio_universal_event_wait(e), -EPERM, "would stall the kernel");
    cr_assert_eq(curio_universal_event_set(e), 0);
    cr_assert_eq(curio_universal_event_wait(e), 0, "no need to wait");
    curio_kernel_destroy(k);
    cr_assert_eq(curio_universal_event_clear(e), 0);
    int rc = -1;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, wait_from_thread, &rc), 0);
    until_waiting(1, false);
    cr_assert_eq(curio_universal_event_destroy(e), -EBUSY);
    cr_assert_eq(curio_universal_event_set(e), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(rc, 0);
    cr_assert_eq(curio_universal_event_destroy(e), 0);
}

Test(universal_event, null_arguments)
{
    cr_assert_eq(curio_universal_event_create(NULL), -EINVAL);
    cr_assert_eq(curio_universal_event_destroy(NULL), -EINVAL);
    cr_assert_eq(curio_universal_event_set(NULL), -EINVAL);
    cr_assert_eq(curio_universal_event_clear(NULL), -EINVAL);
    cr_assert(!curio_universal_event_is_set(NULL));
    cr_assert_eq(curio_universal_event_wait(NULL), -EINVAL);
    cr_assert_eq(curio_universal_event_wait_timeout(NULL, 1), -EINVAL);
}
