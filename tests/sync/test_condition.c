/*
 * Condition: wait_for with two consumers and a producer (notify and notify_all, the
 * predicate re-checked with the lock held); wait returns with the lock held on every path,
 * including timeout and cancellation while another task holds the lock; misuse without
 * the lock is an error.
 */
#include "synctest.h"

static curio_condition cond;
static int items;

static bool have_items(void *arg)
{
    const char *name = arg;
    ev("%s:check=%d", name, items);
    cr_assert(curio_condition_locked(&cond), "the predicate runs with the lock held");
    return items > 0;
}

static long consumer(void *arg)
{
    const char *name = arg;
    cr_assert_eq(curio_condition_acquire(&cond), 0);
    int rc = curio_condition_wait_for(&cond, have_items, arg);
    cr_assert(curio_condition_locked(&cond));
    if (rc == 0) {
        items--;
        ev("%s:got", name);
    } else {
        ev("%s:%s", name, rcname(rc));
    }
    cr_assert_eq(curio_condition_release(&cond), 0);
    return rc;
}

static long producer(void *arg)
{
    bool all = arg != NULL;
    for (int i = 1; i <= 2; i++) {
        cr_assert_eq(curio_condition_acquire(&cond), 0);
        items++;
        ev("p:put%d", i);
        int n = all ? curio_condition_notify_all(&cond) : curio_condition_notify(&cond, 1);
        cr_assert_eq(n, all && i == 1 ? 2 : 1, "woken");
        cr_assert_eq(curio_condition_release(&cond), 0);
        curio_yield();
    }
    return 0;
}

static long two_consumers(void *all)
{
    cond = (curio_condition)CURIO_CONDITION_INIT;
    items = 0;
    curio_task *c1 = curio_spawn(consumer, "c1");
    curio_task *c2 = curio_spawn(consumer, "c2");
    curio_task *p = curio_spawn(producer, all);
    cr_assert_eq(join_release(c1) + join_release(c2) + join_release(p), 0);
    cr_assert_eq(items, 0);
    cr_assert(!curio_condition_locked(&cond));
    return 0;
}

Test(condition, wait_for_two_consumers_one_producer_notify)
{
    expect_log(two_consumers, NULL,
               "c1:check=0 c2:check=0 p:put1 c1:check=1 c1:got p:put2 c2:check=1 c2:got");
}

Test(condition, wait_for_two_consumers_one_producer_notify_all)
{
    /* Both wake for the first item; c2 finds it gone and waits again. */
    expect_log(two_consumers, "all",
               "c1:check=0 c2:check=0 p:put1 c1:check=1 c1:got c2:check=0 p:put2 "
               "c2:check=1 c2:got");
}

/* Notified while the notifier still holds the lock: the waiter then waits for the lock
 * (LOCK_ACQUIRE), and gets it in line behind a task that was already waiting for it. */
static long plain_waiter(void *arg)
{
    const char *name = arg;
    cr_assert_eq(curio_condition_acquire(&cond), 0);
    ev("%s:wait", name);
    int rc = curio_condition_wait(&cond);
    ev("%s:%s locked=%d", name, rcname(rc), curio_condition_locked(&cond));
    cr_assert_eq(curio_condition_release(&cond), 0);
    return rc;
}

static long locker(void *arg)
{
    (void)arg;
    ev("locker:acquire");
    cr_assert_eq(curio_condition_acquire(&cond), 0);
    ev("locker:got");
    cr_assert_eq(curio_condition_release(&cond), 0);
    return 0;
}

static long notify_under_lock(void *arg)
{
    (void)arg;
    cond = (curio_condition)CURIO_CONDITION_INIT;
    curio_task *w = curio_spawn(plain_waiter, "w");
    yield_until_state(w, "COND_WAIT");
    cr_assert_eq(curio_condition_acquire(&cond), 0);
    curio_task *l = curio_spawn(locker, NULL);
    yield_until_state(l, "LOCK_ACQUIRE");
    ev("main:notify");
    cr_assert_eq(curio_condition_notify(&cond, 5), 1, "one waiter to wake");
    yield_until_state(w, "LOCK_ACQUIRE");
    ev("main:release");
    cr_assert_eq(curio_condition_release(&cond), 0);
    cr_assert_eq(join_release(w) + join_release(l), 0);
    return 0;
}

Test(condition, notified_waiter_takes_the_lock_in_line)
{
    expect_log(notify_under_lock, NULL,
               "w:wait locker:acquire main:notify main:release locker:got w:ok locked=1");
}

/* Timeout and cancellation end the wait, and the waiter still gets the lock back before
 * returning, even while another task holds it. */
static int wait_op(void *arg) { return curio_condition_wait(arg); }

static long timed_waiter(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_condition_acquire(&cond), 0);
    int close;
    int rc = timeout_while_waiting(0.005, wait_op, &cond, &close);
    ev("timed:%s locked=%d", rcname(rc), curio_condition_locked(&cond));
    cr_assert_eq(close, -ETIMEDOUT);
    cr_assert_eq(curio_condition_release(&cond), 0);
    return rc;
}

static long interrupted(void *arg)
{
    (void)arg;
    cond = (curio_condition)CURIO_CONDITION_INIT;
    int64_t t0 = curio_clock();
    curio_task *t = curio_spawn(timed_waiter, NULL);
    curio_task *c = curio_spawn(plain_waiter, "c");
    curio_task *d = curio_spawn(plain_waiter, "d");
    /* All three wait in the first pass; t's timer can fire only after it. */
    yield_until_state(d, "COND_WAIT");
    cr_assert_str_eq(curio_task_state(t), "COND_WAIT");
    cr_assert_eq(curio_condition_acquire(&cond), 0); /* hold it across both interruptions */
    curio_cancel_nowait(c);
    yield_until_state(c, "LOCK_ACQUIRE");
    /* t waits for the condition until its timer fires, then for the lock. */
    while (strcmp(curio_task_state(t), "LOCK_ACQUIRE") != 0) {
        cr_assert(!curio_task_done(t), "t cannot end without the lock main holds");
        cr_assert_gt(curio_sleep(0.001), 0);
    }
    cr_assert_geq(secs_since(t0), 0.005, "its timeout ended the wait");
    ev("main:release");
    cr_assert_eq(curio_condition_release(&cond), 0);
    cr_assert_eq(curio_task_wait(c), 0);
    cr_assert_eq(curio_task_wait(t), 0);
    /* d still waits, and a notify reaches it: the line is intact. */
    cr_assert_str_eq(curio_task_state(d), "COND_WAIT");
    cr_assert_eq(curio_condition_acquire(&cond), 0);
    cr_assert_eq(curio_condition_notify_all(&cond), 1);
    cr_assert_eq(curio_condition_release(&cond), 0);
    cr_assert_eq(join_release(d), 0);
    cr_assert(curio_task_cancelled(c));
    curio_task_release(c);
    curio_task_release(t);
    return 0;
}

Test(condition, timeout_and_cancel_return_with_the_lock_held)
{
    expect_log(interrupted, NULL,
               "c:wait d:wait main:release c:ECANCELED locked=1 timed:ETIMEDOUT locked=1 "
               "d:ok locked=1");
}

static long already_cancelled(void *arg)
{
    (void)arg;
    cond = (curio_condition)CURIO_CONDITION_INIT;
    cr_assert_eq(curio_condition_acquire(&cond), 0);
    curio_cancel_nowait(curio_current());
    uint64_t cycles = curio_task_cycles(curio_current());
    cr_assert_eq(curio_condition_wait(&cond), -ECANCELED);
    cr_assert_eq(curio_task_cycles(curio_current()), cycles, "returned without switching");
    cr_assert(curio_condition_locked(&cond), "and without giving the lock away");
    cr_assert_eq(curio_condition_release(&cond), 0);
    return 0;
}

Test(condition, wait_in_a_cancelled_task_keeps_the_lock)
{
    run_main(already_cancelled, NULL);
}

/* A condition over a lock of one's own choosing, shared with plain lock users. */
static curio_lock shared_lock = CURIO_LOCK_INIT;
static curio_condition shared_cond = CURIO_CONDITION_INIT_LOCK(&shared_lock);

static bool flag_set(void *arg) { return *(bool *)arg; }

static long shared_waiter(void *arg)
{
    cr_assert_eq(curio_lock_acquire(&shared_lock), 0);
    int rc = curio_condition_wait_for(&shared_cond, flag_set, arg);
    cr_assert(curio_lock_locked(&shared_lock));
    cr_assert_eq(curio_lock_release(&shared_lock), 0);
    return rc;
}

static long given_lock(void *arg)
{
    (void)arg;
    bool flag = false;
    curio_task *w = curio_spawn(shared_waiter, &flag);
    yield_until_state(w, "COND_WAIT");
    cr_assert(!curio_lock_locked(&shared_lock), "wait released the given lock");
    cr_assert_eq(curio_condition_acquire(&shared_cond), 0);
    cr_assert(curio_lock_locked(&shared_lock), "the condition acquires the given lock");
    flag = true;
    cr_assert_eq(curio_condition_notify(&shared_cond, 1), 1);
    cr_assert_eq(curio_lock_release(&shared_lock), 0);
    cr_assert_eq(join_release(w), 0);
    return 0;
}

Test(condition, over_a_given_lock)
{
    run_main(given_lock, NULL);
}

/* ---- misuse ---- */

static bool never(void *arg)
{
    (void)arg;
    return false;
}

static long from_another_thread(void *arg)
{
    curio_condition *c = arg;
    return (curio_condition_acquire(c) != -EPERM) + (curio_condition_release(c) != -EPERM) +
           (curio_condition_wait(c) != -EPERM) + (curio_condition_notify(c, 1) != -EPERM) +
           curio_condition_locked(c);
}

static long misuse(void *arg)
{
    (void)arg;
    curio_condition c = CURIO_CONDITION_INIT;
    cr_assert_eq(curio_condition_wait(&c), -EPERM, "wait without the lock");
    cr_assert_eq(curio_condition_wait_for(&c, never, NULL), -EPERM);
    cr_assert_eq(curio_condition_notify(&c, 1), -EPERM, "notify without the lock");
    cr_assert_eq(curio_condition_notify_all(&c), -EPERM);
    cr_assert_eq(curio_condition_release(&c), -EPERM);
    cr_assert_eq(curio_condition_wait(NULL), -EINVAL);
    cr_assert_eq(curio_condition_wait_for(NULL, never, NULL), -EINVAL);
    cr_assert_eq(curio_condition_wait_for(&c, NULL, NULL), -EINVAL);
    cr_assert_eq(curio_condition_notify(NULL, 1), -EINVAL);
    cr_assert_eq(curio_condition_acquire(NULL), -EINVAL);
    cr_assert_eq(curio_condition_release(NULL), -EINVAL);
    cr_assert(!curio_condition_locked(NULL));
    cr_assert_eq(curio_condition_acquire(&c), 0);
    cr_assert_eq(curio_condition_notify(&c, 3), 0, "nobody to wake");
    cr_assert_eq(on_other_thread(from_another_thread, &c), 0);
    cr_assert_eq(on_other_kernel(from_another_thread, &c), 0);
    cr_assert(curio_condition_locked(&c));
    cr_assert_eq(curio_condition_release(&c), 0);
    return 0;
}

Test(condition, misuse_without_the_lock_and_from_other_threads)
{
    run_main(misuse, NULL);
}
