/*
 * Event: set wakes every waiter in FIFO order without switching; a wait on a set event
 * does not wait; timeouts and cancellation leave the event usable; it belongs to one
 * thread.
 */
#include "synctest.h"

static curio_event evt; /* zero: a valid, clear event */

static long waiter(void *arg)
{
    const char *name = arg;
    ev("%s:wait", name);
    int rc = curio_event_wait(&evt);
    ev("%s:%s", name, rcname(rc));
    return rc;
}

static long fifo_wakeups(void *arg)
{
    (void)arg;
    evt = (curio_event)CURIO_EVENT_INIT;
    curio_task *w1 = curio_spawn(waiter, "w1");
    curio_task *w2 = curio_spawn(waiter, "w2");
    curio_task *w3 = curio_spawn(waiter, "w3");
    curio_yield();
    cr_assert_str_eq(curio_task_state(w2), "EVENT_WAIT");
    ev("main:set");
    cr_assert_eq(curio_event_set(&evt), 0);
    ev("main:after-set");
    cr_assert(curio_event_is_set(&evt));
    cr_assert_eq(join_release(w1) + join_release(w2) + join_release(w3), 0);
    return 0;
}

Test(event, set_wakes_every_waiter_in_fifo_order_without_switching)
{
    expect_log(fifo_wakeups, NULL,
               "w1:wait w2:wait w3:wait main:set main:after-set w1:ok w2:ok w3:ok");
}

static long set_event_does_not_wait(void *arg)
{
    (void)arg;
    curio_event e = CURIO_EVENT_INIT;
    cr_assert(!curio_event_is_set(&e));
    cr_assert_eq(curio_event_set(&e), 0);
    cr_assert_eq(curio_event_set(&e), 0, "setting twice is fine");
    /* Not a cancellation point when there is nothing to wait for, as in Curio. */
    curio_cancel_nowait(curio_current());
    cr_assert_eq(curio_event_wait(&e), 0);
    cr_assert_eq(curio_event_clear(&e), 0);
    cr_assert(!curio_event_is_set(&e));
    cr_assert_eq(curio_event_wait(&e), -ECANCELED, "a wait that waits is one");
    return 0;
}

Test(event, wait_on_a_set_event_returns_at_once)
{
    run_main(set_event_does_not_wait, NULL);
}

/* The tutorial's nagging kid: timeout_after around the wait, again and again. */
static int nags;

static long nagging_kid(void *arg)
{
    (void)arg;
    for (;;) {
        ev("kid:can-i-play");
        curio_scope s;
        cr_assert_eq(curio_timeout_after(&s, 0.005), 0);
        int rc = curio_event_wait(&evt);
        int close = curio_scope_close(&s);
        if (rc == 0) {
            cr_assert_eq(close, 0);
            break;
        }
        cr_assert_eq(rc, -ETIMEDOUT);
        cr_assert_eq(close, -ETIMEDOUT);
        ev("kid:wha");
        nags++;
    }
    ev("kid:playing");
    return 0;
}

static long timeout_leaves_event_usable(void *arg)
{
    (void)arg;
    evt = (curio_event)CURIO_EVENT_INIT;
    nags = 0;
    int64_t t0 = curio_clock();
    curio_task *kid = curio_spawn(nagging_kid, NULL);
    while (nags < 2)
        cr_assert_gt(curio_sleep(0.001), 0);
    cr_assert_geq(secs_since(t0), 0.01, "two 5 ms timeouts");
    ev("parent:go");
    cr_assert_eq(curio_event_set(&evt), 0);
    cr_assert_eq(join_release(kid), 0);
    cr_assert_null(evt.waiters.line.head, "timed-out waiters left the line");
    return 0;
}

Test(event, timeout_leaves_it_usable)
{
    ev_reset();
    run_main(timeout_leaves_event_usable, NULL);
    /* At least two timeouts, then the set. (Where "parent:go" falls among the last nags
     * depends on which timer the kernel fires first when both are due.) */
    cr_assert(strncmp(evlog, "kid:can-i-play kid:wha kid:can-i-play kid:wha ", 46) == 0, "%s",
              evlog);
    cr_assert_not_null(strstr(evlog, "parent:go"), "%s", evlog);
    const char *tail = " kid:playing";
    cr_assert_str_eq(evlog + strlen(evlog) - strlen(tail), tail);
}

static long cancel_while_waiting(void *arg)
{
    (void)arg;
    evt = (curio_event)CURIO_EVENT_INIT;
    curio_task *w1 = curio_spawn(waiter, "w1");
    curio_task *w2 = curio_spawn(waiter, "w2");
    yield_until_state(w2, "EVENT_WAIT");
    cr_assert_eq(curio_cancel(w1), 0);
    cr_assert(curio_task_cancelled(w1));
    ev("main:set");
    cr_assert_eq(curio_event_set(&evt), 0);
    cr_assert_eq(join_release(w2), 0);
    curio_task_release(w1);
    cr_assert_null(evt.waiters.line.head);
    return 0;
}

Test(event, cancel_while_waiting_leaves_the_others_waiting)
{
    expect_log(cancel_while_waiting, NULL, "w1:wait w2:wait w1:ECANCELED main:set w2:ok");
}

/* A waiter interrupted but not yet run is skipped by set; one woken by set and then
 * cancelled before it ran still returns 0 (the cancellation comes at its next call). */
static long waiter_then_yield(void *arg)
{
    const char *name = arg;
    int rc = curio_event_wait(&evt);
    int next = curio_yield();
    ev("%s:%s,%s", name, rcname(rc), rcname(next));
    return rc < 0 ? rc : next;
}

static long woken_then_cancelled(void *arg)
{
    (void)arg;
    evt = (curio_event)CURIO_EVENT_INIT;
    curio_task *a = curio_spawn(waiter_then_yield, "a");
    curio_task *b = curio_spawn(waiter_then_yield, "b");
    yield_until_state(b, "EVENT_WAIT");
    curio_cancel_nowait(a);               /* a: interrupted, not run yet */
    cr_assert_eq(curio_event_set(&evt), 0);
    curio_cancel_nowait(b);               /* b: woken by set, then cancelled */
    cr_assert_eq(curio_task_wait(a), 0);
    cr_assert_eq(curio_task_wait(b), 0);
    cr_assert(curio_task_cancelled(a));
    cr_assert(curio_task_cancelled(b));
    curio_task_release(a);
    curio_task_release(b);
    return 0;
}

Test(event, woken_then_cancelled_still_returns_ok)
{
    expect_log(woken_then_cancelled, NULL, "a:ECANCELED,ECANCELED b:ok,ECANCELED");
}

/* ---- misuse ---- */

static long from_another_thread(void *arg)
{
    curio_event *e = arg;
    long bad = 0;
    bad += curio_event_set(e) != -EPERM;
    bad += curio_event_clear(e) != -EPERM;
    bad += curio_event_is_set(e) != false;
    bad += curio_event_wait(e) != -EPERM;
    return bad;
}

static long misuse(void *arg)
{
    (void)arg;
    curio_event e = CURIO_EVENT_INIT;
    cr_assert_eq(curio_event_set(NULL), -EINVAL);
    cr_assert_eq(curio_event_clear(NULL), -EINVAL);
    cr_assert_eq(curio_event_wait(NULL), -EINVAL);
    cr_assert(!curio_event_is_set(NULL));
    cr_assert_eq(curio_event_set(&e), 0); /* binds it to this thread */
    cr_assert_eq(on_other_thread(from_another_thread, &e), 0, "a plain thread");
    cr_assert_eq(on_other_kernel(from_another_thread, &e), 0, "another kernel's task");
    cr_assert(curio_event_is_set(&e), "untouched by the other thread");
    return 0;
}

Test(event, null_and_other_threads_are_refused)
{
    run_main(misuse, NULL);
}

static long first_use_on_thread(void *arg)
{
    return curio_event_set(arg);
}

Test(event, outside_a_task)
{
    curio_event e = CURIO_EVENT_INIT;
    /* No kernel here: setting works (the event now belongs to this thread); waiting is
     * a blocking call and needs a task. */
    cr_assert_eq(curio_event_set(&e), 0);
    cr_assert_eq(curio_event_wait(&e), -EPERM);
    cr_assert(curio_event_is_set(&e));
    /* Owned by the first thread that used it, whoever that was. */
    curio_event f = CURIO_EVENT_INIT;
    cr_assert_eq(on_other_thread(first_use_on_thread, &f), 0);
    cr_assert_eq(curio_event_set(&f), -EPERM);
}

/* A static event outlives a kernel: the next kernel on the same thread may use it. */
static long set_and_wait(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_event_clear(&evt), 0);
    curio_task *w = curio_spawn(waiter, "w");
    curio_yield();
    cr_assert_eq(curio_event_set(&evt), 0);
    return join_release(w);
}

Test(event, usable_by_successive_kernels_on_one_thread)
{
    evt = (curio_event)CURIO_EVENT_INIT;
    expect_log(set_and_wait, NULL, "w:wait w:ok");
    expect_log(set_and_wait, NULL, "w:wait w:ok");
}
