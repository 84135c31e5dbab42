/*
 * sync/universal_queue.c - UniversalQueue: a FIFO of pointers shared by tasks of any
 * kernels and plain pthreads.
 *
 * An item is in the queue until a getter has taken it out (Curio's back-pressure): a put
 * with a getter in line leaves the item in the ring and promises one item to that getter
 * (`promised`); the getter takes the front item when it runs. Invariants, under the mutex:
 * promised <= count; getters wait only while count == promised (nothing to take), putters
 * only while count >= maxsize (a get that frees a slot moves the first putter's item in),
 * so count never exceeds maxsize. A getter whose wait was interrupted after it was granted
 * gives its promise up (to the next getter in line, if any); the item never moved.
 */
#include "universal.h"

#include <stdlib.h>

struct curio_universal_queue {
    pthread_mutex_t mu;
    size_t maxsize;              /* 0: unbounded */
    void **ring;                 /* count items from head, cap slots */
    size_t head, count, cap;
    size_t promised;             /* items held for granted getters yet to take them */
    size_t unfinished;           /* put and not yet task_done */
    curio__ulist getters, putters, joiners;
};

/* ---- the ring ---- */

/* Room for one more item: 0 or -ENOMEM. */
static int reserve(curio_universal_queue *q)
{
    if (q->count < q->cap)
        return 0;
    size_t cap = q->cap ? q->cap * 2 : 16;
    void **r = malloc(cap * sizeof *r);
    if (!r)
        return -ENOMEM;
    for (size_t i = 0; i < q->count; i++)
        r[i] = q->ring[(q->head + i) % q->cap];
    free(q->ring);
    q->ring = r;
    q->head = 0;
    q->cap = cap;
    return 0;
}

static void push_back(curio_universal_queue *q, void *item)
{
    q->ring[(q->head + q->count++) % q->cap] = item;
}

static void *pop_front(curio_universal_queue *q)
{
    void *item = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return item;
}

/* ---- life ---- */

int curio_universal_queue_create(curio_universal_queue **out, size_t maxsize)
{
    if (!out)
        return -EINVAL;
    curio_universal_queue *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    int rc = pthread_mutex_init(&q->mu, NULL);
    if (rc) {
        free(q);
        return -rc;
    }
    q->maxsize = maxsize;
    *out = q;
    return 0;
}

int curio_universal_queue_destroy(curio_universal_queue *q)
{
    if (!q)
        return -EINVAL;
    pthread_mutex_lock(&q->mu);
    /* A granted getter still has to take its item out under the mutex. */
    bool busy = !curio__list_empty(&q->getters) || !curio__list_empty(&q->putters) ||
                !curio__list_empty(&q->joiners) || q->promised;
    pthread_mutex_unlock(&q->mu);
    if (busy)
        return -EBUSY;
    pthread_mutex_destroy(&q->mu);
    free(q->ring);
    free(q);
    return 0;
}

/* ---- put ---- */

/* Under the mutex, with room in the ring: add an item and promise one to the first getter
 * in line. */
static void add(curio_universal_queue *q, void *item, curio__uwakes *wk)
{
    push_back(q, item);
    q->unfinished++;
    curio__uwaiter *g = curio__ulist_first(&q->getters);
    if (g) {
        q->promised++;
        curio__ugrant(wk, &q->getters, g, NULL);
    }
}

static int put(curio_universal_queue *q, void *item, int64_t deadline)
{
    curio__uwakes wk = {0};
    pthread_mutex_lock(&q->mu);
    if (!q->maxsize || q->count < q->maxsize) {
        int rc = reserve(q);
        if (rc == 0)
            add(q, item, &wk);
        pthread_mutex_unlock(&q->mu);
        curio__uwakes_flush(&wk);
        return rc;
    }
    /* Full: wait until a get moves our item in (a granted put succeeded, whatever
     * interrupted it afterwards). */
    curio__uwaiter w = {.item = item};
    return curio__uwait(&q->mu, &q->putters, &w, "QUEUE_PUT", deadline, NULL, q);
}

int curio_universal_queue_put(curio_universal_queue *q, void *item)
{
    return q ? put(q, item, CURIO__NO_DEADLINE) : -EINVAL;
}

int curio_universal_queue_put_timeout(curio_universal_queue *q, void *item, double seconds)
{
    int64_t d;
    if (!q || curio__udeadline(seconds, &d) < 0)
        return -EINVAL;
    return put(q, item, d);
}

/* ---- get ---- */

/* Under the mutex: take the front item out (the caller holds a promise, or found an item
 * nobody was promised), and move the first waiting putter's item into the slot freed. */
static void *take(curio_universal_queue *q, curio__uwakes *wk)
{
    void *item = pop_front(q);
    curio__uwaiter *p = curio__ulist_first(&q->putters);
    if (p && q->count < q->maxsize) {
        /* The putter's wake-up goes before that of the getter its item may wake. */
        void *pitem = p->item;
        curio__ugrant(wk, &q->putters, p, NULL);
        add(q, pitem, wk); /* the slot just freed is room enough */
    }
    return item;
}

/* A getter interrupted after it was granted gives its promise up: to the next getter in
 * line, or back to the queue. The item stays where it is. */
static bool give_back(void *obj, curio__uwaiter *w, curio__uwakes *wk)
{
    (void)w;
    curio_universal_queue *q = obj;
    curio__uwaiter *g = curio__ulist_first(&q->getters);
    if (g)
        curio__ugrant(wk, &q->getters, g, NULL);
    else
        q->promised--;
    return true;
}

static int get(curio_universal_queue *q, void **item, int64_t deadline)
{
    curio__uwakes wk = {0};
    pthread_mutex_lock(&q->mu);
    if (q->count == q->promised) {
        curio__uwaiter w = {0};
        int rc = curio__uwait(&q->mu, &q->getters, &w, "QUEUE_GET", deadline, give_back, q);
        if (rc < 0)
            return rc;
        /* Granted: an item is promised to us, and stays in the ring until we take it. */
        pthread_mutex_lock(&q->mu);
        q->promised--;
    }
    *item = take(q, &wk);
    pthread_mutex_unlock(&q->mu);
    curio__uwakes_flush(&wk);
    return 0;
}

int curio_universal_queue_get(curio_universal_queue *q, void **item)
{
    return q && item ? get(q, item, CURIO__NO_DEADLINE) : -EINVAL;
}

int curio_universal_queue_get_timeout(curio_universal_queue *q, void **item, double seconds)
{
    int64_t d;
    if (!q || !item || curio__udeadline(seconds, &d) < 0)
        return -EINVAL;
    return get(q, item, d);
}

/* ---- join ---- */

int curio_universal_queue_task_done(curio_universal_queue *q)
{
    if (!q)
        return -EINVAL;
    curio__uwakes wk = {0};
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    if (q->unfinished == 0)
        rc = -EINVAL;
    else if (--q->unfinished == 0)
        curio__ugrant_all(&wk, &q->joiners);
    pthread_mutex_unlock(&q->mu);
    curio__uwakes_flush(&wk);
    return rc;
}

static int join(curio_universal_queue *q, int64_t deadline)
{
    pthread_mutex_lock(&q->mu);
    if (q->unfinished == 0) {
        pthread_mutex_unlock(&q->mu);
        return 0;
    }
    curio__uwaiter w = {0};
    return curio__uwait(&q->mu, &q->joiners, &w, "QUEUE_JOIN", deadline, NULL, q);
}

int curio_universal_queue_join(curio_universal_queue *q)
{
    return q ? join(q, CURIO__NO_DEADLINE) : -EINVAL;
}

int curio_universal_queue_join_timeout(curio_universal_queue *q, double seconds)
{
    int64_t d;
    if (!q || curio__udeadline(seconds, &d) < 0)
        return -EINVAL;
    return join(q, d);
}

/* ---- snapshots ---- */

static size_t count_of(curio_universal_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t curio_universal_queue_size(curio_universal_queue *q) { return q ? count_of(q) : 0; }
bool curio_universal_queue_empty(curio_universal_queue *q) { return q && count_of(q) == 0; }

bool curio_universal_queue_full(curio_universal_queue *q)
{
    return q && q->maxsize && count_of(q) >= q->maxsize;
}

void curio__universal_queue_waiting(curio_universal_queue *q, size_t *getters, size_t *putters,
                                    size_t *joiners)
{
    pthread_mutex_lock(&q->mu);
    if (getters)
        *getters = curio__ulist_len(&q->getters);
    if (putters)
        *putters = curio__ulist_len(&q->putters);
    if (joiners)
        *joiners = curio__ulist_len(&q->joiners);
    pthread_mutex_unlock(&q->mu);
}
