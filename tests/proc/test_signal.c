/*
 * Signals as events and queues (Curio's SignalEvent and SignalQueue): an event set by a
 * signal sent to the process or to the kernel's thread; a queue in order of arrival;
 * several watchers of one signal; cancellation and timeout of a signal wait (nothing
 * lost); the overflow rule; the thread's mask blocked while watched and restored when the
 * last watcher goes; signals pending before a watcher comes, and arriving just before it
 * goes (never delivered with their default action); destroy while a task waits; what
 * cannot be watched; the pool threads' mask; and no descriptor or memory left behind.
 */
#include "proctest.h"

#include <pthread.h>

#define blocked sig_blocked

static void block_used(void)
{
    int sigs[] = {SIGUSR1, SIGUSR2, SIGINT, SIGRTMIN, SIGRTMIN + 1};
    block_first(sigs, sizeof sigs / sizeof sigs[0]);
}

TestSuite(signal, .init = block_used);

/* Yield until cond holds (the reader task has run), failing after many tries. */
#define yield_until(cond)                                                                  \
    do {                                                                                   \
        for (int i_ = 0; i_ < 100000 && !(cond); i_++)                                     \
            curio_yield();                                                                 \
        cr_assert(cond, "never: %s", #cond);                                               \
    } while (0)

static long event_waiter(void *arg)
{
    int rc = curio_signal_event_wait(arg);
    ev("woke %s", rcname(rc));
    return rc;
}

static long event_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    int sigs[] = {SIGUSR1, SIGUSR2};
    curio_signal_event *e;
    cr_assert_eq(curio_signal_event_create(&e, sigs, 2), 0);
    cr_assert(blocked(SIGUSR1) && blocked(SIGUSR2), "blocked while watched");
    curio_task *t = curio_spawn(event_waiter, e);
    yield_until(strcmp(curio_task_state(t), "SIGNAL_WAIT") == 0);
    ev("kill");
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);          /* to the process */
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert(curio_signal_event_is_set(e));
    cr_assert_eq(curio_signal_event_signo(e), SIGUSR1);
    cr_assert_eq(curio_signal_event_wait(e), 0, "stays set");
    curio_signal_event_clear(e);
    cr_assert(!curio_signal_event_is_set(e));
    cr_assert_eq(pthread_kill(pthread_self(), SIGUSR2), 0); /* to the kernel's thread */
    cr_assert_eq(curio_signal_event_wait(e), 0);
    cr_assert_eq(curio_signal_event_signo(e), SIGUSR2);
    curio_signal_event_clear(e);
    curio_signal_event_set(e);                         /* by hand */
    cr_assert_eq(curio_signal_event_wait(e), 0);
    cr_assert_eq(curio_signal_event_signo(e), 0);
    curio_signal_event_destroy(e);
    cr_assert(mask_restored(SIGUSR1) && mask_restored(SIGUSR2), "the mask is restored");
    yield_until(count_fds() == fds); /* the reader task leaves and closes the signalfd */
    return 0;
}

Test(signal, an_event_set_by_a_signal_to_the_process_or_the_thread)
{
    expect_log(event_main, NULL, "kill woke ok");
}

/* ---- a queue: in order of arrival, not of signal number ---- */

static long queue_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1, SIGUSR2, SIGRTMIN};
    curio_signal_queue *q;
    cr_assert_eq(curio_signal_queue_create(&q, sigs, 3, 0), 0);
    kill(getpid(), SIGUSR2);
    yield_until(curio_signal_queue_size(q) == 1);
    kill(getpid(), SIGRTMIN);
    yield_until(curio_signal_queue_size(q) == 2);
    kill(getpid(), SIGUSR1);
    yield_until(curio_signal_queue_size(q) == 3);
    for (int i = 0; i < 3; i++) {
        int s = 0;
        cr_assert_eq(curio_signal_queue_get(q, &s), 0);
        ev("%d", s == SIGUSR1 ? 1 : s == SIGUSR2 ? 2 : s == SIGRTMIN ? 34 : -s);
    }
    int s;
    cr_assert_eq(curio_signal_queue_get_nowait(q, &s), -EAGAIN);
    cr_assert_eq(curio_signal_queue_dropped(q), 0);
    curio_signal_queue_destroy(q);
    return 0;
}

Test(signal, a_queue_in_order_of_arrival)
{
    expect_log(queue_main, NULL, "2 34 1");
}

/* ---- several watchers of one signal all see each arrival ---- */

static long queue_waiter(void *arg)
{
    int s = 0;
    int rc = curio_signal_queue_get(arg, &s);
    ev("got %s %d", rcname(rc), s == SIGUSR1);
    return rc;
}

static long watchers_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1};
    curio_signal_event *e;
    curio_signal_queue *q1, *q2;
    cr_assert_eq(curio_signal_event_create(&e, sigs, 1), 0);
    cr_assert_eq(curio_signal_queue_create(&q1, sigs, 1, 4), 0);
    cr_assert_eq(curio_signal_queue_create(&q2, sigs, 1, 4), 0);
    curio_task *a = curio_spawn(event_waiter, e);
    curio_task *b = curio_spawn(queue_waiter, q1);
    curio_task *c = curio_spawn(queue_waiter, q2);
    yield_until(strcmp(curio_task_state(c), "SIGNAL_WAIT") == 0);
    kill(getpid(), SIGUSR1);
    curio_join(a, NULL);
    curio_join(b, NULL);
    curio_join(c, NULL);
    curio_task_release(a);
    curio_task_release(b);
    curio_task_release(c);
    /* the first destroy keeps the signal blocked for the others; the last restores it */
    curio_signal_queue_destroy(q1);
    cr_assert(blocked(SIGUSR1));
    curio_signal_queue_destroy(q2);
    cr_assert(blocked(SIGUSR1));
    curio_signal_event_destroy(e);
    cr_assert(mask_restored(SIGUSR1));
    return 0;
}

Test(signal, several_watchers_of_one_signal)
{
    expect_log(watchers_main, NULL, "woke ok got ok 1 got ok 1");
}

/* ---- cancellation and timeout of a wait; the next arrival is not lost ---- */

static long interrupt_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1};
    curio_signal_queue *q;
    cr_assert_eq(curio_signal_queue_create(&q, sigs, 1, 0), 0);
    curio_task *t = curio_spawn(queue_waiter, q);
    yield_until(strcmp(curio_task_state(t), "SIGNAL_WAIT") == 0);
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);

    curio_scope s;
    int64_t t0 = curio_clock();
    curio_timeout_after(&s, 0.05);
    int signo = 0;
    int rc = curio_signal_queue_get(q, &signo);
    cr_assert_eq(curio_scope_close(&s), -ETIMEDOUT);
    cr_assert_eq(rc, -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.05);

    curio_signal_event *e;
    cr_assert_eq(curio_signal_event_create(&e, sigs, 1), 0);
    curio_timeout_after(&s, 0.01);
    cr_assert_eq(curio_signal_event_wait(e), -ETIMEDOUT);
    curio_scope_close(&s);

    kill(getpid(), SIGUSR1);
    cr_assert_eq(curio_signal_queue_get(q, &signo), 0);
    cr_assert_eq(signo, SIGUSR1);
    cr_assert(curio_signal_event_is_set(e));
    curio_signal_event_destroy(e);
    curio_signal_queue_destroy(q);
    return 0;
}

Test(signal, cancellation_and_timeout_of_a_wait)
{
    expect_log(interrupt_main, NULL, "got ECANCELED 0");
}

/* ---- the overflow rule ---- */

static long overflow_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGRTMIN + 1};
    curio_signal_queue *q;
    cr_assert_eq(curio_signal_queue_create(&q, sigs, 1, 2), 0);
    for (int i = 0; i < 5; i++) /* real-time signals queue in the kernel: five arrivals */
        cr_assert_eq(sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = i}), 0);
    yield_until(curio_signal_queue_dropped(q) == 3);
    cr_assert_eq(curio_signal_queue_size(q), 2);
    int s;
    cr_assert_eq(curio_signal_queue_get(q, &s), 0);
    cr_assert_eq(curio_signal_queue_get(q, &s), 0);
    cr_assert_eq(curio_signal_queue_get_nowait(q, &s), -EAGAIN);
    curio_signal_queue_destroy(q);
    return 0;
}

Test(signal, a_full_queue_drops_and_counts)
{
    run_main(overflow_main, NULL);
}

/* ---- pending before the watcher came; arrived just before it went ---- */

static long pending_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1};
    /* blocked by the program and raised: pending when the watcher comes */
    cr_assert_eq(curio_enable_signals(sigs, 1), 0);
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);
    curio_signal_event *e;
    cr_assert_eq(curio_signal_event_create(&e, sigs, 1), 0);
    cr_assert(curio_signal_event_is_set(e), "a pending signal sets a new event");
    curio_signal_event_destroy(e);
    cr_assert(blocked(SIGUSR1), "it was blocked before: it stays so");

    /* arrives, is not read by the reader yet, and the only watcher goes: the signal is
     * read then, so unblocking it does not kill us with its default action */
    int other[] = {SIGUSR2};
    curio_signal_queue *q;
    cr_assert_eq(curio_signal_queue_create(&q, other, 1, 0), 0);
    cr_assert(blocked(SIGUSR2));
    cr_assert_eq(kill(getpid(), SIGUSR2), 0);
    curio_signal_queue_destroy(q);
    cr_assert(mask_restored(SIGUSR2));
    cr_assert_eq(curio_yield(), 0);
    ev("still alive");
    return 0;
}

Test(signal, pending_before_the_watcher_and_arrived_before_it_goes)
{
    expect_log(pending_main, NULL, "still alive");
}

/* ---- destroy while tasks wait ---- */

static long destroy_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1};
    curio_signal_event *e;
    curio_signal_queue *q;
    cr_assert_eq(curio_signal_event_create(&e, sigs, 1), 0);
    cr_assert_eq(curio_signal_queue_create(&q, sigs, 1, 0), 0);
    curio_task *a = curio_spawn(event_waiter, e);
    curio_task *b = curio_spawn(queue_waiter, q);
    yield_until(strcmp(curio_task_state(b), "SIGNAL_WAIT") == 0);
    curio_signal_event_destroy(e);
    curio_signal_queue_destroy(q);
    curio_join(a, NULL);
    curio_join(b, NULL);
    curio_task_release(a);
    curio_task_release(b);
    curio_signal_event_destroy(NULL);
    curio_signal_queue_destroy(NULL);
    return 0;
}

Test(signal, destroy_while_tasks_wait)
{
    expect_log(destroy_main, NULL, "woke EBADF got EBADF 0");
}

/* ---- what cannot be watched; outside a task ---- */

static long invalid_main(void *arg)
{
    (void)arg;
    curio_signal_event *e;
    curio_signal_queue *q;
    int bad[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, 32, 33, 0, -1, 65};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(curio_signal_event_create(&e, &bad[i], 1), -EINVAL, "signal %d", bad[i]);
        cr_assert_eq(curio_signal_queue_create(&q, &bad[i], 1, 0), -EINVAL);
        cr_assert_eq(curio_enable_signals(&bad[i], 1), -EINVAL);
    }
    int ok[] = {SIGHUP, SIGKILL};
    cr_assert_eq(curio_signal_event_create(&e, ok, 2), -EINVAL, "all or nothing");
    cr_assert(!blocked(SIGHUP));
    cr_assert_eq(curio_signal_event_create(&e, ok, 0), -EINVAL);
    cr_assert_eq(curio_signal_event_create(&e, NULL, 1), -EINVAL);
    cr_assert_eq(curio_signal_event_create(NULL, ok, 1), -EINVAL);
    cr_assert_eq(curio_signal_event_wait(NULL), -EINVAL);
    cr_assert_eq(curio_signal_queue_get(NULL, NULL), -EINVAL);
    return 0;
}

Test(signal, what_cannot_be_watched)
{
    run_main(invalid_main, NULL);
    int sigs[] = {SIGUSR1};
    curio_signal_event *e = (curio_signal_event *)1;
    cr_assert_eq(curio_signal_event_create(&e, sigs, 1), -EPERM);
    cr_assert_null(e);
    cr_assert(mask_restored(SIGUSR1));
}

/* ---- curio's worker threads block asynchronous signals; children get them unblocked ---- */

static long pool_thread_mask(void *arg)
{
    (void)arg;
    return blocked(SIGHUP) && blocked(SIGINT) && blocked(SIGTERM) && blocked(SIGUSR1) &&
           !blocked(SIGSEGV) && !blocked(SIGPIPE);
}

static long threads_main(void *arg)
{
    (void)arg;
    long r = 0;
    cr_assert_eq(curio_run_in_thread(pool_thread_mask, NULL, &r), 0);
    cr_assert_eq(r, 1, "a pool thread never takes a watched signal");

    int sigs[] = {SIGINT};
    curio_signal_event *e;
    cr_assert_eq(curio_signal_event_create(&e, sigs, 1), 0);
    const char *grep[] = {"grep", "SigBlk", "/proc/self/status", NULL};
    char *out = NULL;
    cr_assert_eq(curio_subprocess_check_output(grep, NULL, &out, NULL), 0);
    unsigned long long mask = 1;
    cr_assert_eq(sscanf(out, "SigBlk: %llx", &mask), 1);
    cr_assert_eq(mask & (1ull << (SIGINT - 1)), 0, "a child gets Ctrl-C: %s", out);
    free(out);
    curio_signal_event_destroy(e);
    return 0;
}

Test(signal, worker_threads_block_signals_and_children_do_not)
{
    run_main(threads_main, NULL);
}

/* ---- many watchers come and go: one signalfd at a time, all closed at the end ---- */

static long churn_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    int sigs[] = {SIGUSR1};
    for (int i = 0; i < 50; i++) {
        curio_signal_event *e;
        cr_assert_eq(curio_signal_event_create(&e, sigs, 1), 0);
        if (i % 2)
            cr_assert_eq(curio_yield(), 0); /* sometimes the reader has started */
        kill(getpid(), SIGUSR1);
        curio_signal_event_destroy(e);
    }
    yield_until(count_fds() == fds);
    cr_assert(mask_restored(SIGUSR1));
    ev("alive");
    return 0;
}

Test(signal, watchers_come_and_go)
{
    expect_log(churn_main, NULL, "alive");
}

/* ---- the ucontext switch: a signal must be blocked before the kernel starts ---- */

static long per_context_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGWINCH};
    curio_signal_event *e = NULL;
    cr_assert_eq(curio_signal_event_create(&e, sigs, 1), -ENOTSUP);
    cr_assert_null(e);
    cr_assert(!blocked(SIGWINCH));
    return 0;
}

Test(signal, with_the_ucontext_switch_watching_needs_the_signal_blocked_first)
{
    if (!PER_CONTEXT_MASKS)
        cr_skip_test("only the ucontext switch keeps a signal mask per task");
    run_main(per_context_main, NULL);
}

/* ---- the signal arrived (the waiter was woken, had not run yet) when the watcher is
 * destroyed: the waiter gets -EBADF, as for every handle closed under a call ---- */

static long arrived_then_destroyed_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1};
    curio_signal_queue *q;
    cr_assert_eq(curio_signal_queue_create(&q, sigs, 1, 0), 0);
    curio_task *b = curio_spawn(queue_waiter, q);
    yield_until(strcmp(curio_task_state(b), "SIGNAL_WAIT") == 0);
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);
    yield_until(strcmp(curio_task_state(b), "READY") == 0);
    curio_signal_queue_destroy(q);
    curio_join(b, NULL);
    curio_task_release(b);
    return 0;
}

Test(signal, signal_arrived_then_destroyed_returns_ebadf)
{
    int fds = count_fds();
    expect_log(arrived_then_destroyed_main, NULL, "got EBADF 0");
    cr_assert_eq(count_fds(), fds);
}
