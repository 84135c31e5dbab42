/*
 * kernel/sched.c - the ready queue, switching, and the loop (docs/internals.md, "The loop").
 *
 * A pass runs ready tasks in FIFO order for a bounded number of switches (PASS_MIN, or
 * the number ready when it began if larger). A task that blocks hands the CPU straight to
 * the next ready task (one stack switch, no detour through the scheduler); when the pass is
 * used up or nothing is ready, control returns to the scheduler, which submits every
 * queued SQE in one io_uring_enter, reaps the completions and fires timers. The bound
 * keeps yielding tasks from starving I/O.
 */
#include "core.h"
#include "introspect.h"
#include "waitq.h"

#include <stdlib.h>

/* A pass runs at least this many task switches (more if more tasks were ready when it
 * began) before control returns to the scheduler to submit, reap and fire timers. Entering
 * the kernel costs ~0.6 us and with DEFER_TASKRUN nothing completes unless we do; 128
 * switches of a yield storm cost a few microseconds, which bounds the I/O latency added. */
#define PASS_MIN 128

/* always_inline: the counters the monitor reads (count_switch) made gcc stop inlining
 * this and run() into the yield path; a call each cost more than the counters. */
static inline __attribute__((always_inline)) void ready(curio__task *t)
{
    if (t->on_ready || t->done)
        return;
    curio_kernel *k = t->k;
    t->parked = false;
    t->on_ready = true;
    atomic_store_explicit(&t->state, "READY", memory_order_relaxed);
    t->ready_next = NULL;
    if (k->ready_tail)
        k->ready_tail->ready_next = t;
    else
        k->ready_head = t;
    k->ready_tail = t;
    k->nready++;
}

void curio__ready(curio__task *t) { ready(t); }

static inline void ready_with(curio__task *t, int result)
{
    if (t->heap_index != SIZE_MAX)
        curio__timer_remove(t->k, t);
    t->wake_result = result;
    ready(t);
}

void curio__ready_with(curio__task *t, int result) { ready_with(t, result); }

static curio__task *pop_ready(curio_kernel *k)
{
    curio__task *t = k->ready_head;
    if (!t)
        return NULL;
    k->ready_head = t->ready_next;
    if (!k->ready_head)
        k->ready_tail = NULL;
    k->nready--;
    t->on_ready = false;
    return t;
}

/* The next task of the current pass, or NULL when the pass is over. */
static curio__task *next_in_pass(curio_kernel *k)
{
    if (k->pass_budget == 0)
        return NULL;
    curio__task *t = pop_ready(k);
    if (t)
        k->pass_budget--;
    return t;
}

static void serve_probes(curio_kernel *k);

/* Runs on the new stack right after any switch: the stack of a task that has just ended
 * can only be released once nobody runs on it. The same test is the probes' hook (see
 * curio__probe_run): a task resumed by a prober finds CURIO__PROBING there, so that a
 * kernel without a monitor pays nothing more for probes than this test it makes anyway. */
static void reap_exited(curio_kernel *k)
{
    curio__task *t = k->exited;
    if (!t)
        return;
    if (__builtin_expect(t == CURIO__PROBING, 0)) {
        serve_probes(k);
        return;
    }
    k->exited = NULL;
    curio__ctx_destroy(&t->ctx);
    if (!t->home) /* else the stack goes with the record it holds (task.c) */
        curio__stack_put(k, t->stack);
    t->stack = NULL;
    curio__task_maybe_free(t);
}

/* A task is scheduled: its state and cycles, and the kernel's switch count (all read by
 * other threads, kernel/introspect.h: relaxed stores by the one writer, plain moves). */
static inline void count_switch(curio_kernel *k, curio__task *t)
{
    atomic_store_explicit(&t->state, "RUNNING", memory_order_relaxed);
    atomic_store_explicit(&t->cycles, atomic_load_explicit(&t->cycles, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&k->switches,
                          atomic_load_explicit(&k->switches, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Switch from the running context to task `to`, or to the scheduler when it is NULL. */
static inline __attribute__((always_inline)) void run(curio_kernel *k, curio__ctx *from_ctx,
                                                      curio__task *to, int final)
{
    k->current = to;
    curio__ctx *to_ctx = &k->sched_ctx;
    atomic_store_explicit(&k->running_id, to ? to->id : 0, memory_order_relaxed);
    if (to) {
        count_switch(k, to);
        to_ctx = &to->ctx;
    }
    curio__ctx_switch(from_ctx, to_ctx, final);
    reap_exited(k);
}

/* Resumed by curio__probe_run rather than by the scheduler, inside curio__suspend (no
 * other switch can bring a probe: the prober only switches to tasks that have run and are
 * not running, which all wait there). Serve the probe, switch back, and again as often as
 * asked, until a real resumption; then reap what that one brought. */
__attribute__((noinline, cold)) static void serve_probes(curio_kernel *k)
{
    curio__task *self = k->current; /* set by the prober */
    do {
        curio__probe *p = k->probe;
        k->probe = NULL;
        k->exited = NULL;
        p->fn(p);
        curio__stack_check(self);
        curio__ctx_switch(&self->ctx, &p->from->ctx, 0); /* p is gone after this */
    } while (k->exited == CURIO__PROBING);
    reap_exited(k);
}

void curio__suspend(curio__task *self)
{
    curio_kernel *k = self->k;
    curio__stack_check(self);
    curio__task *next = next_in_pass(k);
    if (next == self) {
        count_switch(k, self);
        return;
    }
    run(k, &self->ctx, next, 0);
}

int curio__probe_run(curio__probe *p)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    curio__task *t = p ? p->task : NULL;
    if (!t || t == self || t->k != self->k || t->done)
        return -EINVAL;
    if (t->cycles == 0)
        return -EAGAIN;
    /* Every task that has run and is not running now is inside curio__suspend: a task
     * switches out nowhere else (curio__task_exit never comes back). */
    curio_kernel *k = self->k;
    p->from = self;
    k->probe = p;
    k->exited = CURIO__PROBING; /* NULL now: the caller reaped as it resumed */
    k->current = t;
    curio__ctx_switch(&self->ctx, &t->ctx, 0);
    k->current = self;
    return 0;
}

int curio_yield(void)
{
    curio__task *self = curio__self();
    int rc = curio__trap_check(self);
    if (rc < 0)
        return rc;
    ready(self);
    curio__suspend(self);
    return 0;
}

void curio__task_exit(curio__task *self)
{
    curio_kernel *k = self->k;
    curio__stack_check(self);
    if (self->heap_index != SIZE_MAX)
        curio__timer_remove(k, self); /* left by an I/O wait (trap.c) */
    pthread_mutex_lock(&k->tasks_lock);
    self->done = true;
    atomic_store_explicit(&self->state, "TERMINATED", memory_order_relaxed);
    if (self->result == -ECANCELED && self->cancel_delivered)
        self->cancelled = true;
    /* Leave the list of live tasks. */
    curio__list_remove(&k->all, &self->all_node);
    if (self->handles || self->group) {
        self->zombie = true;
        curio__list_push_front(&k->zombies, &self->all_node);
    }
    if (k->ended)
        curio__ended_record(k, self);
    k->nended++;
    pthread_mutex_unlock(&k->tasks_lock);
    if (!curio__waitq_empty(&self->joiners))
        curio__waitq_wake_all(&self->joiners);
    if (self->group)
        curio__group_member_done(self);
    k->exited = self;
    run(k, &self->ctx, next_in_pass(k), 1);
    __builtin_unreachable();
}

static void task_entry(void *arg)
{
    curio__task *t = arg;
    curio__ctx_started();
    reap_exited(t->k);
    t->result = t->fn(t->arg);
    curio__task_exit(t);
}

void curio__task_start_ctx(curio__task *t, size_t reserved)
{
    curio__ctx_make(&t->ctx, t->stack->base, t->stack->size - reserved, task_entry, t);
}

static void run_pass(curio_kernel *k)
{
    k->pass_budget = k->nready > PASS_MIN ? k->nready : PASS_MIN;
    curio__task *t = next_in_pass(k);
    if (t)
        run(k, &k->sched_ctx, t, 0);
    k->pass_budget = 0;
    k->now_fresh = false; /* the next pass reads the clock again, at most once */
}

void curio__loop_until(curio_kernel *k, curio__task *until)
{
    while (!until->done) {
        run_pass(k);
        if (until->done)
            break;
        if (atomic_load_explicit(&k->posted, memory_order_acquire))
            curio__posts_run(k);
        if (k->ready_head) {
            /* Busy: submit and reap without waiting, then go on running. */
            if (io_uring_sq_ready(&k->ring) || k->inflight)
                curio__ring_poll(k, false, CURIO__NO_DEADLINE);
            if (k->heap_len)
                curio__timers_fire(k, curio__now());
            continue;
        }
        /* Idle: give back stacks past the cache, a few at a time, looking for events
         * between batches. */
        if (curio__stacks_trim(k, 32)) {
            curio__ring_poll(k, false, CURIO__NO_DEADLINE);
            if (k->heap_len)
                curio__timers_fire(k, curio__now());
            continue;
        }
        int64_t d = curio__timer_next(k);
        if (d != CURIO__NO_DEADLINE) {
            int64_t now = curio__now();
            if (d <= now) {
                curio__ring_poll(k, false, CURIO__NO_DEADLINE);
                curio__timers_fire(k, now);
                continue;
            }
        }
        /* Woken by a completion rather than by the deadline, it does not read the clock:
         * the next time round does, before it waits again (an entry due meanwhile fires
         * a pass later). */
        if (curio__ring_poll(k, true, d) && k->heap_len)
            curio__timers_fire(k, curio__now());
    }
}

/* ---- waking a wait queue's waiters (kernel/waitq.h) ---- */

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
    ready_with(w->task, 0);
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
