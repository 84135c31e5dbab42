/*
 * sync/semaphore.c - Semaphore and BoundedSemaphore: free slots, handed to the first
 * waiter on release (the value only rises when nobody is parked in line).
 */
#include "sync.h"

#include <limits.h>

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(curio_semaphore) == 40, "curio_semaphore layout (public ABI)");
#endif

int curio_semaphore_acquire(curio_semaphore *s)
{
    if (!s)
        return -EINVAL;
    if (!curio__sync_mine(&s->thread) || !curio__self())
        return -EPERM;
    if (s->value > 0) {
        s->value--;
        return 0;
    }
    curio__waiter w = {0};
    return curio__waitq_wait(&s->waiters, &w, "SEMA_ACQUIRE");
}

int curio_semaphore_release(curio_semaphore *s)
{
    if (!s)
        return -EINVAL;
    if (!curio__sync_mine(&s->thread))
        return -EPERM;
    curio__waiter *w = curio__waitq_take(&s->waiters);
    if (w) {
        curio__waiter_grant(w, NULL); /* the slot goes straight to it */
        return 0;
    }
    if ((s->bounded && s->value >= s->bound) || s->value == UINT_MAX)
        return -EOVERFLOW;
    s->value++;
    return 0;
}

unsigned curio_semaphore_value(const curio_semaphore *s)
{
    return s && curio__sync_readable(&s->thread) ? s->value : 0;
}

bool curio_semaphore_locked(const curio_semaphore *s)
{
    return s && curio__sync_readable(&s->thread) && s->value == 0;
}
