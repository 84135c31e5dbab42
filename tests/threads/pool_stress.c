/*
 * The worker-thread pool under load (kernel/thread.c): two kernels on two threads, each
 * with many tasks running jobs that are interrupted at random, while queued, while
 * running and just as they finish, some orphanable. Every job must end exactly one way:
 * returned to its task (0), taken back before it ran, or orphaned and finished by the
 * worker. A plain program (run under ThreadSanitizer by ./dev test).
 */
#include "kernel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KERNELS 2
#define TASKS 40
#define ROUNDS 150

static _Atomic long ran, returned, taken_back, orphaned, wrong;

struct sjob {
    curio__job job;
    unsigned spin;
    _Atomic int work_done;
};

static void sjob_work(curio__job *j)
{
    struct sjob *s = (struct sjob *)j;
    volatile unsigned x = 0;
    for (unsigned i = 0; i < s->spin; i++)
        x += i;
    (void)x; /* the loop only spends time */
    atomic_store(&s->work_done, 1);
    atomic_fetch_add(&ran, 1);
}

static void sjob_orphan(curio__job *j)
{
    struct sjob *s = (struct sjob *)j;
    if (atomic_load(&s->work_done))
        atomic_fetch_add(&orphaned, 1);
    else
        atomic_fetch_add(&taken_back, 1); /* interrupted while queued */
    free(s);
}

static long jobber(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        bool orphanable = rand_r(&seed) % 2;
        struct sjob local, *s = orphanable ? calloc(1, sizeof *s) : &local;
        if (!orphanable)
            memset(s, 0, sizeof *s);
        s->job.work = sjob_work;
        s->job.orphan = orphanable ? sjob_orphan : NULL;
        s->spin = rand_r(&seed) % 200000;
        curio_scope sc;
        curio_timeout_after(&sc, (rand_r(&seed) % 300) * 1e-6);
        int rc = curio__job_run(&s->job, "FUTURE_WAIT");
        curio_scope_close(&sc);
        if (rc == 0) {
            if (!s->job.ran || !atomic_load(&s->work_done))
                atomic_fetch_add(&wrong, 1);
            atomic_fetch_add(&returned, 1);
            if (orphanable)
                free(s);
        } else if (rc == -ETIMEDOUT || rc == -ECANCELED) {
            /* An orphanable job is gone (its orphan function counts it); a
             * non-orphanable one was taken back and must never have started */
            if (!orphanable) {
                if (atomic_load(&s->work_done))
                    atomic_fetch_add(&wrong, 1);
                atomic_fetch_add(&taken_back, 1);
            }
            if (rc == -ECANCELED)
                return rc;
        } else {
            atomic_fetch_add(&wrong, 1);
        }
    }
    return 0;
}

static long kernel_main(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    curio_task *t[TASKS];
    for (int i = 0; i < TASKS; i++)
        t[i] = curio_spawn(jobber, (void *)(uintptr_t)rand_r(&seed));
    for (int i = 0; i < TASKS; i++) {
        if (i % 7 == 0) {
            curio_sleep((rand_r(&seed) % 2000) * 1e-6);
            curio_cancel(t[i]);
        }
    }
    for (int i = 0; i < TASKS; i++) {
        curio_join(t[i], NULL);
        curio_task_release(t[i]);
    }
    return 0;
}

static void *kernel_thread(void *arg)
{
    long r = -1;
    int rc = curio_run(kernel_main, arg, NULL, &r);
    if (rc != 0 || r != 0)
        atomic_fetch_add(&wrong, 1);
    return NULL;
}

int main(void)
{
    pthread_t th[KERNELS];
    for (long i = 0; i < KERNELS; i++)
        pthread_create(&th[i], NULL, kernel_thread, (void *)(intptr_t)(i + 1));
    for (int i = 0; i < KERNELS; i++)
        pthread_join(th[i], NULL);
    /* Orphaned jobs finish on their own; give the workers a moment. */
    for (int i = 0; i < 2000; i++) {
        long pending = atomic_load(&ran) - atomic_load(&returned) - atomic_load(&orphaned);
        if (pending == 0)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    long pending = atomic_load(&ran) - atomic_load(&returned) - atomic_load(&orphaned);
    int ok = atomic_load(&wrong) == 0 && pending == 0 && atomic_load(&returned) > 0;
    fprintf(stderr, "pool_stress: ran=%ld returned=%ld taken_back=%ld orphaned=%ld "
                    "wrong=%ld pending=%ld\n", atomic_load(&ran), atomic_load(&returned),
            atomic_load(&taken_back), atomic_load(&orphaned), atomic_load(&wrong), pending);
    printf("%d passed, %d failed\n", ok, !ok);
    return !ok;
}
