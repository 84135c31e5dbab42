/*
 * kernel/introspect.c - snapshots of tasks and the walk over a kernel's tasks, for tools
 * outside kernel/ (introspect.h).
 */
#include "core.h"
#include "introspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The nearest deadline of t's open timeout scopes (timeout_after, ignore_after; also
 * those deferred by a disable_cancellation scope), or CURIO__NO_DEADLINE. */
static int64_t nearest_deadline(const curio__task *t)
{
    int64_t d = CURIO__NO_DEADLINE;
    for (size_t i = 0; i < t->nscopes; i++)
        if (t->scopes[i].kind != CURIO__SCOPE_NOCANCEL && t->scopes[i].deadline < d)
            d = t->scopes[i].deadline;
    return d;
}

void curio__task_snapshot(curio__task *t, curio__task_info *out)
{
    memset(out, 0, sizeof *out);
    out->id = t->id;
    out->parent_id = t->parent_id;
    _Static_assert(sizeof out->name == sizeof t->name, "a task's name fits the snapshot");
    memcpy(out->name, curio_task_name(t), sizeof out->name);
    out->name[sizeof out->name - 1] = 0;
    out->state = curio_task_state(t);
    out->cycles = t->cycles;
    out->result = t->result;
    out->deadline = nearest_deadline(t);
    out->daemon = t->daemon;
    out->internal = t->internal;
    out->done = t->done;
    out->cancelled = t->cancelled;
    out->cancel_requested = t->cancel_requested;
    out->nocancel = t->nocancel != 0;
    out->has_stack = t->stack != NULL;
    if (out->has_stack) {
        out->stack_lo = t->stack->base;
        out->stack_hi = (const char *)t->stack->base + t->stack->size;
    }
    out->cancel_by = t->cancel_by;
    out->fd = -1;
    if (!t->done && t->op && !t->op->done && t->op->claimed)
        out->fd = t->op->claim_fd;
    out->waits_on = t->parked ? t->waits_on : NULL;
}

/* The task a node of k->all or k->zombies belongs to, or NULL past the end. */
static curio__task *task_of(curio__list_node *n)
{
    return n ? curio__list_entry(n, curio__task, all_node) : NULL;
}

curio__task *curio__tasks_first(curio_kernel *k) { return task_of(curio__list_first(&k->all)); }
curio__task *curio__tasks_next(curio__task *t) { return task_of(curio__list_next(&t->all_node)); }

size_t curio__tasks_live(curio_kernel *k)
{
    size_t n = 0;
    curio__list_foreach(node, &k->all)
        n++;
    return n;
}

curio__task *curio__task_lookup(curio_kernel *k, uint64_t id)
{
    curio__list_foreach_entry(t, &k->all, curio__task, all_node)
        if (t->id == id)
            return t;
    curio__list_foreach_entry(t, &k->zombies, curio__task, all_node)
        if (t->id == id)
            return t;
    return NULL;
}

const curio_options *curio__kernel_options(const curio_kernel *k) { return &k->opts; }
struct curio__stall **curio__kernel_stall(curio_kernel *k) { return &k->stall; }
struct curio__monitor *curio__kernel_monitor(const curio_kernel *k) { return k->monitor; }
void curio__kernel_set_monitor(curio_kernel *k, struct curio__monitor *m) { k->monitor = m; }

/* ---- from another thread ---- */

size_t curio__tasks_peek(curio_kernel *k, curio__task_peek *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&k->tasks_lock);
    curio__list_foreach_entry(t, &k->all, curio__task, all_node) {
        if (n < cap) {
            curio__task_peek *p = &out[n];
            p->id = t->id;
            p->parent_id = t->parent_id;
            memcpy(p->name, t->name, sizeof p->name);
            p->name[sizeof p->name - 1] = 0;
            if (!p->name[0]) /* the default name, not made yet: not made here either */
                snprintf(p->name, sizeof p->name, "task-%llu", (unsigned long long)t->id);
            const char *st = atomic_load_explicit(&t->state, memory_order_relaxed);
            p->state = st ? st : "READY";
            p->cycles = atomic_load_explicit(&t->cycles, memory_order_relaxed);
            p->internal = t->internal;
            p->daemon = t->daemon;
        }
        n++;
    }
    pthread_mutex_unlock(&k->tasks_lock);
    return n;
}

void curio__kernel_activity(curio_kernel *k, uint64_t *running, uint64_t *switches)
{
    *switches = atomic_load_explicit(&k->switches, memory_order_relaxed);
    *running = atomic_load_explicit(&k->running_id, memory_order_relaxed);
}

void curio__kernel_on_destroy(curio_kernel *k, void (*fn)(curio_kernel *k))
{
    for (size_t i = 0; i < sizeof k->on_destroy / sizeof k->on_destroy[0]; i++) {
        if (!k->on_destroy[i] || k->on_destroy[i] == fn) {
            k->on_destroy[i] = fn;
            return;
        }
    }
}

/* ---- ended tasks, counters ---- */

int curio__kernel_keep_ended(curio_kernel *k, unsigned n)
{
    curio__ended_info *v = calloc(n, sizeof *v);
    if (!v)
        return -ENOMEM;
    pthread_mutex_lock(&k->tasks_lock);
    free(k->ended);
    k->ended = v;
    k->ended_cap = n;
    pthread_mutex_unlock(&k->tasks_lock);
    return 0;
}

void curio__ended_record(curio_kernel *k, curio__task *t)
{
    curio__ended_info *e = &k->ended[k->nended % k->ended_cap];
    e->id = t->id;
    e->parent_id = t->parent_id;
    e->cancel_by = t->cancel_by;
    memcpy(e->name, t->name, sizeof e->name);
    e->name[sizeof e->name - 1] = 0;
    if (!e->name[0])
        snprintf(e->name, sizeof e->name, "task-%llu", (unsigned long long)t->id);
    e->result = t->result;
    e->when = curio__now();
    e->cancelled = t->cancelled;
    e->cancel_requested = t->cancel_requested;
    e->internal = t->internal;
}

size_t curio__tasks_ended(curio_kernel *k, curio__ended_info *out, size_t cap,
                          uint64_t *total)
{
    size_t n = 0;
    pthread_mutex_lock(&k->tasks_lock);
    *total = k->nended;
    if (k->ended) {
        uint64_t kept = k->nended < k->ended_cap ? k->nended : k->ended_cap;
        for (uint64_t i = 0; i < kept && n < cap; i++)
            out[n++] = k->ended[(k->nended - 1 - i) % k->ended_cap];
    }
    pthread_mutex_unlock(&k->tasks_lock);
    return n;
}

void curio__kernel_stats_read(curio_kernel *k, curio__kernel_stats *out)
{
    memset(out, 0, sizeof *out);
    out->tasks = curio__tasks_live(k);
    out->ready = k->nready;
    curio__list_foreach(node, &k->zombies)
        out->zombies++;
    out->switches = atomic_load_explicit(&k->switches, memory_order_relaxed);
    out->ended = k->nended;
    out->inflight = k->inflight;
    out->sq_entries = k->ring.sq.ring_entries;
    out->sq_ready = io_uring_sq_ready(&k->ring);
    out->cq_entries = k->ring.cq.ring_entries;
    out->cq_ready = io_uring_cq_ready(&k->ring);
    if (k->ring.cq.koverflow)
        out->cq_overflow = __atomic_load_n(k->ring.cq.koverflow, __ATOMIC_RELAXED);
    out->timers = k->heap_len;
    pthread_mutex_lock(&k->post_lock);
    for (const curio__post *p = k->posts_head; p; p = p->next)
        out->posts_pending++;
    pthread_mutex_unlock(&k->post_lock);
}

size_t curio__fd_claims_list(curio_kernel *k, curio__fd_claim_info *out, size_t cap)
{
    size_t n = 0;
    for (size_t fd = 0; fd < k->nclaims; fd++) {
        for (int dir = 0; dir < 2; dir++) {
            if (!k->claims[fd].by[dir])
                continue;
            if (n < cap)
                out[n] = (curio__fd_claim_info){k->claims[fd].by[dir], (int)fd, dir};
            n++;
        }
    }
    return n;
}
