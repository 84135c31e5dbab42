/*
 * monitor/stall.c - the stall detector: a thread per kernel (when asked for, with
 * curio_options.stall_ms or CURIO_STALL_MS) that looks at the kernel every quarter of the
 * threshold through introspect.h's thread-safe calls. A task still running with the
 * kernel's switch count unchanged for the threshold has not trapped meanwhile: the thread
 * takes its C stack with the monitor's signal sample (sample.c), names it (symbols) and
 * prints the report to stderr, once per stall. The kernel's only part is the two counters
 * it stores at every switch anyway (running_id, switches), so a kernel without a
 * detector pays nothing more.
 */
#include "monitor.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct curio__stall {
    curio_kernel *k;
    int tid;                       /* the kernel's thread */
    unsigned ms;                   /* the threshold */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cv;             /* CLOCK_MONOTONIC */
    bool stop;                     /* under lock */
};

/* The threshold: the option, else CURIO_STALL_MS (0 or unset: off). */
static unsigned threshold(const curio_kernel *k)
{
    const curio_options *o = curio__kernel_options(k);
    if (o->stall_ms)
        return o->stall_ms;
    const char *v = getenv("CURIO_STALL_MS");
    if (!v || !*v)
        return 0;
    char *end;
    unsigned long ms = strtoul(v, &end, 10);
    if (*end || ms > 24UL * 3600 * 1000) {
        if (!o->quiet)
            fprintf(stderr, "curio: stall: CURIO_STALL_MS=%s is not a number of "
                            "milliseconds; the stall detector is off\n", v);
        return 0;
    }
    return (unsigned)ms;
}

static void report(struct curio__stall *st, uint64_t id, double ran)
{
    void *pcs[CURIO__MON_MAX_FRAMES];
    int skip;
    int n = curio__mon_sample_stack(st->tid, pcs, CURIO__MON_MAX_FRAMES, &skip);
    char name[32] = "?";
    curio__task_peek v[1];
    size_t cap = curio__tasks_peek(st->k, NULL, 0) + 16;
    curio__task_peek *all = calloc(cap, sizeof *all);
    if (all) {
        size_t m = curio__tasks_peek(st->k, all, cap);
        for (size_t i = 0; i < m && i < cap; i++)
            if (all[i].id == id)
                v[0] = all[i], memcpy(name, v[0].name, sizeof name);
        free(all);
    }
    curio__text o = {0};
    curio__text_printf(&o, "curio: stall: task %llu (%s) has run for %.3f s without a "
                           "blocking call (threshold %u ms); its C stack then (most recent "
                           "call last):\n", (unsigned long long)id, name, ran, st->ms);
    if (n > skip) /* the handler's frames left out by position (see where.c) */
        curio__mon_format_stack(&o, pcs + skip, n - skip, 0);
    else
        curio__text_printf(&o, "  (it could not be sampled)\n");
    if (!o.failed)
        fputs(o.p, stderr);
    curio__text_free(&o);
}

static void *watch(void *arg)
{
    struct curio__stall *st = arg;
    int64_t period = (int64_t)st->ms * 1000000 / 4;
    if (period < 1000000)
        period = 1000000;
    if (period > 100000000)
        period = 100000000;
    uint64_t seen_running = 0, seen_switches = 0, reported = UINT64_MAX;
    int64_t since = curio__now();
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    pthread_mutex_lock(&st->lock);
    while (!st->stop) {
        int64_t t = (int64_t)at.tv_nsec + period;
        at.tv_sec += t / 1000000000;
        at.tv_nsec = t % 1000000000;
        int rc = 0;
        while (!st->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&st->cv, &st->lock, &at);
        if (st->stop)
            break;
        pthread_mutex_unlock(&st->lock);
        uint64_t running, switches;
        curio__kernel_activity(st->k, &running, &switches);
        int64_t now = curio__now();
        if (running != seen_running || switches != seen_switches) {
            seen_running = running;
            seen_switches = switches;
            since = now;
        } else if (running && switches != reported &&
                   now - since >= (int64_t)st->ms * 1000000) {
            reported = switches;
            report(st, running, (double)(now - since) / 1e9);
        }
        clock_gettime(CLOCK_MONOTONIC, &at);
        pthread_mutex_lock(&st->lock);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

static void stall_stop(curio_kernel *k)
{
    struct curio__stall **slot = curio__kernel_stall(k);
    struct curio__stall *st = *slot;
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    st->stop = true;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->lock);
    pthread_join(st->thread, NULL);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cv);
    free(st);
    *slot = NULL;
}

int curio__stall_start(curio_kernel *k)
{
    if (curio__mon_inner())
        return 0;
    unsigned ms = threshold(k);
    if (!ms)
        return 0;
    struct curio__stall *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    st->k = k;
    st->ms = ms;
    st->tid = (int)syscall(SYS_gettid);
    pthread_mutex_init(&st->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);
    curio__mon_warm_unwinder();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = -pthread_create(&st->thread, NULL, watch, st);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc < 0) {
        if (!curio__kernel_options(k)->quiet)
            fprintf(stderr, "curio: stall: cannot start its thread: %s\n", curio_strerror(rc));
        pthread_mutex_destroy(&st->lock);
        pthread_cond_destroy(&st->cv);
        free(st);
        return rc;
    }
    *curio__kernel_stall(k) = st;
    curio__kernel_on_destroy(k, stall_stop);
    return 0;
}
