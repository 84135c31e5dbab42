/*
 * sync/universal.h - waiting on the thread-safe objects (UniversalQueue, UniversalEvent)
 * as a task of any kernel or as a plain pthread.
 *
 * Each object has a mutex that guards its state and its lines of waiters. A waiter record
 * lives on the waiter's stack. Granting (under the mutex) unlinks the waiter, fills it in
 * and marks it granted; then:
 *  - a pthread is signalled on its own condition variable, still under the mutex, and
 *    sees `granted` when it gets the mutex back (a timed-out thread decides under the
 *    mutex too, so a grant and a timeout can never both win);
 *  - a task is woken by running wake() on its kernel's thread: directly if the granter is
 *    on that thread, else by posting the record's own curio__post node to the kernel
 *    (after the mutex is released, so the mutex is never held across the eventfd write).
 *    The node is the waiter's, so the wake-up cannot fail with ENOMEM.
 *
 * The race the design is about: a task interrupted (cancelled, timed out) at the moment
 * another thread grants it. The task finds out under the mutex: not granted, it unlinks
 * itself and returns the interruption; granted, the grant stands (a get gives up the
 * item promised to it first, see curio__uwait's give_back), and the task must not return
 * before its wake-up has run, since the post node is on its stack: it parks, not
 * interruptibly, until wake() says so. Only the kernel's thread reads or writes `woken`.
 *
 * The lines are the library's list (kernel/list.h), and the rule is the kernel's wait
 * queue's (kernel/waitq.h: the granter fills the waiter in, so a grant cannot be lost),
 * but the record and its functions are not the wait queue's, which only a kernel's own
 * thread may touch: its take() reads each waiter's task->parked and its grant readies the
 * task there and then, on the granter's thread. Here the granter may be any thread, the
 * waiter may be a pthread with no task at all, the line is guarded by the object's mutex,
 * a task is readied by a post to its kernel, and an interrupted task decides under the
 * mutex whether the grant won (a get then gives its promise back) instead of being
 * skipped by `parked`.
 */
#ifndef CURIO_SYNC_UNIVERSAL_H
#define CURIO_SYNC_UNIVERSAL_H

#include "sync.h"

typedef struct curio__uwaiter curio__uwaiter;
struct curio__uwaiter {
    curio__list_node node;        /* in a line (under the object's mutex) */
    void *item;                   /* offered (put) or handed over (get) */
    bool granted;                 /* under the mutex: handed what it waited for, unlinked */
    /* a pthread */
    pthread_cond_t *cv;           /* its thread's condition variable, or NULL for a task */
    /* a task */
    curio__task *task;
    curio_kernel *k;
    curio__post post;             /* its wake-up, posted to k */
    bool woken;                   /* wake() has run (only k's thread touches it) */
    curio__uwaiter *wake_next;    /* in the granter's list of wake-ups to deliver */
};

/* A line of waiters: curio__uwaiter records, by node. */
typedef curio__list curio__ulist;

/* The first waiter in l, or NULL. */
static inline curio__uwaiter *curio__ulist_first(const curio__ulist *l)
{
    return curio__list_entry(curio__list_first(l), curio__uwaiter, node);
}

/* Wake-ups gathered under the mutex, delivered after it is released, in grant order. */
typedef struct curio__uwakes {
    curio__uwaiter *head, *tail;
} curio__uwakes;

CURIO__HIDDEN void curio__ulist_push(curio__ulist *l, curio__uwaiter *w);
CURIO__HIDDEN void curio__ulist_unlink(curio__ulist *l, curio__uwaiter *w);
/* Under the mutex: unlink w and hand it item. A thread is signalled at once; a task's
 * wake-up joins wk. */
CURIO__HIDDEN void curio__ugrant(curio__uwakes *wk, curio__ulist *l, curio__uwaiter *w,
                                 void *item);
/* Grant every waiter in l (item: each one's own). */
CURIO__HIDDEN void curio__ugrant_all(curio__uwakes *wk, curio__ulist *l);
/* After the mutex is released: deliver the task wake-ups in wk. */
CURIO__HIDDEN void curio__uwakes_flush(curio__uwakes *wk);

/* Called under the mutex for a get whose wait was interrupted after it had been granted:
 * give up what it was granted (the universal queue: its promise of an item) and return
 * true, or return false to keep it (the get then succeeds). Gathers wake-ups of its own
 * into wk. */
typedef bool (*curio__ugive_back)(void *obj, curio__uwaiter *w, curio__uwakes *wk);

/*
 * Wait in line l of an object whose mutex mu the caller holds; returns with mu released.
 * w->item is the offered item for a put (the rest is set here). deadline: absolute
 * curio_clock() ns or CURIO__NO_DEADLINE. Returns 0 once granted (w->item holds what was
 * handed over), -ETIMEDOUT when the deadline passed first (at once if it has already),
 * a task's -ECANCELED/-ETIMEDOUT/-ENOMEM, or -EPERM on a kernel's thread outside a task.
 */
CURIO__HIDDEN int curio__uwait(pthread_mutex_t *mu, curio__ulist *l, curio__uwaiter *w,
                               const char *state, int64_t deadline, curio__ugive_back give_back,
                               void *obj);

/* seconds from now as an absolute deadline: 0 and *deadline, or -EINVAL (negative, NaN).
 * INFINITY and anything past ~292 years is CURIO__NO_DEADLINE. */
CURIO__HIDDEN int curio__udeadline(double seconds, int64_t *deadline);

/* Task waits granted at the moment they were interrupted, since the process started
 * (the race of universal.h's comment; the stress test checks that it happens). */
extern _Atomic unsigned long curio__uwait_races CURIO__HIDDEN;

/* How many wait in each line right now (for tests and the monitor); NULL: not wanted. */
CURIO__HIDDEN void curio__universal_queue_waiting(curio_universal_queue *q, size_t *getters,
                                                  size_t *putters, size_t *joiners);
CURIO__HIDDEN size_t curio__universal_event_waiting(curio_universal_event *e);
CURIO__HIDDEN size_t curio__ulist_len(const curio__ulist *l);

#endif
