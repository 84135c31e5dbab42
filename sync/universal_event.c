/*
 * sync/universal_event.c - UniversalEvent: an event shared by tasks of any kernels and
 * plain pthreads. set wakes every waiter, in line order.
 */
#include "universal.h"

#include <stdlib.h>

struct curio_universal_event {
    pthread_mutex_t mu;
    bool set;
    curio__ulist waiters;        /* only while clear */
};

int curio_universal_event_create(curio_universal_event **out)
{
    if (!out)
        return -EINVAL;
    curio_universal_event *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    int rc = pthread_mutex_init(&e->mu, NULL);
    if (rc) {
        free(e);
        return -rc;
    }
    *out = e;
    return 0;
}

int curio_universal_event_destroy(curio_universal_event *e)
{
    if (!e)
        return -EINVAL;
    pthread_mutex_lock(&e->mu);
    bool busy = !curio__list_empty(&e->waiters);
    pthread_mutex_unlock(&e->mu);
    if (busy)
        return -EBUSY;
    pthread_mutex_destroy(&e->mu);
    free(e);
    return 0;
}

int curio_universal_event_set(curio_universal_event *e)
{
    if (!e)
        return -EINVAL;
    curio__uwakes wk = {0};
    pthread_mutex_lock(&e->mu);
    e->set = true;
    curio__ugrant_all(&wk, &e->waiters);
    pthread_mutex_unlock(&e->mu);
    curio__uwakes_flush(&wk);
    return 0;
}

int curio_universal_event_clear(curio_universal_event *e)
{
    if (!e)
        return -EINVAL;
    pthread_mutex_lock(&e->mu);
    e->set = false;
    pthread_mutex_unlock(&e->mu);
    return 0;
}

bool curio_universal_event_is_set(curio_universal_event *e)
{
    if (!e)
        return false;
    pthread_mutex_lock(&e->mu);
    bool set = e->set;
    pthread_mutex_unlock(&e->mu);
    return set;
}

static int wait(curio_universal_event *e, int64_t deadline)
{
    pthread_mutex_lock(&e->mu);
    if (e->set) {
        pthread_mutex_unlock(&e->mu);
        return 0;
    }
    curio__uwaiter w = {0};
    return curio__uwait(&e->mu, &e->waiters, &w, "EVENT_WAIT", deadline, NULL, e);
}

int curio_universal_event_wait(curio_universal_event *e)
{
    return e ? wait(e, CURIO__NO_DEADLINE) : -EINVAL;
}

int curio_universal_event_wait_timeout(curio_universal_event *e, double seconds)
{
    int64_t d;
    if (!e || curio__udeadline(seconds, &d) < 0)
        return -EINVAL;
    return wait(e, d);
}

size_t curio__universal_event_waiting(curio_universal_event *e)
{
    pthread_mutex_lock(&e->mu);
    size_t n = curio__ulist_len(&e->waiters);
    pthread_mutex_unlock(&e->mu);
    return n;
}
