/*
 * Lock: FIFO hand-off on release (the releaser cannot take the lock back ahead of the
 * line), timeouts and cancellation leave it usable, a woken waiter that is cancelled keeps
 * the lock, misuse is an error.
 */
#include "synctest.h"

static curio_lock lock;

/* Acquire, hold across two yields, release. */
static long worker(void *arg)
{
    const char *name = arg;
    ev("%s:acquire", name);
    int rc = curio_lock_acquire(&lock);
    if (rc < 0) {
        ev("%s:%s", name, rcname(rc));
        return rc;
    }
    ev("%s:got", name);
    curio_yield();
    curio_yield();
    ev("%s:release", name);
    cr_assert_eq(curio_lock_release(&lock), 0);
    return 0;
}

static long releaser_retakes(void *arg)
{
    (void)arg;
    lock = (curio_lock)CURIO_LOCK_INIT;
    cr_assert_eq(curio_lock_acquire(&lock), 0);
    ev("main:got");
    curio_task *b = curio_spawn(worker, "b");
    curio_task *c = curio_spawn(worker, "c");
    yield_until_state(c, "LOCK_ACQUIRE");
    ev("main:release");
    cr_assert_eq(curio_lock_release(&lock), 0);
    cr_assert(curio_lock_locked(&lock), "handed to b, not freed");
    /* Acquiring again at once queues behind b and c. */
    ev("main:acquire");
    cr_assert_eq(curio_lock_acquire(&lock), 0);
    ev("main:got-again");
    cr_assert_eq(curio_lock_release(&lock), 0);
    cr_assert(!curio_lock_locked(&lock));
    cr_assert_eq(join_release(b) + join_release(c), 0);
    return 0;
}

Test(lock, release_hands_off_to_the_first_waiter_before_anyone_else)
{
    expect_log(releaser_retakes, NULL,
               "main:got b:acquire c:acquire main:release main:acquire b:got b:release "
               "c:got c:release main:got-again");
}

static long uncontended(void *arg)
{
    (void)arg;
    curio_lock l = CURIO_LOCK_INIT;
    uint64_t cycles = curio_task_cycles(curio_current());
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(curio_lock_acquire(&l), 0);
        cr_assert(curio_lock_locked(&l));
        cr_assert_eq(curio_lock_release(&l), 0);
    }
    cr_assert_eq(curio_task_cycles(curio_current()), cycles, "a free lock never switches");
    /* Not a cancellation point when free (Curio's acquire does not trap then). */
    curio_cancel_nowait(curio_current());
    cr_assert_eq(curio_lock_acquire(&l), 0);
    cr_assert_eq(curio_lock_release(&l), 0);
    cr_assert_eq(curio_lock_release(&l), -EPERM, "releasing an unlocked lock");
    return 0;
}

Test(lock, free_lock_is_taken_without_switching)
{
    run_main(uncontended, NULL);
}

/* Waiters time out / are cancelled: they leave the line, from its middle and its head, the
 * holder's release hands the lock to the one left, and the lock works on. The line is
 * c, timed, d. The timeout is waited for before c is cancelled, so neither can overtake
 * the other however slow the machine (d enters the line in the same pass as timed, and
 * timers fire only between passes). */
static int acquire_op(void *arg) { return curio_lock_acquire(arg); }

static long timed_acquire(void *arg)
{
    const char *name = arg;
    int close;
    int rc = timeout_while_waiting(0.01, acquire_op, &lock, &close);
    ev("%s:%s", name, rcname(rc));
    cr_assert_eq(close, rc == -ETIMEDOUT ? -ETIMEDOUT : 0);
    if (rc == 0)
        curio_lock_release(&lock);
    return rc;
}

static long interrupted_waiters(void *arg)
{
    (void)arg;
    lock = (curio_lock)CURIO_LOCK_INIT;
    cr_assert_eq(curio_lock_acquire(&lock), 0);
    int64_t t0 = curio_clock();
    curio_task *c = curio_spawn(worker, "cancelled");
    curio_task *t = curio_spawn(timed_acquire, "timed");
    curio_task *d = curio_spawn(worker, "d");
    yield_until_state(d, "LOCK_ACQUIRE");
    cr_assert_eq(curio_task_wait(t), 0);
    cr_assert_geq(secs_since(t0), 0.01);
    long r;
    cr_assert_eq(curio_join(t, &r), 0);
    cr_assert_eq(r, -ETIMEDOUT);
    cr_assert_str_eq(curio_task_state(c), "LOCK_ACQUIRE");
    cr_assert_str_eq(curio_task_state(d), "LOCK_ACQUIRE");
    cr_assert_eq(curio_cancel(c), 0);
    ev("main:release");
    cr_assert_eq(curio_lock_release(&lock), 0);
    cr_assert_eq(join_release(d), 0);
    cr_assert(!curio_lock_locked(&lock));
    cr_assert_null(lock.waiters.line.head);
    /* Usable afterwards. */
    cr_assert_eq(curio_lock_acquire(&lock), 0);
    cr_assert_eq(curio_lock_release(&lock), 0);
    curio_task_release(t);
    curio_task_release(c);
    return 0;
}

Test(lock, timeout_and_cancel_leave_the_line_and_the_lock_usable)
{
    expect_log(interrupted_waiters, NULL,
               "cancelled:acquire d:acquire timed:ETIMEDOUT cancelled:ECANCELED main:release "
               "d:got d:release");
}

/* The release hands the lock to b, which is then cancelled before it runs: b still
 * returns 0 and holds the lock; its next blocking call is cancelled; it releases. A waiter
 * interrupted before the release (a) is skipped. */
static long acquire_then_block(void *arg)
{
    const char *name = arg;
    int rc = curio_lock_acquire(&lock);
    ev("%s:acquire=%s", name, rcname(rc));
    if (rc < 0)
        return rc;
    int next = curio_yield();
    ev("%s:yield=%s", name, rcname(next));
    cr_assert_eq(curio_lock_release(&lock), 0, "releasing is never a cancellation point");
    return next;
}

static long woken_then_cancelled(void *arg)
{
    (void)arg;
    lock = (curio_lock)CURIO_LOCK_INIT;
    cr_assert_eq(curio_lock_acquire(&lock), 0);
    curio_task *a = curio_spawn(acquire_then_block, "a");
    curio_task *b = curio_spawn(acquire_then_block, "b");
    curio_task *c = curio_spawn(acquire_then_block, "c");
    yield_until_state(c, "LOCK_ACQUIRE");
    curio_cancel_nowait(a);              /* interrupted before the release */
    cr_assert_eq(curio_lock_release(&lock), 0);
    curio_cancel_nowait(b);              /* handed the lock, then cancelled */
    cr_assert_eq(curio_task_wait(a), 0);
    cr_assert_eq(curio_task_wait(b), 0);
    cr_assert_eq(curio_task_wait(c), 0);
    cr_assert(curio_task_cancelled(a));
    cr_assert(curio_task_cancelled(b));
    cr_assert(!curio_task_cancelled(c));
    cr_assert(!curio_lock_locked(&lock), "b released it, then c");
    curio_task_release(a);
    curio_task_release(b);
    curio_task_release(c);
    return 0;
}

Test(lock, a_waiter_handed_the_lock_then_cancelled_keeps_it)
{
    expect_log(woken_then_cancelled, NULL,
               "a:acquire=ECANCELED b:acquire=ok b:yield=ECANCELED c:acquire=ok c:yield=ok");
}

/* ---- misuse ---- */

static long from_another_thread(void *arg)
{
    curio_lock *l = arg;
    return (curio_lock_acquire(l) != -EPERM) + (curio_lock_release(l) != -EPERM) +
           (curio_lock_locked(l) != false);
}

static long misuse(void *arg)
{
    (void)arg;
    curio_lock l = CURIO_LOCK_INIT;
    cr_assert_eq(curio_lock_acquire(NULL), -EINVAL);
    cr_assert_eq(curio_lock_release(NULL), -EINVAL);
    cr_assert(!curio_lock_locked(NULL));
    cr_assert_eq(curio_lock_acquire(&l), 0);
    cr_assert_eq(on_other_thread(from_another_thread, &l), 0);
    cr_assert_eq(on_other_kernel(from_another_thread, &l), 0);
    cr_assert(curio_lock_locked(&l), "still held, untouched");
    cr_assert_eq(curio_lock_release(&l), 0);
    return 0;
}

Test(lock, null_and_other_threads_are_refused)
{
    run_main(misuse, NULL);
}

Test(lock, acquire_outside_a_task)
{
    curio_lock l = CURIO_LOCK_INIT;
    cr_assert_eq(curio_lock_acquire(&l), -EPERM);
    cr_assert(!curio_lock_locked(&l));
}
