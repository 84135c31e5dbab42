/*
 * Timeouts as scopes: expiry at the blocked call, stickiness until close, the three close
 * outcomes when nested, ignore_after, the function forms, and I/O with linked timeouts.
 */
#include "testutil.h"

#include <unistd.h>

static const char *name(long rc)
{
    switch (rc) {
    case 0: return "ok";
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case -EINVAL: return "EINVAL";
    case CURIO_ETIMEOUT_OUTER: return "OUTER";
    case CURIO_ETIMEOUT_LEAKED: return "LEAKED";
    default: return rc > 0 ? "ok" : "other";
    }
}

static long expires_and_sticks(void *arg)
{
    (void)arg;
    curio_scope s;
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_timeout_after(&s, 0.02), 0);
    int64_t rc = curio_sleep(10);
    ev("sleep=%s", name(rc));
    cr_assert_geq(secs_since(t0), 0.02, "not before the deadline");
    ev("yield=%s", name(curio_yield()));
    ev("sleep0=%s", name(curio_sleep(0)));
    ev("check=%s", name(curio_check_cancellation()));
    cr_assert(curio_scope_expired(&s));
    ev("close=%s", name(curio_scope_close(&s)));
    ev("after=%s", name(curio_sleep(0.001)));
    return 0;
}

Test(timeout, expiry_is_sticky_until_close)
{
    expect_log(expires_and_sticks, NULL, "sleep=ETIMEDOUT yield=ETIMEDOUT sleep0=ETIMEDOUT check=ETIMEDOUT "
                                 "close=ETIMEDOUT after=ok");
}

static long not_expired(void *arg)
{
    (void)arg;
    curio_scope s;
    curio_timeout_after(&s, 10);
    cr_assert_gt(curio_sleep(0.001), 0);
    cr_assert_eq(curio_scope_close(&s), 0);
    cr_assert_not(curio_scope_expired(&s));
    return 0;
}

Test(timeout, close_in_time_returns_zero) { run_main(not_expired, NULL); }

static long ignore_after(void *arg)
{
    (void)arg;
    curio_scope s;
    curio_ignore_after(&s, 0.01);
    ev("sleep=%s", name(curio_sleep(10)));
    ev("close=%s", name(curio_scope_close(&s)));
    cr_assert(curio_scope_expired(&s));
    return 0;
}

Test(timeout, ignore_after_swallows_but_says_expired)
{
    expect_log(ignore_after, NULL, "sleep=ETIMEDOUT close=ok");
}

/* Three deep: outer(a) > middle(b) > inner(c), each with its own deadline. */
static long nested(double a, double b, double c)
{
    curio_scope outer, middle, inner;
    curio_timeout_after(&outer, a);
    curio_timeout_after(&middle, b);
    curio_timeout_after(&inner, c);
    ev("sleep=%s", name(curio_sleep(10)));
    ev("inner=%s", name(curio_scope_close(&inner)));
    ev("middle=%s", name(curio_scope_close(&middle)));
    ev("outer=%s", name(curio_scope_close(&outer)));
    return 0;
}

static long innermost_expires(void *arg)
{
    (void)arg;
    return nested(60, 50, 0.01);
}

Test(timeout, nested_three_deep_inner_expires)
{
    expect_log(innermost_expires, NULL, "sleep=ETIMEDOUT inner=ETIMEDOUT middle=ok outer=ok");
}

static long outermost_expires(void *arg)
{
    (void)arg;
    return nested(0.01, 50, 60);
}

Test(timeout, nested_three_deep_outer_expires)
{
    expect_log(outermost_expires, NULL, "sleep=ETIMEDOUT inner=OUTER middle=OUTER outer=ETIMEDOUT");
}

static long middle_expires(void *arg)
{
    (void)arg;
    return nested(60, 0.01, 50);
}

Test(timeout, nested_three_deep_middle_expires)
{
    expect_log(middle_expires, NULL, "sleep=ETIMEDOUT inner=OUTER middle=ETIMEDOUT outer=ok");
}

/* A helper that opens a scope and returns without closing it: its timeout escapes. */
static int64_t sloppy_helper(curio_scope *s)
{
    curio_timeout_after(s, 0.01);
    return curio_sleep(10);
}

static long leaks(void *arg)
{
    (void)arg;
    curio_scope outer, middle, leaked;
    curio_timeout_after(&outer, 60);
    curio_timeout_after(&middle, 50);
    ev("helper=%s", name(sloppy_helper(&leaked)));
    ev("middle=%s", name(curio_scope_close(&middle)));
    ev("outer=%s", name(curio_scope_close(&outer)));
    ev("after=%s", name(curio_sleep(0.001)));
    return 0;
}

Test(timeout, nested_three_deep_inner_leaked)
{
    expect_log(leaks, NULL, "helper=ETIMEDOUT middle=LEAKED outer=ok after=ok");
}

static long wrong_order(void *arg)
{
    (void)arg;
    curio_scope a, b;
    curio_timeout_after(&a, 5);
    curio_timeout_after(&b, 5);
    cr_assert_eq(curio_scope_close(&b), 0);
    cr_assert_eq(curio_scope_close(&b), -EINVAL, "closing twice");
    cr_assert_eq(curio_scope_close(&a), 0);
    return 0;
}

Test(timeout, close_errors) { run_main(wrong_order, NULL); }

static long already_expired(void *arg)
{
    (void)arg;
    curio_scope s;
    curio_timeout_after(&s, -1);
    ev("yield=%s", name(curio_yield()));
    ev("close=%s", name(curio_scope_close(&s)));
    return 0;
}

Test(timeout, negative_seconds_expire_at_once)
{
    expect_log(already_expired, NULL, "yield=ETIMEDOUT close=ETIMEDOUT");
}

static long slow(void *arg)
{
    int64_t rc = curio_sleep(*(double *)arg);
    return rc < 0 ? rc : 99;
}

static long function_forms(void *arg)
{
    (void)arg;
    long r = 0;
    double quick = 0.001, lazy = 10;
    cr_assert_eq(curio_timeout_after_call(5, slow, &quick, &r), 0);
    cr_assert_eq(r, 99);
    r = 0;
    cr_assert_eq(curio_timeout_after_call(0.01, slow, &lazy, &r), -ETIMEDOUT);
    cr_assert_eq(r, -ETIMEDOUT, "fn's own return value reaches the caller");
    bool expired = false;
    r = 0;
    cr_assert_eq(curio_ignore_after_call(0.01, slow, &lazy, &r, &expired), 0);
    cr_assert(expired);
    cr_assert_eq(r, -ETIMEDOUT);
    cr_assert_eq(curio_ignore_after_call(5, slow, &quick, &r, &expired), 0);
    cr_assert_not(expired);
    cr_assert_eq(r, 99);
    /* The function form nested in a block scope that expires first. */
    curio_scope s;
    curio_timeout_after(&s, 0.01);
    cr_assert_eq(curio_timeout_after_call(5, slow, &lazy, &r), CURIO_ETIMEOUT_OUTER);
    cr_assert_eq(curio_scope_close(&s), -ETIMEDOUT);
    return 0;
}

Test(timeout, function_forms) { run_main(function_forms, NULL); }

static long sleeps_forever(void *arg)
{
    (void)arg;
    return curio_sleep(1000);
}

static long join_times_out(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(sleeps_forever, NULL);
    curio_scope s;
    curio_timeout_after(&s, 0.01);
    ev("join=%s", name(curio_join(t, NULL)));
    ev("close=%s", name(curio_scope_close(&s)));
    ev("state=%s", curio_task_state(t));
    curio_cancel(t);
    curio_task_release(t);
    return 0;
}

Test(timeout, join_times_out_and_task_goes_on)
{
    expect_log(join_times_out, NULL, "join=ETIMEDOUT close=ETIMEDOUT state=TIME_SLEEP");
}

static long read_times_out(void *arg)
{
    (void)arg;
    int p[2];
    cr_assert_eq(pipe(p), 0);
    char buf[8];
    curio_scope s;
    int64_t t0 = curio_clock();
    curio_timeout_after(&s, 0.02);
    ev("read=%s", name(curio_read(p[0], buf, sizeof buf)));
    cr_assert_geq(secs_since(t0), 0.02);
    ev("again=%s", name(curio_read(p[0], buf, sizeof buf)));
    ev("close=%s", name(curio_scope_close(&s)));
    /* Nothing was consumed by the timed-out read. */
    cr_assert_eq(write(p[1], "abc", 3), 3);
    cr_assert_eq(curio_read(p[0], buf, sizeof buf), 3);
    /* A read that completes in time inside a scope. */
    curio_timeout_after(&s, 60);
    cr_assert_eq(write(p[1], "de", 2), 2);
    cr_assert_eq(curio_read(p[0], buf, sizeof buf), 2);
    cr_assert_eq(curio_scope_close(&s), 0);
    close(p[0]);
    close(p[1]);
    return 0;
}

Test(timeout, io_uses_linked_timeout)
{
    ev_reset();
    int fds = count_fds();
    run_main(read_times_out, NULL);
    cr_assert_str_eq(evlog, "read=ETIMEDOUT again=ETIMEDOUT close=ETIMEDOUT");
    cr_assert_eq(count_fds(), fds);
}

static long deferred_by_disable(void *arg)
{
    (void)arg;
    curio_scope t, nc, inner;
    curio_timeout_after(&t, 0.01);
    curio_disable_cancellation(&nc);
    ev("shielded=%s", name(curio_sleep(0.03)));
    /* A timeout opened inside the shield still applies. */
    curio_timeout_after(&inner, 0.01);
    ev("inner=%s", name(curio_sleep(5)));
    ev("innerclose=%s", name(curio_scope_close(&inner)));
    ev("ncclose=%s", name(curio_scope_close(&nc)));
    ev("after=%s", name(curio_sleep(5)));
    ev("close=%s", name(curio_scope_close(&t)));
    return 0;
}

Test(timeout, disable_cancellation_defers_outer_deadlines)
{
    expect_log(deferred_by_disable, NULL, "shielded=ok inner=ETIMEDOUT innerclose=ETIMEDOUT ncclose=ok "
                                 "after=ETIMEDOUT close=ETIMEDOUT");
}

static long cancel_beats_timeout(void *arg)
{
    (void)arg;
    curio_scope s;
    curio_timeout_after(&s, 60);
    int64_t rc = curio_sleep(100);
    ev("kid:sleep=%s", name(rc));
    ev("kid:close=%s", name(curio_scope_close(&s)));
    return rc;
}

static long cancel_inside_scope(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(cancel_beats_timeout, NULL);
    curio_yield();
    curio_cancel(t);
    cr_assert(curio_task_cancelled(t));
    curio_task_release(t);
    return 0;
}

Test(timeout, cancellation_inside_a_scope_is_not_a_timeout)
{
    expect_log(cancel_inside_scope, NULL, "kid:sleep=ECANCELED kid:close=ok");
}

/* Many tasks each under its own scope, expiring in deadline order. The deadlines are
 * absolute, from one base: the order cannot depend on when each task got to open its
 * scope. A task that finds its deadline already passed before it could wait (a loaded
 * machine stopped the process that long) would log out of turn, proving nothing: then
 * the run is repeated with the deadlines spread twice as wide. */
static int64_t base_ns, step_ns;
static int waited_all;

static long scoped_sleeper(void *arg)
{
    int n = *(int *)arg;
    curio_scope s;
    cr_assert_eq(curio_timeout_at(&s, base_ns + n * step_ns), 0);
    uint64_t cycles = curio_task_cycles(curio_current());
    cr_assert_eq(curio_sleep(100), -ETIMEDOUT);
    waited_all &= curio_task_cycles(curio_current()) != cycles;
    cr_assert_eq(curio_scope_close(&s), -ETIMEDOUT);
    ev("%d", n);
    return 0;
}

static long many_scopes(void *arg)
{
    (void)arg;
    static int n[] = {5, 1, 4, 2, 3};
    for (step_ns = 10000000;; step_ns *= 2) {
        ev_reset();
        waited_all = 1;
        base_ns = curio_clock();
        curio_task *t[5];
        for (int i = 0; i < 5; i++)
            t[i] = curio_spawn(scoped_sleeper, &n[i]);
        for (int i = 0; i < 5; i++) {
            cr_assert_eq(curio_join(t[i], NULL), 0);
            curio_task_release(t[i]);
        }
        if (waited_all)
            return 0;
    }
}

Test(timeout, scopes_expire_in_deadline_order)
{
    expect_log(many_scopes, NULL, "1 2 3 4 5");
}

/* The scope lives in a frame that is gone by the time the outer scope closes. */
static int64_t sloppier_helper(void)
{
    curio_scope s;
    curio_timeout_after(&s, 0.01);
    return curio_sleep(10);
}

static void scribble(void)
{
    volatile char junk[512];
    memset((char *)junk, 0x5a, sizeof junk);
}

static long leaks_from_dead_frame(void *arg)
{
    (void)arg;
    curio_scope outer;
    curio_timeout_after(&outer, 60);
    ev("helper=%s", name(sloppier_helper()));
    scribble(); /* overwrite the dead frame */
    ev("outer=%s", name(curio_scope_close(&outer)));
    ev("after=%s", name(curio_sleep(0.001)));
    return 0;
}

Test(timeout, leaked_scope_in_a_returned_frame)
{
    expect_log(leaks_from_dead_frame, NULL, "helper=ETIMEDOUT outer=LEAKED after=ok");
}

/* Curio: a block that completes without any blocking call receiving TaskTimeout is not
 * expired, however long it ran (at most a "Badness delta" log). Only a delivery counts. */
static long busy_past_deadline(void *arg)
{
    (void)arg;
    curio_scope s, i;
    curio_timeout_after(&s, 0.005);
    int64_t t0 = curio_clock();
    while (curio_clock() - t0 < 10000000) /* 10 ms of work, no blocking call */
        ;
    ev("expired=%d", curio_scope_expired(&s));
    ev("close=%s", name(curio_scope_close(&s)));
    ev("after=%d", curio_scope_expired(&s));
    curio_ignore_after(&i, 0.005);
    t0 = curio_clock();
    while (curio_clock() - t0 < 10000000)
        ;
    ev("yield=%s", name(curio_yield())); /* the first blocking call is told */
    ev("ignore=%s", name(curio_scope_close(&i)));
    ev("expired=%d", curio_scope_expired(&i));
    return 0;
}

Test(timeout, deadline_passed_without_blocking_is_not_an_expiry)
{
    expect_log(busy_past_deadline, NULL,
               "expired=0 close=ok after=0 yield=ETIMEDOUT ignore=ok expired=1");
}

static long no_deadline(void *arg)
{
    (void)arg;
    curio_scope s;
    curio_timeout_after(&s, 1.0 / 0.0); /* Curio's timeout_after(None) */
    cr_assert_gt(curio_sleep(0.001), 0);
    cr_assert_eq(curio_scope_close(&s), 0);
    curio_timeout_after(&s, 0.0 / 0.0); /* NaN: already expired */
    cr_assert_eq(curio_yield(), -ETIMEDOUT);
    cr_assert_eq(curio_scope_close(&s), -ETIMEDOUT);
    return 0;
}

Test(timeout, infinity_means_none_and_nan_expires) { run_main(no_deadline, NULL); }
