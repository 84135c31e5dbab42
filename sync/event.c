/*
 * sync/event.c - Event: a flag tasks wait for; set wakes every waiter, in line order.
 */
#include "sync.h"

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(curio_event) == 32, "curio_event layout (public ABI)");
#endif

int curio_event_set(curio_event *e)
{
    if (!e)
        return -EINVAL;
    if (!curio__sync_mine(&e->thread))
        return -EPERM;
    e->set = true;
    curio__waitq_grant(&e->waiters, SIZE_MAX);
    return 0;
}

int curio_event_clear(curio_event *e)
{
    if (!e)
        return -EINVAL;
    if (!curio__sync_mine(&e->thread))
        return -EPERM;
    e->set = false;
    return 0;
}

bool curio_event_is_set(const curio_event *e)
{
    return e && curio__sync_readable(&e->thread) && e->set;
}

int curio_event_wait(curio_event *e)
{
    if (!e)
        return -EINVAL;
    if (!curio__sync_mine(&e->thread) || !curio__self())
        return -EPERM;
    if (e->set)
        return 0;
    curio__waiter w = {0};
    return curio__waitq_wait(&e->waiters, &w, "EVENT_WAIT");
}
