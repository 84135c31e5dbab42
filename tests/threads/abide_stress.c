/*
 * abide under stress: plain threads and the tasks of two kernels take one pthread mutex
 * (threads with pthread_mutex_lock, tasks with curio_abide_lock, some under short
 * timeouts, some cancelled while waiting) and increment a plain counter inside it. Any
 * lapse of mutual exclusion loses increments, and ThreadSanitizer (./dev test builds this
 * for it) reports the race. A plain program printing "N passed, N failed".
 *
 *     abide_stress [scale]
 */
#include "curio.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define THREADS 2
#define KERNELS 2
#define TASKS 3 /* per kernel, plus one that cancels them */

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static long counter;                     /* guarded by m */
static long per_thread = 3000, per_task = 600;
static atomic_long increments, interrupted, bad;

static void *thread_main(void *arg)
{
    (void)arg;
    for (long i = 0; i < per_thread; i++) {
        pthread_mutex_lock(&m);
        counter++;
        if (i % 4 == 0)
            nanosleep(&(struct timespec){0, 20000}, NULL); /* hold it now and then */
        pthread_mutex_unlock(&m);
        atomic_fetch_add(&increments, 1);
    }
    return NULL;
}

static long task_main(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    long done = 0;
    while (done < per_task) {
        int rc;
        curio_scope s;
        bool timed = rand_r(&seed) % 3 == 0;
        if (timed && curio_timeout_after(&s, (rand_r(&seed) % 300) * 1e-6) < 0)
            return -ENOMEM;
        rc = curio_abide_lock(&m);
        if (timed)
            curio_scope_close(&s);
        if (rc == -ECANCELED)
            return rc; /* replaced by a new task, which does the rest */
        if (rc == -ETIMEDOUT) {
            atomic_fetch_add(&interrupted, 1);
            continue;
        }
        if (rc < 0) {
            atomic_fetch_add(&bad, 1);
            return rc;
        }
        counter++;
        if (done % 8 == 0)
            curio_sleep(0.00002); /* other tasks of this kernel run while it is held */
        if (curio_abide_unlock(&m) != 0)
            atomic_fetch_add(&bad, 1);
        atomic_fetch_add(&increments, 1);
        done++;
    }
    return 0;
}

static long kernel_main(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    curio_task *t[TASKS];
    long left[TASKS];
    for (int i = 0; i < TASKS; i++) {
        t[i] = curio_spawn(task_main, (void *)(uintptr_t)rand_r(&seed));
        left[i] = 1;
    }
    int alive = TASKS;
    while (alive) {
        curio_sleep((rand_r(&seed) % 2000) * 1e-6);
        int i = rand_r(&seed) % TASKS;
        if (!left[i])
            continue;
        if (curio_task_done(t[i])) {
            long r = -1;
            curio_join(t[i], &r);
            curio_task_release(t[i]);
            if (r == 0) {
                left[i] = 0;
                alive--;
                continue;
            }
            t[i] = curio_spawn(task_main, (void *)(uintptr_t)rand_r(&seed));
            continue;
        }
        if (rand_r(&seed) % 4 == 0) { /* cancel it wherever it is; a new one starts over */
            curio_cancel(t[i]);
            atomic_fetch_add(&interrupted, 1);
            curio_task_release(t[i]);
            t[i] = curio_spawn(task_main, (void *)(uintptr_t)rand_r(&seed));
        }
    }
    return 0;
}

static void *kernel_thread(void *arg)
{
    long r = -1;
    if (curio_run(kernel_main, arg, NULL, &r) < 0 || r != 0)
        atomic_fetch_add(&bad, 1);
    return NULL;
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    if (scale > 0) {
        per_thread = (long)(per_thread * scale) + 1;
        per_task = (long)(per_task * scale) + 1;
    }
    pthread_t th[THREADS], kt[KERNELS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, thread_main, NULL);
    for (int i = 0; i < KERNELS; i++)
        pthread_create(&kt[i], NULL, kernel_thread, (void *)(uintptr_t)(i * 7919 + 1));
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < KERNELS; i++)
        pthread_join(kt[i], NULL);
    /* A cancelled task's increments stay counted: each one happened inside the mutex. */
    pthread_mutex_lock(&m);
    long c = counter;
    pthread_mutex_unlock(&m);
    long want = atomic_load(&increments);
    int ok = c == want && atomic_load(&bad) == 0 && want >= THREADS * per_thread +
                                                          KERNELS * TASKS * per_task;
    if (!ok)
        fprintf(stderr, "abide_stress: counter %ld, increments %ld, unexpected results %ld\n",
                c, want, atomic_load(&bad));
    printf("abide: %ld increments, %ld timeouts or cancellations\n", want,
           atomic_load(&interrupted));
    printf("%d passed, %d failed\n", ok, !ok);
    return !ok;
}
