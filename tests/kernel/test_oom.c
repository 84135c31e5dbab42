/*
 * Out of memory: every allocation the kernel makes is made to fail in turn (the test binary
 * is linked with --wrap=malloc,calloc,realloc, which reaches the static library's calls
 * too). Each failure must come back as -ENOMEM from the call that needed the memory,
 * leave nothing behind (no descriptor, no task record; the sanitizer build checks for
 * leaks) and leave the kernel usable.
 */
#include "testutil.h"

#include "core.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the failing allocator (tests/common/failalloc.h) ---- */

#include "failalloc.h"

/* ---- kernel creation ---- */

Test(oom, kernel_create_walk)
{
    int fds = count_fds();
    long n;
    for (n = 0; n < 64; n++) {
        curio_kernel *k = NULL;
        arm(n);
        int rc = curio_kernel_create(&k, NULL);
        disarm();
        if (!injected) {
            cr_assert_eq(rc, 0);
            curio_kernel_destroy(k);
            break;
        }
        if (rc == 0) {
            /* The failed allocation was not needed to start (a later one, or optional). */
            curio_kernel_destroy(k);
        } else {
            cr_assert_eq(rc, -ENOMEM, "allocation %ld: %s", n, curio_strerror(rc));
            cr_assert_null(curio_kernel_current(), "nothing left registered");
        }
        cr_assert_eq(count_fds(), fds, "allocation %ld: a descriptor leaked", n);
    }
    cr_assert_lt(n, 64, "the walk reached a run without failures");
    cr_log_info("kernel creation: %ld allocations failed in turn", n);
}

/* ---- spawning, with task-local values to copy and an empty record pool ---- */

static curio_local key = {"key"};

static long child(void *arg)
{
    return curio_local_get(&key) == arg ? 1 : -EINVAL;
}

static long spawn_walk(void *arg)
{
    (void)arg;
    curio_kernel *k = curio_kernel_current();
    cr_assert_eq(curio_local_set(&key, &key), 0);
    long n;
    for (n = 0; n < 64; n++) {
        size_t before = k->ntasks;
        curio_task *t = NULL;
        arm(n);
        int rc = curio_spawn_ex(&t, child, &key, NULL);
        disarm();
        if (rc < 0) {
            cr_assert(injected);
            cr_assert_eq(rc, -ENOMEM, "allocation %ld: %s", n, curio_strerror(rc));
            cr_assert_eq(k->ntasks, before, "allocation %ld: a record leaked", n);
            continue;
        }
        long r = 0;
        cr_assert_eq(curio_join(t, &r), 0);
        cr_assert_eq(r, 1, "the child saw the inherited value");
        curio_task_release(t);
        if (!injected)
            break;
    }
    cr_assert_lt(n, 64);
    return 0;
}

Test(oom, spawn_walk)
{
    /* A stack cache of one so that new stacks (and their descriptors) are allocated. */
    curio_options o = {.stack_cache = 1};
    long r = 0;
    cr_assert_eq(curio_run(spawn_walk, NULL, &o, &r), 0);
}

/* ---- everything else that allocates: scopes, locals, timers, groups, posts ---- */

static void nothing(void *arg) { *(int *)arg += 1; }

static long short_sleep(void *arg)
{
    (void)arg;
    int64_t rc = curio_sleep(0.001);
    return rc < 0 ? rc : 2;
}

/* One round of operations; each either works or reports -ENOMEM. Returns how many did. */
static int one_round(void)
{
    int ok = 0, ran = 0, rc;
    curio_scope s[6];
    int opened = 0;
    for (int i = 0; i < 6; i++) { /* grows the task's scope array past its first size */
        rc = curio_timeout_after(&s[i], 10);
        if (rc == 0) {
            opened++;
        } else {
            cr_assert_eq(rc, -ENOMEM);
            break;
        }
    }
    static curio_local keys[12];
    for (int i = 0; i < 12; i++) { /* grows the local array */
        rc = curio_local_set(&keys[i], &keys[i]);
        cr_assert(rc == 0 || rc == -ENOMEM, "local_set: %s", curio_strerror(rc));
        ok += rc == 0;
    }
    for (int i = 0; i < 12; i++)
        curio_local_set(&keys[i], NULL);
    int64_t t = curio_sleep(0.0005); /* the timer heap's first allocation */
    cr_assert(t > 0 || t == -ENOMEM, "sleep: %s", curio_strerror((int)t));
    ok += t > 0;

    curio_group *g = NULL;
    rc = curio_group_create(&g, CURIO_WAIT_ALL);
    cr_assert(rc == 0 || rc == -ENOMEM);
    if (rc == 0) {
        for (int i = 0; i < 10; i++) { /* grows the member array */
            rc = curio_group_spawn(g, NULL, short_sleep, NULL, NULL);
            cr_assert(rc == 0 || rc == -ENOMEM, "group_spawn: %s", curio_strerror(rc));
        }
        for (int i = 0; i < 10; i++) { /* adopted tasks grow it too */
            curio_task *t = NULL;
            rc = curio_spawn_ex(&t, short_sleep, NULL, NULL);
            cr_assert(rc == 0 || rc == -ENOMEM, "spawn: %s", curio_strerror(rc));
            if (rc < 0)
                continue;
            rc = curio_group_add_task(g, t);
            cr_assert(rc == 0 || rc == -ENOMEM, "add_task: %s", curio_strerror(rc));
            cr_assert(curio_task_group(t) == (rc == 0 ? g : NULL), "a failed add joins nothing");
            if (rc < 0)
                cr_assert_eq(curio_join(t, NULL), 0);
            curio_task_release(t); /* the group holds its own handle */
        }
        cr_assert_eq(curio_group_join(g), 0);
        curio_group_destroy(g);
        ok++;
    }
    rc = curio_kernel_post(curio_kernel_current(), nothing, &ran);
    cr_assert(rc == 0 || rc == -ENOMEM);
    if (rc == 0) {
        while (!ran)
            curio_yield();
        ok++;
    }
    while (opened-- > 0)
        cr_assert_eq(curio_scope_close(&s[opened]), 0);
    return ok;
}

/* Each round runs in a fresh task, so the task's own arrays start empty every time. */
static long round_task(void *arg)
{
    arm((long)(intptr_t)arg);
    one_round();
    bool hit = injected;
    disarm();
    return hit;
}

static long everything_walk(void *arg)
{
    (void)arg;
    long n;
    for (n = 0; n < 200; n++) {
        curio_task *t = curio_spawn(round_task, (void *)(intptr_t)n);
        cr_assert_not_null(t);
        long hit = 0;
        cr_assert_eq(curio_join(t, &hit), 0);
        curio_task_release(t);
        if (!hit)
            break;
    }
    cr_assert_lt(n, 200);
    cr_assert_gt(n, 5, "several allocations were walked (%ld)", n);
    cr_log_info("%ld allocations failed in turn", n);
    return 0;
}

Test(oom, scopes_locals_timers_groups_posts_walk)
{
    long r = 0;
    cr_assert_eq(curio_run(everything_walk, NULL, NULL, &r), 0);
}

/* ---- an operation blocking in a worker, whose deadline needs the timer heap ---- */

static ssize_t splice_op(int in, int out, unsigned n)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin_fd2(&op, &sqe, in, CURIO__FD_READ, out, CURIO__FD_WRITE);
    if (rc < 0)
        return rc;
    io_uring_prep_splice(sqe, in, -1, out, -1, n, 0);
    return curio__op_wait(&op, sqe, "SPLICE_WAIT");
}

static long worker_deadline(void *arg)
{
    (void)arg;
    int p[2], sv[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    char buf[8];
    /* Once without a deadline, so that the claim table exists. */
    cr_assert_eq(write(sv[1], "ab", 2), 2);
    cr_assert_eq(splice_op(sv[0], p[1], sizeof buf), 2);
    cr_assert_eq(read(p[0], buf, sizeof buf), 2);
    curio_kernel *k = curio__self()->k;
    cr_assert_eq(k->heap_cap, 0, "no timer yet: the next one grows the heap");
    curio_scope s;
    cr_assert_eq(curio_timeout_after(&s, 10.0), 0);
    cr_assert_eq(write(sv[1], "cd", 2), 2);
    arm(0);
    ssize_t rc = splice_op(sv[0], p[1], sizeof buf);
    disarm();
    cr_assert(injected);
    cr_assert_eq(rc, -ENOMEM, "not run without its deadline: %zd", rc);
    cr_assert_null(curio__fd_claimant(k, sv[0], CURIO__FD_READ));
    cr_assert_null(curio__fd_claimant(k, p[1], CURIO__FD_WRITE));
    cr_assert_eq(splice_op(sv[0], p[1], sizeof buf), 2, "the data is still there");
    cr_assert_eq(read(p[0], buf, sizeof buf), 2);
    cr_assert_eq(memcmp(buf, "cd", 2), 0);
    cr_assert_eq(curio_scope_close(&s), 0);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

Test(oom, worker_operation_deadline)
{
    long r = 0;
    cr_assert_eq(curio_run(worker_deadline, NULL, NULL, &r), 0);
}
