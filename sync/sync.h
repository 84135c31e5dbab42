/*
 * sync/sync.h - the sync layer's private interface: the line of waiting tasks that every
 * task primitive (event, locks, semaphore, condition, queue) is built on, and the rule
 * that ties a primitive to one thread.
 *
 * How a wait works. The waiting task puts a curio__waiter record (on its own stack) at the
 * tail of the primitive's line and parks with curio__wait_on(NULL, ...). A waker takes the
 * first waiter whose task is still parked, fills it in (granted, item) and readies the
 * task: the waiter never has to look again, so what was handed over cannot be taken by
 * somebody else meanwhile, nor lost if the task is cancelled before it runs (it returns
 * success, and the cancellation arrives at its next blocking call).
 *
 * A task interrupted while parked (cancelled, timed out) is readied by the kernel with the
 * error but stays in the line until it runs and unlinks itself. Wakers skip it: its task is
 * no longer `parked`. That keeps the kernel's wait queues out of the value types, whose
 * layout is public.
 */
#ifndef CURIO_SYNC_PRIVATE_H
#define CURIO_SYNC_PRIVATE_H

#include "../kernel/kernel.h"

struct curio__waiter {
    struct curio__waiter *prev, *next; /* links in the line while linked */
    curio__task *task;
    void *item;                   /* queues: the item offered (put) or handed over (get) */
    int prio;                     /* priority queues: the offered item's priority */
    bool linked;                  /* in the line; wakers unlink what they grant */
    bool granted;                 /* the waker gave it what it waited for */
};
typedef struct curio__waiter curio__waiter;

/* ---- the owning thread (sync.c) ---- */

/* The calling thread's tag: an address unique among live threads. */
extern __thread char curio__sync_thread_tag CURIO__HIDDEN
    __attribute__((tls_model("initial-exec")));

/* Bind *owner to the calling thread if it is unbound, and say whether it is the calling
 * thread's. The first use wins with a compare-and-swap, so a second thread touching a
 * primitive at the same moment sees someone else's tag and changes nothing. */
static inline bool curio__sync_mine(void **owner)
{
    void *me = &curio__sync_thread_tag;
    void *cur = __atomic_load_n(owner, __ATOMIC_ACQUIRE);
    if (__builtin_expect(cur == me, 1))
        return true;
    return cur == NULL &&
           __atomic_compare_exchange_n(owner, &cur, me, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

/* For accessors (which take const pointers and do not bind): whether *owner is the
 * calling thread's or still unbound. */
static inline bool curio__sync_readable(void *const *owner)
{
    void *cur = __atomic_load_n(owner, __ATOMIC_ACQUIRE);
    return cur == NULL || cur == (void *)&curio__sync_thread_tag;
}

/* ---- the line (waiters.c) ---- */

CURIO__HIDDEN void curio__waitlist_push(curio__waitlist *l, curio__waiter *w);
CURIO__HIDDEN void curio__waitlist_unlink(curio__waitlist *l, curio__waiter *w);
/* The first waiter whose task is still parked, unlinked; or NULL. Interrupted waiters in
 * front of it are left where they are (they unlink themselves when they run). */
CURIO__HIDDEN curio__waiter *curio__waitlist_take(curio__waitlist *l);
/* Hand w what it waited for (item, for queues) and ready its task. */
CURIO__HIDDEN void curio__waiter_grant(curio__waiter *w, void *item);
/* Grant up to n parked waiters, first in line first; returns how many. */
CURIO__HIDDEN size_t curio__waitlist_grant(curio__waitlist *l, size_t n);
/* Whether any waiter, parked or leaving, is in the line. */
static inline bool curio__waitlist_busy(const curio__waitlist *l) { return l->head != NULL; }

/* Wait in line l as the calling task (w->item/prio filled in for a put; the rest is set
 * here), parked with the monitor state `state`. Returns 0 once granted, or the wait's
 * error (-ECANCELED, -ETIMEDOUT, -ENOMEM, -EPERM outside a task) with w out of the line. */
CURIO__HIDDEN int curio__waiter_wait(curio__waitlist *l, curio__waiter *w, const char *state);
/* The same, but neither cancellation nor any timeout interrupts it: it returns only once
 * granted (a pending cancellation or expired scope is left for the next blocking call).
 * For what Curio does under disable_cancellation, and which cannot fail here: a condition
 * re-taking its lock. self must be the calling task. */
CURIO__HIDDEN void curio__waiter_wait_nointr(curio__task *self, curio__waitlist *l,
                                             curio__waiter *w, const char *state);

/* ---- locks, for the condition (lock.c) ---- */

/* Take l for the calling task, not interruptibly (see curio__waiter_wait_nointr). */
CURIO__HIDDEN void curio__lock_acquire_nointr(curio__task *self, curio_lock *l);

#endif
