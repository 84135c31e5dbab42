/*
 * sync/queue.c - Queue, LifoQueue and PriorityQueue between the tasks of one kernel.
 *
 * An item belongs to the queue until a getter has run and taken it out, as in Curio: it
 * counts toward qsize and maxsize all the while, so a bounded queue pushes back on its
 * producers even while its consumers are waking up. Hand-off keeps the line honest without
 * handing over the item itself: a put with a getter parked stores the item and promises
 * one item to that getter (`promised`), and the promised items are out of reach of every
 * other get; the woken getter takes the next item (in the queue's order) when it runs.
 * Likewise a get that frees a slot of a full queue moves the first parked putter's item in
 * and completes that put. A woken waiter therefore never has to look again, and a task
 * that came later cannot leave it empty-handed.
 *
 * Storage: FIFO is a ring from `head`; LIFO a stack; the priority queue a binary min-heap
 * ordered by (priority, seq), seq counting puts so that equal priorities stay FIFO. It
 * grows by doubling (up to maxsize for a bounded queue) and never shrinks.
 */
#include "sync.h"

#include <stdlib.h>

enum kind { FIFO, LIFO, PRIO };

typedef struct pslot {
    void *item;
    int prio;
    uint64_t seq;
} pslot;

struct curio_queue {
    void *thread;                /* the owning thread's tag, fixed at creation */
    enum kind kind;
    size_t maxsize;              /* 0: unbounded */
    size_t count;                /* items stored (qsize), promised ones included */
    size_t promised;             /* items held for woken getters not yet run; <= count */
    size_t cap;                  /* slots allocated; count <= cap */
    size_t head;                 /* FIFO: index of the oldest item */
    void **items;                /* FIFO, LIFO */
    pslot *heap;                 /* PRIO */
    uint64_t seq;                /* PRIO: puts so far */
    size_t unfinished;           /* put and not yet task_done: join waits for 0 */
    curio__waitq getters;     /* parked only while count == promised */
    curio__waitq putters;     /* parked only while count >= maxsize */
    curio__waitq joiners;
};

/* ---- storage ---- */

static int grow(curio_queue *q)
{
    size_t cap = q->cap ? q->cap * 2 : 8;
    if (q->maxsize && cap > q->maxsize)
        cap = q->maxsize;
    if (cap <= q->count)
        cap = q->count + 1;
    if (q->kind == PRIO) {
        pslot *h = realloc(q->heap, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        q->heap = h;
    } else {
        void **a = malloc(cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        /* Linearise the ring (a stack is the ring with head 0). */
        for (size_t i = 0; i < q->count; i++)
            a[i] = q->items[(q->head + i) % q->cap];
        free(q->items);
        q->items = a;
        q->head = 0;
    }
    q->cap = cap;
    return 0;
}

static bool before(const pslot *a, const pslot *b)
{
    return a->prio < b->prio || (a->prio == b->prio && a->seq < b->seq);
}

static void heap_push(curio_queue *q, pslot e)
{
    size_t i = q->count;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&e, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = e;
}

static void *heap_pop(curio_queue *q)
{
    void *top = q->heap[0].item;
    pslot e = q->heap[q->count]; /* count already lowered: the last slot */
    size_t i = 0, n = q->count;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&q->heap[c + 1], &q->heap[c]))
            c++;
        if (!before(&q->heap[c], &e))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (n)
        q->heap[i] = e;
    return top;
}

/* Store an item; there must be room (count < cap). */
static void store(curio_queue *q, void *item, int prio)
{
    switch (q->kind) {
    case FIFO:
        q->items[(q->head + q->count) % q->cap] = item;
        break;
    case LIFO:
        q->items[q->count] = item;
        break;
    case PRIO:
        heap_push(q, (pslot){item, prio, q->seq++});
        break;
    }
    q->count++;
}

/* Take the next item out; there must be one. */
static void *unstore(curio_queue *q)
{
    q->count--;
    switch (q->kind) {
    case FIFO: {
        void *item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        return item;
    }
    case LIFO:
        return q->items[q->count];
    case PRIO:
        break;
    }
    return heap_pop(q);
}

/* ---- creation ---- */

static int create(curio_queue **out, size_t maxsize, enum kind kind)
{
    if (!out)
        return -EINVAL;
    curio_queue *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->thread = &curio__sync_thread_tag;
    q->kind = kind;
    q->maxsize = maxsize;
    *out = q;
    return 0;
}

int curio_queue_create(curio_queue **out, size_t maxsize) { return create(out, maxsize, FIFO); }
int curio_lifo_queue_create(curio_queue **out, size_t m) { return create(out, m, LIFO); }
int curio_priority_queue_create(curio_queue **out, size_t m) { return create(out, m, PRIO); }

static bool mine(const curio_queue *q) { return q->thread == &curio__sync_thread_tag; }

int curio_queue_destroy(curio_queue *q)
{
    if (!q)
        return -EINVAL;
    if (!mine(q))
        return -EPERM;
    /* Waiters leaving after an interruption still count: they will unlink themselves. So
     * do woken getters that have not run yet: they will take their items out. */
    if (!curio__waitq_empty(&q->getters) || !curio__waitq_empty(&q->putters) ||
        !curio__waitq_empty(&q->joiners) || q->promised)
        return -EBUSY;
    free(q->items);
    free(q->heap);
    free(q);
    return 0;
}

/* ---- put and get ---- */

/* Store an item (there must be room) and promise one to the first parked getter. */
static void add(curio_queue *q, void *item, int prio)
{
    store(q, item, prio);
    q->unfinished++;
    curio__waiter *g = curio__waitq_take(&q->getters);
    if (g) {
        q->promised++;
        curio__waiter_grant(g, NULL);
    }
}

/* A put that needs no wait. -EAGAIN when full. */
static int put_now(curio_queue *q, void *item, int prio)
{
    if (q->maxsize && q->count >= q->maxsize)
        return -EAGAIN;
    if (q->count == q->cap && grow(q) < 0)
        return -ENOMEM;
    add(q, item, prio);
    return 0;
}

static int put(curio_queue *q, void *item, int prio)
{
    if (!mine(q) || !curio__self())
        return -EPERM;
    int rc = put_now(q, item, prio);
    if (rc != -EAGAIN)
        return rc;
    curio__waiter w = {.item = item, .prio = prio};
    return curio__waitq_wait(&q->putters, &w, "QUEUE_PUT"); /* a getter stored it */
}

int curio_queue_put(curio_queue *q, void *item)
{
    return q ? put(q, item, 0) : -EINVAL;
}

int curio_queue_put_prio(curio_queue *q, void *item, int priority)
{
    if (!q || q->kind != PRIO)
        return -EINVAL;
    return put(q, item, priority);
}

int curio_queue_put_nowait(curio_queue *q, void *item)
{
    if (!q)
        return -EINVAL;
    return mine(q) ? put_now(q, item, 0) : -EPERM;
}

/* Take the next item out; then a slot is free, and the first parked putter's item fills
 * it. The caller holds a promise or found an item nobody was promised. */
static void *take(curio_queue *q)
{
    void *item = unstore(q);
    curio__waiter *p = curio__waitq_take(&q->putters);
    if (p) {
        /* The putter is readied before the getter its item may wake, as in Curio where
         * the putter runs first and only then wakes a getter. */
        void *pitem = p->item;
        int pprio = p->prio;
        curio__waiter_grant(p, NULL);
        add(q, pitem, pprio); /* the slot just freed is room enough */
    }
    return item;
}

/* A get that needs no wait: -EAGAIN unless an item is there that nobody was promised. */
static int get_now(curio_queue *q, void **item)
{
    if (q->count == q->promised)
        return -EAGAIN;
    *item = take(q);
    return 0;
}

int curio_queue_get(curio_queue *q, void **item)
{
    if (!q || !item)
        return -EINVAL;
    if (!mine(q) || !curio__self())
        return -EPERM;
    if (get_now(q, item) == 0)
        return 0;
    curio__waiter w = {0};
    int rc = curio__waitq_wait(&q->getters, &w, "QUEUE_GET");
    if (rc < 0)
        return rc;
    /* Granted: an item was promised to us (and is ours even if we were cancelled since). */
    q->promised--;
    *item = take(q);
    return 0;
}

int curio_queue_get_nowait(curio_queue *q, void **item)
{
    if (!q || !item)
        return -EINVAL;
    return mine(q) ? get_now(q, item) : -EPERM;
}

/* ---- join ---- */

int curio_queue_task_done(curio_queue *q)
{
    if (!q)
        return -EINVAL;
    if (!mine(q))
        return -EPERM;
    if (q->unfinished == 0)
        return -EINVAL;
    if (--q->unfinished == 0)
        curio__waitq_grant(&q->joiners, SIZE_MAX);
    return 0;
}

int curio_queue_join(curio_queue *q)
{
    if (!q)
        return -EINVAL;
    if (!mine(q) || !curio__self())
        return -EPERM;
    if (q->unfinished == 0)
        return 0;
    curio__waiter w = {0};
    return curio__waitq_wait(&q->joiners, &w, "QUEUE_JOIN");
}

/* ---- accessors ---- */

size_t curio_queue_size(const curio_queue *q) { return q && mine(q) ? q->count : 0; }
bool curio_queue_empty(const curio_queue *q) { return q && mine(q) && q->count == 0; }

bool curio_queue_full(const curio_queue *q)
{
    return q && mine(q) && q->maxsize && q->count >= q->maxsize;
}
