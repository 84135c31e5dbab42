/*
 * RLock: the holder re-enters without waiting and must release as often; only the holder
 * releases; the last release hands it to the first waiter; timeouts and cancellation
 * leave it usable.
 */
#include "synctest.h"

static curio_rlock rl;

static long contender(void *arg)
{
    const char *name = arg;
    ev("%s:acquire", name);
    int rc = curio_rlock_acquire(&rl);
    ev("%s:%s", name, rcname(rc));
    if (rc < 0)
        return rc;
    cr_assert_eq(curio_rlock_acquire(&rl), 0, "re-entering");
    cr_assert_eq(curio_rlock_release(&rl), 0);
    cr_assert_eq(curio_rlock_release(&rl), 0);
    return 0;
}

static long reentry_and_handoff(void *arg)
{
    (void)arg;
    rl = (curio_rlock)CURIO_RLOCK_INIT;
    uint64_t cycles = curio_task_cycles(curio_current());
    for (int i = 0; i < 3; i++)
        cr_assert_eq(curio_rlock_acquire(&rl), 0);
    cr_assert_eq(curio_task_cycles(curio_current()), cycles, "re-entry never waits");
    curio_task *b = curio_spawn(contender, "b");
    yield_until_state(b, "LOCK_ACQUIRE");
    ev("main:release1");
    cr_assert_eq(curio_rlock_release(&rl), 0);
    ev("main:release2");
    cr_assert_eq(curio_rlock_release(&rl), 0);
    curio_yield();
    cr_assert_str_eq(curio_task_state(b), "LOCK_ACQUIRE", "still held once by main");
    ev("main:release3");
    cr_assert_eq(curio_rlock_release(&rl), 0);
    cr_assert(curio_rlock_locked(&rl), "handed to b");
    cr_assert_eq(curio_rlock_release(&rl), -EPERM, "main no longer holds it");
    cr_assert_eq(join_release(b), 0);
    cr_assert(!curio_rlock_locked(&rl));
    return 0;
}

Test(rlock, reentry_and_handoff_on_the_last_release)
{
    expect_log(reentry_and_handoff, NULL,
               "b:acquire main:release1 main:release2 main:release3 b:ok");
}

static long release_by_other(void *arg)
{
    (void)arg;
    int rc = curio_rlock_release(&rl);
    ev("other:release=%s", rcname(rc));
    return 0;
}

static long only_the_holder_releases(void *arg)
{
    (void)arg;
    rl = (curio_rlock)CURIO_RLOCK_INIT;
    cr_assert_eq(curio_rlock_release(&rl), -EPERM, "not held at all");
    cr_assert_eq(curio_rlock_acquire(&rl), 0);
    cr_assert_eq(join_release(curio_spawn(release_by_other, NULL)), 0);
    cr_assert(curio_rlock_locked(&rl));
    cr_assert_eq(curio_rlock_release(&rl), 0);
    cr_assert(!curio_rlock_locked(&rl));
    return 0;
}

Test(rlock, a_non_holder_release_is_an_error)
{
    expect_log(only_the_holder_releases, NULL, "other:release=EPERM");
}

static int acquire_op(void *arg) { return curio_rlock_acquire(arg); }

static long timed_contender(void *arg)
{
    (void)arg;
    int rc = timeout_while_waiting(0.005, acquire_op, &rl, NULL);
    ev("timed:%s", rcname(rc));
    return rc;
}

static long interrupted(void *arg)
{
    (void)arg;
    rl = (curio_rlock)CURIO_RLOCK_INIT;
    cr_assert_eq(curio_rlock_acquire(&rl), 0);
    /* In line: c, t, d. The timeout is waited for before c is cancelled, so neither can
     * overtake the other however slow the machine. */
    curio_task *c = curio_spawn(contender, "c");
    curio_task *t = curio_spawn(timed_contender, NULL);
    curio_task *d = curio_spawn(contender, "d");
    yield_until_state(d, "LOCK_ACQUIRE");
    cr_assert_eq(curio_task_wait(t), 0);
    cr_assert_str_eq(curio_task_state(c), "LOCK_ACQUIRE");
    cr_assert_eq(curio_cancel(c), 0);
    ev("main:release");
    cr_assert_eq(curio_rlock_release(&rl), 0);
    cr_assert_eq(join_release(d), 0);
    cr_assert(!curio_rlock_locked(&rl));
    cr_assert_null(rl.waiters.line.head);
    curio_task_release(t);
    curio_task_release(c);
    return 0;
}

Test(rlock, timeout_and_cancel_leave_it_usable)
{
    expect_log(interrupted, NULL,
               "c:acquire d:acquire timed:ETIMEDOUT c:ECANCELED main:release d:ok");
}

static long from_another_thread(void *arg)
{
    curio_rlock *l = arg;
    return (curio_rlock_acquire(l) != -EPERM) + (curio_rlock_release(l) != -EPERM) +
           curio_rlock_locked(l);
}

static long misuse(void *arg)
{
    (void)arg;
    curio_rlock l = CURIO_RLOCK_INIT;
    cr_assert_eq(curio_rlock_acquire(NULL), -EINVAL);
    cr_assert_eq(curio_rlock_release(NULL), -EINVAL);
    cr_assert_eq(curio_rlock_acquire(&l), 0);
    cr_assert_eq(on_other_thread(from_another_thread, &l), 0);
    cr_assert_eq(on_other_kernel(from_another_thread, &l), 0);
    cr_assert_eq(curio_rlock_release(&l), 0);
    cr_assert_eq(curio_rlock_acquire(&l), 0);
    l.count = UINT_MAX - 1; /* nearly saturated: the second re-entry must be refused */
    cr_assert_eq(curio_rlock_acquire(&l), 0);
    cr_assert_eq(curio_rlock_acquire(&l), -EOVERFLOW);
    cr_assert_eq(l.count, UINT_MAX);
    return 0;
}

Test(rlock, null_other_threads_and_overflow)
{
    run_main(misuse, NULL);
}

Test(rlock, outside_a_task)
{
    curio_rlock l = CURIO_RLOCK_INIT;
    cr_assert_eq(curio_rlock_acquire(&l), -EPERM);
    cr_assert_eq(curio_rlock_release(&l), -EPERM);
}
