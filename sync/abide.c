/*
 * sync/abide.c - taking a pthread mutex shared with plain threads from a task (Curio's
 * abide), without blocking the kernel.
 *
 * A pthread mutex belongs to the thread that locks it, so it cannot be locked on a pool
 * thread and handed over. Instead the task trylocks it on its own thread; while it is
 * busy, a pool thread waits for it to become free (locks it and at once unlocks it), and
 * the task tries again.
 *
 * The pool's job is orphanable, so an interrupted task returns at once. The pool thread
 * then waits in slices of SLICE_NS and stops at the next slice once it sees `abandoned`.
 * The task sets that flag after curio__job_run has returned, when the job may already be
 * the pool's, so the job is freed by whichever of the two lets go of it last (refs).
 */
#include "sync.h"

#include <stdlib.h>
#include <time.h>

#define SLICE_NS 10000000 /* 10 ms: how long a pool thread may go on after a give-up */

typedef struct abide_job {
    curio__job job;              /* first: the pool hands back &job */
    pthread_mutex_t *m;
    int err;                     /* a pthread error other than ETIMEDOUT, or 0 */
    _Atomic bool abandoned;      /* the task gave up: stop at the next slice */
    _Atomic int refs;            /* the task's and the pool's */
} abide_job;

static void release(abide_job *a)
{
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
        free(a);
}

/* On a pool thread: until the mutex is free (or the task is gone). */
static void wait_free(curio__job *j)
{
    abide_job *a = (abide_job *)j;
    while (!atomic_load_explicit(&a->abandoned, memory_order_acquire)) {
        /* pthread_mutex_timedlock takes CLOCK_REALTIME; a clock step only changes the
         * length of one slice. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += SLICE_NS;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        int r = pthread_mutex_timedlock(a->m, &ts);
        if (r == 0) {
            pthread_mutex_unlock(a->m);
            return;
        }
        if (r != ETIMEDOUT) {
            a->err = r;
            return;
        }
    }
}

static void orphaned(curio__job *j) { release((abide_job *)j); }

/* Wait until m looks free: 0, the task's -ECANCELED/-ETIMEDOUT, -ENOMEM, -EAGAIN, or a
 * pthread error of the pool thread's lock. */
static int wait_until_free(pthread_mutex_t *m)
{
    abide_job *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->job.work = wait_free;
    a->job.orphan = orphaned;
    a->m = m;
    atomic_init(&a->refs, 2);
    int rc = curio__job_run(&a->job, "LOCK_ACQUIRE");
    if (rc == 0) {
        /* Ran to its end: the pool is done with it and orphan is never called. */
        rc = -a->err;
        free(a);
        return rc;
    }
    /* The job is the pool's now (orphan has been or will be called). */
    atomic_store_explicit(&a->abandoned, true, memory_order_release);
    release(a);
    return rc;
}

int curio_abide_lock(pthread_mutex_t *m)
{
    if (!m)
        return -EINVAL;
    if (!curio__self())
        return -EPERM;
    for (;;) {
        int r = pthread_mutex_trylock(m);
        if (r != EBUSY)
            return -r;
        int rc = wait_until_free(m);
        if (rc < 0)
            return rc;
    }
}

int curio_abide_unlock(pthread_mutex_t *m)
{
    return m ? -pthread_mutex_unlock(m) : -EINVAL;
}
