/*
 * abide: a pthread mutex shared between plain threads and tasks. With a real contending
 * pthread: the task waits without blocking the kernel, gets the mutex once the thread lets
 * go, keeps the thread out while it holds it; timeouts and cancellation return promptly
 * without the mutex and leave it usable; two tasks of one kernel contend like anyone else.
 */
#include "synctest.h"

#include <stdatomic.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

unsigned curio__pool_busy(void); /* kernel/kernel.h */

/* Sleep until every pool thread is idle: the pool threads of interrupted calls have given
 * up (they do so within a slice, however long the machine makes that). */
static void until_pool_idle(void)
{
    while (curio__pool_busy() != 0)
        cr_assert_gt(curio_sleep(0.001), 0);
}

/* A pthread that holds m until told to let go. */
static atomic_bool hold_taken, let_go;
static atomic_int thread_locks;

static void *holder(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    atomic_store(&hold_taken, true);
    while (!atomic_load(&let_go))
        nanosleep(&(struct timespec){0, 200000}, NULL);
    pthread_mutex_unlock(&m);
    return NULL;
}

static pthread_t start_holder(void)
{
    atomic_store(&hold_taken, false);
    atomic_store(&let_go, false);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, holder, NULL), 0);
    while (!atomic_load(&hold_taken))
        nanosleep(&(struct timespec){0, 100000}, NULL);
    return th;
}

static long ticks;

static long ticker(void *arg)
{
    (void)arg;
    for (;;) {
        if (curio_sleep(0.001) < 0)
            return 0;
        ticks++;
    }
}

static long abider(void *arg)
{
    const char *name = arg;
    int rc = curio_abide_lock(&m);
    ev("%s:%s", name, rcname(rc));
    if (rc == 0) {
        curio_yield();
        cr_assert_eq(curio_abide_unlock(&m), 0);
    }
    return rc;
}

static long contended(void *arg)
{
    (void)arg;
    pthread_t th = start_holder();
    ticks = 0;
    curio_task *tick = curio_spawn(ticker, NULL);
    curio_task *a = curio_spawn(abider, "a");
    yield_until_state(a, "LOCK_ACQUIRE");
    /* Ends only if the kernel runs the ticker while a waits (the holder holds on). */
    while (ticks < 5)
        cr_assert_gt(curio_sleep(0.001), 0);
    cr_assert_str_eq(curio_task_state(a), "LOCK_ACQUIRE");
    ev("main:let-go");
    atomic_store(&let_go, true);
    cr_assert_eq(join_release(a), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(curio_cancel(tick), 0);
    curio_task_release(tick);
    cr_assert_eq(pthread_mutex_trylock(&m), 0, "left free");
    pthread_mutex_unlock(&m);
    return 0;
}

Test(abide, waits_for_a_holding_thread_without_blocking_the_kernel, .timeout = 30)
{
    expect_log(contended, NULL, "main:let-go a:ok");
}

/* While a task holds m, a thread that wants it waits; mutual exclusion over a counter
 * that a thread and two tasks increment without atomics. */
#define ROUNDS 300
static long counter;

static void *thread_incrementer(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&m);
        long c = counter;
        nanosleep(&(struct timespec){0, 20000}, NULL); /* hold it a little */
        counter = c + 1;
        pthread_mutex_unlock(&m);
        atomic_fetch_add(&thread_locks, 1);
    }
    return NULL;
}

static long task_incrementer(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        int rc = curio_abide_lock(&m);
        if (rc < 0)
            return rc;
        long c = counter;
        curio_yield(); /* the other task runs meanwhile, and must not get in */
        counter = c + 1;
        cr_assert_eq(curio_abide_unlock(&m), 0);
    }
    return 0;
}

static long exclusion(void *arg)
{
    (void)arg;
    counter = 0;
    atomic_store(&thread_locks, 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, thread_incrementer, NULL), 0);
    curio_task *a = curio_spawn(task_incrementer, NULL);
    curio_task *b = curio_spawn(task_incrementer, NULL);
    cr_assert_eq(join_release(a), 0);
    cr_assert_eq(join_release(b), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(counter, 3 * ROUNDS, "an increment was lost: no mutual exclusion");
    return 0;
}

Test(abide, mutual_exclusion_between_a_thread_and_two_tasks, .timeout = 30)
{
    run_main(exclusion, NULL);
}

static int abide_op(void *arg) { return curio_abide_lock(arg); }

static long timed_abider(void *arg)
{
    (void)arg;
    int close;
    int rc = timeout_while_waiting(0.01, abide_op, &m, &close);
    cr_assert_eq(close, -ETIMEDOUT);
    ev("timed:%s", rcname(rc));
    return rc;
}

static long interrupted(void *arg)
{
    (void)arg;
    pthread_t th = start_holder();
    int64_t t0 = curio_clock();
    curio_task *t = curio_spawn(timed_abider, NULL);
    curio_task *c = curio_spawn(abider, "c");
    yield_until_state(c, "LOCK_ACQUIRE");
    /* The holder holds on until main lets go: both calls return while it does (promptly:
     * a call that waited for the mutex would never return), the timeout first, as main
     * waits for it before it cancels c. */
    cr_assert_eq(curio_task_wait(t), 0);
    cr_assert_geq(secs_since(t0), 0.01);
    cr_assert_str_eq(curio_task_state(c), "LOCK_ACQUIRE");
    cr_assert_eq(curio_cancel(c), 0);
    ev("main:let-go");
    atomic_store(&let_go, true);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(curio_abide_lock(&m), 0, "usable afterwards");
    cr_assert_eq(curio_abide_unlock(&m), 0);
    /* Neither holds it, and once the pool threads that waited for them have let go,
     * nobody does. */
    until_pool_idle();
    cr_assert_eq(pthread_mutex_trylock(&m), 0);
    pthread_mutex_unlock(&m);
    curio_task_release(t);
    curio_task_release(c);
    return 0;
}

Test(abide, timeout_and_cancel_return_promptly_without_the_mutex, .timeout = 30)
{
    expect_log(interrupted, NULL, "timed:ETIMEDOUT c:ECANCELED main:let-go");
}

/* The pool thread of a cancelled abide gives up within its slice even though the mutex
 * never becomes free: it does not stay stuck in the mutex. Checked through the pool (all
 * its threads go idle while the holder holds on) and through the mutex itself: once the
 * holder lets go, nobody else ever holds it. */
static long pool_gives_up(void *arg)
{
    (void)arg;
    pthread_t th = start_holder();
    for (int i = 0; i < 5; i++) {
        curio_task *c = curio_spawn(abider, "c");
        yield_until_state(c, "LOCK_ACQUIRE");
        cr_assert_eq(curio_cancel(c), 0);
        curio_task_release(c);
    }
    until_pool_idle();
    atomic_store(&let_go, true);
    cr_assert_eq(pthread_join(th, NULL), 0);
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(pthread_mutex_trylock(&m), 0, "a pool thread still wanted it");
        pthread_mutex_unlock(&m);
        cr_assert_gt(curio_sleep(0.0002), 0);
    }
    return 0;
}

Test(abide, pool_threads_of_interrupted_calls_give_up, .timeout = 30)
{
    ev_reset();
    run_main(pool_gives_up, NULL);
    cr_assert_str_eq(evlog, "c:ECANCELED c:ECANCELED c:ECANCELED c:ECANCELED c:ECANCELED");
}

static long uncontended(void *arg)
{
    (void)arg;
    uint64_t cycles = curio_task_cycles(curio_current());
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(curio_abide_lock(&m), 0);
        cr_assert_eq(curio_abide_unlock(&m), 0);
    }
    cr_assert_eq(curio_task_cycles(curio_current()), cycles, "a free mutex never switches");
    curio_cancel_nowait(curio_current());
    cr_assert_eq(curio_abide_lock(&m), 0, "not a cancellation point when free");
    cr_assert_eq(curio_abide_unlock(&m), 0);
    pthread_mutex_t ec;
    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    pthread_mutexattr_settype(&at, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&ec, &at);
    pthread_mutexattr_destroy(&at);
    cr_assert_eq(curio_abide_unlock(&ec), -EPERM, "not held");
    pthread_mutex_destroy(&ec);
    cr_assert_eq(curio_abide_lock(NULL), -EINVAL);
    cr_assert_eq(curio_abide_unlock(NULL), -EINVAL);
    return 0;
}

Test(abide, uncontended_and_misuse, .timeout = 30)
{
    run_main(uncontended, NULL);
    cr_assert_eq(curio_abide_lock(&m), -EPERM, "outside a task");
}
