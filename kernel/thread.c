/*
 * kernel/thread.c - the worker-thread pool: blocking work (getaddrinfo, a pthread mutex,
 * user code given to curio_run_in_thread) runs on a pool thread while the task that asked
 * for it waits on its kernel like any other blocking call.
 *
 * The pool is process-wide: threads are started on demand up to POOL_MAX, leave after
 * POOL_IDLE_NS without work, and serve every kernel. A finished job reaches its kernel as
 * a caller-owned post (curio__post_node), so the wake-up cannot be lost to ENOMEM.
 *
 * A job's state moves QUEUED -> RUNNING under the pool lock (so a queued job can be taken
 * back), then RUNNING -> DONE (the worker) or RUNNING -> ORPHANED (the waiting task gave
 * up on an orphanable job) by compare-and-swap: exactly one side wins, and the loser
 * either waits for the post (task) or calls orphan (worker).
 */
#include "core.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>

#define POOL_MAX 64
#define POOL_IDLE_NS (10 * 1000000000LL)

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_ORPHANED, JOB_TAKEN_BACK };

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work;         /* signalled when a job is queued */
    curio__list queue;           /* queued jobs, FIFO (by node) */
    unsigned queued;
    unsigned threads;            /* started and not yet left */
    unsigned idle;               /* waiting for work */
    bool atfork;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {NULL, NULL}, 0, 0, 0, false};

static void unlink_job(curio__job *j)
{
    curio__list_remove(&pool.queue, &j->node);
    pool.queued--;
}

/* A child of fork has none of the parent's threads, and the parent's jobs are not its own. */
static void pool_after_fork_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.work, NULL);
    curio__list_init(&pool.queue);
    pool.queued = pool.threads = pool.idle = 0;
}

static void deadline_in(struct timespec *ts, int64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ns / 1000000000;
    ts->tv_nsec += ns % 1000000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static curio__job *next_job(void)
{
    pthread_mutex_lock(&pool.lock);
    while (curio__list_empty(&pool.queue)) {
        struct timespec until;
        deadline_in(&until, POOL_IDLE_NS);
        pool.idle++;
        int rc = pthread_cond_timedwait(&pool.work, &pool.lock, &until);
        pool.idle--;
        if (rc == ETIMEDOUT && curio__list_empty(&pool.queue)) {
            pool.threads--;
            pthread_mutex_unlock(&pool.lock);
            return NULL;
        }
    }
    curio__job *j = curio__list_entry(curio__list_first(&pool.queue), curio__job, node);
    unlink_job(j);
    atomic_store_explicit(&j->state, JOB_RUNNING, memory_order_relaxed);
    pthread_mutex_unlock(&pool.lock);
    return j;
}

static void *worker(void *unused)
{
    (void)unused;
    curio__job *j;
    while ((j = next_job())) {
        j->work(j);
        int expect = JOB_RUNNING;
        if (atomic_compare_exchange_strong_explicit(&j->state, &expect, JOB_DONE,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire))
            curio__post_node(j->k, &j->post); /* j may be gone once this returns */
        else
            j->orphan(j);                     /* the task left: j is ours to finish */
    }
    return NULL;
}

/* Pool threads start with every asynchronous signal blocked (they inherit the mask of the
 * creating thread, which is set around pthread_create). Otherwise a process-directed
 * signal that a kernel's thread blocks in order to read it from a signalfd (proc/signal.c)
 * would be delivered to a pool thread instead, with its default action. The signals a
 * thread raises by its own doing stay deliverable: faults, and SIGPIPE from a write. */
static void async_signals(sigset_t *set)
{
    sigfillset(set);
    static const int own[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGPIPE};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        sigdelset(set, own[i]);
}

static int start_thread(void)
{
    pthread_attr_t a;
    pthread_t tid;
    sigset_t block, old;
    async_signals(&block);
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = pthread_create(&tid, &a, worker, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
    return -rc;
}

static int submit(curio__job *j)
{
    pthread_mutex_lock(&pool.lock);
    if (!pool.atfork) {
        pthread_atfork(NULL, NULL, pool_after_fork_child);
        pool.atfork = true;
    }
    curio__list_push_back(&pool.queue, &j->node);
    pool.queued++;
    if (pool.queued > pool.idle && pool.threads < POOL_MAX) {
        if (start_thread() == 0) {
            pool.threads++;
        } else if (pool.threads == 0) {
            unlink_job(j);
            pthread_mutex_unlock(&pool.lock);
            return -EAGAIN;
        }
        /* else: a busy thread takes it when it is free */
    }
    pthread_cond_signal(&pool.work);
    pthread_mutex_unlock(&pool.lock);
    return 0;
}

unsigned curio__pool_busy(void)
{
    pthread_mutex_lock(&pool.lock);
    unsigned n = pool.threads - pool.idle + pool.queued;
    pthread_mutex_unlock(&pool.lock);
    return n;
}

/* Runs on the kernel's thread once the worker is done with j. */
static void job_finished(void *arg)
{
    curio__job *j = arg;
    j->finished = true;
    if (j->task->parked)
        curio__ready_with(j->task, 0);
    /* else it is already on the ready queue, woken by an interruption; it sees finished */
}

/* Wait, ignoring interruptions, for the post of a job that is running or done. */
static void wait_finished(curio__task *self, curio__job *j, const char *state)
{
    while (!j->finished)
        curio__park_nointr(self, state);
}

/* Try to take back a job that has not started. */
static bool take_back(curio__job *j)
{
    bool taken = false;
    pthread_mutex_lock(&pool.lock);
    if (atomic_load_explicit(&j->state, memory_order_relaxed) == JOB_QUEUED) {
        unlink_job(j);
        atomic_store_explicit(&j->state, JOB_TAKEN_BACK, memory_order_relaxed);
        taken = true;
    }
    pthread_mutex_unlock(&pool.lock);
    return taken;
}

/* A call that fails before or instead of running an orphanable job still hands it to its
 * orphan function, so that for such jobs any failure means "no longer yours". */
static int give_up(curio__job *j, int rc)
{
    if (j->orphan)
        j->orphan(j);
    return rc;
}

int curio__job_run(curio__job *j, const char *state)
{
    curio__task *self = curio__self();
    int rc = curio__trap_check(self);
    if (rc < 0)
        return give_up(j, rc);
    j->ran = false;
    j->finished = false;
    j->k = self->k;
    j->task = self;
    j->post.fn = job_finished;
    j->post.arg = j;
    j->post.heap = false;
    atomic_store_explicit(&j->state, JOB_QUEUED, memory_order_relaxed);
    rc = submit(j);
    if (rc < 0)
        return give_up(j, rc);
    rc = curio__park(state, CURIO__NO_DEADLINE);
    if (!j->finished && rc < 0) {
        if (take_back(j))
            return give_up(j, rc);
        int expect = JOB_RUNNING;
        if (j->orphan && atomic_compare_exchange_strong_explicit(
                             &j->state, &expect, JOB_ORPHANED, memory_order_acq_rel,
                             memory_order_acquire))
            return rc;
        /* Running without an orphan handler (its memory may be on our stack), or already
         * done with its post on the way: wait for it. The interruption stays pending and
         * is delivered at the next blocking call. */
        wait_finished(self, j, state);
    }
    j->ran = true;
    return curio__undeliver(self, rc); /* the work ran to its end: that is the result */
}
