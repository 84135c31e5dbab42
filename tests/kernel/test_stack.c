/*
 * Task stacks: the overflow report names the task, tens of thousands of tasks (past the
 * guard-page budget, onto unguarded slab stacks), per-task stack sizes, and the pool
 * reusing stacks instead of mapping new ones.
 */
#include "child.h"
#include "testutil.h"
#include "dive.h"
#include "core.h" /* curio_kernel.ntasks, to check that no task record is left over */

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

#ifdef TEST_ASAN
/*
 * ASan ignores sigaction(SIGSEGV, ...) from the program unless allow_user_segv_handler is
 * set, and would then report the overflow itself ("AddressSanitizer: stack-overflow") and
 * exit with status 1 instead of letting curio name the task. The environment's
 * ASAN_OPTIONS still take precedence over these defaults.
 */
const char *__asan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void)
{
    return "allow_user_segv_handler=1";
}
#endif

/* ---- (a) an overflow is reported naming the task ---- */

static long spawn_diver(void *arg)
{
    (void)arg;
    curio_task *t;
    curio_spawn_options o = {.name = "deep-diver"};
    int rc = curio_spawn_ex(&t, diver, NULL, &o);
    if (rc < 0)
        return rc;
    long r = 0;
    rc = curio_join(t, &r);
    curio_task_release(t);
    return rc < 0 ? rc : r;
}

static long overflow_child(void *arg)
{
    (void)arg;
    long result = 0;
    int rc = curio_run(spawn_diver, NULL, NULL, &result);
    return rc < 0 ? rc : result;
}

Test(stack, overflow_is_reported_with_the_task_name, .timeout = 60)
{
    child_report rep;
    run_in_child(overflow_child, NULL, &rep);
    cr_assert(WIFSIGNALED(rep.status),
              "the child should die of a signal; it exited with status %d (returned %ld), "
              "stderr: %s",
              WIFEXITED(rep.status) ? WEXITSTATUS(rep.status) : -1, rep.value, rep.err);
    cr_assert_eq(WTERMSIG(rep.status), SIGSEGV, "died of signal %d, stderr: %s",
                 WTERMSIG(rep.status), rep.err);
    cr_log_info("child stderr: %s", rep.err);
    cr_assert_not_null(strstr(rep.err, "stack overflow in task"), "stderr: %s", rep.err);
    cr_assert_not_null(strstr(rep.err, "deep-diver"), "stderr: %s", rep.err);
}

/* ---- (a1b) a SIGSEGV sent from outside is not a fault: the default action, no report ----
 * kill (SI_USER), sigqueue (SI_QUEUE) and raise (SI_TKILL) inside a task. The overflow
 * handler used to return for them, expecting the access to fault again: the process
 * survived a signal that must kill it. */
static long send_segv(void *arg)
{
    switch ((int)(intptr_t)arg) {
    case 0:
        kill(getpid(), SIGSEGV);
        break;
    case 1:
        sigqueue(getpid(), SIGSEGV, (union sigval){.sival_int = 1});
        break;
    default:
        raise(SIGSEGV);
        break;
    }
    curio_sleep(0.01); /* a pending process-directed signal is delivered by now */
    return 42;         /* reached only if the signal was swallowed */
}

static long segv_child(void *arg)
{
    long result = 0;
    int rc = curio_run(send_segv, arg, NULL, &result);
    return rc < 0 ? rc : result;
}

Test(stack, a_sigsegv_sent_from_outside_takes_the_default_action, .timeout = 60)
{
    for (intptr_t how = 0; how < 3; how++) {
        child_report rep;
        run_in_child(segv_child, (void *)how, &rep);
        /* Killed by it; or, when a sanitizer's SIGSEGV handler was there before ours (we
         * chain to it), ended by that handler with its report. Never survived. */
        bool killed = WIFSIGNALED(rep.status) && WTERMSIG(rep.status) == SIGSEGV;
        bool sanitizer = WIFEXITED(rep.status) && WEXITSTATUS(rep.status) != 0 &&
                         strstr(rep.err, "Sanitizer") && strstr(rep.err, "SEGV");
        cr_assert(killed || sanitizer,
                  "variant %d: the child should die of SIGSEGV; status %d, returned %ld, "
                  "stderr: %s", (int)how, rep.status, rep.value, rep.err);
        cr_assert_eq(rep.value, LONG_MIN, "variant %d: the task went on", (int)how);
        cr_assert_null(strstr(rep.err, "stack overflow"), "no overflow report: %s", rep.err);
    }
}

/* ---- (a2) unguarded stacks: with a guard budget of one stack, the main task takes it and
 *      every other task runs on an unguarded slab stack ---- */

static long smash_then_yield(void *arg)
{
    (void)arg;
    /* A frame about as large as the 128 KiB stack (less the 64 bytes kept for the next
     * slot's canary): with the frames above it, it reaches just below the stack's
     * base, where the canary lives, but stays inside mapped memory. */
    volatile char big[128 * 1024 - 64 + 16];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = 1;
    curio_yield(); /* switching out checks the canary */
    return big[0];
}

static long spawn_named(void *arg)
{
    curio_task *t;
    curio_spawn_options o = {.name = "smasher"};
    if (curio_spawn_ex(&t, (curio_task_fn)arg, NULL, &o) < 0)
        return -1;
    long r = 0;
    curio_join(t, &r);
    return r;
}

static long unguarded_child(void *fn)
{
    curio_options opts = {.guarded_stacks = 1};
    long result = 0;
    int rc = curio_run(spawn_named, fn, &opts, &result);
    return rc < 0 ? rc : result;
}

Test(stack, unguarded_overflow_caught_by_canary, .timeout = 60)
{
    child_report rep;
    run_in_child(unguarded_child, (void *)smash_then_yield, &rep);
    cr_assert(WIFSIGNALED(rep.status), "exit %d, returned %ld, stderr: %s",
              WIFEXITED(rep.status) ? WEXITSTATUS(rep.status) : -1, rep.value, rep.err);
    cr_assert_not_null(strstr(rep.err, "stack overflow in task"), "stderr: %s", rep.err);
    cr_assert_not_null(strstr(rep.err, "smasher"), "stderr: %s", rep.err);
#ifdef TEST_ASAN
    /* ASan's redzones make the frames deeper, so the switch-out path itself may run off the
     * mapping first: then the stack-pointer check reports it (SIGSEGV). Either is right. */
    cr_assert(WTERMSIG(rep.status) == SIGABRT || WTERMSIG(rep.status) == SIGSEGV,
              "died of signal %d, stderr: %s", WTERMSIG(rep.status), rep.err);
#else
    cr_assert_eq(WTERMSIG(rep.status), SIGABRT, "died of signal %d, stderr: %s",
                 WTERMSIG(rep.status), rep.err);
    cr_assert_not_null(strstr(rep.err, "canary"), "stderr: %s", rep.err);
#endif
}

static long runaway(void *arg)
{
    (void)arg;
    return dive(0);
}

Test(stack, unguarded_runaway_recursion_is_reported, .timeout = 60)
{
    child_report rep;
    run_in_child(unguarded_child, (void *)runaway, &rep);
    cr_assert(WIFSIGNALED(rep.status), "exit %d, returned %ld, stderr: %s",
              WIFEXITED(rep.status) ? WEXITSTATUS(rep.status) : -1, rep.value, rep.err);
    cr_assert_eq(WTERMSIG(rep.status), SIGSEGV, "died of signal %d, stderr: %s",
                 WTERMSIG(rep.status), rep.err);
    cr_assert_not_null(strstr(rep.err, "stack overflow in task"), "stderr: %s", rep.err);
    cr_assert_not_null(strstr(rep.err, "smasher"), "stderr: %s", rep.err);
}

/* ---- (b) 70,000 tasks: more than the guard-page budget ---- */

#define MANY 70000

struct many {
    unsigned ok;       /* joined with the expected result */
    unsigned bad;
    long first_bad_rc, first_bad_result;
    int spawn_rc;
};

static long sleeper(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    int64_t r = curio_sleep(0.05);
    if (r <= 0)
        return r < 0 ? r : -EPROTO;
    return (long)i * 3 + 1;
}

static long spawn_many(void *arg)
{
    struct many *m = arg;
    curio_task **h = calloc(MANY, sizeof *h);
    if (!h)
        return -ENOMEM;
    for (uintptr_t i = 0; i < MANY; i++) {
        int rc = curio_spawn_ex(&h[i], sleeper, (void *)i, NULL);
        if (rc < 0) {
            m->spawn_rc = rc;
            for (uintptr_t j = 0; j < i; j++) {
                curio_cancel(h[j]);
                curio_task_release(h[j]);
            }
            free(h);
            return rc;
        }
    }
    for (uintptr_t i = 0; i < MANY; i++) {
        long r = -1;
        int rc = curio_join(h[i], &r);
        if (rc == 0 && r == (long)i * 3 + 1) {
            m->ok++;
        } else if (m->bad++ == 0) {
            m->first_bad_rc = rc;
            m->first_bad_result = r;
        }
        curio_task_release(h[i]);
    }
    free(h);
    return 0;
}

Test(stack, seventy_thousand_tasks_past_the_guard_budget, .timeout = 60)
{
    curio_options o = {.stack_size = 16384};
    curio_kernel *k;
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_kernel_create(&k, &o), 0);
    struct many m = {0};
    long result = -1;
    int rc = curio_kernel_run(k, spawn_many, &m, &result);
    cr_assert_eq(rc, 0, "curio_kernel_run: %s", curio_strerror(rc));
    cr_assert_eq(m.spawn_rc, 0, "spawn failed: %s", curio_strerror(m.spawn_rc));
    cr_assert_eq(result, 0);
    cr_assert_eq(m.bad, 0, "%u tasks did not return their result (first: rc %ld, result %ld)",
                 m.bad, m.first_bad_rc, m.first_bad_result);
    cr_assert_eq(m.ok, MANY);
    cr_assert_eq(k->ntasks, 0, "%zu task records left after every handle was released",
                 k->ntasks);
    curio_kernel_destroy(k);
    cr_assert_null(curio_kernel_current());
    /* Said, not asserted: how long it takes depends on the machine and its load. */
    cr_log_info("%d tasks in %.2f s", MANY, secs_since(t0));
}

/* ---- (c) a custom stack size ---- */

#define BIG_FRAME (200 * 1024)

static long big_frame(void *arg)
{
    (void)arg;
    volatile char big[BIG_FRAME];
    for (size_t i = 0; i < sizeof big; i += 512)
        big[i] = (char)(i >> 9);
    big[sizeof big - 1] = 1;
    long sum = 0;
    for (size_t i = 0; i < sizeof big; i += 512)
        sum += big[i];
    return sum + big[sizeof big - 1];
}

static long expected_big_sum(void)
{
    long sum = 0;
    for (size_t i = 0; i < BIG_FRAME; i += 512)
        sum += (char)(i >> 9);
    return sum + 1;
}

static long spawn_big(void *arg)
{
    (void)arg;
    curio_task *t;
    curio_spawn_options o = {.name = "big-frame", .stack_size = 512 * 1024};
    int rc = curio_spawn_ex(&t, big_frame, NULL, &o);
    if (rc < 0)
        return rc;
    /* A default-sized task alongside it is unaffected. */
    curio_task *small = curio_spawn(sleeper, (void *)(uintptr_t)5);
    if (!small)
        return -ENOMEM;
    long r = -1, rs = -1;
    rc = curio_join(t, &r);
    int rc2 = curio_join(small, &rs);
    curio_task_release(t);
    curio_task_release(small);
    if (rc < 0 || rc2 < 0)
        return rc < 0 ? rc : rc2;
    return rs == 16 ? r : -EPROTO;
}

Test(stack, custom_stack_size_fits_a_200k_frame, .timeout = 60)
{
    long r = run_main(spawn_big, NULL);
    cr_assert_eq(r, expected_big_sum(), "got %ld", r);
}

/* ---- (d) the pool reuses stacks ---- */

static long vm_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

#define REUSE_N 10000

struct reuse {
    long rss_before, rss_after;
    uintptr_t frames[8];   /* distinct frame addresses seen in the tasks */
    unsigned nframes;      /* how many distinct ones (capped at 9 = "too many") */
    unsigned bad;
};

static long note_frame(void *arg)
{
    struct reuse *r = arg;
    uintptr_t f = (uintptr_t)__builtin_frame_address(0);
    for (unsigned i = 0; i < r->nframes && i < 8; i++)
        if (r->frames[i] == f)
            return 1;
    if (r->nframes < 8)
        r->frames[r->nframes] = f;
    if (r->nframes < 9)
        r->nframes++;
    return 1;
}

static int spawn_join(struct reuse *r)
{
    curio_task *t;
    int rc = curio_spawn_ex(&t, note_frame, r, NULL);
    if (rc < 0)
        return rc;
    long v = 0;
    rc = curio_join(t, &v);
    curio_task_release(t);
    if (rc == 0 && v != 1)
        r->bad++;
    return rc;
}

static long sequential(void *arg)
{
    struct reuse *r = arg;
    /* Warm up: malloc arenas, the first pool stacks, page tables. */
    for (int i = 0; i < 200; i++) {
        int rc = spawn_join(r);
        if (rc < 0)
            return rc;
    }
    r->rss_before = vm_rss_kib();
    for (int i = 0; i < REUSE_N; i++) {
        int rc = spawn_join(r);
        if (rc < 0)
            return rc;
    }
    r->rss_after = vm_rss_kib();
    return 0;
}

Test(stack, pool_reuses_stacks, .timeout = 60)
{
    static struct reuse r; /* static: not on the task's stack, and zeroed */
    cr_assert_eq(run_main(sequential, &r), 0);
    cr_assert_eq(r.bad, 0);
    cr_assert_geq(r.rss_before, 0);
    cr_assert_geq(r.rss_after, 0);
    long grown = r.rss_after - r.rss_before;
    cr_log_info("VmRSS %ld -> %ld KiB; %u distinct stack frames", r.rss_before, r.rss_after,
                r.nframes);
    /* Without reuse, fresh stacks would add ~80 MiB (two touched pages each). ASan may keep
     * freed task records in its quarantine: allow it some more. */
#ifdef TEST_ASAN
    long limit = 8 * 1024;
#else
    long limit = 4 * 1024;
#endif
    cr_assert_lt(grown, limit, "VmRSS grew by %ld KiB over %d sequential tasks", grown,
                 REUSE_N);
    cr_assert_leq(r.nframes, 4, "tasks ran on %u different stacks (capped at 9)", r.nframes);
}

/* ---- (e) past the guard budget, odd-sized stacks still work ---- */

static long uses_64k(void *arg)
{
    (void)arg;
    volatile char buf[64 * 1024];
    for (size_t i = 0; i < sizeof buf; i += 512)
        buf[i] = (char)i;
    curio_yield();
    return buf[512] == (char)512 ? 7 : -EIO;
}

static long odd_sizes(void *arg)
{
    (void)arg;
    curio_spawn_options o = {.stack_size = 256 * 1024, .name = "odd"};
    curio_task *t[8];
    for (int i = 0; i < 8; i++)
        cr_assert_eq(curio_spawn_ex(&t[i], uses_64k, NULL, &o), 0);
    for (int i = 0; i < 8; i++) {
        long r = 0;
        cr_assert_eq(curio_join(t[i], &r), 0);
        cr_assert_eq(r, 7);
        curio_task_release(t[i]);
    }
    return 0;
}

Test(stack, odd_sizes_past_the_guard_budget)
{
    int fds = count_fds();
    curio_options opts = {.guarded_stacks = 1}; /* the main task takes the only one */
    long r = -1;
    cr_assert_eq(curio_run(odd_sizes, NULL, &opts, &r), 0);
    cr_assert_eq(r, 0);
    cr_assert_eq(count_fds(), fds);
}
