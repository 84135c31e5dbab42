/*
 * kernel/waitq.c - parking a task (the base of every wait that is not I/O), and waiting in
 * the wait queue with hand-off that every task-to-task wait uses (see waitq.h). The waking
 * side (take, grant, wake_all) is in sched.c, beside the ready queue it feeds.
 */
#include "core.h"
#include "waitq.h"

/* ---- parking ---- */

/* The body of curio__park, inlined into the wait queue's wait (the join and every sync
 * primitive go through it). self may be NULL (-EPERM). */
static inline __attribute__((always_inline)) int park(curio__task *self, const char *state,
                                                    int64_t own_deadline)
{
    int rc = curio__trap_check(self);
    if (rc < 0)
        return rc;
    int64_t d = self->nscopes ? curio__effective_deadline(self) : CURIO__NO_DEADLINE;
    if (own_deadline < d)
        d = own_deadline;
    if (d != CURIO__NO_DEADLINE) {
        rc = curio__timer_set(self->k, self, d); /* moves an entry an I/O wait left */
        if (rc < 0)
            return rc;
    } else if (self->heap_index != SIZE_MAX) {
        curio__timer_remove(self->k, self); /* left by an I/O wait (trap.c) */
    }
    self->sleep_until = own_deadline;
    self->wake_result = 0;
    self->parked = true;
    atomic_store_explicit(&self->state, state, memory_order_relaxed);
    curio__suspend(self);
    rc = self->wake_result;
    /* -ETIMEDOUT only comes from the timer heap, set to d: a scope's deadline (a sleep's
     * own deadline passing wakes it with 0). */
    if (rc == -ETIMEDOUT)
        curio__expire_scopes(self, d);
    return curio__delivered(self, rc);
}

int curio__park(const char *state, int64_t own_deadline)
{
    return park(curio__self(), state, own_deadline);
}

void curio__park_nointr(curio__task *self, const char *state)
{
    /* No deadline is registered, and with nocancel raised curio_cancel_nowait records a
     * request without interrupting: only the caller's waker readies the task. */
    if (self->heap_index != SIZE_MAX)
        curio__timer_remove(self->k, self); /* left by an I/O wait (trap.c) */
    self->nocancel++;
    self->wake_result = 0;
    self->parked = true;
    atomic_store_explicit(&self->state, state, memory_order_relaxed);
    curio__suspend(self);
    self->nocancel--;
}

/* ---- waiting in a wait queue ---- */

int curio__waitq_wait(curio__waitq *q, curio__waiter *w, const char *state)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    w->task = self;
    w->granted = false;
    curio__waitq_push(q, w);
    for (;;) {
        self->waits_on = q;
        int rc = park(self, state, CURIO__NO_DEADLINE);
        self->waits_on = NULL;
        /* Granted means handed over, whatever rc says: a cancellation that came after the
         * hand-off is delivered at the next blocking call. */
        if (w->granted)
            return rc == 0 ? 0 : curio__undeliver(self, rc);
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
    self->waits_on = q;
    while (!w->granted)
        curio__park_nointr(self, state);
    self->waits_on = NULL;
}
