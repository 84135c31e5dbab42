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

/* ---- messages between kernels, each test with MSG_RING wake-ups and with the eventfd
 *      (CURIO_MSG_RING=0: the forced fallback) ---- */

static void msg_ring(bool on)
{
    if (on) {
        if (!curio__op_supported(IORING_OP_MSG_RING))
            cr_skip_test("no IORING_OP_MSG_RING in this Linux");
        unsetenv("CURIO_MSG_RING");
    } else {
        setenv("CURIO_MSG_RING", "0", 1);
    }
}

/* Posts from kernel 0 to kernel 1 run there, in order. */
#define NPOSTS 1000
static unsigned post_log[NPOSTS], post_n;
static _Atomic bool posts_done;

static void logged(void *arg)
{
    cr_assert_eq(curio_core_index(), 1);
    post_log[post_n++] = (unsigned)(uintptr_t)arg;
    if (post_n == NPOSTS)
        atomic_store(&posts_done, true);
}

static long post_main(unsigned index, void *arg)
{
    (void)arg;
    if (index == 0)
        for (unsigned i = 0; i < NPOSTS; i++) {
            cr_assert_eq(curio_core_post(1, logged, (void *)(uintptr_t)i), 0);
            if (i % 100 == 0)
                curio_sleep(0); /* let the ring submit in between */
        }
    while (!atomic_load(&posts_done))
        curio_sleep(0.0005);
    return 0;
}

static void posts_in_order(bool on)
{
    msg_ring(on);
    post_n = 0;
    atomic_store(&posts_done, false);
    curio_cores_options o = {.kernels = 2};
    cr_assert_eq(curio_cores_run(post_main, NULL, &o), 0);
    for (unsigned i = 0; i < NPOSTS; i++)
        cr_assert_eq(post_log[i], i);
}

Test(cores, posts_in_order_msg_ring) { posts_in_order(true); }
Test(cores, posts_in_order_eventfd) { posts_in_order(false); }

/* A blocked kernel is woken by a post: a ping-pong through posts that ready parked tasks. */
#define ROUNDS 2000
static curio_task *_Atomic pp_task[2];
static _Atomic unsigned pp_rounds;

static void pp_wake(void *arg)
{
    curio_task *t = arg;
    if (curio__task_parked(t))
        curio__ready_with(t, 1);
}

static long pp_main(unsigned index, void *arg)
{
    (void)arg;
    unsigned other = 1 - index;
    if (index == 0) {
        atomic_store(&pp_task[0], curio_current());
        while (!atomic_load(&pp_task[1]))
            curio_sleep(0.001);
        curio_core_post(other, pp_wake, pp_task[other]);
    } else {
        /* set just before the first park, with no blocking call between: kernel 0's
         * first post can only run here once the task is parked in it */
        atomic_store(&pp_task[1], curio_current());
    }
    for (unsigned i = 0; i < ROUNDS; i++) {
        int rc = curio__park("PING", CURIO__NO_DEADLINE);
        cr_assert_eq(rc, 1);
        if (index == 1)
            atomic_fetch_add(&pp_rounds, 1);
        if (index == 1 || i < ROUNDS - 1) /* kernel 1 answers every ping */
            curio_core_post(other, pp_wake, pp_task[other]);
    }
    return 0;
}

static void ping_pong(bool on)
{
    msg_ring(on);
    atomic_store(&pp_rounds, 0);
    pp_task[0] = pp_task[1] = NULL;
    curio_cores_options o = {.kernels = 2};
    cr_assert_eq(curio_cores_run(pp_main, NULL, &o), 0);
    cr_assert_eq(atomic_load(&pp_rounds), ROUNDS);
}

Test(cores, ping_pong_msg_ring) { ping_pong(true); }
Test(cores, ping_pong_eventfd) { ping_pong(false); }

/* curio_core_spawn: the task runs on its kernel, and its result comes back. */
static long on_which(void *arg)
{
    (void)arg;
    return 100 + curio_core_index();
}

static long sleeper(void *arg)
{
    (void)arg;
    return curio_sleep(1000);
}

static curio_universal_queue *handoff;

static long spawn_main(unsigned index, void *arg)
{
    (void)arg;
    if (index == 1) {
        /* a handle used on the wrong kernel */
        void *item;
        cr_assert_eq(curio_universal_queue_get(handoff, &item), 0);
        curio_core_task *foreign = item;
        long r;
        cr_assert_eq(curio_core_join(foreign, &r), -EXDEV);
        cr_assert_eq(curio_core_cancel(foreign), -EXDEV);
        cr_assert_eq(curio_universal_queue_put(handoff, NULL), 0);
        return 0;
    }
    curio_core_task *t;
    long r = -1;
    for (unsigned k = 0; k < 2; k++) {
        cr_assert_eq(curio_core_spawn(&t, k, on_which, NULL), 0);
        cr_assert_eq(curio_core_join(t, &r), 0);
        cr_assert_eq(r, 100 + (long)k);
        cr_assert(curio_core_done(t));
        curio_core_release(t);
    }
    /* cancelled on its kernel */
    cr_assert_eq(curio_core_spawn(&t, 1, sleeper, NULL), 0);
    cr_assert_gt(curio_sleep(0.005), 0);
    cr_assert(!curio_core_done(t));
    cr_assert_eq(curio_core_cancel(t), 0);
    cr_assert_eq(curio_core_join(t, &r), CURIO_ETASKCANCELLED);
    curio_core_release(t);
    /* the joiner interrupted: the task runs on, the handle stays good */
    cr_assert_eq(curio_core_spawn(&t, 1, sleeper, NULL), 0);
    curio_scope sc;
    cr_assert_eq(curio_timeout_after(&sc, 0.005), 0);
    cr_assert_eq(curio_core_join(t, &r), -ETIMEDOUT);
    curio_scope_close(&sc);
    cr_assert(!curio_core_done(t));
    /* handed to kernel 1, whose calls on it are refused */
    cr_assert_eq(curio_universal_queue_put(handoff, t), 0);
    void *back;
    curio_sleep(0.01);
    cr_assert_eq(curio_universal_queue_get(handoff, &back), 0);
    cr_assert_null(back);
    curio_core_cancel(t);
    cr_assert_eq(curio_core_join(t, &r), CURIO_ETASKCANCELLED);
    curio_core_release(t);
    /* released unjoined: the task runs to its end, then its record goes (ASan: no leak) */
    cr_assert_eq(curio_core_spawn(&t, 1, on_which, NULL), 0);
    curio_core_release(t);
    /* bad input */
    cr_assert_eq(curio_core_spawn(NULL, 1, on_which, NULL), -EINVAL);
    cr_assert_eq(curio_core_spawn(&t, 2, on_which, NULL), -EINVAL);
    cr_assert_eq(curio_core_spawn(&t, 1, NULL, NULL), -EINVAL);
    cr_assert_eq(curio_core_join(NULL, &r), -EINVAL);
    return 0;
}

static void spawn_join(bool on)
{
    msg_ring(on);
    cr_assert_eq(curio_universal_queue_create(&handoff, 0), 0);
    curio_cores_options o = {.kernels = 2};
    cr_assert_eq(curio_cores_run(spawn_main, NULL, &o), 0);
    curio_universal_queue_destroy(handoff);
}

Test(cores, spawn_join_msg_ring) { spawn_join(true); }
Test(cores, spawn_join_eventfd) { spawn_join(false); }

Test(cores, spawn_outside_a_run)
{
    curio_core_task *t;
    cr_assert_eq(curio_core_spawn(&t, 0, on_which, NULL), -EPERM);
}

/* A UniversalQueue between tasks of different kernels: producers on kernel 0, consumers
 * on kernel 1, and answers back the other way. */
#define ITEMS 5000
static curio_universal_queue *to1, *to0;

static long producer(void *arg)
{
    (void)arg;
    for (uintptr_t i = 1; i <= ITEMS; i++)
        if (curio_universal_queue_put(to1, (void *)i) < 0)
            return -1;
    return 0;
}

static long uq_main(unsigned index, void *arg)
{
    (void)arg;
    if (index == 0) {
        curio_task *p[2];
        for (int i = 0; i < 2; i++)
            curio_spawn_ex(&p[i], producer, NULL, NULL);
        long sum = 0;
        for (int i = 0; i < 2 * ITEMS; i++) {
            void *item;
            if (curio_universal_queue_get(to0, &item) < 0)
                return -1;
            sum += (long)(uintptr_t)item;
        }
        for (int i = 0; i < 2; i++) {
            curio_join(p[i], NULL);
            curio_task_release(p[i]);
        }
        return sum;
    }
    for (int i = 0; i < 2 * ITEMS; i++) {
        void *item;
        if (curio_universal_queue_get(to1, &item) < 0)
            return -1;
        if (curio_universal_queue_put(to0, item) < 0)
            return -1;
    }
    return 0;
}

static void universal_queue(bool on)
{
    msg_ring(on);
    cr_assert_eq(curio_universal_queue_create(&to1, 16), 0);
    cr_assert_eq(curio_universal_queue_create(&to0, 16), 0);
    long results[2];
    curio_cores_options o = {.kernels = 2, .results = results};
    cr_assert_eq(curio_cores_run(uq_main, NULL, &o), 0);
    cr_assert_eq(results[0], 2L * ITEMS * (ITEMS + 1) / 2);
    curio_universal_queue_destroy(to1);
    curio_universal_queue_destroy(to0);
}

Test(cores, universal_queue_msg_ring) { universal_queue(true); }
Test(cores, universal_queue_eventfd) { universal_queue(false); }

/* Once a kernel has begun shutting down, posts and spawns to it are refused (-ESRCH). */
static _Atomic int late_post = 1, late_spawn = 1;

static void noop(void *arg) { (void)arg; }

static long late_cleanup(void *arg)
{
    (void)arg;
    int64_t rc = curio_sleep(1000); /* cancelled when kernel 1 closes */
    curio_scope sc;
    curio_disable_cancellation(&sc);
    int p;
    while ((p = curio_core_post(0, noop, NULL)) == 0)
        curio_sleep(0.001); /* until kernel 0 has closed */
    atomic_store(&late_post, p);
    curio_core_task *t;
    atomic_store(&late_spawn, curio_core_spawn(&t, 0, on_which, NULL));
    curio_scope_close(&sc);
    return rc;
}

static long late_main(unsigned index, void *arg)
{
    (void)arg;
    if (index == 1) {
        curio_task *t;
        curio_spawn_ex(&t, late_cleanup, NULL, NULL);
        curio_task_release(t);
    }
    return 0;
}

Test(cores, closed_kernel_refuses_posts_and_spawns)
{
    curio_cores_options o = {.kernels = 2};
    cr_assert_eq(curio_cores_run(late_main, NULL, &o), 0);
    cr_assert_eq(atomic_load(&late_post), -ESRCH);
    cr_assert_eq(atomic_load(&late_spawn), -ESRCH);
}
