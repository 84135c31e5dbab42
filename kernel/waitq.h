/*
 * kernel/waitq.h - the one way a task waits for another task: a wait queue of waiter
 * records, with hand-off (waiting: kernel/waitq.c; waking: kernel/sched.c). Joins, task
 * groups, the sync primitives (event, locks, semaphore, condition, queue), servers,
 * process waits, signal watchers and the process pool all wait on it.
 *
 * The waiting task puts a curio__waiter record (on its own stack) at the tail of the queue
 * and parks (curio__park). A waker takes the first waiter whose task is still parked
 * (curio__waitq_take), fills it in (granted, item) and readies the task
 * (curio__waiter_grant): the waiter never has to look again, so what was handed over
 * cannot be taken by somebody else meanwhile, nor lost if the task is cancelled or times
 * out before it runs. A granted wait returns 0 whatever happened to the task after the
 * grant; the cancellation or timeout arrives at its next blocking call.
 *
 * A task interrupted while parked (cancelled, timed out: curio__interrupt) is readied by
 * the kernel with the error but stays in the queue until it runs and unlinks itself.
 * Wakers skip it: its task is no longer `parked`. So an interrupted waiter is never
 * granted anything, and the kernel never has to know which queue a task waits in (the
 * task record has no link for it, and the value types of <curio/sync.h>, whose layout is
 * public, embed nothing but the queue's two pointers).
 *
 *     curio__waiter w;                                   // the waiting side
 *     rc = curio__waitq_wait(&obj->waiters, &w, "EVENT_WAIT");
 *     // 0: granted (w.item holds what was handed over); else -ECANCELED, -ETIMEDOUT,
 *     // -ENOMEM, -EPERM, with w out of the queue
 *
 *     curio__waiter *w = curio__waitq_take(&obj->waiters);   // the waking side (never
 *     if (w) curio__waiter_grant(w, item);                   // blocks)
 *     // or curio__waitq_grant(&obj->waiters, n), curio__waitq_wake_all(&obj->waiters)
 *
 * Only the queue's kernel thread touches it. The thread-safe objects (sync/universal.h)
 * wait on lists of their own records, with the same hand-off rule under their mutex.
 */
#ifndef CURIO_KERNEL_WAITQ_H
#define CURIO_KERNEL_WAITQ_H

#include "kernel.h"
#include "list.h"

typedef struct curio__waiter {
    curio__list_node node;        /* in the queue while linked */
    curio__task *task;            /* the waiting task */
    void *item;                   /* what is offered (a put) or handed over (a grant) */
    int prio;                     /* priority queues: the offered item's priority */
    bool linked;                  /* in the queue; whoever unlinks it clears this */
    bool granted;                 /* the waker gave it what it waited for */
} curio__waiter;

/* The waiter of a queue node. */
static inline curio__waiter *curio__waiter_of(curio__list_node *n)
{
    return curio__list_entry(n, curio__waiter, node);
}

/* Whether no waiter, parked or interrupted and leaving, is in the queue. */
static inline bool curio__waitq_empty(const curio__waitq *q) { return q->line.head == NULL; }

static inline void curio__waitq_push(curio__waitq *q, curio__waiter *w)
{
    curio__list_push_back(&q->line, &w->node);
    w->linked = true;
}

static inline void curio__waitq_unlink(curio__waitq *q, curio__waiter *w)
{
    curio__list_remove(&q->line, &w->node);
    w->linked = false;
}

/* The first waiter whose task is still parked, unlinked; or NULL. Interrupted waiters in
 * front of it are left where they are (they unlink themselves when they run). */
CURIO__HIDDEN curio__waiter *curio__waitq_take(curio__waitq *q);
/* Hand w (taken from its queue) what it waited for (item, for queues) and ready its
 * task. */
CURIO__HIDDEN void curio__waiter_grant(curio__waiter *w, void *item);
/* Grant up to n parked waiters, first in line first (item: each one's own); returns how
 * many. */
CURIO__HIDDEN size_t curio__waitq_grant(curio__waitq *q, size_t n);
/* Grant every parked waiter and empty the queue: interrupted waiters are unlinked too
 * (they find themselves unlinked when they run). Afterwards no waiter refers to q, so it
 * is the wake-up to use when q may be gone before the interrupted ones run (a task's
 * joiners at its end, a handle being closed). Returns how many were granted. */
CURIO__HIDDEN size_t curio__waitq_wake_all(curio__waitq *q);

/*
 * Wait in q as the calling task, parked with the monitor state `state` (static lifetime).
 * w->item and w->prio are the caller's to fill in for a put; the rest is set here.
 * Returns 0 once granted, or the wait's error with w out of the queue: -ECANCELED,
 * -ETIMEDOUT (a scope's deadline), -ENOMEM (no room for that deadline in the timer heap),
 * -EPERM outside a task. A wait that is granted is not undone by an interruption that
 * came later (see above). It begins with the trap check, as every blocking call does.
 */
CURIO__HIDDEN int curio__waitq_wait(curio__waitq *q, curio__waiter *w, const char *state);
/* The same, but neither cancellation nor any timeout interrupts it: it returns only once
 * granted (a pending cancellation or expired scope is left for the next blocking call).
 * For what Curio does under disable_cancellation, and which cannot fail here: a condition
 * re-taking its lock. self must be the calling task. */
CURIO__HIDDEN void curio__waitq_wait_nointr(curio__task *self, curio__waitq *q,
                                            curio__waiter *w, const char *state);

#endif
