/*
 * Deadlines of I/O operations in the timer heap (kernel/trap.c, heap_wait): the entry an
 * operation leaves behind when it completes, and what becomes of it. It must never time
 * out a later wait that has no deadline, nor one whose deadline is later; it must move on
 * to a later operation's deadline, give way to an earlier one, and go with the task.
 * Also the two ways side by side: a deadline in the heap and a linked timeout give the
 * same outcomes, and a read that completes while its cancel is in flight keeps its bytes.
 */
#include "testutil.h"

#include "core.h"

#include <curio/io.h>
#include <curio/sync.h>
#include <unistd.h>

static const char *name(long rc)
{
    switch (rc) {
    case 0: return "ok";
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    default: return rc > 0 ? "ok" : "other";
    }
}

/* A read under a scope of `secs` that completes at once (a byte is waiting): it leaves
 * its heap entry at that deadline. */
static void read_in_time(int p[2], double secs)
{
    char b;
    curio_scope s;
    cr_assert_eq(write(p[1], "x", 1), 1);
    cr_assert_eq(curio_timeout_after(&s, secs), 0);
    cr_assert_eq(curio_read(p[0], &b, 1), 1);
    cr_assert_eq(curio_scope_close(&s), 0);
    cr_assert_neq(curio_kernel_current()->current->heap_index, SIZE_MAX,
                  "the entry stays after the operation");
}

/* -- a stale entry does not time out a wait without a deadline -- */

static long setter(void *arg)
{
    curio_sleep(0.15);
    curio_event_set(arg);
    return 0;
}

static long stale_vs_event(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    read_in_time(p, 0.03);
    curio_event ev_ = CURIO_EVENT_INIT;
    curio_task *t = curio_spawn(setter, &ev_);
    int64_t t0 = curio_clock();
    ev("wait=%s", name(curio_event_wait(&ev_)));
    cr_assert_geq(secs_since(t0), 0.15);
    curio_join(t, NULL);
    curio_task_release(t);
    /* and not a later read without a deadline either */
    cr_assert_eq(write(p[1], "y", 1), 1);
    char b;
    ev("read=%s", name(curio_read(p[0], &b, 1)));
    close(p[0]);
    close(p[1]);
    return 0;
}

Test(io_deadline, stale_entry_never_times_out_a_wait_without_deadline)
{
    expect_log(stale_vs_event, NULL, "wait=ok read=ok");
}

/* -- a stale earlier entry moves on to the later deadline of the next read -- */

static long stale_earlier(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    read_in_time(p, 0.02);
    char b;
    curio_scope s;
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_timeout_after(&s, 0.2), 0);
    ev("read=%s", name(curio_read(p[0], &b, 1)));
    double took = secs_since(t0);
    ev("close=%s", name(curio_scope_close(&s)));
    cr_assert_geq(took, 0.2, "timed out by the old entry after %.3f s", took);
    close(p[0]);
    close(p[1]);
    return 0;
}

Test(io_deadline, stale_earlier_entry_moves_on_to_the_later_deadline)
{
    expect_log(stale_earlier, NULL, "read=ETIMEDOUT close=ETIMEDOUT");
}

/* -- an earlier deadline than the stale entry's takes its place -- */

static long stale_later(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    read_in_time(p, 30);
    char b;
    curio_scope s;
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_timeout_after(&s, 0.02), 0);
    ev("read=%s", name(curio_read(p[0], &b, 1)));
    double took = secs_since(t0);
    ev("close=%s", name(curio_scope_close(&s)));
    cr_assert_geq(took, 0.02);
    cr_assert_lt(took, 10, "the earlier deadline was not armed");
    close(p[0]);
    close(p[1]);
    return 0;
}

Test(io_deadline, earlier_deadline_replaces_a_stale_later_entry)
{
    expect_log(stale_later, NULL, "read=ETIMEDOUT close=ETIMEDOUT");
}

/* -- a sleep after an I/O wait: its own deadline, not the stale entry's -- */

static long stale_vs_sleep(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    read_in_time(p, 0.01);
    int64_t t0 = curio_clock();
    ev("sleep=%s", name(curio_sleep(0.05) > 0 ? 0 : -1));
    cr_assert_geq(secs_since(t0), 0.05);
    /* under a scope that ends first: the scope's deadline, then sticky */
    curio_scope s;
    read_in_time(p, 0.01);
    cr_assert_eq(curio_timeout_after(&s, 0.03), 0);
    ev("scoped=%s", name(curio_sleep(5)));
    ev("close=%s", name(curio_scope_close(&s)));
    close(p[0]);
    close(p[1]);
    return 0;
}

Test(io_deadline, sleep_after_io_uses_its_own_deadline)
{
    expect_log(stale_vs_sleep, NULL, "sleep=ok scoped=ETIMEDOUT close=ETIMEDOUT");
}

/* -- a task ending with an entry left: the entry goes with it (ASan: no use after free) -- */

static long reader_task(void *arg)
{
    read_in_time(arg, 0.02);
    return 7;
}

static long ends_with_entry(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    for (int i = 0; i < 20; i++) {
        curio_task *t = curio_spawn(reader_task, p);
        long r = 0;
        cr_assert_eq(curio_join(t, &r), 0);
        cr_assert_eq(r, 7);
        curio_task_release(t);
    }
    cr_assert_eq(curio_kernel_current()->heap_len, 0, "an ended task's entry is left");
    ev("sleep=%s", name(curio_sleep(0.05) > 0 ? 0 : -1));
    close(p[0]);
    close(p[1]);
    return 0;
}

Test(io_deadline, an_ended_task_leaves_no_entry)
{
    expect_log(ends_with_entry, NULL, "sleep=ok");
}

/* -- cancellation while a read waits under a far deadline in the heap -- */

static long blocked_reader(void *arg)
{
    int *p = arg;
    char b;
    curio_scope s;
    curio_timeout_after(&s, 0.05);
    ev("kid:read=%s", name(curio_read(p[0], &b, 1)));
    ev("kid:close=%s", name(curio_scope_close(&s)));
    return 0;
}

static long cancel_blocked(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    curio_task *t = curio_spawn(blocked_reader, p);
    curio_sleep(0.01);
    ev("cancel=%s", name(curio_cancel(t)));
    curio_task_release(t);
    /* the entry went with the task: nothing fires at 0.05 s */
    ev("sleep=%s", name(curio_sleep(0.08) > 0 ? 0 : -1));
    close(p[0]);
    close(p[1]);
    return 0;
}

Test(io_deadline, cancel_while_blocked_under_a_heap_deadline)
{
    expect_log(cancel_blocked, NULL, "kid:read=ECANCELED kid:close=ok cancel=ok sleep=ok");
}

/* -- the same outcomes either way: heap (default) and linked timeout -- */

static long both_ways(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    for (int way = 0; way < 2; way++) {
        curio__link_below = way ? INT64_MAX : CURIO__LINK_BELOW_NS;
        char b[4];
        curio_scope s;
        /* times out, nothing consumed */
        cr_assert_eq(curio_timeout_after(&s, 0.02), 0);
        ev("%d:read=%s", way, name(curio_read(p[0], b, sizeof b)));
        ev("%d:again=%s", way, name(curio_read(p[0], b, sizeof b)));
        ev("%d:close=%s", way, name(curio_scope_close(&s)));
        cr_assert_eq(write(p[1], "abc", 3), 3);
        cr_assert_eq(curio_read(p[0], b, sizeof b), 3);
        /* completes in time: not expired */
        cr_assert_eq(curio_timeout_after(&s, 5), 0);
        cr_assert_eq(write(p[1], "de", 2), 2);
        ev("%d:inner=%ld", way, (long)curio_read(p[0], b, sizeof b));
        ev("%d:close=%s", way, name(curio_scope_close(&s)));
    }
    curio__link_below = CURIO__LINK_BELOW_NS;
    close(p[0]);
    close(p[1]);
    return 0;
}

Test(io_deadline, heap_and_linked_timeout_give_the_same_outcomes)
{
    expect_log(both_ways, NULL,
               "0:read=ETIMEDOUT 0:again=ETIMEDOUT 0:close=ETIMEDOUT 0:inner=2 0:close=ok "
               "1:read=ETIMEDOUT 1:again=ETIMEDOUT 1:close=ETIMEDOUT 1:inner=2 1:close=ok");
}

/* -- the clock moved past the deadline while a byte waits: either the check sees it
 *    (odd rounds: -ETIMEDOUT, the byte stays) or the read completes and its entry fires in
 *    the same scheduler round, too late to take anything (even rounds: the byte is read,
 *    the scope is not expired). The race with a cancel in flight, in real time, is
 *    tests/edges' (stress_deadlines, test_deadline_points) -- */

static int64_t skew;
static int64_t skewed(int64_t now) { return now + skew; }

static long completes_during_cancel(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    long kept = 0, timed = 0;
    for (int i = 0; i < 200; i++) {
        char b;
        curio_scope s;
        skew = 0;
        cr_assert_eq(curio_timeout_after(&s, 1), 0);
        cr_assert_eq(write(p[1], "z", 1), 1);
        skew = 2 * (int64_t)1000000000; /* the next reading is past the deadline */
        if (i % 2)
            curio_kernel_current()->now_fresh = false; /* the check itself reads it */
        ssize_t n = curio_read(p[0], &b, 1);
        int rc = curio_scope_close(&s);
        skew = 0;
        if (n == 1) {
            cr_assert_eq(rc, 0, "completed, yet the scope expired");
            kept++;
        } else {
            cr_assert_eq(n, -ETIMEDOUT);
            cr_assert_eq(rc, -ETIMEDOUT);
            /* nothing was consumed: the byte is still there */
            cr_assert_eq(curio_read(p[0], &b, 1), 1);
            timed++;
        }
    }
    cr_assert_eq(kept, 100);
    cr_assert_eq(timed, 100);
    close(p[0]);
    close(p[1]);
    return 0;
}

Test(io_deadline, completed_read_keeps_its_bytes_when_the_expiry_races_it)
{
    curio__clock_hook = skewed;
    run_main(completes_during_cancel, NULL);
    curio__clock_hook = NULL;
}
