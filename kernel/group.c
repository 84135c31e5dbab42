/*
 * kernel/group.c - task groups (Curio's TaskGroup).
 *
 * The group holds a handle on every member until it is destroyed. Members that end are
 * queued in order of ending for next_done; daemon members are never queued or waited for,
 * only cancelled when the group winds up.
 */
#include "kernel.h"

#include <stdlib.h>

struct curio_group {
    curio_kernel *k;
    enum curio_wait wait;
    curio__task **members;       /* spawn order */
    size_t n, cap;
    size_t waiting;              /* non-daemon members not yet ended */
    curio__task *done_head, *done_tail; /* ended non-daemon members not yet reported */
    curio__waitq waiters;        /* tasks blocked in next_done */
    curio__task *completed;      /* decided an ANY/OBJECT wait */
    curio__task *failed;         /* first member that failed */
    bool closed;
};

static int check_caller(const curio_group *g)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (!g)
        return -EINVAL;
    return self->k != g->k ? -EPERM : 0;
}

int curio_group_create(curio_group **out, enum curio_wait wait)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (!out || (unsigned)wait > CURIO_WAIT_NONE)
        return -EINVAL;
    curio_group *g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->k = self->k;
    g->wait = wait;
    *out = g;
    return 0;
}

int curio_group_spawn(curio_group *g, curio_task **out, curio_task_fn fn, void *arg,
                      const curio_spawn_options *opts)
{
    int rc = check_caller(g);
    if (rc < 0)
        return rc;
    curio__task *self = curio__self();
    if (g->closed)
        return -EINVAL;
    rc = curio__grow(&g->members, &g->cap, g->n, sizeof(*g->members));
    if (rc < 0)
        return rc;
    curio__task *t;
    rc = curio__spawn(g->k, self, &t, fn, arg, opts);
    if (rc < 0)
        return rc;
    t->group = g;
    t->handles = 0; /* the group's membership keeps the record */
    g->members[g->n++] = t;
    if (!t->daemon)
        g->waiting++;
    if (out)
        *out = t;
    return 0;
}

static bool failed(const curio__task *t) { return !t->cancelled && t->result < 0; }

void curio__group_member_done(curio__task *t)
{
    curio_group *g = t->group;
    if (t->daemon)
        return;
    g->waiting--;
    t->done_next = NULL;
    if (g->done_tail)
        g->done_tail->done_next = t;
    else
        g->done_head = t;
    g->done_tail = t;
    if (!g->failed && failed(t))
        g->failed = t;
    curio__task *w = curio__waitq_pop(&g->waiters);
    if (w)
        curio__ready_with(w, 0);
}

int curio_group_next_done(curio_group *g, curio_task **out)
{
    int rc = check_caller(g);
    if (rc < 0)
        return rc;
    for (;;) {
        curio__task *t = g->done_head;
        if (t) {
            g->done_head = t->done_next;
            if (!g->done_head)
                g->done_tail = NULL;
            if (out)
                *out = t;
            return 0;
        }
        if (g->waiting == 0)
            return -ENOENT;
        rc = curio__wait_on(&g->waiters, "TASK_JOIN", CURIO__NO_DEADLINE);
        if (rc < 0)
            return rc;
    }
}

static int member_outcome(const curio__task *t, long *result)
{
    if (t->cancelled)
        return CURIO_ETASKCANCELLED;
    if (result)
        *result = t->result;
    return failed(t) ? CURIO_ETASKFAILED : 0;
}

int curio_group_next_result(curio_group *g, long *result)
{
    curio__task *t;
    int rc = curio_group_next_done(g, &t);
    return rc < 0 ? rc : member_outcome(t, result);
}

int curio_group_cancel_remaining(curio_group *g)
{
    int rc = check_caller(g);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < g->n; i++)
        curio_cancel_nowait(g->members[i]);
    for (size_t i = g->n; i-- > 0;) {
        rc = curio_task_wait(g->members[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int cancel_remaining_shielded(curio_group *g)
{
    curio_scope s;
    int rc = curio_disable_cancellation(&s);
    if (rc < 0)
        return rc;
    rc = curio_group_cancel_remaining(g);
    curio_scope_close(&s);
    return rc;
}

static int wait_for(curio_group *g)
{
    curio__task *t;
    int rc;
    switch (g->wait) {
    case CURIO_WAIT_ALL:
        while ((rc = curio_group_next_done(g, &t)) == 0) {
            if (failed(t))
                return CURIO_ETASKFAILED;
        }
        return rc == -ENOENT ? 0 : rc;
    case CURIO_WAIT_ANY:
        rc = curio_group_next_done(g, &t);
        if (rc == 0)
            g->completed = t;
        return rc == -ENOENT ? 0 : rc;
    case CURIO_WAIT_OBJECT:
        while ((rc = curio_group_next_done(g, &t)) == 0) {
            if (!t->cancelled && t->result > 0) {
                g->completed = t;
                return 0;
            }
        }
        return rc == -ENOENT ? 0 : rc;
    case CURIO_WAIT_NONE:
        return 0;
    }
    return -EINVAL;
}

int curio_group_join(curio_group *g)
{
    int rc = check_caller(g);
    if (rc < 0)
        return rc;
    rc = wait_for(g);
    int rc2 = cancel_remaining_shielded(g);
    g->closed = true;
    return rc < 0 ? rc : rc2;
}

curio_task *curio_group_completed(const curio_group *g) { return g ? g->completed : NULL; }
curio_task *curio_group_failed(const curio_group *g) { return g ? g->failed : NULL; }
size_t curio_group_size(const curio_group *g) { return g ? g->n : 0; }

curio_task *curio_group_task(const curio_group *g, size_t i)
{
    return g && i < g->n ? g->members[i] : NULL;
}

int curio_group_result(const curio_group *g, long *result)
{
    if (!g || !g->completed)
        return -ENOENT;
    return member_outcome(g->completed, result);
}

void curio_group_destroy(curio_group *g)
{
    if (!g)
        return;
    if (curio__self())
        cancel_remaining_shielded(g);
    for (size_t i = 0; i < g->n; i++) {
        curio__task *t = g->members[i];
        t->group = NULL;
        curio__task_maybe_free(t);
    }
    free(g->members);
    free(g);
}
