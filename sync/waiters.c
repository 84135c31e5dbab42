/*
 * sync/waiters.c - the line of waiting tasks shared by the task primitives, and the tag
 * that ties a primitive to its thread (see sync.h).
 */
#include "sync.h"

__thread char curio__sync_thread_tag __attribute__((tls_model("initial-exec")));

void curio__waitlist_push(curio__waitlist *l, curio__waiter *w)
{
    w->next = NULL;
    w->prev = l->tail;
    if (l->tail)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
    w->linked = true;
}

void curio__waitlist_unlink(curio__waitlist *l, curio__waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        l->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        l->tail = w->prev;
    w->prev = w->next = NULL;
    w->linked = false;
}

curio__waiter *curio__waitlist_take(curio__waitlist *l)
{
    for (curio__waiter *w = l->head; w; w = w->next) {
        if (curio__task_parked(w->task)) {
            curio__waitlist_unlink(l, w);
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

size_t curio__waitlist_grant(curio__waitlist *l, size_t n)
{
    size_t done = 0;
    curio__waiter *w;
    while (done < n && (w = curio__waitlist_take(l))) {
        curio__waiter_grant(w, w->item);
        done++;
    }
    return done;
}

int curio__waiter_wait(curio__waitlist *l, curio__waiter *w, const char *state)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    w->task = self;
    w->granted = false;
    curio__waitlist_push(l, w);
    for (;;) {
        int rc = curio__wait_on(NULL, state, CURIO__NO_DEADLINE);
        /* Granted means handed over, whatever rc says: a cancellation that came after the
         * hand-off is delivered at the next blocking call. */
        if (w->granted)
            return curio__undeliver(self, rc);
        if (rc < 0) {
            /* Interrupted while parked, or refused before parking (trap check, no memory
             * for a scope's deadline): still in line. */
            curio__waitlist_unlink(l, w);
            return rc;
        }
        /* Readied without a grant: nothing here does that, but waiting on is correct. */
    }
}

void curio__waiter_wait_nointr(curio__task *self, curio__waitlist *l, curio__waiter *w,
                               const char *state)
{
    w->task = self;
    w->granted = false;
    curio__waitlist_push(l, w);
    while (!w->granted)
        curio__park_nointr(self, state);
}
