/*
 * sync/universal_queue.c - UniversalQueue: a FIFO of pointers shared by tasks of any
 * kernels and plain pthreads.
 *
 * Invariants, under the mutex: getters wait only while the queue is empty (a put with a
 * getter in line hands the item to it), and putters only while it holds maxsize or more
 * (a get that frees a slot moves the first putter's item in). An item handed to a getter
 * whose wait was interrupted comes back to the front: to the next getter in line, or into
 * the ring ahead of everything else, which may take a bounded queue to maxsize + 1.
 */
#include "universal.h"

#include <stdlib.h>

struct curio_universal_queue {
    pthread_mutex_t mu;
    size_t maxsize;              /* 0: unbounded */
    void **ring;                 /* count items from head, cap slots */
    size_t head, count, cap;
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

static void push_front(curio_universal_queue *q, void *item)
{
    q->head = (q->head + q->cap - 1) % q->cap;
    q->ring[q->head] = item;
    q->count++;
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
    bool busy = q->getters.head || q->putters.head || q->joiners.head;
    pthread_mutex_unlock(&q->mu);
    if (busy)
        return -EBUSY;
    pthread_mutex_destroy(&q->mu);
    free(q->ring);
    free(q);
    return 0;
}

/* ---- put ---- */

static int put(curio_universal_queue *q, void *item, int64_t deadline)
{
    curio__uwakes wk = {0};
    pthread_mutex_lock(&q->mu);
    if (q->getters.head) { /* then the queue is empty: straight to the first getter */
        q->unfinished++;
        curio__ugrant(&wk, &q->getters, q->getters.head, item);
        pthread_mutex_unlock(&q->mu);
        curio__uwakes_flush(&wk);
        return 0;
    }
    if (!q->maxsize || q->count < q->maxsize) {
        int rc = reserve(q);
        if (rc == 0) {
            push_back(q, item);
            q->unfinished++;
        }
        pthread_mutex_unlock(&q->mu);
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

/* A getter interrupted after it was handed w->item: the item goes back to the front. */
static bool give_back(void *obj, curio__uwaiter *w, curio__uwakes *wk)
{
    curio_universal_queue *q = obj;
    if (q->getters.head) {
        curio__ugrant(wk, &q->getters, q->getters.head, w->item);
        return true;
    }
    if (reserve(q) < 0)
        return false; /* no memory to take it back: the get keeps it and succeeds */
    push_front(q, w->item);
    return true;
}

static int get(curio_universal_queue *q, void **item, int64_t deadline)
{
    curio__uwakes wk = {0};
    pthread_mutex_lock(&q->mu);
    if (q->count) {
        *item = pop_front(q);
        curio__uwaiter *p = q->putters.head;
        if (p && q->count < q->maxsize) { /* the slot just freed is room enough */
            push_back(q, p->item);
            q->unfinished++;
            curio__ugrant(&wk, &q->putters, p, NULL);
        }
        pthread_mutex_unlock(&q->mu);
        curio__uwakes_flush(&wk);
        return 0;
    }
    curio__uwaiter w = {0};
    int rc = curio__uwait(&q->mu, &q->getters, &w, "QUEUE_GET", deadline, give_back, q);
    if (rc == 0)
        *item = w.item;
    return rc;
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
