/*
 * The ring: start-up when io_uring is unavailable (simulated with a seccomp filter), a
 * submission queue far smaller than the number of operations in flight, a completion queue
 * that overflows, and the one-kernel-per-thread rule.
 */
#include "child.h"
#include "testutil.h"

#include "../../kernel/core.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- (a) io_uring unavailable: a seccomp filter fails io_uring_setup ---- */

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* The child's report when the filter could not be installed (no CONFIG_SECCOMP_FILTER). */
#define NO_SECCOMP (LONG_MIN + 1)

struct blocked {
    int err;    /* what io_uring_setup fails with */
    bool quiet;
};

static long never_runs(void *arg)
{
    (void)arg;
    return 99;
}

#ifdef TEST_AUDIT_ARCH
static int block_io_uring_setup(int err)
{
    struct sock_filter insns[] = {
        /* A syscall of another ABI has other numbers: let it through. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof insns / sizeof insns[0], .filter = insns};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -errno;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return -errno;
    return 0;
}
#endif

static long blocked_child(void *arg)
{
#ifdef TEST_AUDIT_ARCH
    const struct blocked *b = arg;
    if (block_io_uring_setup(b->err) < 0)
        return NO_SECCOMP;
    curio_options o = {.quiet = b->quiet};
    long result = -12345;
    int rc = curio_run(never_runs, NULL, &o, &result);
    /* The main task must not have run. */
    return result == -12345 ? rc : 1000 + rc;
#else
    (void)arg;
    return NO_SECCOMP;
#endif
}

static void check_unavailable(int err, bool quiet)
{
    struct blocked b = {.err = err, .quiet = quiet};
    child_report rep;
    run_in_child(blocked_child, &b, &rep);
    if (rep.value == NO_SECCOMP)
        cr_skip("cannot install a seccomp filter here (needs CONFIG_SECCOMP_FILTER on x86_64 "
                "or aarch64), so io_uring cannot be made unavailable");
    cr_assert(WIFEXITED(rep.status) && WEXITSTATUS(rep.status) == 0,
              "the child crashed or failed (status 0x%x), stderr: %s", rep.status, rep.err);
    cr_assert_eq(rep.value, -err, "curio_run returned %ld (%s), expected -%d",
                 rep.value, curio_strerror((int)rep.value), err);
    if (quiet) {
        cr_assert_eq(rep.errlen, 0, "quiet, yet stderr: %s", rep.err);
        return;
    }
    cr_log_info("stderr: %s", rep.err);
    cr_assert_not_null(strstr(rep.err, "io_uring"), "stderr: %s", rep.err);
    cr_assert(strstr(rep.err, "io_uring_disabled") || strstr(rep.err, "seccomp"),
              "the message should say what to change (kernel.io_uring_disabled or the "
              "seccomp profile); stderr: %s", rep.err);
}

Test(ring, unavailable_eperm_is_explained, .timeout = 60) { check_unavailable(EPERM, false); }
Test(ring, unavailable_enosys_is_explained, .timeout = 60) { check_unavailable(ENOSYS, false); }
Test(ring, unavailable_eperm_quiet, .timeout = 60) { check_unavailable(EPERM, true); }
Test(ring, unavailable_enosys_quiet, .timeout = 60) { check_unavailable(ENOSYS, true); }

/* ---- pipes read by many tasks at once ---- */

static void raise_fd_limit(unsigned need)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
            cr_skip("needs %u descriptors, RLIMIT_NOFILE hard limit is %llu", need,
                    (unsigned long long)rl.rlim_max);
        rl.rlim_cur = need;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
}

struct reader {
    int fd;
    uint32_t idx;
    bool scoped;       /* read inside a 10 s timeout scope */
    ssize_t n;         /* curio_read's return */
    unsigned char buf[16];
    int close_rc;      /* curio_scope_close's return */
    unsigned reads;    /* how many times curio_read returned */
};

struct fleet {
    unsigned n;
    bool scoped;
    struct reader *r;
    curio_task **t;
    int (*p)[2];
    unsigned ready_waits;   /* readers seen in READ_WAIT before the writer wrote */
    unsigned written;
    int write_errno;
};

static long reader_task(void *arg)
{
    struct reader *r = arg;
    curio_scope s;
    if (r->scoped && curio_timeout_after(&s, 10.0) < 0)
        return -EPROTO;
    r->n = curio_read(r->fd, r->buf, sizeof r->buf);
    r->reads++;
    if (r->scoped)
        r->close_rc = curio_scope_close(&s);
    return r->n;
}

static long writer_task(void *arg)
{
    struct fleet *f = arg;
    /* Let every reader block in its read and the scheduler submit them all (yielding ends
     * the pass; the next one starts after queued SQEs are submitted). Bounded, and only to
     * make the test harder: the readers get their data whatever the order. */
    for (int round = 0; round < 100; round++) {
        unsigned waiting = 0;
        for (unsigned i = 0; i < f->n; i++)
            waiting += strcmp(curio_task_state(f->t[i]), "READ_WAIT") == 0;
        f->ready_waits = waiting;
        int rc = curio_yield();
        if (rc < 0)
            return rc;
        if (waiting == f->n)
            break;
    }
    /* Now fill every pipe in one go, without entering io_uring in between. */
    for (unsigned i = 0; i < f->n; i++) {
        uint32_t v = f->r[i].idx;
        if (write(f->p[i][1], &v, sizeof v) != (ssize_t)sizeof v) {
            f->write_errno = errno;
            return -errno;
        }
        f->written++;
    }
    return 0;
}

static long run_fleet(void *arg)
{
    struct fleet *f = arg;
    for (unsigned i = 0; i < f->n; i++) {
        int rc = curio_spawn_ex(&f->t[i], reader_task, &f->r[i], NULL);
        if (rc < 0)
            return rc;
    }
    curio_task *w;
    int rc = curio_spawn_ex(&w, writer_task, f, NULL);
    if (rc < 0)
        return rc;
    long wr = 0;
    rc = curio_join(w, &wr);
    curio_task_release(w);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < f->n; i++) {
        long r;
        int jr = curio_join(f->t[i], &r);
        curio_task_release(f->t[i]);
        if (jr < 0 && rc == 0)
            rc = jr;
    }
    return rc < 0 ? rc : wr;
}

static void fleet_test(unsigned n, bool scoped)
{
    raise_fd_limit(2 * n + 64);
    int fds = count_fds();
    struct fleet f = {.n = n, .scoped = scoped};
    f.r = calloc(n, sizeof *f.r);
    f.t = calloc(n, sizeof *f.t);
    f.p = calloc(n, sizeof *f.p);
    cr_assert(f.r && f.t && f.p);
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(pipe2(f.p[i], O_CLOEXEC), 0, "pipe %u: %s", i, strerror(errno));
        f.r[i].fd = f.p[i][0];
        f.r[i].idx = 0x5a000000u | i;
        f.r[i].scoped = scoped;
        f.r[i].n = -99999;
    }
    curio_options o = {.ring_entries = 4};
    long result = -12345;
    int rc = curio_run(run_fleet, &f, &o, &result);
    cr_assert_eq(rc, 0, "curio_run: %s", curio_strerror(rc));
    cr_assert_eq(result, 0, "main: %ld (%s), writer errno %d", result,
                 curio_strerror((int)result), f.write_errno);
    cr_assert_eq(f.written, n);
    cr_log_info("%u of %u readers were blocked in READ_WAIT before the writes", f.ready_waits,
                n);
    for (unsigned i = 0; i < n; i++) {
        struct reader *r = &f.r[i];
        cr_assert_eq(r->reads, 1, "reader %u: read returned %u times", i, r->reads);
        cr_assert_eq(r->n, (ssize_t)sizeof(uint32_t), "reader %u: read returned %zd (%s)", i,
                     r->n, curio_strerror((int)r->n));
        uint32_t got;
        memcpy(&got, r->buf, sizeof got);
        cr_assert_eq(got, r->idx, "reader %u got 0x%x, not its own 0x%x", i, got, r->idx);
        if (scoped)
            cr_assert_eq(r->close_rc, 0, "reader %u: scope close %d", i, r->close_rc);
        /* Nothing was left behind in the pipe or read twice. */
        char extra;
        int fl = fcntl(f.p[i][0], F_GETFL);
        cr_assert_eq(fcntl(f.p[i][0], F_SETFL, fl | O_NONBLOCK), 0);
        cr_assert_eq(read(f.p[i][0], &extra, 1), -1);
        cr_assert_eq(errno, EAGAIN);
        close(f.p[i][0]);
        close(f.p[i][1]);
    }
    free(f.r);
    free(f.t);
    free(f.p);
    cr_assert_eq(count_fds(), fds, "descriptors leaked: %d before, %d after", fds, count_fds());
}

/* (b) SQ full: 4 SQ entries, 200 reads in flight. */
Test(ring, sq_full_200_readers, .timeout = 60) { fleet_test(200, false); }

/* The same, each read with a linked timeout (curio__link_below forces it for their 10 s
 * deadlines, which would otherwise go into the timer heap): two SQEs per operation. */
Test(ring, sq_full_200_readers_with_timeouts, .timeout = 60)
{
    curio__link_below = INT64_MAX;
    fleet_test(200, true);
}

/* With their deadlines in the timer heap (the default for them): one SQE per operation. */
Test(ring, sq_full_200_readers_with_heap_deadlines, .timeout = 60) { fleet_test(200, true); }

/* (c) CQ overflow: a 16-entry CQ, 300 completions arriving together. */
Test(ring, cq_overflow_300_readers, .timeout = 60) { fleet_test(300, false); }

Test(ring, cq_overflow_300_readers_with_timeouts, .timeout = 60)
{
    curio__link_below = INT64_MAX;
    fleet_test(300, true);
}

Test(ring, cq_overflow_300_readers_with_heap_deadlines, .timeout = 60) { fleet_test(300, true); }

/* ---- (d) one kernel per thread ---- */

static long answer(void *arg)
{
    (void)arg;
    return 42;
}

static long nested_run(void *arg)
{
    int *rcs = arg;
    long r = -1;
    rcs[0] = curio_kernel_run(curio_kernel_current(), answer, NULL, &r);
    rcs[1] = curio_run(answer, NULL, NULL, &r);
    curio_kernel *k2 = NULL;
    rcs[2] = curio_kernel_create(&k2, NULL);
    return r; /* must still be -1: the nested runs did not run answer() */
}

struct thread_run {
    int rc;
    long result;
    bool had_kernel;   /* curio_kernel_current() was non-NULL on the new thread at start */
};

static void *other_thread(void *arg)
{
    struct thread_run *tr = arg;
    tr->had_kernel = curio_kernel_current() != NULL;
    tr->result = -1;
    tr->rc = curio_run(answer, NULL, NULL, &tr->result);
    return NULL;
}

Test(ring, one_kernel_per_thread, .timeout = 60)
{
    curio_kernel *k1 = NULL, *k2 = NULL;
    cr_assert_eq(curio_kernel_create(&k1, NULL), 0);
    cr_assert_eq(curio_kernel_current(), k1);
    cr_assert_eq(curio_kernel_create(&k2, NULL), -EBUSY);
    cr_assert_eq(curio_run(answer, NULL, NULL, NULL), -EBUSY);

    /* From inside a task: curio_kernel_run, curio_run and create all refuse. */
    int rcs[3] = {1, 1, 1};
    long r = 0;
    cr_assert_eq(curio_kernel_run(k1, nested_run, rcs, &r), 0);
    cr_assert_eq(r, -1);
    cr_assert_eq(rcs[0], -EBUSY);
    cr_assert_eq(rcs[1], -EBUSY);
    cr_assert_eq(rcs[2], -EBUSY);

    /* Another thread has its own kernel while this one exists. */
    struct thread_run tr = {.rc = 1};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, other_thread, &tr), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_not(tr.had_kernel);
    cr_assert_eq(tr.rc, 0, "kernel on another thread: %s", curio_strerror(tr.rc));
    cr_assert_eq(tr.result, 42);

    /* And this thread's kernel still works afterwards. */
    cr_assert_eq(curio_kernel_current(), k1);
    r = 0;
    cr_assert_eq(curio_kernel_run(k1, answer, NULL, &r), 0);
    cr_assert_eq(r, 42);
    curio_kernel_destroy(k1);
    cr_assert_null(curio_kernel_current());

    /* Once destroyed, a new one can be created. */
    cr_assert_eq(curio_kernel_create(&k2, NULL), 0);
    curio_kernel_destroy(k2);
}
