/*
 * Semaphore and BoundedSemaphore: Semaphore(2) with three workers; release hands the slot
 * to the first waiter; a bounded semaphore refuses a release past its bound; timeouts and
 * cancellation leave the count right.
 */
#include "synctest.h"

static curio_semaphore sem;

static long worker(void *arg)
{
    const char *name = arg;
    if (curio_semaphore_value(&sem) == 0)
        ev("%s:wait", name);
    int rc = curio_semaphore_acquire(&sem);
    if (rc < 0) {
        ev("%s:%s", name, rcname(rc));
        return rc;
    }
    ev("%s:acq", name);
    curio_yield();
    ev("%s:rel", name);
    cr_assert_eq(curio_semaphore_release(&sem), 0);
    return 0;
}

static long three_workers(void *arg)
{
    (void)arg;
    sem = (curio_semaphore)CURIO_SEMAPHORE_INIT(2);
    curio_task *w[3] = {curio_spawn(worker, "w1"), curio_spawn(worker, "w2"),
                        curio_spawn(worker, "w3")};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(join_release(w[i]), 0);
    cr_assert_eq(curio_semaphore_value(&sem), 2);
    return 0;
}

Test(semaphore, two_slots_three_workers)
{
    expect_log(three_workers, NULL, "w1:acq w2:acq w3:wait w1:rel w2:rel w3:acq w3:rel");
}

static long counts(void *arg)
{
    (void)arg;
    curio_semaphore s = CURIO_SEMAPHORE_INIT(1);
    cr_assert(!curio_semaphore_locked(&s));
    cr_assert_eq(curio_semaphore_acquire(&s), 0);
    cr_assert(curio_semaphore_locked(&s));
    for (int i = 0; i < 5; i++)
        cr_assert_eq(curio_semaphore_release(&s), 0, "an unbounded semaphore grows");
    cr_assert_eq(curio_semaphore_value(&s), 5);
    s.value = UINT_MAX;
    cr_assert_eq(curio_semaphore_release(&s), -EOVERFLOW);
    cr_assert_eq(curio_semaphore_value(&s), UINT_MAX);

    curio_semaphore b = CURIO_BOUNDED_SEMAPHORE_INIT(2);
    cr_assert_eq(curio_semaphore_release(&b), -EOVERFLOW, "released too many times");
    cr_assert_eq(curio_semaphore_value(&b), 2);
    cr_assert_eq(curio_semaphore_acquire(&b), 0);
    cr_assert_eq(curio_semaphore_acquire(&b), 0);
    cr_assert_eq(curio_semaphore_release(&b), 0);
    cr_assert_eq(curio_semaphore_release(&b), 0);
    cr_assert_eq(curio_semaphore_release(&b), -EOVERFLOW);
    cr_assert_eq(curio_semaphore_value(&b), 2);

    curio_semaphore z = {0};
    cr_assert_eq(curio_semaphore_value(&z), 0, "zero memory: value 0");
    cr_assert_eq(curio_semaphore_release(&z), 0);
    cr_assert_eq(curio_semaphore_acquire(&z), 0);
    /* A positive value is not a cancellation point. */
    cr_assert_eq(curio_semaphore_release(&z), 0);
    curio_cancel_nowait(curio_current());
    cr_assert_eq(curio_semaphore_acquire(&z), 0);
    return 0;
}

Test(semaphore, counts_bounds_and_overflow)
{
    run_main(counts, NULL);
}

static int acquire_op(void *arg) { return curio_semaphore_acquire(arg); }

static long timed_worker(void *arg)
{
    (void)arg;
    int rc = timeout_while_waiting(0.005, acquire_op, &sem, NULL);
    ev("timed:%s", rcname(rc));
    return rc;
}

static long interrupted(void *arg)
{
    (void)arg;
    sem = (curio_semaphore)CURIO_BOUNDED_SEMAPHORE_INIT(1);
    cr_assert_eq(curio_semaphore_acquire(&sem), 0);
    /* In line: c, t, d. The timeout is waited for before c is cancelled, so neither can
     * overtake the other however slow the machine. */
    curio_task *c = curio_spawn(worker, "c");
    curio_task *t = curio_spawn(timed_worker, NULL);
    curio_task *d = curio_spawn(worker, "d");
    yield_until_state(d, "SEMA_ACQUIRE");
    cr_assert_eq(curio_task_wait(t), 0);
    cr_assert_str_eq(curio_task_state(c), "SEMA_ACQUIRE");
    cr_assert_eq(curio_cancel(c), 0);
    ev("main:rel");
    cr_assert_eq(curio_semaphore_release(&sem), 0);
    cr_assert_eq(curio_semaphore_value(&sem), 0, "handed to d");
    cr_assert_eq(join_release(d), 0);
    cr_assert_eq(curio_semaphore_value(&sem), 1, "the count is right again");
    cr_assert_eq(curio_semaphore_release(&sem), -EOVERFLOW);
    cr_assert_null(sem.waiters.line.head);
    curio_task_release(t);
    curio_task_release(c);
    return 0;
}

Test(semaphore, timeout_and_cancel_leave_the_count_right)
{
    expect_log(interrupted, NULL,
               "c:wait d:wait timed:ETIMEDOUT c:ECANCELED main:rel d:acq d:rel");
}

static long acquire_then_yield(void *arg)
{
    const char *name = arg;
    int rc = curio_semaphore_acquire(&sem);
    int next = curio_yield();
    ev("%s:%s,%s", name, rcname(rc), rcname(next));
    if (rc == 0)
        cr_assert_eq(curio_semaphore_release(&sem), 0);
    return rc < 0 ? rc : next;
}

static long woken_then_cancelled(void *arg)
{
    (void)arg;
    sem = (curio_semaphore)CURIO_BOUNDED_SEMAPHORE_INIT(1);
    cr_assert_eq(curio_semaphore_acquire(&sem), 0);
    curio_task *a = curio_spawn(acquire_then_yield, "a");
    curio_task *b = curio_spawn(acquire_then_yield, "b");
    yield_until_state(b, "SEMA_ACQUIRE");
    curio_cancel_nowait(a);
    cr_assert_eq(curio_semaphore_release(&sem), 0);
    curio_cancel_nowait(b);
    cr_assert_eq(curio_task_wait(a), 0);
    cr_assert_eq(curio_task_wait(b), 0);
    cr_assert_eq(curio_semaphore_value(&sem), 1, "b kept the slot, then gave it back");
    curio_task_release(a);
    curio_task_release(b);
    return 0;
}

Test(semaphore, a_waiter_handed_a_slot_then_cancelled_keeps_it)
{
    expect_log(woken_then_cancelled, NULL, "a:ECANCELED,ECANCELED b:ok,ECANCELED");
}

static long from_another_thread(void *arg)
{
    curio_semaphore *s = arg;
    return (curio_semaphore_acquire(s) != -EPERM) + (curio_semaphore_release(s) != -EPERM) +
           curio_semaphore_value(s) + curio_semaphore_locked(s);
}

static long misuse(void *arg)
{
    (void)arg;
    curio_semaphore s = CURIO_SEMAPHORE_INIT(0);
    cr_assert_eq(curio_semaphore_acquire(NULL), -EINVAL);
    cr_assert_eq(curio_semaphore_release(NULL), -EINVAL);
    cr_assert_eq(curio_semaphore_value(NULL), 0);
    cr_assert_eq(curio_semaphore_release(&s), 0);
    cr_assert_eq(on_other_thread(from_another_thread, &s), 0);
    cr_assert_eq(on_other_kernel(from_another_thread, &s), 0);
    cr_assert_eq(curio_semaphore_value(&s), 1);
    return 0;
}

Test(semaphore, null_and_other_threads_are_refused)
{
    run_main(misuse, NULL);
}

Test(semaphore, acquire_outside_a_task)
{
    curio_semaphore s = CURIO_SEMAPHORE_INIT(1);
    cr_assert_eq(curio_semaphore_acquire(&s), -EPERM);
    cr_assert_eq(curio_semaphore_value(&s), 1);
}
