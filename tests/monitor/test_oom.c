/*
 * Out of memory in the monitor: each allocation is made to fail in turn (the binary is
 * linked with --wrap=malloc,calloc,realloc, which reaches the static library's calls, not
 * glibc's own). Starting the monitor: the kernel starts, with or without a monitor, and
 * nothing is left behind. Serving: every reply still ends with a prompt (a client never
 * hangs), a reply that could not be built says so, a stack that could not be named in
 * full says so, and the session serves on once memory is back. Leaks: the sanitizer build.
 */
#include "montest.h"
#include "monitor.h"

#include <criterion/redirect.h>
#include <stdatomic.h>

/* Allocations left before the one that fails (-1: off). Atomic: `where` allocates on a
 * pool thread. */
static _Atomic long countdown = -1;
static _Atomic bool injected;
/* Only this thread's allocations count (0: every thread's). */
static _Atomic int only_tid;

static bool fail_now(void)
{
    int only = atomic_load(&only_tid);
    if (only && only != gettid())
        return false;
    long c = atomic_load(&countdown);
    while (c >= 0 && !atomic_compare_exchange_weak(&countdown, &c, c - 1))
        ;
    if (c == 0) {
        atomic_store(&injected, true);
        return true;
    }
    return false;
}

static void arm(long n)
{
    atomic_store(&injected, false);
    atomic_store(&countdown, n);
}

static void disarm(void) { atomic_store(&countdown, -1); }

/* The declarations and the wrappers around fail_now(). */
#define FAILALLOC_OWN
#include "failalloc.h"

/* ---- starting ---- */

static long started(void *arg)
{
    curio_addr a;
    *(int *)arg = curio_monitor_address(curio_kernel_current(), &a);
    return 0;
}

Test(monitor_oom, starting, .init = cr_redirect_stderr)
{
    int fds = count_fds();
    int with = 0, without = 0;
    for (long n = 0; n < 200; n++) {
        curio_kernel *k;
        arm(n);
        int rc = curio_kernel_create(&k, &mon_opts);
        bool hit = atomic_load(&injected);
        disarm();
        if (rc == -ENOMEM)
            continue; /* the kernel's own allocations */
        cr_assert_eq(rc, 0, "%s", curio_strerror(rc));
        int mon = 1;
        long r;
        cr_assert_eq(curio_kernel_run(k, started, &mon, &r), 0);
        curio_kernel_destroy(k);
        cr_assert_eq(count_fds(), fds, "at allocation %ld", n);
        if (mon == 0) {
            with++;
        } else {
            without++;
            cr_assert_eq(mon, -ENOENT);
        }
        if (!hit)
            break; /* every allocation has been made to fail */
    }
    cr_assert_gt(without, 0, "some failure kept the monitor from starting");
    cr_assert_gt(with, 0, "and it starts when nothing fails");
}

/* ---- serving ---- */

static curio_event never = CURIO_EVENT_INIT;

/* Exported (the test is linked with export_dynamic): named by `where` without libdw too. */
__attribute__((noinline)) long waiter(void *arg)
{
    (void)arg;
    int rc = curio_event_wait(&never);
    return rc < 0 ? rc : 1;
}

/* Run one command with the n-th allocation failing; the reply must be whole or say what
 * is missing. Returns whether the failure was reached. */
static bool one(mon_conn *c, const char *cmd, long n, const char *whole)
{
    arm(n);
    const char *r = mon_cmd(c, cmd);   /* returns only once the prompt came */
    bool hit = atomic_load(&injected);
    disarm();
    if (!hit || strstr(r, whole))
        return hit;
    cr_assert(strstr(r, "Error: out of memory for the reply\n") ||
              strstr(r, "(out of memory: frames may be missing or unnamed)\n") ||
              strstr(r, "Error: cannot symbolise the stack: ") ||
              strstr(r, "(out of memory to wait for it: not waiting)") ||
              strstr(r, "Error: cannot reach the kernel: "),
              "'%s' at allocation %ld:\n%s", cmd, n, r);
    return true;
}

static long serving_main(void *arg)
{
    (void)arg;
    curio_task *t;
    curio_spawn_options o = {.name = "waiter"};
    cr_assert_eq(curio_spawn_ex(&t, waiter, NULL, &o), 0);
    wait_state(t, "EVENT_WAIT");
    mon_conn *c = mon_open();
    /* The replies are made on the monitor's thread (this kernel's task only takes
     * snapshots): its allocations fail, not this test's own. */
    atomic_store(&only_tid, curio_kernel_current()->monitor->mtid);
    char where[32], parents[32];
    snprintf(where, sizeof where, "where %llu", (unsigned long long)curio_task_id(t));
    snprintf(parents, sizeof parents, "parents %llu", (unsigned long long)curio_task_id(t));
    for (long n = 0; one(c, "ps", n, "waiter\n"); n++)
        ;
    for (long n = 0; one(c, where, n, "in waiter\n"); n++)
        ;
    for (long n = 0; one(c, parents, n, "waiter\n"); n++)
        ;
    for (long n = 0; one(c, "help", n, "Commands:"); n++)
        ;
    atomic_store(&only_tid, 0);
    /* Memory is back: everything works. */
    cr_assert(strstr(mon_cmd(c, "ps"), "waiter\n"));
    cr_assert(strstr(mon_cmd(c, where), "in waiter\n"));
    mon_close(c);
    curio_cancel(t);
    curio_task_release(t);
    return 0;
}

Test(monitor_oom, serving)
{
    cr_assert_eq(run_monitored(serving_main, NULL), 0);
}

/* A connection whose session cannot get its stream is closed; the server goes on. */
static long session_main(void *arg)
{
    (void)arg;
    int closed = 0;
    /* One whole session first: the server is then in its accept loop (a failure while it
     * starts is another case: the monitor reports it and stops). */
    mon_conn *first = mon_open();
    cr_assert(strstr(mon_cmd(first, "ps"), "Task   State"));
    mon_close(first);
    /* The sessions are tasks of the monitor's thread: its allocations fail. */
    atomic_store(&only_tid, curio_kernel_current()->monitor->mtid);
    for (long n = 0; n < 50; n++) {
        mon_conn *c = calloc(1, sizeof *c);
        arm(n);
        int orc = curio_open_connection(&c->s, "127.0.0.1", (uint16_t)mon_port(), NULL);
        cr_assert_eq(orc, 0, "connect at %ld: %s", n, curio_strerror(orc));
        /* The banner, or the end: a close, or a reset (the server closes a connection
         * it could not make a task for at once). */
        bool eof = false;
        for (;;) {
            c->buf[c->len] = 0;
            if (strstr(c->buf, PROMPT))
                break;
            ssize_t got = curio_recv(c->s, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
            cr_assert(got >= 0 || got == -ECONNRESET, "%s", curio_strerror((int)got));
            if (got <= 0) {
                eof = true;
                break;
            }
            c->len += (size_t)got;
        }
        const char *r = c->buf;
        bool hit = atomic_load(&injected);
        disarm();
        if (eof)
            closed++;
        else
            cr_assert(strstr(r, "Curio Monitor: ") || strstr(r, "Error: out of memory"), "%s",
                      r);
        mon_close(c);
        if (!hit)
            break;
    }
    atomic_store(&only_tid, 0);
    cr_assert_gt(closed, 0);
    mon_conn *c = mon_open();
    cr_assert(strstr(mon_cmd(c, "ps"), "Task   State"));
    mon_close(c);
    return 0;
}

/* Failures injected on the monitor's own kernel hit the sessions, the server's accept path
 * and its back-off sleep (a fresh kernel's timer heap is empty): the server goes on. */
Test(monitor_oom, sessions, .init = cr_redirect_stderr)
{
    cr_assert_eq(run_monitored(session_main, NULL), 0);
}
