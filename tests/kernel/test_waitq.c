/*
 * kernel/waitq.h: the wait queue with hand-off. A waiter granted an item and then
 * cancelled before it runs still gets the item (the cancellation comes at its next
 * blocking call); a waiter interrupted before the grant is skipped by it; wake_all leaves
 * no waiter pointing at the queue; a wait that cannot be interrupted ignores
 * cancellation until granted.
 */
#include "testutil.h"
#include "kernel.h"
#include "waitq.h"

#include <stdlib.h>

static const char *rcname(int rc)
{
    switch (rc) {
    case 0: return "ok";
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    default: return "?";
    }
}

static void yield_until_state(curio_task *t, const char *state)
{
    for (int i = 0; i < 10000 && strcmp(curio_task_state(t), state) != 0; i++)
        cr_assert_eq(curio_yield(), 0);
    cr_assert_str_eq(curio_task_state(t), state);
}

static curio__waitq q;

/* Wait in q (the task's name is its argument), then make one more blocking call. */
static long waiter(void *arg)
{
    const char *name = arg;
    curio__waiter w = {.item = "own"}; /* what a grant of the queue's own items hands */
    int rc = curio__waitq_wait(&q, &w, "FUTURE_WAIT");
    if (rc == 0)
        ev("%s:got=%s", name, (const char *)w.item);
    else
        ev("%s:wait=%s", name, rcname(rc));
    cr_assert(!w.linked, "a wait returns with its record out of the queue");
    int next = curio_yield();
    ev("%s:next=%s", name, rcname(next));
    return rc < 0 ? rc : next;
}

static long handoff_main(void *arg)
{
    (void)arg;
    q = (curio__waitq){0};
    curio_task *a = curio_spawn(waiter, "a");
    curio_task *b = curio_spawn(waiter, "b");
    curio_task *c = curio_spawn(waiter, "c");
    yield_until_state(c, "FUTURE_WAIT");
    curio_cancel_nowait(a);              /* interrupted before the grant: still linked */
    cr_assert(!curio__waitq_empty(&q), "an interrupted waiter stays until it runs");
    curio__waiter *w = curio__waitq_take(&q);
    cr_assert_not_null(w);
    cr_assert_eq(w->task, b, "the grant skips the interrupted waiter");
    curio__waiter_grant(w, "X");
    curio_cancel_nowait(b);              /* granted, then cancelled before it ran */
    cr_assert_eq(curio__waitq_grant(&q, 5), 1, "only c is still parked");
    cr_assert_null(curio__waitq_take(&q));
    cr_assert_eq(curio_task_wait(a), 0);
    cr_assert_eq(curio_task_wait(b), 0);
    cr_assert_eq(curio_task_wait(c), 0);
    cr_assert(curio__waitq_empty(&q), "every waiter has left");
    cr_assert(curio_task_cancelled(a));
    cr_assert(curio_task_cancelled(b), "b's next blocking call was cancelled");
    cr_assert(!curio_task_cancelled(c));
    curio_task_release(a);
    curio_task_release(b);
    curio_task_release(c);
    return 0;
}

Test(waitq, a_granted_waiter_keeps_its_item_an_interrupted_one_is_skipped, .timeout = 30)
{
    /* c was granted by waitq_grant, with its own item. */
    expect_log(handoff_main, NULL,
               "a:wait=ECANCELED a:next=ECANCELED b:got=X b:next=ECANCELED c:got=own "
               "c:next=ok");
}

/* wake_all empties the queue at once, interrupted waiters included: the queue may be
 * freed before they run (a task's joiners at its end, a handle being closed). */
static curio__waitq *heap_q;

static long heap_waiter(void *arg)
{
    const char *name = arg;
    curio__waiter w = {0};
    int rc = curio__waitq_wait(heap_q, &w, "FUTURE_WAIT");
    ev("%s:wait=%s", name, rcname(rc));
    return 0;
}

static long wake_all_main(void *arg)
{
    (void)arg;
    heap_q = calloc(1, sizeof *heap_q);
    cr_assert_not_null(heap_q);
    curio_task *a = curio_spawn(heap_waiter, "a");
    curio_task *b = curio_spawn(heap_waiter, "b");
    yield_until_state(b, "FUTURE_WAIT");
    curio_cancel_nowait(a);
    cr_assert_eq(curio__waitq_wake_all(heap_q), 1, "b granted, a only unlinked");
    cr_assert(curio__waitq_empty(heap_q));
    free(heap_q);                        /* a has not run yet: it must not touch it */
    heap_q = NULL;
    cr_assert_eq(curio_task_wait(a), 0);
    cr_assert_eq(curio_task_wait(b), 0);
    curio_task_release(a);
    curio_task_release(b);
    return 0;
}

Test(waitq, wake_all_leaves_no_waiter_pointing_at_the_queue, .timeout = 30)
{
    expect_log(wake_all_main, NULL, "a:wait=ECANCELED b:wait=ok");
}

/* A waiter whose scope expires while it waits leaves the queue with -ETIMEDOUT, and so
 * does the next one, refused at once (the expiry is sticky). */
static long timeout_main(void *arg)
{
    (void)arg;
    q = (curio__waitq){0};
    curio_scope s;
    cr_assert_eq(curio_timeout_after(&s, 0.001), 0);
    curio__waiter w = {0};
    cr_assert_eq(curio__waitq_wait(&q, &w, "FUTURE_WAIT"), -ETIMEDOUT);
    cr_assert(curio__waitq_empty(&q));
    cr_assert_eq(curio__waitq_wait(&q, &w, "FUTURE_WAIT"), -ETIMEDOUT, "sticky");
    cr_assert(curio__waitq_empty(&q));
    cr_assert_eq(curio_scope_close(&s), -ETIMEDOUT);
    return 0;
}

Test(waitq, a_timed_out_waiter_leaves_the_queue, .timeout = 30)
{
    run_main(timeout_main, NULL);
}

/* wait_nointr: a cancellation does not end the wait; the grant does, and the cancellation
 * arrives at the next blocking call. */
static long nointr_waiter(void *arg)
{
    (void)arg;
    curio__waiter w = {0};
    curio__waitq_wait_nointr(curio__self(), &q, &w, "FUTURE_WAIT");
    ev("n:got=%s", (const char *)w.item);
    ev("n:next=%s", rcname(curio_yield()));
    return 0;
}

static long nointr_main(void *arg)
{
    (void)arg;
    q = (curio__waitq){0};
    curio_task *n = curio_spawn(nointr_waiter, NULL);
    yield_until_state(n, "FUTURE_WAIT");
    curio_cancel_nowait(n);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(curio_yield(), 0);
    cr_assert_str_eq(curio_task_state(n), "FUTURE_WAIT", "not interrupted");
    ev("main:grant");
    curio__waiter *w = curio__waitq_take(&q);
    cr_assert_not_null(w, "a waiter that cannot be interrupted stays parked");
    curio__waiter_grant(w, "Y");
    cr_assert_eq(curio_task_wait(n), 0);
    cr_assert(curio_task_cancelled(n) == false, "it returned 0 itself");
    curio_task_release(n);
    return 0;
}

Test(waitq, a_wait_that_cannot_be_interrupted_waits_for_its_grant, .timeout = 30)
{
    expect_log(nointr_main, NULL, "main:grant n:got=Y n:next=ECANCELED");
}
