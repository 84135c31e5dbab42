/*
 * curio_kernel_post: other threads asking the kernel to run a function on its own thread.
 * A posted function wakes a blocked task; many threads post at once and every post runs
 * exactly once; a waiter cancelled or timed out before the post arrives is left alone.
 *
 * Only the kernel's thread writes the event log (ev() is not thread-safe); the posting
 * threads record what they saw in their own variables, checked after pthread_join.
 */
#include "testutil.h"
#include "kernel.h"
#include "waitq.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

/* ------------------------------------------------------------------------------------ */
/* (a) a thread wakes a blocked task                                                    */
/* ------------------------------------------------------------------------------------ */

typedef struct wake_ctx {
    curio_kernel *k;
    pthread_t kthread;
    curio_task *waiter;
    curio__waitq q;
    int post_rc;
    bool on_kernel_thread, outside_task, kernel_current;
    char state_seen[32];
    size_t woken;
} wake_ctx;

static void wake_fn(void *arg)
{
    wake_ctx *c = arg;
    ev("post:run");
    c->on_kernel_thread = pthread_equal(pthread_self(), c->kthread);
    c->outside_task = curio_current() == NULL;
    c->kernel_current = curio_kernel_current() == c->k;
    snprintf(c->state_seen, sizeof c->state_seen, "%s", curio_task_state(c->waiter));
    c->woken = curio__waitq_wake_all(&c->q);
}

static void *wake_thread(void *arg)
{
    wake_ctx *c = arg;
    c->post_rc = curio_kernel_post(c->k, wake_fn, c);
    return NULL;
}

static long wait_for_thread(void *arg)
{
    (void)arg;
    wake_ctx c = {0};
    c.k = curio_kernel_current();
    c.kthread = pthread_self();
    c.waiter = curio_current();
    cr_assert_not_null(c.k);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, wake_thread, &c), 0);
    ev("main:created");
    /* No timer and no other task: the kernel sleeps in io_uring until the post wakes it. */
    int rc = curio__waitq_wait(&c.q, &(curio__waiter){0}, "FUTURE_WAIT");
    ev("main:woken=%d", rc);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(rc, 0);
    cr_assert_eq(c.post_rc, 0);
    cr_assert(c.on_kernel_thread, "a posted function runs on the kernel's thread");
    cr_assert(c.outside_task, "a posted function runs outside any task");
    cr_assert(c.kernel_current, "curio_kernel_current() in a posted function");
    cr_assert_str_eq(c.state_seen, "FUTURE_WAIT");
    cr_assert_eq(c.woken, 1);
    cr_assert(curio__waitq_empty(&c.q));
    return 0;
}

Test(post, thread_post_wakes_a_blocked_task, .timeout = 30)
{
    ev_reset();
    int fds = count_fds();
    run_main(wait_for_thread, NULL);
    cr_assert_str_eq(evlog, "main:created post:run main:woken=0");
    cr_assert_eq(count_fds(), fds, "the kernel leaked descriptors");
}

/* ------------------------------------------------------------------------------------ */
/* (b) 4 threads x 10,000 posts, each delivered exactly once                            */
/* ------------------------------------------------------------------------------------ */

#define NTHREADS 4
#define PER_THREAD 10000
#define TOTAL (NTHREADS * PER_THREAD)

static struct {
    curio_kernel *k;
    pthread_t kthread;
    curio__waitq q;
    long count;
    unsigned char seen[TOTAL];
    long dups, bad_ids, wrong_thread, in_task;
    pthread_barrier_t start;
    atomic_int post_errors;
} S;

static void count_fn(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    if (!pthread_equal(pthread_self(), S.kthread))
        S.wrong_thread++;
    if (curio_current() != NULL)
        S.in_task++;
    if (id >= TOTAL) {
        S.bad_ids++;
        return;
    }
    if (S.seen[id]++)
        S.dups++;
    if (++S.count == TOTAL)
        curio__waitq_wake_all(&S.q);
}

static void *count_thread(void *arg)
{
    uintptr_t t = (uintptr_t)arg;
    pthread_barrier_wait(&S.start);
    for (uintptr_t i = 0; i < PER_THREAD; i++) {
        if (curio_kernel_post(S.k, count_fn, (void *)(t * PER_THREAD + i)) != 0)
            atomic_fetch_add(&S.post_errors, 1);
        if (i % 1000 == 999)
            sched_yield(); /* vary the interleaving with the kernel */
    }
    return NULL;
}

static void start_counters(pthread_t *th)
{
    memset(&S, 0, sizeof S);
    S.k = curio_kernel_current();
    S.kthread = pthread_self();
    cr_assert_eq(pthread_barrier_init(&S.start, NULL, NTHREADS), 0);
    for (uintptr_t t = 0; t < NTHREADS; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, count_thread, (void *)t), 0);
}

static void finish_counters(pthread_t *th)
{
    for (int t = 0; t < NTHREADS; t++)
        cr_assert_eq(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&S.start);
    /* Give any stray duplicate a chance to show up. */
    for (int i = 0; i < 10; i++)
        cr_assert_eq(curio_yield(), 0);
    cr_assert_gt(curio_sleep(0.01), 0);
    cr_assert_eq(atomic_load(&S.post_errors), 0);
    cr_assert_eq(S.count, TOTAL);
    cr_assert_eq(S.dups, 0, "posts delivered twice");
    cr_assert_eq(S.bad_ids, 0);
    cr_assert_eq(S.wrong_thread, 0, "posted functions ran on another thread");
    cr_assert_eq(S.in_task, 0, "posted functions ran inside a task");
    for (size_t i = 0; i < TOTAL; i++)
        cr_assert_eq(S.seen[i], 1, "post %zu (thread %zu, #%zu) ran %d times", i,
                     i / PER_THREAD, i % PER_THREAD, S.seen[i]);
}

static long count_blocked(void *arg)
{
    (void)arg;
    pthread_t th[NTHREADS];
    start_counters(th);
    /* The scope only turns a lost post into a failure instead of a hang. */
    curio_scope s;
    cr_assert_eq(curio_timeout_after(&s, 25), 0);
    int rc = 0;
    while (S.count < TOTAL && rc == 0)
        rc = curio__waitq_wait(&S.q, &(curio__waiter){0}, "FUTURE_WAIT");
    cr_assert_eq(curio_scope_close(&s), 0, "timed out with %ld of %d posts delivered",
                 S.count, TOTAL);
    cr_assert_eq(rc, 0);
    finish_counters(th);
    return 0;
}

Test(post, four_threads_post_40000_while_the_task_waits, .timeout = 30)
{
    int fds = count_fds();
    run_main(count_blocked, NULL);
    cr_assert_eq(count_fds(), fds, "the kernel leaked descriptors");
}

static long count_busy(void *arg)
{
    (void)arg;
    pthread_t th[NTHREADS];
    start_counters(th);
    /* Here the kernel never idles: a task keeps yielding while the posts arrive. */
    curio_scope s;
    cr_assert_eq(curio_timeout_after(&s, 25), 0);
    int rc = 0;
    while (S.count < TOTAL && rc == 0)
        rc = curio_yield();
    cr_assert_eq(curio_scope_close(&s), 0, "timed out with %ld of %d posts delivered",
                 S.count, TOTAL);
    cr_assert_eq(rc, 0);
    finish_counters(th);
    return 0;
}

Test(post, four_threads_post_40000_while_a_task_yields, .timeout = 30)
{
    run_main(count_busy, NULL);
}

/* ------------------------------------------------------------------------------------ */
/* Posts from the kernel's own thread                                                   */
/* ------------------------------------------------------------------------------------ */

static int self_posts;
static curio__waitq self_q;

static void self_fn(void *arg)
{
    (void)arg;
    ev("post:run");
    self_posts++;
    curio__waitq_wake_all(&self_q);
}

static long wait_self_post(void *arg)
{
    (void)arg;
    ev("main:start");
    while (self_posts == 0)
        cr_assert_eq(curio__waitq_wait(&self_q, &(curio__waiter){0}, "FUTURE_WAIT"), 0);
    ev("main:woken");
    return 0;
}

Test(post, post_made_before_run_is_delivered_during_run, .timeout = 30)
{
    ev_reset();
    curio_kernel *k;
    cr_assert_eq(curio_kernel_create(&k, NULL), 0);
    cr_assert_eq(curio_kernel_post(k, self_fn, NULL), 0);
    long res = -1;
    cr_assert_eq(curio_kernel_run(k, wait_self_post, NULL, &res), 0);
    curio_kernel_destroy(k);
    cr_assert_eq(self_posts, 1);
    cr_assert_str_eq(evlog, "main:start post:run main:woken");
}

static long post_and_leave(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_kernel_post(curio_kernel_current(), self_fn, NULL), 0);
    ev("main:posted");
    return 0; /* ends before the kernel gets to run the post */
}

Test(post, post_pending_when_main_ends_still_runs_once, .timeout = 30)
{
    ev_reset();
    run_main(post_and_leave, NULL);
    cr_assert_eq(self_posts, 1, "the post ran %d times", self_posts);
    cr_assert_str_eq(evlog, "main:posted post:run");
}

/* ------------------------------------------------------------------------------------ */
/* (c) the waiter gives up before the post arrives                                      */
/* ------------------------------------------------------------------------------------ */

typedef struct late_ctx {
    curio_kernel *k;
    curio__waitq q;       /* what the waiters wait on; the post wakes it */
    curio__waitq done_q;  /* main waits here for the post to have run */
    sem_t go;             /* holds the posting thread back when gate is set */
    bool gate;
    int ran;
    size_t woken;
    int post_rc;
} late_ctx;

typedef struct waiter_ctx {
    const char *name;
    curio__waitq *q;
    double timeout;       /* > 0: wait inside a timeout scope of this many seconds */
    int wait_rc, next_rc, close_rc;
} waiter_ctx;

static void late_fn(void *arg)
{
    late_ctx *c = arg;
    c->woken += curio__waitq_wake_all(&c->q);
    c->ran++;
    curio__waitq_wake_all(&c->done_q);
}

static void *late_thread(void *arg)
{
    late_ctx *c = arg;
    if (c->gate)
        while (sem_wait(&c->go) != 0)
            ;
    c->post_rc = curio_kernel_post(c->k, late_fn, c);
    return NULL;
}

static long late_waiter(void *arg)
{
    waiter_ctx *w = arg;
    curio_scope s;
    if (w->timeout > 0)
        cr_assert_eq(curio_timeout_after(&s, w->timeout), 0);
    w->wait_rc = curio__waitq_wait(w->q, &(curio__waiter){0}, "FUTURE_WAIT");
    w->next_rc = curio_yield();
    if (w->timeout > 0)
        w->close_rc = curio_scope_close(&s);
    if (w->name)
        ev("%s:%s", w->name,
           w->wait_rc == -ETIMEDOUT ? "timedout" : w->wait_rc == -ECANCELED ? "cancelled" : "?");
    return w->wait_rc < 0 ? w->wait_rc : w->next_rc;
}

static void wait_post_ran(late_ctx *c)
{
    curio_scope s;
    cr_assert_eq(curio_timeout_after(&s, 20), 0);
    while (!c->ran)
        cr_assert_eq(curio__waitq_wait(&c->done_q, &(curio__waiter){0}, "FUTURE_WAIT"), 0,
                     "the post never ran");
    cr_assert_eq(curio_scope_close(&s), 0);
}

static void yield_until_state(curio_task *t, const char *state)
{
    for (int i = 0; i < 10000 && strcmp(curio_task_state(t), state) != 0; i++)
        cr_assert_eq(curio_yield(), 0);
    cr_assert_str_eq(curio_task_state(t), state);
}

static long gave_up_before_post(void *arg)
{
    (void)arg;
    late_ctx c = {0};
    c.k = curio_kernel_current();
    c.gate = true;
    cr_assert_eq(sem_init(&c.go, 0, 0), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, late_thread, &c), 0);

    /* Two waiters on the queue the post will wake: W1 under a 20 ms timeout, W2 to be
     * cancelled. The post is on its way (its thread exists) but held back. */
    waiter_ctx c1 = {.name = "W1", .q = &c.q, .timeout = 0.02};
    waiter_ctx c2 = {.name = "W2", .q = &c.q};
    curio_task *w1 = curio_spawn(late_waiter, &c1);
    curio_task *w2 = curio_spawn(late_waiter, &c2);
    yield_until_state(w1, "FUTURE_WAIT");
    yield_until_state(w2, "FUTURE_WAIT");
    cr_assert_eq(curio_cancel(w2), 0);
    cr_assert_eq(curio_join(w1, NULL), 0);
    cr_assert_eq(c1.wait_rc, -ETIMEDOUT);
    cr_assert_eq(c1.next_rc, -ETIMEDOUT, "sticky inside the expired scope");
    cr_assert_eq(c1.close_rc, -ETIMEDOUT);
    cr_assert_eq(c2.wait_rc, -ECANCELED);
    cr_assert_eq(c2.next_rc, -ECANCELED, "sticky after cancellation");
    cr_assert(curio_task_cancelled(w2));
    cr_assert(curio__waitq_empty(&c.q), "interrupted waiters must leave the queue");

    /* Now let the post come. It finds nobody waiting, and still runs. */
    ev("main:release");
    cr_assert_eq(sem_post(&c.go), 0);
    wait_post_ran(&c);
    ev("main:post-ran woken=%zu", c.woken);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(c.post_rc, 0);
    cr_assert_eq(c.ran, 1);
    sem_destroy(&c.go);
    curio_task_release(w1);
    curio_task_release(w2);
    return 0;
}

Test(post, waiter_cancelled_or_timed_out_before_the_post, .timeout = 30)
{
    expect_log(gave_up_before_post, NULL, "W2:cancelled W1:timedout main:release main:post-ran woken=0");
}

/* The same race without a gate: the post may land before, during or after the waiter's
 * cancellation or timeout. Whatever the order, nothing crashes, the post runs exactly once,
 * and the waiter sees either the wake-up or its own interruption. */
#define ROUNDS 300

static long race_rounds(void *arg)
{
    (void)arg;
    int woken_first = 0, interrupted = 0;
    for (int r = 0; r < ROUNDS; r++) {
        late_ctx c = {0};
        c.k = curio_kernel_current();
        bool by_timeout = r % 2;
        waiter_ctx wc = {.q = &c.q, .timeout = by_timeout ? 0.0002 : 0};
        curio_task *w = curio_spawn(late_waiter, &wc);
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, late_thread, &c), 0);
        for (int i = 0; i < r % 4; i++)
            cr_assert_eq(curio_yield(), 0);
        if (!by_timeout)
            cr_assert_eq(curio_cancel(w), 0);
        long res = 0;
        int jrc = curio_join(w, &res);
        cr_assert(jrc == 0 || jrc == CURIO_ETASKCANCELLED, "round %d: join %d", r, jrc);
        wait_post_ran(&c);
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(c.post_rc, 0);
        cr_assert_eq(c.ran, 1, "round %d: the post ran %d times", r, c.ran);
        int intr = by_timeout ? -ETIMEDOUT : -ECANCELED;
        if (wc.wait_rc == 0) {
            /* Woken by the post first. A cancellation requested after that is delivered
             * at the next blocking call, or (if the task got past it) not at all. */
            woken_first++;
            cr_assert_eq(c.woken, 1, "round %d", r);
            cr_assert(wc.next_rc == 0 || wc.next_rc == intr, "round %d: next %d", r,
                      wc.next_rc);
        } else {
            interrupted++;
            cr_assert_eq(wc.wait_rc, intr, "round %d: wait returned %d", r, wc.wait_rc);
            cr_assert_eq(c.woken, 0, "round %d: the post woke a waiter that had left", r);
            cr_assert_eq(wc.next_rc, intr, "round %d: the interruption is sticky", r);
        }
        if (by_timeout && wc.wait_rc == -ETIMEDOUT)
            cr_assert_eq(wc.close_rc, -ETIMEDOUT);
        cr_assert(curio__waitq_empty(&c.q));
        curio_task_release(w);
    }
    cr_assert_eq(woken_first + interrupted, ROUNDS);
    cr_log_info("rounds woken by the post first: %d, interrupted first: %d", woken_first,
                interrupted);
    return 0;
}

Test(post, post_racing_with_cancel_and_timeout, .timeout = 30)
{
    int fds = count_fds();
    run_main(race_rounds, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ------------------------------------------------------------------------------------ */
/* Posted functions may post again, and may cancel a task                               */
/* ------------------------------------------------------------------------------------ */

#define CHAIN 1000

static struct {
    curio_kernel *k;
    curio__waitq q;
    int steps;
    int post_errors;
} chain;

static void chain_fn(void *arg)
{
    (void)arg;
    if (++chain.steps < CHAIN) {
        /* Posted while the kernel is running its batch of posts. */
        if (curio_kernel_post(chain.k, chain_fn, NULL) != 0)
            chain.post_errors++;
    } else {
        curio__waitq_wake_all(&chain.q);
    }
}

static void *chain_thread(void *arg)
{
    (void)arg;
    curio_kernel_post(chain.k, chain_fn, NULL);
    return NULL;
}

static long run_chain(void *arg)
{
    (void)arg;
    chain.k = curio_kernel_current();
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, chain_thread, NULL), 0);
    curio_scope s;
    cr_assert_eq(curio_timeout_after(&s, 20), 0);
    int rc = 0;
    while (chain.steps < CHAIN && rc == 0)
        rc = curio__waitq_wait(&chain.q, &(curio__waiter){0}, "FUTURE_WAIT");
    cr_assert_eq(curio_scope_close(&s), 0, "stalled after %d of %d chained posts",
                 chain.steps, CHAIN);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(chain.steps, CHAIN);
    cr_assert_eq(chain.post_errors, 0);
    return 0;
}

Test(post, a_posted_function_may_post_again, .timeout = 30) { run_main(run_chain, NULL); }

typedef struct cancel_ctx {
    curio_kernel *k;
    curio_task *victim;
    int cancel_rc;
} cancel_ctx;

static void cancel_fn(void *arg)
{
    cancel_ctx *c = arg;
    ev("post:cancel");
    c->cancel_rc = curio_cancel_nowait(c->victim);
}

static void *cancel_thread(void *arg)
{
    cancel_ctx *c = arg;
    curio_kernel_post(c->k, cancel_fn, c);
    return NULL;
}

static long sleep_until_cancelled(void *arg)
{
    (void)arg;
    cancel_ctx c = {.k = curio_kernel_current(), .victim = curio_current(), .cancel_rc = 1};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, cancel_thread, &c), 0);
    ev("main:sleep");
    int64_t rc = curio_sleep(20);
    ev("main:%s", rc == -ECANCELED ? "ECANCELED" : "other");
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(rc, -ECANCELED);
    cr_assert_eq(c.cancel_rc, 0);
    return rc;
}

Test(post, a_posted_function_may_cancel_a_task, .timeout = 30)
{
    ev_reset();
    long res = 0;
    int rc = curio_run(sleep_until_cancelled, NULL, NULL, &res);
    cr_assert_eq(rc, CURIO_ETASKCANCELLED, "curio_run: %d (%s)", rc, curio_strerror(rc));
    cr_assert_str_eq(evlog, "main:sleep post:cancel main:ECANCELED");
}
