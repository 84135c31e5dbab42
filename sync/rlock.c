/*
 * sync/rlock.c - RLock: a lock its holder may take again; only the holder releases it.
 *
 * The holder is recorded by task id, which a kernel never reuses (a record is, once its
 * task has ended, so a pointer could name a newer task that never took the lock).
 */
#include "sync.h"

#include <limits.h>

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(curio_rlock) == 40, "curio_rlock layout (public ABI)");
#endif

int curio_rlock_acquire(curio_rlock *l)
{
    if (!l)
        return -EINVAL;
    if (!curio__sync_mine(&l->thread))
        return -EPERM;
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (l->holder == curio__task_id(self)) {
        if (l->count == UINT_MAX)
            return -EOVERFLOW;
        l->count++;
        return 0;
    }
    if (!l->holder) {
        l->holder = curio__task_id(self);
        l->count = 1;
        return 0;
    }
    curio__waiter w = {0};
    return curio__waitq_wait(&l->waiters, &w, "LOCK_ACQUIRE"); /* the releaser made us
                                                                    the holder */
}

int curio_rlock_release(curio_rlock *l)
{
    if (!l)
        return -EINVAL;
    curio__task *self = curio__self();
    if (!curio__sync_mine(&l->thread) || !self || !l->holder || l->holder != curio__task_id(self))
        return -EPERM;
    if (--l->count > 0)
        return 0;
    curio__waiter *w = curio__waitq_take(&l->waiters);
    if (w) {
        l->holder = curio__task_id(w->task);
        l->count = 1;
        curio__waiter_grant(w, NULL);
    } else {
        l->holder = 0;
    }
    return 0;
}

bool curio_rlock_locked(const curio_rlock *l)
{
    return l && curio__sync_readable(&l->thread) && l->holder != 0;
}
