/*
 * sync/condition.c - Condition: wait for a notification with a lock released, and get
 * the lock back before returning, whatever ended the wait (Curio re-acquires under
 * disable_cancellation; here the re-acquisition is a wait nothing interrupts).
 */
#include "sync.h"

#include <limits.h>

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(curio_condition) == 64, "curio_condition layout (public ABI)");
#endif

static curio_lock *lock_of(curio_condition *c) { return c->lock ? c->lock : &c->own_lock; }

/* The condition's thread and its lock's must both be the caller's. */
static bool mine(curio_condition *c)
{
    return curio__sync_mine(&c->thread) && curio__sync_mine(&lock_of(c)->thread);
}

int curio_condition_acquire(curio_condition *c)
{
    if (!c)
        return -EINVAL;
    return mine(c) ? curio_lock_acquire(lock_of(c)) : -EPERM;
}

int curio_condition_release(curio_condition *c)
{
    if (!c)
        return -EINVAL;
    return mine(c) ? curio_lock_release(lock_of(c)) : -EPERM;
}

bool curio_condition_locked(const curio_condition *c)
{
    return c && curio_lock_locked(c->lock ? c->lock : &c->own_lock);
}

int curio_condition_wait(curio_condition *c)
{
    if (!c)
        return -EINVAL;
    curio__task *self = curio__self();
    if (!self || !mine(c) || !lock_of(c)->locked)
        return -EPERM;
    /* Already cancelled or timed out: return with the lock still held, instead of giving
     * it away only to wait to get it back. */
    int rc = curio__trap_check(self);
    if (rc < 0)
        return rc;
    curio_lock *l = lock_of(c);
    curio_lock_release(l);
    curio__waiter w = {0};
    rc = curio__waitq_wait(&c->waiters, &w, "COND_WAIT");
    curio__lock_acquire_nointr(self, l);
    return rc;
}

int curio_condition_wait_for(curio_condition *c, bool (*pred)(void *arg), void *arg)
{
    if (!c || !pred)
        return -EINVAL;
    if (!curio__self() || !mine(c) || !lock_of(c)->locked)
        return -EPERM;
    while (!pred(arg)) {
        int rc = curio_condition_wait(c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int notify(curio_condition *c, size_t n)
{
    if (!c)
        return -EINVAL;
    if (!mine(c) || !lock_of(c)->locked)
        return -EPERM;
    size_t woken = curio__waitq_grant(&c->waiters, n);
    return woken > INT_MAX ? INT_MAX : (int)woken;
}

int curio_condition_notify(curio_condition *c, unsigned n) { return notify(c, n); }
int curio_condition_notify_all(curio_condition *c) { return notify(c, SIZE_MAX); }
