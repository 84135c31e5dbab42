/*
 * Queue, LifoQueue, PriorityQueue: the tutorial's producer/consumer with join; a bounded
 * queue of 2 with a slow consumer; an unbounded queue whose puts never switch; join
 * returning only after the last task_done; orderings of the three kinds; every wait under
 * timeout and cancellation, with the counts right afterwards and no item lost; an item
 * promised to a woken getter counting toward maxsize until the getter has run; and Curio's
 * own tests/test_queue.py, case by case, with the event orders it asserts.
 */
#include "synctest.h"

#define I(n) ((void *)(intptr_t)(n))
#define N(p) ((int)(intptr_t)(p))

static curio_queue *q;

/* ---- the tutorial's prodcons.py ---- */

static long producer(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(curio_queue_put(q, I(i)), 0);
        ev("p:put%d", i);
    }
    cr_assert_eq(curio_queue_join(q), 0);
    ev("p:done");
    return 0;
}

static long consumer(void *arg)
{
    (void)arg;
    for (;;) {
        void *item;
        int rc = curio_queue_get(q, &item);
        if (rc < 0) {
            ev("c:%s", rcname(rc));
            return rc;
        }
        ev("c:got%d", N(item));
        cr_assert_eq(curio_queue_task_done(q), 0);
    }
}

static long prodcons(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_queue_create(&q, 0), 0);
    curio_task *p = curio_spawn(producer, I(3));
    curio_task *c = curio_spawn(consumer, NULL);
    cr_assert_eq(join_release(p), 0);
    cr_assert_eq(curio_cancel(c), 0);
    cr_assert(curio_task_cancelled(c));
    curio_task_release(c);
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, producer_consumer_with_join)
{
    expect_log(prodcons, NULL,
               "p:put0 p:put1 p:put2 c:got0 c:got1 c:got2 p:done c:ECANCELED");
}

/* ---- a bounded queue of 2 and a slow consumer ---- */

static size_t max_seen;

static long slow_consumer(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 0; i < n; i++) {
        void *item;
        size_t size = curio_queue_size(q);
        if (size > max_seen)
            max_seen = size;
        cr_assert_eq(curio_queue_get(q, &item), 0);
        ev("c:got%d", N(item));
        cr_assert_gt(curio_sleep(0.001), 0); /* slow */
    }
    return 0;
}

static long bounded_slow(void *arg)
{
    (void)arg;
    max_seen = 0;
    cr_assert_eq(curio_queue_create(&q, 2), 0);
    curio_task *p = curio_spawn(producer, I(5));
    curio_task *c = curio_spawn(slow_consumer, I(5));
    yield_until_state(p, "QUEUE_PUT");
    cr_assert(curio_queue_full(q));
    cr_assert_eq(curio_queue_size(q), 2);
    cr_assert_eq(join_release(c), 0);
    /* The producer is still in join: nothing was marked done. */
    cr_assert_str_eq(curio_task_state(p), "QUEUE_JOIN");
    for (int i = 0; i < 5; i++)
        cr_assert_eq(curio_queue_task_done(q), 0);
    cr_assert_eq(join_release(p), 0);
    cr_assert_eq(max_seen, 2, "never more than maxsize");
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, bounded_queue_of_two_with_a_slow_consumer)
{
    expect_log(bounded_slow, NULL,
               "p:put0 p:put1 c:got0 p:put2 c:got1 p:put3 c:got2 p:put4 c:got3 c:got4 p:done");
}

/* ---- puts on an unbounded queue never switch ---- */

static long counting_consumer(void *arg)
{
    int *got = arg;
    void *item;
    while (curio_queue_get(q, &item) == 0)
        (*got)++;
    return 0;
}

static long unbounded_no_switch(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_queue_create(&q, 0), 0);
    int got = 0;
    curio_task *c = curio_spawn(counting_consumer, &got);
    yield_until_state(c, "QUEUE_GET");
    uint64_t cycles = curio_task_cycles(curio_current());
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(curio_queue_put(q, I(i)), 0);
    cr_assert_eq(curio_task_cycles(curio_current()), cycles, "a put switched");
    cr_assert_eq(got, 0, "the consumer has not run");
    cr_assert_eq(curio_queue_size(q), 10000, "the first item is the getter's, still in it");
    cr_assert(!curio_queue_full(q));
    while (got < 10000)
        cr_assert_eq(curio_yield(), 0);
    cr_assert_eq(curio_cancel(c), 0);
    curio_task_release(c);
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, puts_on_an_unbounded_queue_never_switch)
{
    run_main(unbounded_no_switch, NULL);
}

/* ---- join returns only after the last task_done ---- */

static long careful_consumer(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 0; i < n; i++) {
        void *item;
        cr_assert_eq(curio_queue_get(q, &item), 0);
        ev("c:got%d", N(item));
        curio_yield();
        curio_yield();
        ev("c:done%d", N(item));
        cr_assert_eq(curio_queue_task_done(q), 0);
    }
    return 0;
}

static long join_after_last_done(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_queue_create(&q, 0), 0);
    cr_assert_eq(curio_queue_join(q), 0, "nothing unfinished: at once");
    cr_assert_eq(curio_queue_task_done(q), -EINVAL, "task_done called too many times");
    curio_task *p = curio_spawn(producer, I(3));
    curio_task *c = curio_spawn(careful_consumer, I(3));
    cr_assert_eq(join_release(p) + join_release(c), 0);
    cr_assert_eq(curio_queue_task_done(q), -EINVAL);
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, join_returns_only_after_the_last_task_done)
{
    expect_log(join_after_last_done, NULL,
               "p:put0 p:put1 p:put2 c:got0 c:done0 c:got1 c:done1 c:got2 c:done2 p:done");
}

/* ---- orderings of the three kinds ---- */

static void drain(char *out, size_t n)
{
    void *item;
    out[0] = 0;
    while (curio_queue_get_nowait(q, &item) == 0)
        snprintf(out + strlen(out), n - strlen(out), "%s%d", out[0] ? " " : "", N(item));
}

static long orderings(void *arg)
{
    (void)arg;
    char got[128];
    cr_assert_eq(curio_lifo_queue_create(&q, 0), 0);
    for (int i = 1; i <= 20; i++) /* past the first growth, and with items in it */
        cr_assert_eq(curio_queue_put(q, I(i)), 0);
    drain(got, sizeof got);
    cr_assert_str_eq(got, "20 19 18 17 16 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1");
    cr_assert_eq(curio_queue_put_prio(q, I(1), 1), -EINVAL, "not a priority queue");
    cr_assert_eq(curio_queue_destroy(q), 0);

    cr_assert_eq(curio_queue_create(&q, 0), 0);
    for (int i = 1; i <= 6; i++)
        cr_assert_eq(curio_queue_put(q, I(i)), 0);
    void *item;
    cr_assert_eq(curio_queue_get(q, &item), 0); /* wrap the ring around */
    cr_assert_eq(curio_queue_get(q, &item), 0);
    for (int i = 7; i <= 20; i++)
        cr_assert_eq(curio_queue_put(q, I(i)), 0);
    drain(got, sizeof got);
    cr_assert_str_eq(got, "3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20");
    cr_assert_eq(curio_queue_put_prio(q, I(1), 1), -EINVAL);
    cr_assert_eq(curio_queue_destroy(q), 0);

    /* Lowest priority first; equal priorities in the order put. */
    cr_assert_eq(curio_priority_queue_create(&q, 0), 0);
    static const int prio[] = {5, 1, 3, 1, 5, -2, 3, 1, 0, 5};
    for (int i = 0; i < 10; i++)
        cr_assert_eq(curio_queue_put_prio(q, I(i), prio[i]), 0);
    cr_assert_eq(curio_queue_put(q, I(10)), 0, "priority 0");
    drain(got, sizeof got);
    cr_assert_str_eq(got, "5 8 10 1 3 7 2 6 0 4 9");
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, fifo_lifo_and_priority_orderings)
{
    run_main(orderings, NULL);
}

static long prio_getter(void *arg)
{
    (void)arg;
    void *item;
    int rc = curio_queue_get(q, &item);
    ev("g:%s%d", rcname(rc), rc == 0 ? N(item) : -1);
    return rc;
}

static long priority_putter_waits(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_priority_queue_create(&q, 2), 0);
    cr_assert_eq(curio_queue_put_prio(q, I(1), 5), 0);
    cr_assert_eq(curio_queue_put_prio(q, I(2), 7), 0);
    /* A waiting putter's priority counts once its item moves in. */
    curio_task *g = curio_spawn(prio_getter, NULL);
    cr_assert_eq(curio_queue_put_prio(q, I(3), 0), 0); /* g took 1, so 3 fit in */
    ev("main:put3");
    cr_assert_eq(join_release(g), 0);
    char got[64];
    drain(got, sizeof got);
    cr_assert_str_eq(got, "3 2");
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, priority_queue_full_put_waits_then_keeps_its_priority)
{
    expect_log(priority_putter_waits, NULL, "g:ok1 main:put3");
}

/* ---- timeouts and cancellation ---- */

static long timed(void *arg)
{
    /* "get", "put" or "join" under a 5 ms timeout (that cannot expire before the call
     * waits: testutil.h) */
    const char *what = arg;
    void *item = I(-7);
    int rc, closed;
    TIMEOUT_WHILE_WAITING(0.005, rc, closed,
                          what[0] == 'g'   ? curio_queue_get(q, &item)
                          : what[0] == 'p' ? curio_queue_put(q, I(99))
                                           : curio_queue_join(q));
    cr_assert_eq(closed, rc == -ETIMEDOUT ? -ETIMEDOUT : 0);
    if (what[0] == 'g')
        cr_assert_eq(N(item), rc == 0 ? N(item) : -7, "a failed get leaves *item alone");
    ev("%s:%s", what, rcname(rc));
    return rc;
}

static long blocked(void *arg)
{
    const char *what = arg;
    void *item = I(-7);
    int rc = what[0] == 'g' ? curio_queue_get(q, &item)
           : what[0] == 'p' ? curio_queue_put(q, I(98))
                            : curio_queue_join(q);
    ev("%s:%s", what, rcname(rc));
    return rc;
}

static long interrupted_waits(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_queue_create(&q, 1), 0);
    /* Empty: getters wait. */
    curio_task *tg = curio_spawn(timed, "get");
    curio_task *cg = curio_spawn(blocked, "get");
    yield_until_state(cg, "QUEUE_GET");
    cr_assert_eq(curio_cancel(cg), 0);
    cr_assert_eq(curio_task_wait(tg), 0);
    cr_assert_eq(curio_queue_size(q), 0);
    /* Full: putters wait; their items never get in. */
    cr_assert_eq(curio_queue_put(q, I(1)), 0);
    curio_task *tp = curio_spawn(timed, "put");
    curio_task *cp = curio_spawn(blocked, "put");
    yield_until_state(cp, "QUEUE_PUT");
    cr_assert_eq(curio_cancel(cp), 0);
    cr_assert_eq(curio_task_wait(tp), 0);
    cr_assert_eq(curio_queue_size(q), 1);
    /* Unfinished: joiners wait. */
    curio_task *tj = curio_spawn(timed, "join");
    curio_task *cj = curio_spawn(blocked, "join");
    yield_until_state(cj, "QUEUE_JOIN");
    cr_assert_eq(curio_cancel(cj), 0);
    cr_assert_eq(curio_task_wait(tj), 0);
    /* Counts are right and the queue works on. */
    void *item;
    cr_assert_eq(curio_queue_get(q, &item), 0);
    cr_assert_eq(N(item), 1, "only the one item that was put");
    cr_assert_eq(curio_queue_get_nowait(q, &item), -EAGAIN);
    cr_assert_eq(curio_queue_task_done(q), 0);
    cr_assert_eq(curio_queue_task_done(q), -EINVAL, "exactly one unfinished item");
    cr_assert_eq(curio_queue_join(q), 0);
    curio_task *t[] = {tg, cg, tp, cp, tj, cj};
    for (int i = 0; i < 6; i++)
        curio_task_release(t[i]);
    cr_assert_eq(curio_queue_destroy(q), 0, "nobody left in any line");
    return 0;
}

Test(queue, get_put_join_under_timeout_and_cancel)
{
    expect_log(interrupted_waits, NULL,
               "get:ECANCELED get:ETIMEDOUT put:ECANCELED put:ETIMEDOUT join:ECANCELED "
               "join:ETIMEDOUT");
}

/* Handed an item (or a completed put), then cancelled before running: the call still
 * succeeds, nothing is lost; a getter interrupted before the put is skipped. */
static long get_then_yield(void *arg)
{
    const char *name = arg;
    void *item = I(-1);
    int rc = curio_queue_get(q, &item);
    int next = curio_yield();
    ev("%s:%s%d,%s", name, rcname(rc), N(item), rcname(next));
    return 0;
}

static long put_then_yield(void *arg)
{
    const char *name = arg;
    int rc = curio_queue_put(q, I(name[0] == 'x' ? 10 : 20));
    int next = curio_yield();
    ev("%s:%s,%s", name, rcname(rc), rcname(next));
    return 0;
}

static long handed_then_cancelled(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_queue_create(&q, 1), 0);
    curio_task *a = curio_spawn(get_then_yield, "a");
    curio_task *b = curio_spawn(get_then_yield, "b");
    yield_until_state(b, "QUEUE_GET");
    curio_cancel_nowait(a);                      /* before the put: skipped */
    cr_assert_eq(curio_queue_put(q, I(7)), 0);   /* to b */
    curio_cancel_nowait(b);                      /* b was handed 7 */
    cr_assert_eq(curio_task_wait(a), 0);
    cr_assert_eq(curio_task_wait(b), 0);
    cr_assert_eq(curio_queue_size(q), 0, "7 went to b and nowhere else");

    cr_assert_eq(curio_queue_put(q, I(1)), 0);   /* full */
    curio_task *x = curio_spawn(put_then_yield, "x");
    curio_task *y = curio_spawn(put_then_yield, "y");
    yield_until_state(y, "QUEUE_PUT");
    curio_cancel_nowait(x);                      /* before the get: skipped */
    void *item;
    cr_assert_eq(curio_queue_get(q, &item), 0);  /* 1 out, y's 20 in */
    cr_assert_eq(N(item), 1);
    curio_cancel_nowait(y);
    cr_assert_eq(curio_task_wait(x), 0);
    cr_assert_eq(curio_task_wait(y), 0);
    cr_assert_eq(curio_queue_get_nowait(q, &item), 0);
    cr_assert_eq(N(item), 20, "y's put completed");
    cr_assert_eq(curio_queue_get_nowait(q, &item), -EAGAIN, "x's did not");
    curio_task *t[] = {a, b, x, y};
    for (int i = 0; i < 4; i++) {
        cr_assert(curio_task_done(t[i]));
        curio_task_release(t[i]);
    }
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, handed_over_then_cancelled_keeps_the_item_or_the_put)
{
    expect_log(handed_then_cancelled, NULL,
               "a:ECANCELED-1,ECANCELED b:ok7,ECANCELED x:ECANCELED,ECANCELED y:ok,ECANCELED");
}

/* ---- an item belongs to the queue until its getter has run ---- */

static long getter(void *arg)
{
    const char *name = arg;
    void *item = I(-1);
    int rc = curio_queue_get(q, &item);
    ev("%s:%s%d", name, rcname(rc), N(item));
    return rc;
}

static long putter(void *arg)
{
    int rc = curio_queue_put(q, arg);
    ev("p%d:%s", N(arg), rcname(rc));
    return rc;
}

static long promised_counts(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_queue_create(&q, 1), 0);
    curio_task *g = curio_spawn(getter, "g");
    yield_until_state(g, "QUEUE_GET");
    cr_assert_eq(curio_queue_put(q, I(7)), 0, "room: the put does not wait");
    ev("main:put7");
    /* 7 is g's, but still in the queue until g has run. */
    cr_assert_eq(curio_queue_size(q), 1);
    cr_assert(curio_queue_full(q));
    cr_assert(!curio_queue_empty(q));
    cr_assert_eq(curio_queue_put_nowait(q, I(9)), -EAGAIN, "full");
    void *item = I(-1);
    cr_assert_eq(curio_queue_get_nowait(q, &item), -EAGAIN, "7 is promised to g");
    cr_assert_eq(N(item), -1);
    cr_assert_eq(curio_queue_destroy(q), -EBUSY, "g has yet to take 7 out");
    /* A getter that comes later waits in line, and a put waits for room. */
    curio_task *h = curio_spawn(getter, "h");
    curio_task *p = curio_spawn(putter, I(8));
    cr_assert_eq(join_release(g), 0);
    cr_assert_eq(join_release(p), 0);
    cr_assert_eq(join_release(h), 0);
    cr_assert(curio_queue_empty(q));
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, an_item_promised_to_a_woken_getter_counts_until_it_has_run)
{
    /* g takes 7 and lets nothing in (p has not run yet); p finds room; h, in line since
     * before p's put, is promised 8 and takes it. */
    expect_log(promised_counts, NULL, "main:put7 g:ok7 p8:ok h:ok8");
}

/* A getter promised an item whose timeout scope expires before it runs still takes the
 * item; a putter parked on a queue held full by that promise and cancelled there never
 * gets its item in. */
static long scoped_getter(void *arg)
{
    (void)arg;
    curio_scope s;
    cr_assert_eq(curio_timeout_after(&s, 0.005), 0);
    void *item = I(-1);
    int rc = curio_queue_get(q, &item);
    /* Whether a deadline that passed while the task was ready, not blocked, makes the scope
     * expired is the scopes' rule (docs/api.md), not the queue's: either answer will do. */
    int closed = curio_scope_close(&s);
    cr_assert(closed == 0 || closed == -ETIMEDOUT, "close: %d", closed);
    ev("g:%s%d", rcname(rc), N(item));
    return rc;
}

static long canceller(void *arg)
{
    curio_cancel_nowait(arg);
    ev("c:cancel");
    return 0;
}

static long promised_then_interrupted(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_queue_create(&q, 1), 0);
    curio_task *g = curio_spawn(scoped_getter, NULL);
    yield_until_state(g, "QUEUE_GET");
    curio_task *p = curio_spawn(putter, I(8));
    curio_task *c = curio_spawn(canceller, p);
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_queue_put(q, I(7)), 0); /* promised to g; g now runs after p, c */
    ev("main:put7");
    while (secs_since(t0) < 0.01)
        ; /* past g's deadline without letting anything run */
    /* p parks on the full queue, c cancels it, g takes 7 and skips p. */
    cr_assert_eq(curio_task_wait(g), 0);
    cr_assert_eq(curio_task_wait(p), 0);
    cr_assert_eq(join_release(c), 0);
    cr_assert(curio_queue_empty(q), "8 never got in");
    cr_assert_eq(curio_queue_task_done(q), 0);
    cr_assert_eq(curio_queue_task_done(q), -EINVAL, "only 7 was counted");
    curio_task_release(g);
    curio_task_release(p);
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, promised_getter_timed_out_keeps_the_item_cancelled_putter_stays_out)
{
    expect_log(promised_then_interrupted, NULL,
               "main:put7 c:cancel g:ok7 p8:ECANCELED");
}

/* ---- Curio's tests/test_queue.py, case by case ----
 *
 * The same tasks and the same asserted event orders. Curio's sleeps there only let the
 * other tasks run meanwhile: here the tests yield until those tasks wait again, so that no
 * order depends on timing. None is NONE; the other items are small integers. */

static char none_tag;
#define NONE ((void *)&none_tag)

/* consumer(queue, label) of test_queue_simple/unbounded/bounded/sync; `slow` is the
 * bounded case's sleep after each item. */
typedef struct consumer_args {
    const char *label;
    bool slow;
} consumer_args;

static long curio_consumer(void *arg)
{
    const consumer_args *a = arg;
    for (;;) {
        void *item;
        cr_assert_eq(curio_queue_get(q, &item), 0);
        if (item == NONE)
            break;
        ev("%s:%d", a->label, N(item));
        if (a->slow)
            cr_assert_eq(curio_yield(), 0);
        cr_assert_eq(curio_queue_task_done(q), 0);
    }
    cr_assert_eq(curio_queue_task_done(q), 0);
    ev("%s:done", a->label);
    return 0;
}

static void until_all_wait(curio_task **t, int n)
{
    for (int i = 0; i < n; i++)
        yield_until_state(t[i], "QUEUE_GET");
}

/* test_queue_simple, and test_queue_sync with put_nowait for Curio's synchronous put. */
static long curio_simple(void *sync)
{
    static const consumer_args a1 = {"cons1", false}, a2 = {"cons2", false};
    cr_assert_eq(curio_queue_create(&q, 0), 0);
    ev("producer_start");
    curio_task *c[] = {curio_spawn(curio_consumer, (void *)&a1),
                       curio_spawn(curio_consumer, (void *)&a2)};
    until_all_wait(c, 2);
    for (int n = 0; n < 6; n++) {
        void *item = n < 4 ? I(n) : NONE;
        cr_assert_eq(sync ? curio_queue_put_nowait(q, item) : curio_queue_put(q, item), 0);
        if (n < 4)
            until_all_wait(c, 2);
    }
    ev("producer_join");
    cr_assert_eq(curio_queue_join(q), 0);
    ev("producer_done");
    cr_assert_eq(join_release(c[0]) + join_release(c[1]), 0);
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

#define CURIO_SIMPLE_ORDER                                                                 \
    "producer_start cons1:0 cons2:1 cons1:2 cons2:3 producer_join cons1:done cons2:done "  \
    "producer_done"

Test(queue, curio_test_queue_simple)
{
    expect_log(curio_simple, NULL, CURIO_SIMPLE_ORDER);
}

Test(queue, curio_test_queue_sync)
{
    expect_log(curio_simple, "sync", CURIO_SIMPLE_ORDER);
}

/* test_queue_unbounded (maxsize 0) and test_queue_bounded (maxsize 2, a slow consumer). */
static long curio_one_consumer(void *bounded)
{
    static const consumer_args fast = {"cons1", false}, slow = {"cons1", true};
    size_t maxsize = bounded ? 2 : 0;
    cr_assert_eq(curio_queue_create(&q, maxsize), 0);
    ev("producer_start");
    curio_task *c = curio_spawn(curio_consumer, (void *)(bounded ? &slow : &fast));
    until_all_wait(&c, 1);
    for (int n = 0; n < 4; n++) {
        cr_assert_eq(curio_queue_put(q, I(n)), 0);
        if (bounded)
            ev("produced:%d", n);
        cr_assert(!maxsize || curio_queue_size(q) <= maxsize);
        if (bounded && n == 1)
            cr_assert(curio_queue_full(q), "0 and 1 are in: cons1 has not run yet");
    }
    cr_assert_eq(curio_queue_put(q, NONE), 0);
    ev("producer_join");
    cr_assert_eq(curio_queue_join(q), 0);
    ev("producer_done");
    cr_assert_eq(join_release(c), 0);
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, curio_test_queue_unbounded)
{
    expect_log(curio_one_consumer, NULL,
               "producer_start producer_join cons1:0 cons1:1 cons1:2 cons1:3 cons1:done "
               "producer_done");
}

Test(queue, curio_test_queue_bounded)
{
    expect_log(curio_one_consumer, "bounded",
               "producer_start produced:0 produced:1 cons1:0 produced:2 cons1:1 produced:3 "
               "cons1:2 producer_join cons1:3 cons1:done producer_done");
}

/* test_queue_get_cancel and test_queue_put_cancel: a driver cancels the waiting task. */
static long curio_get_cancelled(void *arg)
{
    (void)arg;
    ev("consumer_waiting");
    void *item;
    int rc = curio_queue_get(q, &item);
    ev(rc == -ECANCELED ? "consumer_cancelled" : "not_here");
    return rc;
}

static long curio_put_cancelled(void *arg)
{
    (void)arg;
    ev("producer_start");
    cr_assert_eq(curio_queue_put(q, I(0)), 0);
    int rc = curio_queue_put(q, I(1));
    ev(rc == -ECANCELED ? "producer_cancel" : "not_here");
    return rc;
}

static long curio_driver(void *what)
{
    bool put = !strcmp(what, "put");
    cr_assert_eq(curio_queue_create(&q, put ? 1 : 0), 0);
    curio_task *t = curio_spawn(put ? curio_put_cancelled : curio_get_cancelled, NULL);
    yield_until_state(t, put ? "QUEUE_PUT" : "QUEUE_GET");
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);
    /* Only the first put went in. */
    cr_assert_eq(curio_queue_size(q), put ? 1 : 0);
    void *item;
    if (put) {
        cr_assert_eq(curio_queue_get_nowait(q, &item), 0);
        cr_assert_eq(N(item), 0);
        cr_assert_eq(curio_queue_task_done(q), 0);
    }
    cr_assert_eq(curio_queue_task_done(q), -EINVAL);
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, curio_test_queue_get_cancel)
{
    expect_log(curio_driver, "get", "consumer_waiting consumer_cancelled");
}

Test(queue, curio_test_queue_put_cancel)
{
    expect_log(curio_driver, "put", "producer_start producer_cancel");
}

/* test_queue_get_timeout and test_queue_put_timeout: timeout_after(0.5, queue.get()),
 * here 10 ms, with the function form of timeout_after. */
static long get_one(void *arg)
{
    void *item;
    return curio_queue_get(arg, &item);
}

static long put_one(void *arg) { return curio_queue_put(arg, I(1)); }

static long curio_timeouts(void *put)
{
    long r = 12345;
    int64_t t0 = curio_clock();
    if (!put) {
        cr_assert_eq(curio_queue_create(&q, 0), 0);
        ev("consumer_waiting");
        int rc = curio_timeout_after_call(0.01, get_one, q, &r);
        ev(rc == -ETIMEDOUT ? "consumer_timeout" : "not_here");
    } else {
        cr_assert_eq(curio_queue_create(&q, 1), 0);
        ev("producer_start");
        cr_assert_eq(curio_queue_put(q, I(0)), 0);
        int rc = curio_timeout_after_call(0.01, put_one, q, &r);
        ev(rc == -ETIMEDOUT ? "producer_timeout" : "not_here");
    }
    cr_assert_geq(secs_since(t0), 0.01);
    cr_assert_eq(curio_queue_size(q), put ? 1 : 0, "the timed-out put left nothing");
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, curio_test_queue_get_timeout)
{
    expect_log(curio_timeouts, NULL, "consumer_waiting consumer_timeout");
}

Test(queue, curio_test_queue_put_timeout)
{
    expect_log(curio_timeouts, "put", "producer_start producer_timeout");
}

/* test_priority_queue and test_lifo_queue: everything put before the consumer starts;
 * the consumer sleeps (here: yields) after each item. */
static long curio_drain_consumer(void *arg)
{
    (void)arg;
    for (;;) {
        void *item;
        cr_assert_eq(curio_queue_get(q, &item), 0);
        if (item == NONE)
            break;
        ev("%d", N(item));
        cr_assert_eq(curio_queue_task_done(q), 0);
        cr_assert_eq(curio_yield(), 0);
    }
    cr_assert_eq(curio_queue_task_done(q), 0);
    return 0;
}

static long curio_priority_and_lifo(void *lifo)
{
    if (lifo) {
        cr_assert_eq(curio_lifo_queue_create(&q, 0), 0);
        cr_assert_eq(curio_queue_put(q, NONE), 0);
        for (int n = 0; n < 4; n++)
            cr_assert_eq(curio_queue_put(q, I(n)), 0);
    } else {
        static const int priorities[] = {4, 2, 1, 3};
        cr_assert_eq(curio_priority_queue_create(&q, 0), 0);
        for (int i = 0; i < 4; i++)
            cr_assert_eq(curio_queue_put_prio(q, I(priorities[i]), priorities[i]), 0);
        cr_assert_eq(curio_queue_put_prio(q, NONE, 10), 0);
    }
    curio_task *c = curio_spawn(curio_drain_consumer, NULL);
    cr_assert_eq(curio_queue_join(q), 0);
    cr_assert_eq(join_release(c), 0);
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, curio_test_priority_queue)
{
    expect_log(curio_priority_and_lifo, NULL, "1 2 3 4");
}

Test(queue, curio_test_lifo_queue)
{
    expect_log(curio_priority_and_lifo, "lifo", "3 2 1 0");
}

/* ---- nowait, outside tasks, destroy, misuse ---- */

static long waits_forever(void *arg)
{
    (void)arg;
    void *item;
    return curio_queue_get(q, &item);
}

static long destroy_busy(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_queue_create(&q, 0), 0);
    curio_task *w = curio_spawn(waits_forever, NULL);
    yield_until_state(w, "QUEUE_GET");
    cr_assert_eq(curio_queue_destroy(q), -EBUSY);
    curio_cancel_nowait(w);
    cr_assert_eq(curio_queue_destroy(q), -EBUSY, "cancelled but not yet out of the line");
    cr_assert_eq(curio_task_wait(w), 0);
    curio_task_release(w);
    /* Items still queued are dropped (the storage is freed: ASan checks). */
    for (int i = 0; i < 100; i++)
        cr_assert_eq(curio_queue_put(q, I(i)), 0);
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(queue, destroy_refuses_while_waited_on)
{
    run_main(destroy_busy, NULL);
}

static long from_another_thread(void *arg)
{
    curio_queue *qq = arg;
    void *item;
    return (curio_queue_put(qq, NULL) != -EPERM) + (curio_queue_get(qq, &item) != -EPERM) +
           (curio_queue_put_nowait(qq, NULL) != -EPERM) +
           (curio_queue_get_nowait(qq, &item) != -EPERM) +
           (curio_queue_task_done(qq) != -EPERM) + (curio_queue_join(qq) != -EPERM) +
           (curio_queue_destroy(qq) != -EPERM) + curio_queue_size(qq) + curio_queue_full(qq) +
           curio_queue_empty(qq);
}

static long misuse(void *arg)
{
    curio_queue *qq = arg;
    cr_assert_eq(curio_queue_put(qq, I(5)), 0);
    cr_assert_eq(on_other_thread(from_another_thread, qq), 0);
    cr_assert_eq(on_other_kernel(from_another_thread, qq), 0);
    cr_assert_eq(curio_queue_size(qq), 2, "untouched by the other threads");
    return 0;
}

Test(queue, nowait_outside_tasks_null_and_other_threads)
{
    cr_assert_eq(curio_queue_create(NULL, 0), -EINVAL);
    cr_assert_eq(curio_queue_put(NULL, NULL), -EINVAL);
    cr_assert_eq(curio_queue_put_prio(NULL, NULL, 0), -EINVAL);
    cr_assert_eq(curio_queue_get(NULL, NULL), -EINVAL);
    cr_assert_eq(curio_queue_put_nowait(NULL, NULL), -EINVAL);
    cr_assert_eq(curio_queue_get_nowait(NULL, NULL), -EINVAL);
    cr_assert_eq(curio_queue_task_done(NULL), -EINVAL);
    cr_assert_eq(curio_queue_join(NULL), -EINVAL);
    cr_assert_eq(curio_queue_destroy(NULL), -EINVAL);
    cr_assert_eq(curio_queue_size(NULL), 0);
    cr_assert(!curio_queue_full(NULL));
    cr_assert(!curio_queue_empty(NULL));

    /* Created and filled before any kernel runs, on the thread that will run it. */
    curio_queue *qq;
    cr_assert_eq(curio_queue_create(&qq, 2), 0);
    void *item;
    cr_assert_eq(curio_queue_get(qq, &item), -EPERM, "a blocking call outside a task");
    cr_assert_eq(curio_queue_put(qq, I(1)), -EPERM);
    cr_assert_eq(curio_queue_join(qq), -EPERM);
    cr_assert(curio_queue_empty(qq));
    cr_assert_eq(curio_queue_get_nowait(qq, &item), -EAGAIN);
    cr_assert_eq(curio_queue_put_nowait(qq, I(1)), 0);
    cr_assert(!curio_queue_empty(qq));
    cr_assert_eq(curio_queue_get(qq, NULL), -EINVAL);
    run_main(misuse, qq);
    cr_assert(curio_queue_full(qq));
    cr_assert_eq(curio_queue_put_nowait(qq, I(3)), -EAGAIN);
    cr_assert_eq(curio_queue_get_nowait(qq, &item), 0);
    cr_assert_eq(N(item), 1);
    cr_assert_eq(curio_queue_get_nowait(qq, &item), 0);
    cr_assert_eq(N(item), 5);
    cr_assert_eq(curio_queue_destroy(qq), 0);
}
