/*
 * proc/sigwatch.c - Curio's SignalEvent and SignalQueue: what a watcher does with the
 * arrivals the hub (signal.c) gives it, and the tasks waiting on it.
 *
 * An arrival sets an event (waking every waiter) or is queued (waking the first waiter,
 * which takes the oldest entry when it runs; a waiter woken and then cancelled before it
 * ran still takes its entry, so nothing queued is lost). Destroying a watcher with tasks
 * waiting marks it closing and wakes them with -EBADF; the last to leave frees it.
 */
#include "proc.h"

#include <stdlib.h>

#define DEFAULT_QUEUE 128

struct curio_signal_event {
    curio__sigwatch w;
};

struct curio_signal_queue {
    curio__sigwatch w;
};

void curio__sigwatch_deliver(curio__sigwatch *w, int signo)
{
    if (!w->is_queue) {
        w->flag = true;
        w->signo = signo;
        curio__waitq_wake_all(&w->waiters);
        return;
    }
    if (w->count == w->cap) {
        w->dropped++;
        return;
    }
    w->ring[(w->head + w->count++) % w->cap] = signo;
    curio__waitq_grant(&w->waiters, 1);
}

static int create(curio__sigwatch *w, const int *signals, size_t n)
{
    int rc = curio__signals_set(signals, n, &w->set);
    if (rc < 0)
        return rc;
    if (!curio__self())
        return -EPERM;
    return curio__sigwatch_attach(w);
}

static void watch_free(curio__sigwatch *w)
{
    free(w->ring);
    free(w);
}

static void destroy(curio__sigwatch *w)
{
    if (!w || w->gate.closing)
        return;
    curio__sigwatch_detach(w);
    if (curio__gate_close(&w->gate)) {
        watch_free(w);
        return;
    }
    curio__waitq_wake_all(&w->waiters); /* the gate makes their calls return -EBADF */
}

/* Enter a wait on w: -EINVAL, -EPERM, -EBADF, -ENOMEM (no reader could be started). */
static int enter(curio__sigwatch *w)
{
    if (!w)
        return -EINVAL;
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (w->gate.closing)
        return -EBADF;
    int rc = curio__sigwatch_reading(w);
    return rc < 0 ? rc : curio__gate_enter(&w->gate, self, 0);
}

static int leave(curio__sigwatch *w, int rc)
{
    if (curio__gate_leave_rc(&w->gate, 0, &rc))
        watch_free(w);
    return rc;
}

/* ---- SignalEvent ---- */

int curio_signal_event_create(curio_signal_event **out, const int *signals, size_t n)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    curio_signal_event *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    int rc = create(&e->w, signals, n);
    if (rc < 0) {
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

int curio_signal_event_wait(curio_signal_event *e)
{
    if (e && e->w.flag && !e->w.gate.closing && curio__self())
        return 0; /* set already: not a cancellation point */
    int rc = enter(e ? &e->w : NULL);
    if (rc < 0)
        return rc;
    curio__waiter wt;
    rc = curio__waitq_wait(&e->w.waiters, &wt, "SIGNAL_WAIT");
    return leave(&e->w, rc);
}

bool curio_signal_event_is_set(const curio_signal_event *e) { return e && e->w.flag; }

void curio_signal_event_clear(curio_signal_event *e)
{
    if (e) {
        e->w.flag = false;
        e->w.signo = 0;
    }
}

void curio_signal_event_set(curio_signal_event *e)
{
    if (e && !e->w.gate.closing) {
        curio__sigwatch_deliver(&e->w, 0);
    }
}

int curio_signal_event_signo(const curio_signal_event *e) { return e ? e->w.signo : 0; }

void curio_signal_event_destroy(curio_signal_event *e) { destroy(e ? &e->w : NULL); }

/* ---- SignalQueue ---- */

int curio_signal_queue_create(curio_signal_queue **out, const int *signals, size_t n,
                              size_t maxsize)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    curio_signal_queue *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->w.is_queue = true;
    q->w.cap = maxsize ? maxsize : DEFAULT_QUEUE;
    q->w.ring = q->w.cap <= SIZE_MAX / sizeof(int) ? malloc(q->w.cap * sizeof(int)) : NULL;
    int rc = q->w.ring ? create(&q->w, signals, n) : -ENOMEM;
    if (rc < 0) {
        watch_free(&q->w);
        return rc;
    }
    *out = q;
    return 0;
}

static int pop(curio__sigwatch *w, int *signo)
{
    if (w->count == 0)
        return -EAGAIN;
    int s = w->ring[w->head];
    w->head = (w->head + 1) % w->cap;
    w->count--;
    if (signo)
        *signo = s;
    return 0;
}

int curio_signal_queue_get_nowait(curio_signal_queue *q, int *signo)
{
    if (!q)
        return -EINVAL;
    return q->w.gate.closing ? -EBADF : pop(&q->w, signo);
}

int curio_signal_queue_get(curio_signal_queue *q, int *signo)
{
    if (q && q->w.count && !q->w.gate.closing && curio__self())
        return pop(&q->w, signo); /* one is queued: not a cancellation point */
    int rc = enter(q ? &q->w : NULL);
    if (rc < 0)
        return rc;
    for (;;) {
        curio__waiter wt;
        rc = curio__waitq_wait(&q->w.waiters, &wt, "SIGNAL_WAIT");
        if (rc < 0 || q->w.gate.closing)
            break;
        if (pop(&q->w, signo) == 0)
            break;
        /* taken meanwhile by get_nowait: wait for the next one */
    }
    return leave(&q->w, rc);
}

size_t curio_signal_queue_size(const curio_signal_queue *q) { return q ? q->w.count : 0; }

uint64_t curio_signal_queue_dropped(const curio_signal_queue *q) { return q ? q->w.dropped : 0; }

void curio_signal_queue_destroy(curio_signal_queue *q) { destroy(q ? &q->w : NULL); }
