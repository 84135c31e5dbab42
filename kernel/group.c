/*
 * kernel/group.c - task groups (Curio's TaskGroup).
 *
 * Two relations are kept apart. *Holding*: the group takes a handle on every task that was
 * ever its member and drops it in curio_group_destroy, so a task returned by next_done or
 * curio_group_task stays valid that long. *Membership* (t->group == g): Curio's rules, a
 * task leaves the group when next_done returns it, when curio_join collects it, or when
 * cancel_remaining cancels it; only members are waited for, examined by join, cancelled
 * and listed by the results accessors. Members that end are queued in order of ending;
 * daemon members are never queued or waited for, only cancelled when the group winds up.
 */
#include "core.h"
#include "waitq.h"

#include <stdlib.h>
#include <string.h>

struct curio_group {
    curio_kernel *k;
    enum curio_wait wait;
    curio__task **members;       /* every task held, in task-id order (spawn order for
                                    spawned ones); each once, with one handle */
    size_t n, cap;
    size_t waiting;              /* non-daemon members not yet ended */
    curio__list done;            /* ended non-daemon members not yet taken by next_done
                                    or examined by join (by done_node) */
    curio__waitq waiters;        /* tasks blocked in next_done or join */
    curio__task *completed;      /* the first member join examined (see decides()) */
    curio__task *failed;         /* first non-daemon member that failed */
    bool closed;                 /* joined: no member can be added */
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

static bool failed(const curio__task *t) { return !t->cancelled && t->result < 0; }

/* ---- the queue of ended members ---- */

static void done_push(curio_group *g, curio__task *t)
{
    curio__list_push_back(&g->done, &t->done_node);
    t->done_queued = true;
}

static void done_unlink(curio_group *g, curio__task *t)
{
    if (!t->done_queued)
        return;
    curio__list_remove(&g->done, &t->done_node);
    t->done_queued = false;
}

/* t leaves g: it is no longer waited for, examined, cancelled or listed by g. */
static void leave(curio_group *g, curio__task *t)
{
    done_unlink(g, t);
    t->group = NULL;
    t->reap = false;
}

/* A non-daemon member has ended (or joined the group already ended). Wake one waiter for
 * it, and all of them once nothing is left to wait for, since each then has an answer. */
static void member_ended(curio_group *g, curio__task *t)
{
    if (t->reap) {
        leave(g, t);
    } else {
        done_push(g, t);
        if (!g->failed && failed(t))
            g->failed = t;
    }
    if (g->waiting == 0) {
        curio__waitq_wake_all(&g->waiters);
        return;
    }
    curio__waitq_grant(&g->waiters, 1);
}

void curio__group_member_done(curio__task *t)
{
    curio_group *g = t->group;
    if (t->daemon)
        return;
    g->waiting--;
    member_ended(g, t);
}

void curio__group_discard(curio__task *t)
{
    if (t->group)
        leave(t->group, t);
}

/* ---- adding members ---- */

static void enter(curio_group *g, curio__task *t)
{
    t->group = g;
    t->reap = false;
    if (t->daemon)
        return;
    if (t->done) {
        member_ended(g, t);
    } else {
        g->waiting++;
    }
}

/* Where t goes in g->members (task-id order), and whether it is there already. */
static size_t slot_of(const curio_group *g, const curio__task *t, bool *held)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->members[mid]->id < t->id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *held = lo < g->n && g->members[lo] == t;
    return lo;
}

/* Take a handle on t, unless g holds one from an earlier membership. */
static int hold(curio_group *g, curio__task *t)
{
    bool held;
    size_t i = slot_of(g, t, &held);
    if (held)
        return 0;
    int rc = curio__grow(&g->members, &g->cap, g->n, sizeof(*g->members));
    if (rc < 0)
        return rc;
    memmove(&g->members[i + 1], &g->members[i], (g->n - i) * sizeof(*g->members));
    g->members[i] = t;
    g->n++;
    t->handles++;
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
    /* The newest task has the highest id, so it goes last; spawn's handle is the group's. */
    g->members[g->n++] = t;
    enter(g, t);
    if (out)
        *out = t;
    return 0;
}

int curio_group_add_task(curio_group *g, curio_task *t)
{
    int rc = check_caller(g);
    if (rc < 0)
        return rc;
    if (!t || t->k != g->k)
        return -EINVAL;
    if (t->group)
        return -EBUSY;
    if (g->closed)
        return -EINVAL;
    rc = hold(g, t);
    if (rc < 0)
        return rc;
    enter(g, t);
    return 0;
}

/* ---- waiting ---- */

/* The next ended member in order of ending, off the queue (still a member). */
static int next_ended(curio_group *g, curio__task **out)
{
    for (;;) {
        curio__task *t = curio__list_entry(curio__list_first(&g->done), curio__task, done_node);
        if (t) {
            done_unlink(g, t);
            *out = t;
            return 0;
        }
        if (g->waiting == 0)
            return -ENOENT;
        curio__waiter w;
        int rc = curio__waitq_wait(&g->waiters, &w, "TASK_JOIN");
        if (rc < 0)
            return rc;
    }
}

int curio_group_next_done(curio_group *g, curio_task **out)
{
    int rc = check_caller(g);
    if (rc < 0)
        return rc;
    curio__task *t;
    rc = next_ended(g, &t);
    if (rc < 0)
        return rc;
    leave(g, t);
    if (out)
        *out = t;
    return 0;
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

/* ---- cancelling ---- */

int curio_group_cancel_remaining(curio_group *g)
{
    int rc = check_caller(g);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < g->n; i++) {
        curio__task *t = g->members[i];
        if (t->group == g && !t->daemon && !t->done) {
            t->reap = true;
            curio_cancel_nowait(t);
        }
    }
    /* Each leaves the group as it ends (curio__group_member_done), which clears reap. */
    for (size_t i = g->n; i-- > 0;) {
        curio__task *t = g->members[i];
        if (t->group == g && t->reap && (rc = curio_task_wait(t)) < 0)
            return rc;
    }
    return 0;
}

/* Cancel every member still running, daemons included, and wait for them; they stay
 * members (join and destroy). Cancellation of the caller is deferred meanwhile. */
static int cancel_all_shielded(curio_group *g)
{
    curio_scope s;
    int rc = curio_disable_cancellation(&s);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < g->n; i++)
        if (g->members[i]->group == g)
            curio_cancel_nowait(g->members[i]);
    for (size_t i = g->n; i-- > 0 && rc == 0;)
        if (g->members[i]->group == g)
            rc = curio_task_wait(g->members[i]);
    curio_scope_close(&s);
    return rc;
}

/* ---- join ---- */

/* Whether the member join just examined ends the wait (Curio's join: a member that
 * raised ends it in every mode; wait=any: any ending; wait=object: a non-None result). */
static bool decides(const curio_group *g, const curio__task *t)
{
    switch (g->wait) {
    case CURIO_WAIT_ANY:
        return true;
    case CURIO_WAIT_OBJECT:
        return failed(t) || (!t->cancelled && t->result > 0);
    default:
        return failed(t);
    }
}

static int wait_for(curio_group *g)
{
    if (g->wait == CURIO_WAIT_NONE)
        return 0;
    curio__task *t;
    int rc;
    while ((rc = next_ended(g, &t)) == 0) {
        bool stop = decides(g, t);
        /* Curio's g.completed: the first member to end, except that wait=object skips
         * the ones that returned nothing. */
        if (!g->completed && (g->wait != CURIO_WAIT_OBJECT || stop))
            g->completed = t;
        if (stop)
            return failed(t) ? CURIO_ETASKFAILED : 0;
    }
    return rc == -ENOENT ? 0 : rc;
}

int curio_group_join(curio_group *g)
{
    int rc = check_caller(g);
    if (rc < 0)
        return rc;
    rc = wait_for(g);
    int rc2 = cancel_all_shielded(g);
    g->closed = true;
    return rc < 0 ? rc : rc2;
}

/* ---- results and members ---- */

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

/* Curio's g.tasks: the non-daemon members, in task-id order. */
static bool listed(const curio_group *g, const curio__task *t)
{
    return t->group == g && !t->daemon;
}

size_t curio_group_tasks(const curio_group *g, curio_task **out, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; g && i < g->n; i++) {
        if (!listed(g, g->members[i]))
            continue;
        if (out && count < n)
            out[count] = g->members[i];
        count++;
    }
    return count;
}

int curio_group_results(const curio_group *g, long *results, size_t n, size_t *count)
{
    if (!g)
        return -EINVAL;
    if (!g->closed)
        return -EBUSY;
    size_t c = 0;
    int first = 0;
    for (size_t i = 0; i < g->n; i++) {
        curio__task *t = g->members[i];
        if (!listed(g, t))
            continue;
        if (results && c < n)
            results[c] = t->result;
        if (first == 0)
            first = member_outcome(t, NULL);
        c++;
    }
    if (count)
        *count = c;
    return first;
}

int curio_group_exceptions(const curio_group *g, int *errors, size_t n, size_t *count)
{
    if (!g)
        return -EINVAL;
    if (!g->closed)
        return -EBUSY;
    size_t c = 0;
    for (size_t i = 0; i < g->n; i++) {
        curio__task *t = g->members[i];
        if (!listed(g, t))
            continue;
        if (errors && c < n)
            errors[c] = member_outcome(t, NULL);
        c++;
    }
    if (count)
        *count = c;
    return 0;
}

void curio_group_destroy(curio_group *g)
{
    if (!g)
        return;
    if (curio__self())
        cancel_all_shielded(g);
    for (size_t i = 0; i < g->n; i++) {
        curio__task *t = g->members[i];
        if (t->group == g)
            leave(g, t);
        curio_task_release(t);
    }
    free(g->members);
    free(g);
}
