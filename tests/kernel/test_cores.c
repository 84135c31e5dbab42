/*
 * curio_cores_run: N kernels on N threads running one main; stop_all; SIGINT/SIGTERM taken
 * once by the run and fanned out as a cancellation of every main; a kernel whose main has
 * ended keeps serving the others; shutdown with tasks blocked in I/O, in a UniversalQueue
 * and in the thread pool, leaving no descriptor behind.
 */
#include "testutil.h"
#include "kernel.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#define fd_count count_fds

/* ---- every kernel runs main with its index ---- */

static _Atomic unsigned seen_mask;
static pthread_t threads_seen[8];

static long record_main(unsigned index, void *arg)
{
    cr_assert_eq(arg, (void *)&seen_mask);
    cr_assert_eq(curio_core_index(), (int)index);
    cr_assert_not_null(curio_current());
    cr_assert_eq(curio_core_kernel(index), curio_kernel_current());
    atomic_fetch_or(&seen_mask, 1u << index);
    threads_seen[index] = pthread_self();
    return 10 + index;
}

Test(cores, runs_each_index_once)
{
    long results[4] = {-1, -1, -1, -1};
    curio_cores_options o = {.kernels = 4, .results = results};
    cr_assert_eq(curio_cores_run(record_main, &seen_mask, &o), 0);
    cr_assert_eq(atomic_load(&seen_mask), 0xfu);
    for (unsigned i = 0; i < 4; i++) {
        cr_assert_eq(results[i], 10 + (long)i);
        for (unsigned j = 0; j < i; j++)
            cr_assert(!pthread_equal(threads_seen[i], threads_seen[j]));
    }
    cr_assert_eq(curio_core_index(), -1);
    cr_assert_eq(curio_core_count(), 0);
    cr_assert_null(curio_core_kernel(0));
}

static long count_main(unsigned index, void *arg)
{
    (void)index;
    atomic_fetch_add((_Atomic unsigned *)arg, 1);
    return curio_core_count();
}

Test(cores, default_is_online_cpus_and_pinning)
{
    _Atomic unsigned n = 0;
    long results[CURIO_CORES_MAX];
    curio_cores_options o = {.pin = true, .results = results};
    cr_assert_eq(curio_cores_run(count_main, &n, &o), 0);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cr_assert_eq(atomic_load(&n), (unsigned)cpus);
    cr_assert_eq(results[0], cpus);
}

Test(cores, bad_input)
{
    cr_assert_eq(curio_cores_run(NULL, NULL, NULL), -EINVAL);
    curio_cores_options o = {.kernels = CURIO_CORES_MAX + 1};
    cr_assert_eq(curio_cores_run(count_main, NULL, &o), -EINVAL);
    cr_assert_eq(curio_core_post(0, NULL, NULL), -EPERM);
}

static long nested_main(unsigned index, void *arg)
{
    (void)index;
    (void)arg;
    return curio_cores_run(count_main, NULL, NULL);
}

Test(cores, nested_run_is_busy)
{
    long results[2];
    curio_cores_options o = {.kernels = 2, .results = results};
    cr_assert_eq(curio_cores_run(nested_main, NULL, &o), -EBUSY);
    cr_assert_eq(results[0], -EBUSY);
    cr_assert_eq(results[1], -EBUSY);
}

/* ---- stop_all ---- */

static long fail_or_wait(unsigned index, void *arg)
{
    (void)arg;
    if (index == 0) {
        curio_sleep(0.01);
        return -EIO;
    }
    int64_t rc = curio_sleep(index == 1 ? 1000 : 0.05);
    return rc < 0 ? rc : 7;
}

Test(cores, stop_all_cancels_the_others)
{
    long results[3];
    curio_cores_options o = {.kernels = 3, .stop_all = true, .results = results};
    cr_assert_eq(curio_cores_run(fail_or_wait, NULL, &o), -EIO);
    cr_assert_eq(results[0], -EIO);
    cr_assert_eq(results[1], -ECANCELED);
    /* kernel 2 either ended first (7) or was cancelled */
    cr_assert(results[2] == 7 || results[2] == -ECANCELED);
}

static long fail_or_finish(unsigned index, void *arg)
{
    (void)arg;
    if (index == 0)
        return -EIO;
    int64_t rc = curio_sleep(0.05);
    return rc < 0 ? rc : 7;
}

Test(cores, without_stop_all_the_others_run_on)
{
    long results[2];
    curio_cores_options o = {.kernels = 2, .results = results};
    cr_assert_eq(curio_cores_run(fail_or_finish, NULL, &o), -EIO);
    cr_assert_eq(results[0], -EIO);
    cr_assert_eq(results[1], 7);
}

/* ---- signals: taken once by the run, every main cancelled ---- */

static _Atomic unsigned cancelled_seen;
static _Atomic unsigned waiting;

static long wait_for_signal(unsigned index, void *arg)
{
    int sig = *(int *)arg;
    if (atomic_fetch_add(&waiting, 1) + 1 == curio_core_count())
        kill(getpid(), sig); /* every main is blocked, or about to be */
    (void)index;
    int64_t rc = curio_sleep(1000);
    if (rc == -ECANCELED)
        atomic_fetch_add(&cancelled_seen, 1);
    /* a second cancellation would show here: this sleep must run to its end */
    curio_scope sc;
    curio_disable_cancellation(&sc);
    curio_sleep(0.01);
    curio_scope_close(&sc);
    return rc;
}

static void signal_run(int sig)
{
    atomic_store(&waiting, 0);
    atomic_store(&cancelled_seen, 0);
    long results[2];
    int signo = -1;
    curio_cores_options o = {.kernels = 2, .results = results, .signo = &signo};
    cr_assert_eq(curio_cores_run(wait_for_signal, &sig, &o), -EINTR);
    cr_assert_eq(signo, sig);
    cr_assert_eq(atomic_load(&cancelled_seen), 2);
    cr_assert_eq(results[0], -ECANCELED);
    cr_assert_eq(results[1], -ECANCELED);
    /* the caller's mask is back: the signal is not blocked here any more */
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    cr_assert(!sigismember(&now, sig));
    sigset_t pending;
    sigpending(&pending);
    cr_assert(!sigismember(&pending, sig));
}

Test(cores, sigint_cancels_every_main_once) { signal_run(SIGINT); }
Test(cores, sigterm_cancels_every_main_once) { signal_run(SIGTERM); }

/* ---- a kernel whose main has ended keeps serving the others ---- */

static _Atomic int served_on = -1;

static void served(void *arg)
{
    (void)arg;
    cr_assert_null(curio_current());
    atomic_store(&served_on, curio_core_index());
}

static long early_end(unsigned index, void *arg)
{
    (void)arg;
    if (index == 0)
        return 0;
    curio_sleep(0.02); /* kernel 0's main has ended by now, most likely */
    cr_assert_eq(curio_core_post(0, served, NULL), 0);
    cr_assert_eq(curio_core_post(2, served, NULL), -EINVAL);
    while (atomic_load(&served_on) != 0)
        curio_sleep(0.001);
    return 0;
}

Test(cores, ended_main_keeps_serving)
{
    curio_cores_options o = {.kernels = 2};
    cr_assert_eq(curio_cores_run(early_end, NULL, &o), 0);
    cr_assert_eq(atomic_load(&served_on), 0);
}

/* ---- shutdown with tasks blocked everywhere: nothing left behind ---- */

static curio_universal_queue *shared_q;

static long blocked_read(void *arg)
{
    int *p = arg;
    char b;
    return curio_read(p[0], &b, 1);
}

static long blocked_get(void *arg)
{
    (void)arg;
    void *item;
    return curio_universal_queue_get(shared_q, &item);
}

static long slow_work(void *arg)
{
    (void)arg;
    usleep(20000);
    return 1;
}

static long blocked_thread(void *arg)
{
    (void)arg;
    long r;
    return curio_run_in_thread(slow_work, NULL, &r);
}

static long shutdown_main(unsigned index, void *arg)
{
    int *pipes = arg;
    curio_task *t;
    curio_spawn_ex(&t, blocked_read, &pipes[2 * index], NULL);
    curio_task_release(t);
    curio_spawn_ex(&t, blocked_get, NULL, NULL);
    curio_task_release(t);
    curio_spawn_ex(&t, blocked_thread, NULL, NULL);
    curio_task_release(t);
    curio_sleep(0.005);
    return 0; /* the run ends with those three blocked on every kernel */
}

Test(cores, shutdown_with_tasks_blocked)
{
    int before = fd_count();
    int pipes[4];
    cr_assert_eq(pipe(pipes), 0);
    cr_assert_eq(pipe(pipes + 2), 0);
    cr_assert_eq(curio_universal_queue_create(&shared_q, 0), 0);
    curio_cores_options o = {.kernels = 2};
    cr_assert_eq(curio_cores_run(shutdown_main, pipes, &o), 0);
    curio_universal_queue_destroy(shared_q);
    for (int i = 0; i < 4; i++)
        close(pipes[i]);
    while (curio__pool_busy())
        usleep(1000);
    cr_assert_eq(fd_count(), before);
}
