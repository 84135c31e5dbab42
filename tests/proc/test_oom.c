/*
 * Out of memory in the proc layer: each allocation is made to fail in turn (the binary is
 * linked with --wrap=malloc,calloc,realloc, which reaches the static library's calls; a
 * forked worker inherits the countdown, so its own allocations fail in turn too). Every
 * failure must come back as -ENOMEM from the call that needed the memory, and leave
 * nothing behind: no descriptor (counted), no child (waited for), no signal left blocked,
 * no memory (the sanitizer build); and everything must work again afterwards.
 */
#include "proctest.h"

/* ---- the failing allocator (tests/common/failalloc.h) ---- */

#include "failalloc.h"

static bool no_children(void)
{
    siginfo_t si;
    return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

/* Wait until every child is gone (background reaping takes a moment). */
static void assert_no_children(void)
{
    for (int i = 0; i < 5000 && !no_children(); i++)
        usleep(1000);
    cr_assert(no_children(), "a child was left behind");
}

/* Run step(n) for n = 0, 1, ... until it succeeds without a failed allocation; each
 * failing step must return -ENOMEM and leave the descriptors as they were. */
#define EVERY_ALLOCATION(step)                                                             \
    do {                                                                                   \
        int fds_ = count_fds();                                                            \
        for (long n_ = 0;; n_++) {                                                         \
            cr_assert_lt(n_, 1000, "never succeeded");                                     \
            arm(n_);                                                                       \
            int rc_ = (step);                                                              \
            bool hit_ = injected;                                                          \
            disarm();                                                                      \
            if (rc_ == 0 && !hit_)                                                         \
                break;                                                                     \
            cr_assert(rc_ == -ENOMEM || (rc_ == 0 && hit_), "allocation %ld: %s", n_,      \
                      curio_strerror(rc_));                                                \
            assert_no_children();                                                          \
            for (int i_ = 0; i_ < 1000 && count_fds() != fds_; i_++)                       \
                curio_sleep(0.001);                                                        \
            cr_assert_eq(count_fds(), fds_, "allocation %ld", n_);                         \
        }                                                                                  \
    } while (0)

/* ---- popen ---- */

static int popen_step(void)
{
    const char *cat[] = {"cat", NULL};
    curio_process_options o = {.stdin_mode = CURIO_STDIO_PIPE, .stdout_mode = CURIO_STDIO_PIPE,
                               .stderr_mode = CURIO_STDIO_PIPE};
    curio_process *p;
    int rc = curio_popen(&p, cat, &o);
    if (rc == 0) {
        curio_process_close_stdin(p);
        cr_assert_eq(curio_process_wait(p, NULL), 0);
        curio_process_destroy(p);
    }
    return rc;
}

static long popen_main(void *arg)
{
    (void)arg;
    EVERY_ALLOCATION(popen_step());
    assert_no_children();
    return 0;
}

Test(proc_oom, popen)
{
    run_main(popen_main, NULL);
}

/* ---- communicate (its group, its tasks, its buffers) and run ---- */

/* communicate at the n-th allocation (the child is started before the count begins) */
static int communicate_at(long n)
{
    const char *tee[] = {"tee", "/dev/stderr", NULL};
    curio_process_options o = {.stdin_mode = CURIO_STDIO_PIPE, .stdout_mode = CURIO_STDIO_PIPE,
                               .stderr_mode = CURIO_STDIO_PIPE};
    disarm();
    curio_process *p = start(tee, &o);
    arm(n);
    curio_completed res;
    int rc = curio_process_communicate(p, "some input\n", 11, &res);
    bool hit = injected;
    disarm();
    if (rc == 0) {
        cr_assert_str_eq(res.out, "some input\n");
        cr_assert_str_eq(res.err, "some input\n");
    }
    curio_completed_free(&res);
    curio_process_destroy(p);
    injected = hit;
    return rc;
}

static long communicate_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    for (long n = 0;; n++) {
        cr_assert_lt(n, 1000, "never succeeded");
        int rc = communicate_at(n);
        if (rc == 0 && !injected)
            break;
        cr_assert(rc == -ENOMEM || rc == 0, "allocation %ld: %s", n, curio_strerror(rc));
        assert_no_children();
        for (int i = 0; i < 1000 && count_fds() != fds; i++)
            curio_sleep(0.001);
        cr_assert_eq(count_fds(), fds, "allocation %ld", n);
    }
    return 0;
}

Test(proc_oom, communicate)
{
    run_main(communicate_main, NULL);
}

static int run_step(void)
{
    const char *sh[] = {"sh", "-c", "cat; echo err >&2", NULL};
    curio_run_options o = {.input = "in\n", .input_len = 3, .capture_output = true};
    curio_completed res;
    int rc = curio_subprocess_run(sh, &o, &res);
    if (rc == 0 && !injected) {
        cr_assert_str_eq(res.out, "in\n");
        cr_assert_str_eq(res.err, "err\n");
    }
    curio_completed_free(&res);
    return rc;
}

static long run_main_task(void *arg)
{
    (void)arg;
    EVERY_ALLOCATION(run_step());
    return 0;
}

Test(proc_oom, subprocess_run)
{
    run_main(run_main_task, NULL);
}

/* ---- signal watchers: the hub, its reader task, the queue's ring ---- */

static void block_used(void)
{
    int sigs[] = {SIGUSR1};
    block_first(sigs, 1);
}

TestSuite(proc_oom, .init = block_used);

static int signal_step(void)
{
    int sigs[] = {SIGUSR1};
    curio_signal_event *e;
    curio_signal_queue *q;
    int rc = curio_signal_event_create(&e, sigs, 1);
    if (rc < 0) {
        cr_assert(mask_restored(SIGUSR1), "a failed create leaves the mask alone");
        return rc;
    }
    rc = curio_signal_queue_create(&q, sigs, 1, 8);
    if (rc == 0) {
        kill(getpid(), SIGUSR1);
        int s = 0;
        cr_assert_eq(curio_signal_queue_get(q, &s), 0);
        cr_assert_eq(s, SIGUSR1);
        curio_signal_queue_destroy(q);
    }
    curio_signal_event_destroy(e);
    cr_assert(mask_restored(SIGUSR1));
    for (int i = 0; i < 100; i++)
        curio_yield(); /* the reader leaves: the signalfd is closed */
    return rc;
}

static long signal_main(void *arg)
{
    (void)arg;
    EVERY_ALLOCATION(signal_step());
    return 0;
}

Test(proc_oom, signal_watchers)
{
    run_main(signal_main, NULL);
}

/* ---- run_in_process: the worker record, its stream, the result, the worker's own ---- */

static long bytes_fn(const void *arg, size_t len, void **out, size_t *out_len)
{
    char *r = malloc(len + 1);
    if (!r)
        return -ENOMEM;
    memcpy(r, arg, len);
    *out = r;
    *out_len = len;
    return 7;
}

static int pool_step(void)
{
    void *out = NULL;
    size_t len = 0;
    long r = 0;
    int rc = curio_run_in_process(bytes_fn, "payload", 7, &r, &out, &len);
    bool hit = injected;
    disarm();
    if (rc == 0 && r == 7) {
        cr_assert_eq(len, 7);
        cr_assert_eq(memcmp(out, "payload", 7), 0);
    } else if (rc == 0) {
        cr_assert_eq(r, -ENOMEM, "the function itself got no memory in the worker");
        rc = -ENOMEM;
    }
    free(out);
    curio_process_pool_shutdown();
    injected = hit;
    return rc;
}

static long pool_main(void *arg)
{
    (void)arg;
    EVERY_ALLOCATION(pool_step());
    return 0;
}

Test(proc_oom, run_in_process)
{
    run_main(pool_main, NULL);
}
