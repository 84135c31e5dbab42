/*
 * cores-rtt: a message round trip between tasks of two kernels against a pthread
 * mutex + condition variable ping-pong (bench/cores/run; docs/benchmarks.md).
 *
 *   cores-rtt [--rounds N (20000)] [--repeat R (5)]
 *
 * curio: a task on kernel 0 and a task on kernel 1 of one curio_cores_run (pinned to two
 * CPUs) bounce a wake-up: each parks, and wakes the other by curio_core_post of a function
 * that readies it. Measured with the MSG_RING wake-up and with the eventfd one
 * (CURIO_MSG_RING=0). pthreads: two threads, pinned the same way, bounce a turn variable
 * under one mutex with one condition variable each. Each of the three is run R times,
 * alternating; the medians of ns per round trip are printed, and the ratios to pthreads.
 */
#include "kernel.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned rounds = 20000;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* ---- curio ---- */

static curio_task *_Atomic task_of[2];
static int64_t t_start, t_end;

static void wake(void *arg)
{
    curio_task *t = arg;
    if (curio__task_parked(t))
        curio__ready_with(t, 1);
}

static long rtt_main(unsigned index, void *arg)
{
    (void)arg;
    unsigned other = 1 - index;
    if (index == 0) {
        atomic_store(&task_of[0], curio_current());
        while (!atomic_load(&task_of[1]))
            curio_sleep(0.001);
        t_start = now_ns();
        curio_core_post(1, wake, task_of[1]);
    } else {
        atomic_store(&task_of[1], curio_current()); /* parks next, with no block between */
    }
    for (unsigned i = 0; i < rounds; i++) {
        curio__park("PING", CURIO__NO_DEADLINE);
        if (index == 1 || i < rounds - 1)
            curio_core_post(other, wake, task_of[other]);
    }
    if (index == 0)
        t_end = now_ns();
    return 0;
}

static double curio_rtt(bool msg_ring)
{
    if (msg_ring)
        unsetenv("CURIO_MSG_RING");
    else
        setenv("CURIO_MSG_RING", "0", 1);
    task_of[0] = task_of[1] = NULL;
    curio_cores_options o = {.kernels = 2, .pin = true, .no_signals = true};
    if (curio_cores_run(rtt_main, NULL, &o) != 0) {
        fprintf(stderr, "cores-rtt: the run failed\n");
        exit(1);
    }
    return (double)(t_end - t_start) / rounds;
}

/* ---- pthreads ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv[2] = {PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};
static int turn;

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void *pt_side(void *arg)
{
    int me = (int)(intptr_t)arg;
    pin(me);
    for (unsigned i = 0; i < rounds; i++) {
        pthread_mutex_lock(&mu);
        while (turn != me)
            pthread_cond_wait(&cv[me], &mu);
        turn = 1 - me;
        pthread_cond_signal(&cv[1 - me]);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static double pthread_rtt(void)
{
    turn = 0;
    pthread_t a, b;
    int64_t t0 = now_ns();
    pthread_create(&a, NULL, pt_side, (void *)0);
    pthread_create(&b, NULL, pt_side, (void *)1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return (double)(now_ns() - t0) / rounds;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int repeat = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
    }
    if (repeat < 1 || repeat > 100)
        repeat = 5;
    double msg[100], efd[100], pt[100];
    bool have_msg = curio__op_supported(IORING_OP_MSG_RING);
    for (int r = 0; r < repeat; r++) {
        msg[r] = have_msg ? curio_rtt(true) : 0;
        efd[r] = curio_rtt(false);
        pt[r] = pthread_rtt();
        printf("run %d: msg_ring %.0f ns, eventfd %.0f ns, pthread %.0f ns\n", r + 1, msg[r],
               efd[r], pt[r]);
    }
    double m = median(msg, repeat), e = median(efd, repeat), p = median(pt, repeat);
    printf("median ns per round trip (%u rounds, %d runs): curio msg_ring %.0f, curio eventfd "
           "%.0f, pthread mutex+condvar %.0f\n", rounds, repeat, m, e, p);
    printf("ratio curio/pthread: msg_ring %.2f, eventfd %.2f; msg_ring/eventfd %.2f\n",
           m / p, e / p, m / e);
    return 0;
}
