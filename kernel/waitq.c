/*
 * kernel/waitq.c - the wait queue with hand-off that every task-to-task wait uses (see
 * waitq.h).
 */
#include "waitq.h"

curio__waiter *curio__waitq_take(curio__waitq *q)
{
    curio__list_foreach(n, &q->line) {
        curio__waiter *w = curio__waiter_of(n);
        if (w->task->parked) {
            curio__waitq_unlink(q, w);
            return w;
        }
    }
    return NULL;
}

void curio__waiter_grant(curio__waiter *w, void *item)
{
    w->item = item;
    w->granted = true;
    curio__ready_with(w->task, 0);
}

size_t curio__waitq_grant(curio__waitq *q, size_t n)
{
    size_t done = 0;
    curio__waiter *w;
    while (done < n && (w = curio__waitq_take(q))) {
        curio__waiter_grant(w, w->item);
        done++;
    }
    return done;
}

size_t curio__waitq_wake_all(curio__waitq *q)
{
    size_t done = 0;
    curio__list_node *n;
    while ((n = curio__list_pop_front(&q->line))) {
        curio__waiter *w = curio__waiter_of(n);
        w->linked = false;
        if (w->task->parked) {
            curio__waiter_grant(w, w->item);
            done++;
        }
    }
    return done;
}

int curio__waitq_wait(curio__waitq *q, curio__waiter *w, const char *state)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    w->task = self;
    w->granted = false;
    curio__waitq_push(q, w);
    for (;;) {
        int rc = curio__park(state, CURIO__NO_DEADLINE);
        /* Granted means handed over, whatever rc says: a cancellation that came after the
         * hand-off is delivered at the next blocking call. */
        if (w->granted)
            return curio__undeliver(self, rc);
        if (rc < 0) {
            /* Interrupted while parked, or refused before parking (trap check, no memory
             * for a scope's deadline): still in the queue, unless a wake_all emptied it. */
            if (w->linked)
                curio__waitq_unlink(q, w);
            return rc;
        }
        /* Readied without a grant: nothing does that, but waiting on is correct. */
    }
}

void curio__waitq_wait_nointr(curio__task *self, curio__waitq *q, curio__waiter *w,
                              const char *state)
{
    w->task = self;
    w->granted = false;
    curio__waitq_push(q, w);
    while (!w->granted)
        curio__park_nointr(self, state);
}
