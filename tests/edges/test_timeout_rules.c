/*
 * tests/edges/test_timeout_rules.c - Curio's rules for timeouts and cancellation, told as
 * event logs: a scope expires only when its deadline is delivered; a value completed in
 * time is never dropped; a cancellation drops the pending timeouts.
 */
#include "testutil.h"

#include <curio/sync.h>

static const char *name(long rc)
{
    switch (rc) {
    case 0: return "ok";
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case CURIO_ETIMEOUT_OUTER: return "OUTER";
    case CURIO_ETIMEOUT_LEAKED: return "LEAKED";
    case CURIO_ETASKCANCELLED: return "TASKCANCELLED";
    default: return rc > 0 ? "ok" : "other";
    }
}

static void spin(double seconds)
{
    int64_t t0 = curio_clock();
    while (curio_clock() - t0 < (int64_t)(seconds * 1e9))
        ;
}

static curio_queue *q;

static long get_item(void *arg)
{
    (void)arg;
    void *item = NULL;
    int rc = curio_queue_get(q, &item);
    return rc < 0 ? rc : (long)(intptr_t)item;
}

/* ---- rule 1: a deadline no blocking call saw is not a timeout ---- */

/* `await timeout_after(0, q.get())` with an item queued: Curio returns the item. */
static long zero_timeout_with_an_item_queued(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_queue_create(&q, 0), 0);
    curio_queue_put(q, (void *)1);
    long r = 0;
    ev("call=%s", name(curio_timeout_after_call(0, get_item, NULL, &r)));
    ev("item=%ld size=%zu", r, curio_queue_size(q));
    bool expired = true;
    curio_queue_put(q, (void *)2);
    ev("ignore=%s", name(curio_ignore_after_call(0, get_item, NULL, &r, &expired)));
    ev("item=%ld expired=%d", r, expired);
    curio_queue_destroy(q);
    return 0;
}

Test(timeout_rules, a_zero_timeout_returns_an_item_already_there)
{
    expect_log(zero_timeout_with_an_item_queued, NULL,
               "call=ok item=1 size=0 ignore=ok item=2 expired=0");
}

/* The item is handed to the waiting getter; then the producer keeps the CPU until the
 * getter's deadline has passed. The getter completed before its deadline was delivered:
 * its scope has not expired, and the item is its. */
static long busy_producer(void *arg)
{
    (void)arg;
    ev("put=%s", name(curio_queue_put(q, (void *)7)));
    spin(0.02); /* the consumer's 5 ms deadline passes while it is ready, not running */
    ev("producer-done");
    return 0;
}

static long handed_over_then_late(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_queue_create(&q, 0), 0);
    curio_task *p;
    curio_spawn_ex(&p, busy_producer, NULL, NULL);
    curio_scope s;
    curio_timeout_after(&s, 0.005);
    long v = get_item(NULL);
    ev("get=%ld", v);
    ev("close=%s expired=%d", name(curio_scope_close(&s)), curio_scope_expired(&s));
    long r = -1;
    ev("call=%s", name(curio_timeout_after_call(0.005, get_item, NULL, &r)));
    ev("r=%s", name(r));
    curio_join(p, NULL);
    curio_task_release(p);
    curio_queue_destroy(q);
    return 0;
}

Test(timeout_rules, an_item_handed_over_before_the_deadline_is_kept)
{
    expect_log(handed_over_then_late, NULL,
               "put=ok producer-done get=7 close=ok expired=0 call=ETIMEDOUT r=ETIMEDOUT");
}

/* A nested block: the inner scope's call is told; both scopes whose deadline had passed at
 * that moment expired; the outermost one owns it (Curio's TimeoutCancellationError). */
static long nested_delivery(void *arg)
{
    (void)arg;
    curio_scope outer, inner;
    curio_timeout_after(&outer, 0.001);
    curio_timeout_after(&inner, 0.002);
    spin(0.005);
    ev("sleep=%s", name(curio_sleep(1)));
    ev("inner=%s", name(curio_scope_close(&inner)));
    ev("outer=%s", name(curio_scope_close(&outer)));
    /* Passed, never delivered: both close with 0. */
    curio_timeout_after(&outer, 0.001);
    curio_timeout_after(&inner, 0.002);
    spin(0.005);
    ev("inner=%s", name(curio_scope_close(&inner)));
    ev("outer=%s", name(curio_scope_close(&outer)));
    return 0;
}

Test(timeout_rules, the_outermost_delivered_scope_owns_the_timeout)
{
    expect_log(nested_delivery, NULL,
               "sleep=ETIMEDOUT inner=OUTER outer=ETIMEDOUT inner=ok outer=ok");
}

/* ---- rule 2: a cancellation drops the pending timeouts ---- */

static curio_event never;

static long cleanup_past_the_deadline(void *arg)
{
    (void)arg;
    curio_scope t, nc;
    curio_timeout_after(&t, 0.01);
    ev("wait=%s", name(curio_event_wait(&never)));
    curio_disable_cancellation(&nc);
    ev("cleanup=%s", name(curio_sleep(0.03))); /* runs past the 10 ms deadline */
    ev("nocancel=%s", name(curio_scope_close(&nc)));
    ev("scope=%s", name(curio_scope_close(&t)));
    long rc = curio_sleep(0);
    ev("next=%s", name(rc));
    return rc; /* Curio: `except TaskTimeout` would not match; the task ends cancelled */
}

static long cancels_during_cleanup(void *arg)
{
    (void)arg;
    curio_task *kid;
    curio_spawn_ex(&kid, cleanup_past_the_deadline, NULL, NULL);
    curio_yield();
    ev("cancel=%s", name(curio_cancel(kid)));
    ev("join=%s", name(curio_join(kid, NULL)));
    curio_task_release(kid);
    return 0;
}

Test(timeout_rules, a_cancelled_task_is_not_told_of_a_later_timeout)
{
    memset(&never, 0, sizeof never);
    expect_log(cancels_during_cleanup, NULL,
               "wait=ECANCELED cleanup=ok nocancel=ok scope=ok next=ECANCELED cancel=ok "
               "join=TASKCANCELLED");
}

/* A timeout opened inside disable_cancellation still bounds the cleanup after a cancel,
 * even when it was opened before the request. */
static curio_event started;

static long bounded_cleanup(void *arg)
{
    (void)arg;
    curio_scope nc, t;
    curio_disable_cancellation(&nc);
    curio_timeout_after(&t, 0.02);
    curio_event_set(&started);
    ev("cleanup=%s", name(curio_sleep(10)));
    ev("inner=%s", name(curio_scope_close(&t)));
    ev("nocancel=%s", name(curio_scope_close(&nc)));
    long rc = curio_sleep(0);
    ev("next=%s", name(rc));
    return rc;
}

static long cancels_bounded(void *arg)
{
    (void)arg;
    curio_task *kid;
    curio_spawn_ex(&kid, bounded_cleanup, NULL, NULL);
    curio_event_wait(&started);
    ev("cancel=%s", name(curio_cancel(kid)));
    curio_task_release(kid);
    return 0;
}

Test(timeout_rules, a_timeout_inside_disable_cancellation_still_bounds_the_cleanup)
{
    memset(&started, 0, sizeof started);
    expect_log(cancels_bounded, NULL,
               "cleanup=ETIMEDOUT inner=ETIMEDOUT nocancel=ok next=ECANCELED cancel=ok");
}
