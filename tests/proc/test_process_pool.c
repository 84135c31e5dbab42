/*
 * curio_run_in_process and its pool: results and bytes both ways; a worker reused for
 * the next call; a function that crashes or exits (an error for that call only);
 * cancellation and timeout, which kill and reap the worker before the call returns;
 * calls waiting for a worker (and cancelled there); many calls at once on a small pool;
 * the kernel running other tasks meanwhile; what a worker has (no kernel, no descriptor
 * of the parent); a worker killed while idle; shutdown and set_max closing everything.
 */
#include "proctest.h"

#include <dirent.h>

TestSuite(pool, .fini = curio_process_pool_shutdown);

/* Exponential on purpose, like the tutorial's; noinline keeps the compiler from cloning
 * and folding the recursion into something much faster. */
__attribute__((noinline)) static long fib(long n)
{
    return n <= 2 ? 1 : fib(n - 1) + fib(n - 2);
}

static long fib_fn(const void *arg, size_t len, void **out, size_t *out_len)
{
    (void)out;
    (void)out_len;
    long n;
    if (len != sizeof n)
        return -1;
    memcpy(&n, arg, sizeof n);
    return fib(n);
}

static long pid_fn(const void *arg, size_t len, void **out, size_t *out_len)
{
    (void)arg, (void)len, (void)out, (void)out_len;
    return getpid();
}

/* The argument reversed, as bytes. */
static long reverse_fn(const void *arg, size_t len, void **out, size_t *out_len)
{
    char *r = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        r[i] = ((const char *)arg)[len - 1 - i];
    *out = r;
    *out_len = len;
    return (long)len;
}

static long call_fib(long n)
{
    long r = -1;
    int rc = curio_run_in_process(fib_fn, &n, sizeof n, &r, NULL, NULL);
    cr_assert_eq(rc, 0, "run_in_process: %s", curio_strerror(rc));
    return r;
}

static long call_pid(void)
{
    long r = -1;
    cr_assert_eq(curio_run_in_process(pid_fn, NULL, 0, &r, NULL, NULL), 0);
    return r;
}

static long basics_main(void *arg)
{
    (void)arg;
    cr_assert_eq(call_fib(20), 6765);
    long p1 = call_pid(), p2 = call_pid();
    cr_assert_neq(p1, getpid(), "another process");
    cr_assert_eq(p1, p2, "the worker is reused");

    static char in[1 << 20];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (char)i;
    void *out = NULL;
    size_t out_len = 0;
    long r = 0;
    cr_assert_eq(curio_run_in_process(reverse_fn, in, sizeof in, &r, &out, &out_len), 0);
    cr_assert_eq(r, (long)sizeof in);
    cr_assert_eq(out_len, sizeof in);
    for (size_t i = 0; i < sizeof in; i++)
        cr_assert_eq(((char *)out)[i], in[sizeof in - 1 - i]);
    cr_assert_eq(((char *)out)[out_len], 0, "NUL-terminated");
    free(out);
    /* bytes handed back but not asked for: read and dropped */
    cr_assert_eq(curio_run_in_process(reverse_fn, "abc", 3, &r, NULL, NULL), 0);
    cr_assert_eq(call_pid(), p1, "and the worker is still in order");
    /* no bytes handed back */
    cr_assert_eq(curio_run_in_process(reverse_fn, NULL, 0, &r, &out, &out_len), 0);
    cr_assert_eq(r, 0);
    cr_assert_eq(out_len, 0);
    free(out);

    cr_assert_eq(curio_run_in_process(NULL, NULL, 0, &r, NULL, NULL), -EINVAL);
    cr_assert_eq(curio_run_in_process(fib_fn, NULL, 8, &r, NULL, NULL), -EINVAL);
    return 0;
}

Test(pool, results_bytes_both_ways_and_reuse)
{
    run_main(basics_main, NULL);
    long r;
    cr_assert_eq(curio_run_in_process(pid_fn, NULL, 0, &r, NULL, NULL), -EPERM);
}

/* ---- a crash or an exit is an error for that call only ---- */

static long abort_fn(const void *arg, size_t len, void **out, size_t *out_len)
{
    (void)arg, (void)len, (void)out, (void)out_len;
    abort();
}

static long exit_fn(const void *arg, size_t len, void **out, size_t *out_len)
{
    (void)arg, (void)len, (void)out, (void)out_len;
    _exit(3);
}

/* A SIGSEGV sent rather than faulted on (raise: SI_TKILL) must still kill the worker: the
 * stack-overflow handler the worker inherits returns only for real faults. */
static long segv_fn(const void *arg, size_t len, void **out, size_t *out_len)
{
    (void)arg, (void)len, (void)out, (void)out_len;
    /* Under ASan its SIGSEGV handler, to which ours chains, reports the signal before the
     * worker dies: keep that expected report out of the test log (./dev fails on any). */
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0)
        dup2(null, STDERR_FILENO);
    raise(SIGSEGV);
    return 7;
}

static long crash_main(void *arg)
{
    (void)arg;
    long before = call_pid();
    long r = 12345;
    void *out = (void *)1;
    cr_assert_eq(curio_run_in_process(abort_fn, NULL, 0, &r, &out, NULL), CURIO_EWORKERDIED);
    cr_assert_eq(r, 12345, "no result");
    cr_assert_null(out);
    cr_assert(reaped_already((pid_t)before), "the dead worker was reaped");
    long after = call_pid();
    cr_assert_neq(after, before, "a fresh worker");
    cr_assert_eq(curio_run_in_process(exit_fn, NULL, 0, &r, NULL, NULL), CURIO_EWORKERDIED);
    cr_assert(reaped_already((pid_t)after));
    cr_assert_eq(curio_run_in_process(segv_fn, NULL, 0, &r, NULL, NULL), CURIO_EWORKERDIED);
    cr_assert_eq(r, 12345, "no result from a worker killed by a sent SIGSEGV");
    cr_assert_eq(call_fib(10), 55);
    return 0;
}

Test(pool, a_crashing_or_exiting_function_fails_that_call_only)
{
    run_main(crash_main, NULL);
}

/* ---- cancellation and timeout kill the worker (and reap it) before returning ---- */

static char pidfile[] = "/tmp/curio-test-pool-XXXXXX";

/* Write our pid where the argument says, then sleep for good. */
static long sleeper_fn(const void *arg, size_t len, void **out, size_t *out_len)
{
    (void)len, (void)out, (void)out_len;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    int fd = open(arg, O_WRONLY | O_TRUNC);
    if (fd < 0 || write(fd, buf, (size_t)n) != n)
        return -1;
    close(fd);
    for (;;)
        pause();
}

static pid_t sleeper_pid(void)
{
    FILE *f = fopen(pidfile, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

static long sleeper_call(void *arg)
{
    (void)arg;
    long r = 0;
    int rc = curio_run_in_process(sleeper_fn, pidfile, sizeof pidfile, &r, NULL, NULL);
    ev("call %s", rcname(rc));
    return rc;
}

static void make_pidfile(void)
{
    int fd = mkstemp(pidfile);
    cr_assert_geq(fd, 0);
    close(fd);
}

static long cancel_main(void *arg)
{
    (void)arg;
    make_pidfile();
    curio_task *t = curio_spawn(sleeper_call, NULL);
    pid_t pid;
    while (!(pid = sleeper_pid()))
        curio_sleep(0.001);
    cr_assert(running(pid));
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert(curio_task_cancelled(t));
    curio_task_release(t);
    cr_assert(reaped_already(pid), "killed and reaped before the call returned");

    /* a timeout: the same (made again with twice the time when it came before the
     * worker had written its pid: a loaded machine) */
    for (double secs = 0.1; !(pid = sleeper_pid()); secs *= 2) {
        truncate(pidfile, 0);
        curio_scope s;
        int64_t t0 = curio_clock();
        curio_timeout_after(&s, secs);
        long r;
        int rc = curio_run_in_process(sleeper_fn, pidfile, sizeof pidfile, &r, NULL, NULL);
        cr_assert_eq(curio_scope_close(&s), -ETIMEDOUT);
        cr_assert_eq(rc, -ETIMEDOUT);
        cr_assert_geq(secs_since(t0), secs);
    }
    cr_assert_gt(pid, 0);
    cr_assert(reaped_already(pid));

    cr_assert_eq(call_fib(12), 144, "the pool replaces them");
    unlink(pidfile);
    return 0;
}

Test(pool, cancellation_and_timeout_kill_and_reap_the_worker)
{
    expect_log(cancel_main, NULL, "call ECANCELED");
}

/* ---- waiting for a worker: FIFO, and a cancelled waiter leaves the line ---- */

static long pid_call(void *arg)
{
    (void)arg;
    long r = 0;
    int rc = curio_run_in_process(pid_fn, NULL, 0, &r, NULL, NULL);
    ev("pid %s", rcname(rc));
    return rc < 0 ? rc : r;
}

static long waiting_main(void *arg)
{
    (void)arg;
    curio_process_pool_set_max(1);
    make_pidfile();
    curio_task *busy = curio_spawn(sleeper_call, NULL);
    while (!sleeper_pid())
        curio_sleep(0.001);
    curio_task *a = curio_spawn(pid_call, NULL);
    curio_task *b = curio_spawn(pid_call, NULL);
    while (strcmp(curio_task_state(b), "WORKER_WAIT"))
        curio_yield();
    cr_assert_str_eq(curio_task_state(a), "WORKER_WAIT");
    cr_assert_eq(curio_cancel(a), 0);  /* leaves the line */
    cr_assert_eq(curio_cancel(busy), 0); /* its worker is killed: b gets its place */
    long r = 0;
    cr_assert_eq(curio_join(b, &r), 0);
    cr_assert_gt(r, 0);
    curio_task_release(a);
    curio_task_release(b);
    curio_task_release(busy);
    unlink(pidfile);
    return 0;
}

Test(pool, calls_wait_for_a_worker_and_leave_the_line_when_cancelled)
{
    expect_log(waiting_main, NULL, "pid ECANCELED call ECANCELED pid ok");
}

/* ---- many calls at once on a pool of two ---- */

#define MANY 16

static long fib_call(void *arg)
{
    long n = (long)(intptr_t)arg;
    long r = -1;
    int rc = curio_run_in_process(fib_fn, &n, sizeof n, &r, NULL, NULL);
    return rc < 0 ? rc : r;
}

static long many_main(void *arg)
{
    (void)arg;
    curio_process_pool_set_max(2);
    curio_task *t[MANY];
    for (int i = 0; i < MANY; i++)
        t[i] = curio_spawn(fib_call, (void *)(intptr_t)(10 + i));
    for (int i = 0; i < MANY; i++) {
        long r = 0;
        cr_assert_eq(curio_join(t[i], &r), 0);
        cr_assert_eq(r, fib(10 + i), "call %d", i);
        curio_task_release(t[i]);
    }
    /* the pool never had more than two workers: two calls now meet two workers */
    int fds = count_fds();
    curio_process_pool_shutdown();
    cr_assert_eq(count_fds(), fds - 4, "two workers: a socket and a pidfd each");
    return 0;
}

Test(pool, many_calls_at_once_on_a_small_pool)
{
    run_main(many_main, NULL);
}

/* ---- the kernel goes on while the function computes ---- */

/* The function returns only once the ticker, a task of the calling kernel, has ticked
 * five times meanwhile (it says so in a file): a kernel that stood still while it waited
 * for the worker would never return, whatever the machine's speed. */
static char tickfile[] = "/tmp/curio-test-ticks-XXXXXX";
static volatile int ticks;

static long until_ticked_fn(const void *arg, size_t len, void **out, size_t *out_len)
{
    (void)len, (void)out, (void)out_len;
    for (;;) {
        FILE *f = fopen(arg, "r");
        int c = f ? fgetc(f) : EOF;
        if (f)
            fclose(f);
        if (c == 'y')
            return 1;
        usleep(1000);
    }
}

static long ticker(void *arg)
{
    (void)arg;
    for (;;) {
        if (curio_sleep(0.001) < 0)
            return 0;
        if (++ticks == 5) {
            FILE *f = fopen(tickfile, "w");
            cr_assert_not_null(f);
            fputc('y', f);
            fclose(f);
        }
    }
}

static long responsive_main(void *arg)
{
    (void)arg;
    int fd = mkstemp(tickfile);
    cr_assert_geq(fd, 0);
    close(fd);
    call_pid(); /* the worker exists already */
    ticks = 0;
    curio_task *t = curio_spawn(ticker, NULL);
    long r = 0;
    cr_assert_eq(curio_run_in_process(until_ticked_fn, tickfile, sizeof tickfile, &r, NULL,
                                      NULL), 0);
    cr_assert_eq(r, 1);
    cr_assert_geq(ticks, 5);
    curio_cancel(t);
    curio_task_release(t);
    unlink(tickfile);
    return 0;
}

Test(pool, the_kernel_runs_other_tasks_meanwhile)
{
    run_main(responsive_main, NULL);
}

/* ---- what a worker has: no kernel, no descriptor of the parent ---- */

static long inside_fn(const void *arg, size_t len, void **out, size_t *out_len)
{
    (void)arg, (void)len, (void)out, (void)out_len;
    if (curio_sleep(0.001) != -EPERM || curio_current() || curio_kernel_current())
        return -1;
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n; /* 0, 1, 2, the socket, and the directory's own */
}

static long inside_main(void *arg)
{
    (void)arg;
    int leak = open("/dev/null", O_RDONLY); /* not close-on-exec: still closed in workers */
    long r = 0;
    cr_assert_eq(curio_run_in_process(inside_fn, NULL, 0, &r, NULL, NULL), 0);
    cr_assert_eq(r, 5);
    close(leak);
    return 0;
}

Test(pool, a_worker_has_no_kernel_and_no_descriptor_of_the_parent)
{
    run_main(inside_main, NULL);
}

/* ---- a worker killed while idle is replaced; shutdown and set_max end workers ---- */

static long idle_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    long p1 = call_pid();
    cr_assert_eq(kill((pid_t)p1, SIGKILL), 0);
    while (running((pid_t)p1))
        usleep(1000);
    long p2 = call_pid();
    cr_assert_neq(p2, p1, "a fresh worker");
    cr_assert(reaped_already((pid_t)p1));

    curio_process_pool_set_max(2);
    curio_task *a = curio_spawn(pid_call, NULL), *b = curio_spawn(pid_call, NULL);
    curio_join(a, NULL);
    curio_join(b, NULL);
    curio_task_release(a);
    curio_task_release(b);
    curio_process_pool_set_max(1); /* an idle one goes at once */
    cr_assert_eq(count_fds(), fds + 2);
    curio_process_pool_shutdown();
    cr_assert_eq(count_fds(), fds);
    cr_assert(reaped_already((pid_t)p2));
    cr_assert_eq(call_fib(5), 5, "the pool starts anew");
    curio_process_pool_shutdown();
    curio_process_pool_set_max(0);
    return 0;
}

Test(pool, idle_workers_killed_from_outside_shutdown_and_set_max)
{
    ev_reset();
    run_main(idle_main, NULL);
    cr_assert_str_eq(evlog, "pid ok pid ok");
}

/* ---- the limit lowered while calls wait: the pool shrinks, nobody is stranded ---- */

static long lowered_main(void *arg)
{
    (void)arg;
    curio_process_pool_set_max(2);
    make_pidfile();
    curio_task *s1 = curio_spawn(sleeper_call, NULL);
    curio_task *s2 = curio_spawn(sleeper_call, NULL);
    curio_task *a = curio_spawn(pid_call, NULL), *b = curio_spawn(pid_call, NULL);
    while (strcmp(curio_task_state(b), "WORKER_WAIT"))
        curio_yield();
    while (strcmp(curio_task_state(s1), "READ_WAIT") || strcmp(curio_task_state(s2), "READ_WAIT"))
        curio_sleep(0.001);
    curio_process_pool_set_max(1);
    cr_assert_eq(curio_cancel(s1), 0); /* its place is given up: the pool is above 1 */
    cr_assert_eq(curio_cancel(s2), 0); /* this one goes to a */
    long ra = 0, rb = 0;
    cr_assert_eq(curio_join(a, &ra), 0);
    cr_assert_eq(curio_join(b, &rb), 0);
    cr_assert_eq(ra, rb, "b got the worker a had: one worker at a time");
    curio_task_release(s1);
    curio_task_release(s2);
    curio_task_release(a);
    curio_task_release(b);
    int fds = count_fds();
    curio_process_pool_shutdown();
    cr_assert_eq(count_fds(), fds - 2, "one worker left");
    curio_process_pool_set_max(0);
    unlink(pidfile);
    return 0;
}

Test(pool, lowering_the_limit_while_calls_wait)
{
    expect_log(lowered_main, NULL, "call ECANCELED call ECANCELED pid ok pid ok");
}
