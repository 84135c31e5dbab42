/*
 * sync/lock.c - Lock: mutual exclusion between the tasks of one kernel, handed to the
 * first waiter on release (so the releaser cannot take it back ahead of the line).
 */
#include "sync.h"

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(curio_lock) == 32, "curio_lock layout (public ABI)");
#endif

int curio_lock_acquire(curio_lock *l)
{
    if (!l)
        return -EINVAL;
    if (!curio__sync_mine(&l->thread) || !curio__self())
        return -EPERM;
    /* Free implies nobody parked in line: release hands the lock over while anyone is. */
    if (!l->locked) {
        l->locked = true;
        return 0;
    }
    curio__waiter w = {0};
    return curio__waitq_wait(&l->waiters, &w, "LOCK_ACQUIRE");
}

void curio__lock_acquire_nointr(curio__task *self, curio_lock *l)
{
    if (!l->locked) {
        l->locked = true;
        return;
    }
    curio__waiter w = {0};
    curio__waitq_wait_nointr(self, &l->waiters, &w, "LOCK_ACQUIRE");
}

int curio_lock_release(curio_lock *l)
{
    if (!l)
        return -EINVAL;
    if (!curio__sync_mine(&l->thread) || !l->locked)
        return -EPERM;
    curio__waiter *w = curio__waitq_take(&l->waiters);
    if (w)
        curio__waiter_grant(w, NULL); /* stays locked: now the waiter's */
    else
        l->locked = false;
    return 0;
}

bool curio_lock_locked(const curio_lock *l)
{
    return l && curio__sync_readable(&l->thread) && l->locked;
}
