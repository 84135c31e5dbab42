/*
 * monitor/sample.c - the watched kernel seen from the monitor's thread: which task it runs
 * and since when (the sampler), the stack of that task (a signal to the kernel's thread),
 * and ps and parents from the thread-safe view (kernel/introspect.h) when the kernel is
 * too busy to answer.
 */
#include "monitor.h"

#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- the sampler ---- */

static void look(struct curio__monitor *m)
{
    uint64_t running, switches;
    curio__kernel_activity(m->k, &running, &switches);
    if (running != m->seen_running || switches != m->seen_switches || !m->seen_since) {
        m->seen_running = running;
        m->seen_switches = switches;
        m->seen_since = curio__now();
    }
}

long curio__mon_sampler(void *arg)
{
    struct curio__monitor *m = arg;
    int64_t rc;
    do
        look(m);
    while ((rc = curio_sleep(CURIO__MON_SAMPLE)) >= 0);
    return (long)rc;
}

uint64_t curio__mon_running(struct curio__monitor *m, double *for_s)
{
    look(m);
    *for_s = (double)(curio__now() - m->seen_since) / 1e9;
    return m->seen_running;
}

/* ---- the running task's stack: a signal to the kernel's thread ---- */

/* The one request a process has at a time (every monitor's thread takes turns): the
 * handler runs on the thread it was sent to, takes it (ARMED to TAKING) and fills it. */
enum { IDLE, ARMED, TAKING, DONE };
static struct {
    _Atomic int state;
    _Atomic int tid;
    _Atomic bool owned;                  /* a monitor's thread is using it */
    void *pcs[CURIO__MON_MAX_FRAMES];
    int n;
} slot;
static struct sigaction previous;
static pthread_once_t installed = PTHREAD_ONCE_INIT;

/* Async-signal-safe: gettid, atomics, and glibc's backtrace, whose unwinder was loaded
 * when the monitor started (server.c), so that it does not dlopen or malloc here. */
static void sample_handler(int sig, siginfo_t *info, void *uc)
{
    int saved = errno;
    int expect = ARMED;
    if (atomic_load(&slot.tid) == (int)syscall(SYS_gettid) &&
        atomic_compare_exchange_strong(&slot.state, &expect, TAKING)) {
        slot.n = backtrace(slot.pcs, CURIO__MON_MAX_FRAMES);
        atomic_store_explicit(&slot.state, DONE, memory_order_release);
    } else if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction)
            previous.sa_sigaction(sig, info, uc);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    }
    errno = saved;
}

static void install(void)
{
    struct sigaction sa = {.sa_sigaction = sample_handler,
                           .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGURG, &sa, &previous);
}

/* 1 ms: curio_sleep in a task (the monitor's), else nanosleep (the stall detector's). */
static int nap(void)
{
    if (curio_current()) {
        int64_t rc = curio_sleep(0.001);
        return rc < 0 ? (int)rc : 0;
    }
    nanosleep(&(struct timespec){0, 1000000}, NULL);
    return 0;
}

int curio__mon_sample_stack(int tid, void **pcs, int cap, int *skip)
{
    pthread_once(&installed, install);
    bool no = false;
    while (!atomic_compare_exchange_strong(&slot.owned, &no, true)) {
        no = false;
        if (nap() < 0)
            return 0;
    }
    atomic_store(&slot.tid, tid);
    atomic_store(&slot.state, ARMED);
    int n = 0;
    if (syscall(SYS_tgkill, getpid(), tid, SIGURG) == 0) {
        for (int i = 0; i < 1000 && atomic_load_explicit(&slot.state, memory_order_acquire) !=
                                        DONE; i++)
            nap();
        int expect = ARMED;
        if (!atomic_compare_exchange_strong(&slot.state, &expect, IDLE)) {
            /* Taken: the handler is at work and returns soon. */
            while (atomic_load_explicit(&slot.state, memory_order_acquire) != DONE)
                sched_yield();
            n = slot.n < cap ? slot.n : cap;
            memcpy(pcs, slot.pcs, (size_t)n * sizeof *pcs);
        }
    }
    atomic_store(&slot.tid, 0);
    atomic_store(&slot.state, IDLE);
    atomic_store(&slot.owned, false);
    *skip = 2; /* sample_handler, the signal's return trampoline */
    return n;
}

/* ---- ps and parents from the thread-safe view ---- */

void curio__mon_busy_line(curio__mon_session *s)
{
    double for_s;
    uint64_t running = curio__mon_running(s->mon, &for_s);
    if (!running) {
        curio__text_printf(&s->out, "(the kernel did not answer within %.0f ms and runs no "
                                    "task: it is between runs or busy outside its tasks)\n",
                           CURIO__MON_ASK_WAIT * 1e3);
        return;
    }
    curio__task_peek *v = NULL;
    size_t cap = curio__tasks_peek(s->mon->k, NULL, 0) + 16;
    const char *name = "?";
    if ((v = calloc(cap, sizeof *v)) != NULL) {
        size_t n = curio__tasks_peek(s->mon->k, v, cap);
        for (size_t i = 0; i < n && i < cap; i++)
            if (v[i].id == running)
                name = v[i].name;
    }
    curio__text_printf(&s->out, "(the kernel is busy: task %llu (%s) has run for %.3f s "
                                "without a trap)\n", (unsigned long long)running, name, for_s);
    free(v);
}

/* The live tasks, or NULL (out of memory: said in s->out). */
struct peek_foreign {
    unsigned index;
    curio__task_peek *v;
    size_t cap, n;
    bool found;
};

static void peek_foreign_cb(void *arg, unsigned index, int tid, curio_kernel *k)
{
    (void)tid;
    struct peek_foreign *p = arg;
    if (index == p->index) {
        p->n = curio__tasks_peek(k, p->v, p->cap);
        p->found = true;
    }
}

/* The live tasks of the session's kernel: the monitor's own, or its target in the run. */
curio__task_peek *curio__mon_peek_all(curio__mon_session *s, size_t *n)
{
    for (size_t cap = 64;; cap *= 2) {
        curio__task_peek *v = calloc(cap, sizeof *v);
        if (!v) {
            curio__text_printf(&s->out, "Error: out of memory\n");
            return NULL;
        }
        if (s->target < 0) {
            *n = curio__tasks_peek(s->mon->k, v, cap);
        } else {
            struct peek_foreign p = {.index = (unsigned)s->target, .v = v, .cap = cap};
            if (s->mon->run)
                curio__cores_visit(s->mon->run, peek_foreign_cb, &p);
            if (!p.found) {
                free(v);
                curio__text_printf(&s->out, "Error: no kernel %d in this run (or it is "
                                            "ending)\n", s->target);
                return NULL;
            }
            *n = p.n;
        }
        if (*n <= cap)
            return v;
        free(v);
    }
}

void curio__mon_ps_busy(curio__mon_session *s)
{
    size_t n;
    curio__task_peek *v = curio__mon_peek_all(s, &n);
    if (!v)
        return;
    double for_s;
    uint64_t running = curio__mon_running(s->mon, &for_s);
    curio__text *o = &s->out;
    if (s->json) {
        curio__text_printf(o, "{\"busy\": true, \"running\": %llu, \"running_for\": %.6f, "
                              "\"tasks\": [", (unsigned long long)running, for_s);
        for (size_t i = 0; i < n; i++) {
            curio__text_printf(o, "%s{\"id\": %llu, \"parent\": %llu, \"state\": \"%s\", "
                                  "\"cycles\": %llu, \"timeout\": null, \"name\": ",
                               i ? ", " : "", (unsigned long long)v[i].id,
                               (unsigned long long)v[i].parent_id, v[i].state,
                               (unsigned long long)v[i].cycles);
            curio__text_json(o, v[i].name);
            curio__text_printf(o, ", \"daemon\": %s, \"internal\": %s, \"own\": %s}",
                               v[i].daemon ? "true" : "false", v[i].internal ? "true" : "false",
                               curio__mon_is_own(s->mon, v[i].id) ? "true" : "false");
        }
        curio__text_printf(o, "]}\n");
        free(v);
        return;
    }
    curio__text_printf(o, "%-6s %-12s %-10s %-7s %s\n", "Task", "State", "Cycles", "Timeout",
                       "Task");
    curio__text_printf(o, "------ ------------ ---------- ------- "
                          "--------------------------------------------------\n");
    bool own = false;
    for (size_t i = 0; i < n; i++) {
        bool mine = curio__mon_is_own(s->mon, v[i].id);
        own |= mine;
        curio__text_printf(o, "%-6llu %-12s %-10llu %-7s %s%s\n", (unsigned long long)v[i].id,
                           v[i].state, (unsigned long long)v[i].cycles, "?", v[i].name,
                           mine ? " *" : "");
    }
    if (own)
        curio__text_printf(o, "* the monitor's own tasks\n");
    curio__mon_busy_line(s);
    if (running)
        curio__text_printf(o, "(timeouts are not known while it runs: '?')\n");
    free(v);
}

void curio__mon_parents_busy(curio__mon_session *s, const char *arg)
{
    char *end;
    unsigned long long id = strtoull(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end) {
        curio__text_printf(&s->out, "Error: parents needs a task id (a number), not '%s'\n",
                           arg);
        return;
    }
    size_t n;
    curio__task_peek *v = curio__mon_peek_all(s, &n);
    if (!v)
        return;
    size_t start = s->out.len;
    if (s->json)
        curio__text_printf(&s->out, "{\"busy\": true, \"chain\": [");
    for (bool first = true;; first = false) {
        size_t i = 0;
        while (i < n && v[i].id != id)
            i++;
        if (i == n) {
            if (first) {
                /* Only the error: json wraps it. */
                s->out.len = start;
                if (s->out.p)
                    s->out.p[start] = 0;
                curio__text_printf(&s->out, "Error: no task %llu\n", id);
                free(v);
                return;
            }
            if (s->json)
                curio__text_printf(&s->out, ", {\"id\": %llu, \"state\": \"TERMINATED\", "
                                            "\"name\": null}", id);
            else
                curio__text_printf(&s->out, "%-6llu %12s (ended; nothing more is known)\n", id,
                                   "TERMINATED");
            break;
        }
        if (s->json) {
            curio__text_printf(&s->out, "%s{\"id\": %llu, \"state\": \"%s\", \"name\": ",
                               first ? "" : ", ", id, v[i].state);
            curio__text_json(&s->out, v[i].name);
            curio__text_printf(&s->out, "}");
        } else {
            curio__text_printf(&s->out, "%-6llu %12s %s\n", id, v[i].state, v[i].name);
        }
        if (!(id = v[i].parent_id))
            break;
    }
    if (s->json)
        curio__text_printf(&s->out, "]}\n");
    free(v);
}
