/*
 * UniversalQueue: pthreads and tasks (of one or several kernels) on one queue. The how-to's
 * pthread producer and task consumer with join; a task producer and a pthread consumer
 * through a bounded queue; pthread timeouts; task timeouts and cancellation; an item
 * promised to a woken getter counting toward maxsize until the getter has taken it (Curio's
 * back-pressure, in test_queue_bounded's order); Curio's own UniversalQueue tests of
 * tests/test_queue.py; and, built step by step so that the order is certain, the races the
 * design is about: a getter granted an item just as it was cancelled gives its promise up,
 * and the item stays at the front of the queue (or goes to the next getter), a put
 * completed for a putter that has just been cancelled stands.
 *
 * Only the kernel's thread writes the event log; other threads record what they saw in
 * their own variables, checked after they are joined.
 */
#include "synctest.h"

#include "../../sync/universal.h"

#include <math.h>
#include <stdatomic.h>
#include <time.h>

#define I(n) ((void *)(intptr_t)(n))
#define N(p) ((int)(intptr_t)(p))

static curio_universal_queue *q;

static size_t getters(void)
{
    size_t g;
    curio__universal_queue_waiting(q, &g, NULL, NULL);
    return g;
}

static size_t putters(void)
{
    size_t p;
    curio__universal_queue_waiting(q, NULL, &p, NULL);
    return p;
}

/* From a task: sleep a little until cond() holds; after 20 s (the test's .timeout is 30)
 * it never will. */
static void task_until(bool (*cond)(void))
{
    int64_t t0 = curio_clock();
    while (!cond()) {
        cr_assert_lt(secs_since(t0), 20.0, "condition never came true");
        cr_assert_gt(curio_sleep(0.0002), 0);
    }
}

/* From a plain thread (the test's own, outside any kernel). */
static void thread_until(bool (*cond)(void))
{
    int64_t t0 = curio_clock();
    while (!cond()) {
        cr_assert_lt(secs_since(t0), 20.0, "condition never came true");
        nanosleep(&(struct timespec){0, 100000}, NULL);
    }
}

static bool one_getter(void) { return getters() == 1; }
static bool one_putter(void) { return putters() == 1; }

/* ---- the how-to: a pthread producer, a task consumer ---- */

static atomic_int done_count;      /* task_done calls by the consumer */
static int done_seen_by_producer;  /* written by the producer thread, read after its join */
static int producer_rc;

static void *thread_producer(void *arg)
{
    int n = (int)(intptr_t)arg;
    producer_rc = 0;
    for (int i = 0; i < n; i++)
        producer_rc |= curio_universal_queue_put(q, I(i));
    producer_rc |= curio_universal_queue_join(q);
    done_seen_by_producer = atomic_load(&done_count);
    return NULL;
}

static long task_consumer(void *arg)
{
    (void)arg;
    for (;;) {
        void *item;
        int rc = curio_universal_queue_get(q, &item);
        if (rc < 0) {
            ev("consumer:%s", rcname(rc));
            return rc;
        }
        ev("got%d", N(item));
        atomic_fetch_add(&done_count, 1);
        cr_assert_eq(curio_universal_queue_task_done(q), 0);
    }
}

static long howto(void *arg)
{
    (void)arg;
    atomic_store(&done_count, 0);
    cr_assert_eq(curio_universal_queue_create(&q, 0), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, thread_producer, I(10)), 0);
    curio_task *c = curio_spawn(task_consumer, NULL);
    while (atomic_load(&done_count) < 10)
        cr_assert_gt(curio_sleep(0.001), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(producer_rc, 0);
    cr_assert_eq(done_seen_by_producer, 10, "join returned before the last task_done");
    cr_assert_eq(curio_cancel(c), 0);
    curio_task_release(c);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
    return 0;
}

Test(universal_queue, howto_thread_producer_task_consumer, .timeout = 30)
{
    expect_log(howto, NULL,
               "got0 got1 got2 got3 got4 got5 got6 got7 got8 got9 consumer:ECANCELED");
}

/* ---- a task producer, a pthread consumer, a bounded queue ---- */

static int thread_got[20], thread_got_n, thread_rc;

static void *thread_consumer(void *arg)
{
    int n = (int)(intptr_t)arg;
    thread_got_n = 0;
    thread_rc = 0;
    /* Not before the producer waits on the full queue: however the machine schedules the
     * two, it then has found the queue full at least once. */
    while (putters() == 0)
        nanosleep(&(struct timespec){0, 100000}, NULL);
    for (int i = 0; i < n; i++) {
        void *item;
        nanosleep(&(struct timespec){0, 200000}, NULL); /* slower than the task */
        thread_rc |= curio_universal_queue_get(q, &item);
        thread_got[thread_got_n++] = N(item);
        thread_rc |= curio_universal_queue_task_done(q);
    }
    return NULL;
}

static long task_to_thread(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_queue_create(&q, 2), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, thread_consumer, I(20)), 0);
    int waited = 0;
    for (int i = 0; i < 20; i++) {
        if (curio_universal_queue_full(q))
            waited++;
        cr_assert_eq(curio_universal_queue_put(q, I(i)), 0);
        cr_assert_leq(curio_universal_queue_size(q), 2);
    }
    cr_assert_gt(waited, 0, "the producer never found the queue full");
    cr_assert_eq(curio_universal_queue_join(q), 0);
    cr_assert_eq(thread_got_n, 20, "join returned before the last task_done");
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(thread_rc, 0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(thread_got[i], i);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
    return 0;
}

Test(universal_queue, task_producer_thread_consumer_bounded, .timeout = 30)
{
    run_main(task_to_thread, NULL);
}

/* ---- pthreads time out ---- */

Test(universal_queue, thread_timeouts, .timeout = 30)
{
    cr_assert_eq(curio_universal_queue_create(&q, 1), 0);
    void *item = I(-1);
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_universal_queue_get_timeout(q, &item, 0.01), -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.01);
    cr_assert_eq(N(item), -1);
    cr_assert_eq(curio_universal_queue_get_timeout(q, &item, 0), -ETIMEDOUT, "0: no wait");
    cr_assert_eq(curio_universal_queue_join_timeout(q, 0.001), 0, "nothing unfinished");
    cr_assert_eq(curio_universal_queue_put_timeout(q, I(1), 0), 0, "room: no wait needed");
    t0 = curio_clock();
    cr_assert_eq(curio_universal_queue_put_timeout(q, I(2), 0.01), -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.01);
    t0 = curio_clock();
    cr_assert_eq(curio_universal_queue_join_timeout(q, 0.01), -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.01);
    cr_assert_eq(curio_universal_queue_put_timeout(q, I(2), -1), -EINVAL);
    cr_assert_eq(curio_universal_queue_get_timeout(q, &item, NAN), -EINVAL);
    cr_assert_eq(curio_universal_queue_join_timeout(q, -0.5), -EINVAL);
    size_t g, p, j;
    curio__universal_queue_waiting(q, &g, &p, &j);
    cr_assert_eq(g + p + j, 0, "timed-out waiters left their lines");
    cr_assert_eq(curio_universal_queue_size(q), 1);
    cr_assert_eq(curio_universal_queue_get_timeout(q, &item, INFINITY), 0);
    cr_assert_eq(N(item), 1, "only the item that was put");
    cr_assert(curio_universal_queue_empty(q));
    cr_assert_eq(curio_universal_queue_task_done(q), 0);
    cr_assert_eq(curio_universal_queue_task_done(q), -EINVAL);
    cr_assert_eq(curio_universal_queue_join(q), 0);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
}

/* ---- tasks: timeouts and cancellation ---- */

static void *no_item = I(-1);
static int get_op(void *arg) { return curio_universal_queue_get(arg, &no_item); }
static int put_op(void *arg) { return curio_universal_queue_put(arg, I(99)); }
static int join_op(void *arg) { return curio_universal_queue_join(arg); }
static int get_timeout_op(void *arg, double s)
{
    return curio_universal_queue_get_timeout(arg, &no_item, s);
}

/* "get", "get_t" (the _timeout form), "put", "join", under a 5 ms scope except get_t.
 * Main logs the result once it has joined the task: two timers due in one round fire in
 * the order of their deadlines, which a repeated wait (timeout_while_waiting) changes. */
static long task_wait(void *arg)
{
    const char *what = arg;
    int close = 0;
    int rc = !strcmp(what, "get")   ? timeout_while_waiting(0.005, get_op, q, &close)
           : !strcmp(what, "get_t") ? own_timeout_while_waiting(0.005, get_timeout_op, q)
           : !strcmp(what, "put")   ? timeout_while_waiting(0.005, put_op, q, &close)
                                    : timeout_while_waiting(0.005, join_op, q, &close);
    cr_assert_eq(close, strcmp(what, "get_t") && rc == -ETIMEDOUT ? -ETIMEDOUT : 0);
    cr_assert_eq(N(no_item), -1);
    return rc;
}

/* Join timed task t and log its result. */
static void joined(curio_task *t, const char *what)
{
    long r;
    cr_assert_eq(curio_join(t, &r), 0);
    ev("%s:%s", what, rcname(r));
}

static long task_block(void *arg)
{
    const char *what = arg;
    void *item;
    int rc = !strcmp(what, "get") ? curio_universal_queue_get(q, &item)
           : !strcmp(what, "put") ? curio_universal_queue_put(q, I(98))
                                  : curio_universal_queue_join(q);
    ev("%s:%s", what, rcname(rc));
    return rc;
}

static long task_interrupts(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_queue_create(&q, 1), 0);
    curio_task *t1 = curio_spawn(task_wait, "get");
    curio_task *t2 = curio_spawn(task_wait, "get_t");
    curio_task *c = curio_spawn(task_block, "get");
    /* All three wait in the first pass (timers fire only after it). The timeouts are
     * waited for before c is cancelled, so neither can overtake the other. */
    yield_until_state(c, "QUEUE_GET");
    cr_assert_eq(getters(), 3);
    joined(t1, "get");
    joined(t2, "get_t");
    cr_assert_eq(getters(), 1);
    cr_assert_eq(curio_cancel(c), 0);
    cr_assert_eq(getters(), 0);
    cr_assert_eq(curio_universal_queue_put(q, I(1)), 0);
    curio_task *t3 = curio_spawn(task_wait, "put");
    curio_task *c2 = curio_spawn(task_block, "put");
    yield_until_state(c2, "QUEUE_PUT");
    joined(t3, "put");
    cr_assert_eq(curio_cancel(c2), 0);
    curio_task *t4 = curio_spawn(task_wait, "join");
    curio_task *c3 = curio_spawn(task_block, "join");
    yield_until_state(c3, "QUEUE_JOIN");
    joined(t4, "join");
    cr_assert_eq(curio_cancel(c3), 0);
    size_t g, p, j;
    curio__universal_queue_waiting(q, &g, &p, &j);
    cr_assert_eq(g + p + j, 0);
    void *item;
    cr_assert_eq(curio_universal_queue_get(q, &item), 0);
    cr_assert_eq(N(item), 1);
    cr_assert(curio_universal_queue_empty(q));
    cr_assert_eq(curio_universal_queue_task_done(q), 0);
    cr_assert_eq(curio_universal_queue_task_done(q), -EINVAL);
    curio_task *t[] = {t1, t2, c, t3, c2, t4, c3};
    for (int i = 0; i < 7; i++)
        curio_task_release(t[i]);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
    return 0;
}

Test(universal_queue, task_waits_under_timeout_and_cancel, .timeout = 30)
{
    expect_log(task_interrupts, NULL,
               "get:ETIMEDOUT get_t:ETIMEDOUT get:ECANCELED put:ETIMEDOUT put:ECANCELED "
               "join:ETIMEDOUT join:ECANCELED");
}

/* ---- the races, made certain ---- */

static void *put_from_thread(void *arg)
{
    thread_rc = curio_universal_queue_put(q, arg);
    return NULL;
}

static void *get_from_thread(void *arg)
{
    void **out = arg;
    thread_rc = curio_universal_queue_get(q, out);
    return NULL;
}

static void put_on_thread(void *item)
{
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, put_from_thread, item), 0);
    cr_assert_eq(pthread_join(th, NULL), 0); /* the kernel is held meanwhile: nothing runs */
    cr_assert_eq(thread_rc, 0);
}

static long get_then_yield(void *arg)
{
    const char *name = arg;
    void *item = I(-1);
    int rc = curio_universal_queue_get(q, &item);
    int next = curio_yield();
    ev("%s:%s%d,%s", name, rcname(rc), N(item), rcname(next));
    return rc < 0 ? rc : next;
}

/* getter a is cancelled (not yet run, still in line), then a thread puts 7: 7 is promised
 * to a, which gives the promise up; 7 is still at the front, ahead of 8 put meanwhile. */
static long handed_to_cancelled_getter(void *cross_thread)
{
    cr_assert_eq(curio_universal_queue_create(&q, 0), 0);
    curio_task *a = curio_spawn(get_then_yield, "a");
    yield_until_state(a, "QUEUE_GET");
    curio_cancel_nowait(a);
    cr_assert_eq(getters(), 1, "a is still in line");
    if (cross_thread)
        put_on_thread(I(7));
    else
        cr_assert_eq(curio_universal_queue_put(q, I(7)), 0); /* same kernel: no post */
    cr_assert_eq(getters(), 0, "promised to a");
    cr_assert_eq(curio_universal_queue_size(q), 1, "and still in the queue");
    cr_assert_eq(curio_universal_queue_put(q, I(8)), 0);
    ev("main:put");
    cr_assert_eq(curio_task_wait(a), 0);
    cr_assert(curio_task_cancelled(a));
    void *x, *y;
    cr_assert_eq(curio_universal_queue_get(q, &x), 0);
    cr_assert_eq(curio_universal_queue_get(q, &y), 0);
    ev("main:%d,%d", N(x), N(y));
    cr_assert(curio_universal_queue_empty(q));
    for (int i = 0; i < 2; i++)
        cr_assert_eq(curio_universal_queue_task_done(q), 0);
    cr_assert_eq(curio_universal_queue_task_done(q), -EINVAL, "7 was counted once");
    curio_task_release(a);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
    return 0;
}

Test(universal_queue, item_promised_to_a_cancelled_getter_stays_at_the_front, .timeout = 30)
{
    expect_log(handed_to_cancelled_getter, "thread",
               "main:put a:ECANCELED-1,ECANCELED main:7,8");
}

Test(universal_queue, same_for_a_put_by_a_task_of_the_same_kernel, .timeout = 30)
{
    expect_log(handed_to_cancelled_getter, NULL, "main:put a:ECANCELED-1,ECANCELED main:7,8");
}

/* The same with b in line behind a: the item given back goes to b. */
static long handed_on_to_the_next_getter(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_queue_create(&q, 0), 0);
    curio_task *a = curio_spawn(get_then_yield, "a");
    curio_task *b = curio_spawn(get_then_yield, "b");
    yield_until_state(b, "QUEUE_GET");
    curio_cancel_nowait(a);
    put_on_thread(I(7));
    cr_assert_eq(getters(), 1, "b still waits");
    cr_assert_eq(curio_task_wait(a), 0);
    cr_assert_eq(curio_task_wait(b), 0);
    cr_assert(curio_universal_queue_empty(q));
    curio_task_release(a);
    curio_task_release(b);
    cr_assert_eq(curio_universal_queue_task_done(q), 0);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
    return 0;
}

Test(universal_queue, item_given_back_goes_to_the_next_getter, .timeout = 30)
{
    /* b runs first: a, having given 7 back to b, still waits for the wake-up the thread
     * posted for it, which the kernel runs after its ready tasks. */
    expect_log(handed_on_to_the_next_getter, NULL, "b:ok7,ok a:ECANCELED-1,ECANCELED");
}

/* A putter on a full queue is cancelled; then a thread's get moves its item in: the put
 * completed, so it returns 0 and the cancellation comes at its next blocking call. */
static long put_then_yield(void *arg)
{
    int rc = curio_universal_queue_put(q, arg);
    int next = curio_yield();
    ev("p:%s,%s", rcname(rc), rcname(next));
    return 0;
}

static long put_completed_for_a_cancelled_putter(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_queue_create(&q, 1), 0);
    cr_assert_eq(curio_universal_queue_put(q, I(1)), 0);
    curio_task *p = curio_spawn(put_then_yield, I(2));
    yield_until_state(p, "QUEUE_PUT");
    curio_cancel_nowait(p);
    void *got = NULL;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, get_from_thread, &got), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(thread_rc, 0);
    cr_assert_eq(N(got), 1);
    cr_assert_eq(curio_task_wait(p), 0);
    void *item;
    cr_assert_eq(curio_universal_queue_get_timeout(q, &item, 0), 0);
    cr_assert_eq(N(item), 2, "the cancelled putter's item is in");
    curio_task_release(p);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
    return 0;
}

Test(universal_queue, put_completed_for_a_cancelled_putter_stands, .timeout = 30)
{
    expect_log(put_completed_for_a_cancelled_putter, NULL, "p:ok,ECANCELED");
}

/* ---- an item belongs to the queue until its getter has run ---- */

static long task_getter(void *arg)
{
    const char *name = arg;
    void *item = I(-1);
    int rc = curio_universal_queue_get(q, &item);
    ev("%s:%s%d", name, rcname(rc), N(item));
    return rc;
}

static long promised_counts(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_queue_create(&q, 1), 0);
    curio_task *g = curio_spawn(task_getter, "g");
    yield_until_state(g, "QUEUE_GET");
    cr_assert_eq(curio_universal_queue_put(q, I(7)), 0);
    ev("main:put7");
    cr_assert_eq(curio_universal_queue_size(q), 1, "7 is g's, but still in the queue");
    cr_assert(curio_universal_queue_full(q));
    cr_assert(!curio_universal_queue_empty(q));
    cr_assert_eq(curio_universal_queue_put_timeout(q, I(9), 0), -ETIMEDOUT, "full");
    void *item = I(-1);
    cr_assert_eq(curio_universal_queue_get_timeout(q, &item, 0), -ETIMEDOUT, "promised");
    cr_assert_eq(N(item), -1);
    cr_assert_eq(curio_universal_queue_destroy(q), -EBUSY, "g has yet to take 7 out");
    curio_task *h = curio_spawn(task_getter, "h");
    cr_assert_eq(join_release(g), 0);
    cr_assert_eq(curio_universal_queue_put_timeout(q, I(8), 0), 0, "g made room");
    ev("main:put8");
    cr_assert_eq(join_release(h), 0);
    cr_assert(curio_universal_queue_empty(q));
    for (int i = 0; i < 2; i++)
        cr_assert_eq(curio_universal_queue_task_done(q), 0);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
    return 0;
}

Test(universal_queue, an_item_promised_to_a_woken_getter_counts_until_it_has_run,
     .timeout = 30)
{
    expect_log(promised_counts, NULL, "main:put7 g:ok7 main:put8 h:ok8");
}

/* ---- Curio's tests/test_queue.py, case by case ----
 *
 * test_queue_bounded on a UniversalQueue (tasks of one kernel), and Curio's
 * test_univ_queue_* cases. Curio's sleeps shrink to milliseconds: in the threaded cases
 * they only vary how often a wait happens, never what is asserted. None is NONE. */

static char none_tag;
#define NONE ((void *)&none_tag)

static long bounded_consumer(void *arg)
{
    (void)arg;
    for (;;) {
        void *item;
        cr_assert_eq(curio_universal_queue_get(q, &item), 0);
        if (item == NONE)
            break;
        ev("cons1:%d", N(item));
        cr_assert_eq(curio_yield(), 0); /* Curio's sleep(0.1) */
        cr_assert_eq(curio_universal_queue_task_done(q), 0);
    }
    cr_assert_eq(curio_universal_queue_task_done(q), 0);
    ev("cons1:done");
    return 0;
}

static long curio_bounded(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_queue_create(&q, 2), 0);
    ev("producer_start");
    curio_task *c = curio_spawn(bounded_consumer, NULL);
    yield_until_state(c, "QUEUE_GET");
    for (int n = 0; n < 4; n++) {
        cr_assert_eq(curio_universal_queue_put(q, I(n)), 0);
        ev("produced:%d", n);
        cr_assert_leq(curio_universal_queue_size(q), 2);
    }
    cr_assert_eq(curio_universal_queue_put(q, NONE), 0);
    ev("producer_join");
    cr_assert_eq(curio_universal_queue_join(q), 0);
    ev("producer_done");
    cr_assert_eq(join_release(c), 0);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
    return 0;
}

Test(universal_queue, curio_test_queue_bounded, .timeout = 30)
{
    expect_log(curio_bounded, NULL,
               "producer_start produced:0 produced:1 cons1:0 produced:2 cons1:1 produced:3 "
               "cons1:2 producer_join cons1:3 cons1:done producer_done");
}

/* A task consumer of test_univ_queue_sync_async and test_univ_queue_cancel: logs each
 * item until NONE. `timed`: each get under a 1 ms timeout (Curio's timeout_after(0.1)),
 * retried when it expires; alternately a scope and the _timeout form. */
static long univ_consumer(void *timed)
{
    for (int turn = 0;; turn++) {
        void *item;
        int rc;
        if (!timed) {
            rc = curio_universal_queue_get(q, &item);
        } else if (turn % 2) {
            rc = curio_universal_queue_get_timeout(q, &item, 0.001);
        } else {
            curio_scope s;
            cr_assert_eq(curio_timeout_after(&s, 0.001), 0);
            rc = curio_universal_queue_get(q, &item);
            int closed = curio_scope_close(&s);
            cr_assert(closed == 0 || closed == -ETIMEDOUT);
        }
        if (timed && rc == -ETIMEDOUT)
            continue;
        cr_assert_eq(rc, 0);
        if (item == NONE)
            return 0;
        ev("%d", N(item));
        cr_assert_eq(curio_universal_queue_task_done(q), 0);
    }
}

static void *univ_thread_producer(void *arg)
{
    long pause_ns = (long)(intptr_t)arg;
    thread_rc = 0;
    for (int i = 0; i < 10; i++) {
        thread_rc |= curio_universal_queue_put(q, I(i));
        nanosleep(&(struct timespec){0, pause_ns}, NULL);
    }
    thread_rc |= curio_universal_queue_join(q);
    return NULL;
}

/* In a pool thread: Curio's run_in_thread(t.join). */
static long join_pthread(void *arg)
{
    return pthread_join(*(pthread_t *)arg, NULL);
}

/* test_univ_queue_sync_async (unbounded, get without timeout) and test_univ_queue_cancel
 * (maxsize 2, each get under a timeout, the producer slower than the timeout). */
static long curio_sync_async(void *timed)
{
    cr_assert_eq(curio_universal_queue_create(&q, timed ? 2 : 0), 0);
    curio_task *t1 = curio_spawn(univ_consumer, timed);
    pthread_t t2;
    long pause_ns = timed ? 2000000 : 1000000;
    cr_assert_eq(pthread_create(&t2, NULL, univ_thread_producer, I(pause_ns)), 0);
    long r = -1;
    cr_assert_eq(curio_run_in_thread(join_pthread, &t2, &r), 0);
    cr_assert_eq(r, 0);
    cr_assert_eq(thread_rc, 0);
    cr_assert_eq(curio_universal_queue_put(q, NONE), 0);
    cr_assert_eq(join_release(t1), 0);
    cr_assert(curio_universal_queue_empty(q));
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
    return 0;
}

Test(universal_queue, curio_test_univ_queue_sync_async, .timeout = 30)
{
    expect_log(curio_sync_async, NULL, "0 1 2 3 4 5 6 7 8 9");
}

Test(universal_queue, curio_test_univ_queue_cancel, .timeout = 30)
{
    expect_log(curio_sync_async, "timed", "0 1 2 3 4 5 6 7 8 9");
}

/* test_univ_queue_async_sync: a task producer, a thread consumer. */
static void *univ_thread_consumer(void *arg)
{
    (void)arg;
    thread_got_n = 0;
    thread_rc = 0;
    for (;;) {
        void *item;
        thread_rc |= curio_universal_queue_get(q, &item);
        if (thread_rc || item == NONE)
            return NULL;
        thread_got[thread_got_n++] = N(item);
        thread_rc |= curio_universal_queue_task_done(q);
    }
}

static long univ_task_producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(curio_universal_queue_put(q, I(i)), 0);
        cr_assert_gt(curio_sleep(0.001), 0);
    }
    cr_assert_eq(curio_universal_queue_join(q), 0);
    return 0;
}

static long curio_async_sync(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_queue_create(&q, 0), 0);
    pthread_t t1;
    cr_assert_eq(pthread_create(&t1, NULL, univ_thread_consumer, NULL), 0);
    curio_task *t2 = curio_spawn(univ_task_producer, NULL);
    cr_assert_eq(join_release(t2), 0);
    cr_assert_eq(curio_universal_queue_put(q, NONE), 0);
    long r = -1;
    cr_assert_eq(curio_run_in_thread(join_pthread, &t1, &r), 0);
    cr_assert_eq(r, 0);
    cr_assert_eq(thread_rc, 0);
    cr_assert_eq(thread_got_n, 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(thread_got[i], i);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
    return 0;
}

Test(universal_queue, curio_test_univ_queue_async_sync, .timeout = 30)
{
    run_main(curio_async_sync, NULL);
}

/* test_univ_queue_multiple_consumer (three tasks of this kernel) and
 * test_univ_queue_multiple_kernels (one task in each of three kernels on their own
 * threads): a thread puts 1000 items into a queue of 10 and joins it; every item is
 * consumed exactly once. */
#define MANY 1000
static atomic_uchar many_seen[MANY];

static long many_consumer(void *arg)
{
    (void)arg;
    for (;;) {
        void *item;
        int rc = curio_universal_queue_get(q, &item);
        if (rc < 0)
            return rc;
        if (item == NONE)
            return 0;
        atomic_fetch_add(&many_seen[N(item)], 1);
        if (curio_universal_queue_task_done(q) < 0)
            return -EINVAL;
    }
}

static void *many_producer(void *arg)
{
    (void)arg;
    thread_rc = 0;
    for (int i = 0; i < MANY; i++)
        thread_rc |= curio_universal_queue_put(q, I(i));
    thread_rc |= curio_universal_queue_join(q);
    return NULL;
}

static void *consumer_kernel(void *arg)
{
    long *r = arg;
    int rc = curio_run(many_consumer, NULL, NULL, r);
    if (rc < 0)
        *r = rc;
    return NULL;
}

static long curio_multiple(void *kernels)
{
    cr_assert_eq(curio_universal_queue_create(&q, 10), 0);
    for (int i = 0; i < MANY; i++)
        atomic_store(&many_seen[i], 0);
    curio_task *t[3] = {0};
    pthread_t k[3];
    long kr[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++) {
        if (kernels)
            cr_assert_eq(pthread_create(&k[i], NULL, consumer_kernel, &kr[i]), 0);
        else
            t[i] = curio_spawn(many_consumer, NULL);
    }
    pthread_t p;
    cr_assert_eq(pthread_create(&p, NULL, many_producer, NULL), 0);
    long r = -1;
    cr_assert_eq(curio_run_in_thread(join_pthread, &p, &r), 0);
    cr_assert_eq(r, 0);
    cr_assert_eq(thread_rc, 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(curio_universal_queue_put(q, NONE), 0);
    for (int i = 0; i < 3; i++) {
        if (kernels) {
            cr_assert_eq(curio_run_in_thread(join_pthread, &k[i], &r), 0);
            cr_assert_eq(r, 0);
            cr_assert_eq(kr[i], 0);
        } else {
            cr_assert_eq(join_release(t[i]), 0);
        }
    }
    for (int i = 0; i < MANY; i++)
        cr_assert_eq(atomic_load(&many_seen[i]), 1, "item %d", i);
    cr_assert(curio_universal_queue_empty(q));
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
    return 0;
}

Test(universal_queue, curio_test_univ_queue_multiple_consumer, .timeout = 30)
{
    run_main(curio_multiple, NULL);
}

Test(universal_queue, curio_test_univ_queue_multiple_kernels, .timeout = 30)
{
    run_main(curio_multiple, "kernels");
}

/* ---- several kernels and a pthread share one queue ---- */

#define SHARED_ITEMS 3000
static atomic_uchar seen[SHARED_ITEMS];
static atomic_int dups;

static long kernel_consumer(void *arg)
{
    (void)arg;
    long n = 0;
    for (;;) {
        void *item;
        int rc = curio_universal_queue_get(q, &item);
        if (rc < 0)
            return rc;
        if (N(item) < 0)
            return n;
        if (atomic_fetch_add(&seen[N(item)], 1))
            atomic_fetch_add(&dups, 1);
        n++;
        if (n % 7 == 0)
            curio_yield();
    }
}

static long kernel_main(void *arg)
{
    /* two consumer tasks on this kernel; each stops at its own sentinel */
    (void)arg;
    curio_task *a = curio_spawn(kernel_consumer, NULL);
    curio_task *b = curio_spawn(kernel_consumer, NULL);
    long ra = -1, rb = -1;
    if (curio_join(a, &ra) < 0 || curio_join(b, &rb) < 0)
        return -1;
    curio_task_release(a);
    curio_task_release(b);
    return ra < 0 || rb < 0 ? -1 : ra + rb;
}

static void *kernel_thread(void *arg)
{
    long *r = arg;
    int rc = curio_run(kernel_main, NULL, NULL, r);
    if (rc < 0)
        *r = rc;
    return NULL;
}

static void *thread_consumer_until_sentinel(void *arg)
{
    long *n = arg;
    for (;;) {
        void *item;
        if (curio_universal_queue_get(q, &item) < 0) {
            *n = -1;
            return NULL;
        }
        if (N(item) < 0)
            return NULL;
        if (atomic_fetch_add(&seen[N(item)], 1))
            atomic_fetch_add(&dups, 1);
        ++*n;
    }
}

Test(universal_queue, tasks_of_two_kernels_and_a_thread_share_it, .timeout = 30)
{
    cr_assert_eq(curio_universal_queue_create(&q, 16), 0);
    memset(seen, 0, sizeof seen);
    atomic_store(&dups, 0);
    long r1 = 0, r2 = 0, r3 = 0;
    pthread_t k1, k2, t3;
    cr_assert_eq(pthread_create(&k1, NULL, kernel_thread, &r1), 0);
    cr_assert_eq(pthread_create(&k2, NULL, kernel_thread, &r2), 0);
    cr_assert_eq(pthread_create(&t3, NULL, thread_consumer_until_sentinel, &r3), 0);
    for (int i = 0; i < SHARED_ITEMS; i++)
        cr_assert_eq(curio_universal_queue_put(q, I(i)), 0);
    for (int i = 0; i < 5; i++) /* 4 consumer tasks + 1 thread */
        cr_assert_eq(curio_universal_queue_put(q, I(-1)), 0);
    cr_assert_eq(pthread_join(k1, NULL), 0);
    cr_assert_eq(pthread_join(k2, NULL), 0);
    cr_assert_eq(pthread_join(t3, NULL), 0);
    cr_assert_geq(r1, 0);
    cr_assert_geq(r2, 0);
    cr_assert_geq(r3, 0);
    cr_assert_eq(r1 + r2 + r3, SHARED_ITEMS);
    cr_assert_eq(atomic_load(&dups), 0);
    for (int i = 0; i < SHARED_ITEMS; i++)
        cr_assert_eq(atomic_load(&seen[i]), 1, "item %d", i);
    cr_assert(curio_universal_queue_empty(q));
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
}

/* ---- outside tasks, destroy, NULL ---- */

Test(universal_queue, on_a_kernel_thread_outside_tasks_waiting_is_refused, .timeout = 30)
{
    cr_assert_eq(curio_universal_queue_create(&q, 1), 0);
    curio_kernel *k;
    cr_assert_eq(curio_kernel_create(&k, NULL), 0);
    void *item;
    cr_assert_eq(curio_universal_queue_get(q, &item), -EPERM, "would stall the kernel");
    cr_assert_eq(curio_universal_queue_put(q, I(1)), 0, "needs no wait");
    cr_assert_eq(curio_universal_queue_put(q, I(2)), -EPERM);
    cr_assert_eq(curio_universal_queue_join(q), -EPERM);
    cr_assert_eq(curio_universal_queue_get(q, &item), 0);
    cr_assert_eq(N(item), 1);
    cr_assert_eq(curio_universal_queue_task_done(q), 0);
    cr_assert_eq(curio_universal_queue_join(q), 0);
    curio_kernel_destroy(k);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
}

static void *blocked_getter(void *arg)
{
    (void)arg;
    void *item;
    thread_rc = curio_universal_queue_get(q, &item);
    return NULL;
}

Test(universal_queue, destroy_refuses_while_a_thread_waits, .timeout = 30)
{
    cr_assert_eq(curio_universal_queue_create(&q, 0), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, blocked_getter, NULL), 0);
    thread_until(one_getter);
    cr_assert_eq(curio_universal_queue_destroy(q), -EBUSY);
    cr_assert_eq(curio_universal_queue_put(q, NULL), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(thread_rc, 0);
    for (int i = 0; i < 100; i++) /* dropped by destroy; the ring is freed (ASan) */
        cr_assert_eq(curio_universal_queue_put(q, I(i)), 0);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
}

Test(universal_queue, null_arguments)
{
    void *item;
    cr_assert_eq(curio_universal_queue_create(NULL, 0), -EINVAL);
    cr_assert_eq(curio_universal_queue_destroy(NULL), -EINVAL);
    cr_assert_eq(curio_universal_queue_put(NULL, NULL), -EINVAL);
    cr_assert_eq(curio_universal_queue_put_timeout(NULL, NULL, 1), -EINVAL);
    cr_assert_eq(curio_universal_queue_get(NULL, &item), -EINVAL);
    cr_assert_eq(curio_universal_queue_get_timeout(NULL, &item, 1), -EINVAL);
    cr_assert_eq(curio_universal_queue_task_done(NULL), -EINVAL);
    cr_assert_eq(curio_universal_queue_join(NULL), -EINVAL);
    cr_assert_eq(curio_universal_queue_join_timeout(NULL, 1), -EINVAL);
    cr_assert_eq(curio_universal_queue_size(NULL), 0);
    cr_assert(!curio_universal_queue_empty(NULL));
    cr_assert(!curio_universal_queue_full(NULL));
    cr_assert_eq(curio_universal_queue_create(&q, 0), 0);
    cr_assert_eq(curio_universal_queue_get(q, NULL), -EINVAL);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
}

/* A thread waits in get while a task of a kernel puts, and the other way round, with the
 * thread's line checked before the put so that it really was waiting. */
static long task_puts_to_waiting_thread(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_queue_create(&q, 1), 0);
    void *got = NULL;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, get_from_thread, &got), 0);
    task_until(one_getter);
    cr_assert_eq(curio_universal_queue_put(q, I(5)), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(thread_rc, 0);
    cr_assert_eq(N(got), 5);
    /* Full: a thread's put waits until this task's get makes room. */
    cr_assert_eq(curio_universal_queue_put(q, I(6)), 0);
    cr_assert_eq(pthread_create(&th, NULL, put_from_thread, I(7)), 0);
    task_until(one_putter);
    void *item;
    cr_assert_eq(curio_universal_queue_get(q, &item), 0);
    cr_assert_eq(N(item), 6);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(thread_rc, 0);
    cr_assert_eq(curio_universal_queue_get(q, &item), 0);
    cr_assert_eq(N(item), 7);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
    return 0;
}

Test(universal_queue, thread_waiters_woken_by_a_task, .timeout = 30)
{
    run_main(task_puts_to_waiting_thread, NULL);
}

