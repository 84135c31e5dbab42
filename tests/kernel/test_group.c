/*
 * Task groups: the four wait modes, next_done/next_result in order of ending, failures,
 * members cancelled from outside, daemon members, destroy, the owner being cancelled or
 * timed out while joining, size/task, and the calls made outside a task.
 */
#include "testutil.h"
#include "core.h"
#include "waitq.h"

#include <pthread.h>

/* ---- a configurable member ---- */

typedef struct spec {
    const char *name;
    double sleep;   /* < 0: return at once without blocking; otherwise curio_sleep(sleep) */
    long ret;       /* returned when the sleep ends normally */
    double cleanup; /* > 0: once interrupted, sleep this long inside disable_cancellation */
} spec;

static const char *errname(long rc)
{
    switch (rc) {
    case 0: return "0";
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case -ENOENT: return "ENOENT";
    case -EPERM: return "EPERM";
    case -EINVAL: return "EINVAL";
    case CURIO_ETASKCANCELLED: return "TASKCANCELLED";
    case CURIO_ETASKFAILED: return "TASKFAILED";
    default: return "other";
    }
}

static long member(void *arg)
{
    const spec *s = arg;
    int64_t rc = 0;
    if (s->sleep >= 0)
        rc = curio_sleep(s->sleep);
    if (rc < 0) {
        if (s->cleanup > 0) {
            curio_scope nc;
            cr_assert_eq(curio_disable_cancellation(&nc), 0);
            int64_t r2 = curio_sleep(s->cleanup);
            cr_assert_gt(r2, 0, "%s: a sleep inside disable_cancellation returned %lld",
                         s->name, (long long)r2);
            cr_assert_eq(curio_scope_close(&nc), 0);
            ev("%s:cleaned", s->name);
        }
        ev("%s:%s", s->name, errname(rc));
        return rc;
    }
    ev("%s:end", s->name);
    return s->ret;
}

static curio_task *gspawn(curio_group *g, const spec *s, bool daemon)
{
    curio_task *t = NULL;
    curio_spawn_options o = {.name = s->name, .daemon = daemon};
    int rc = curio_group_spawn(g, &t, member, (void *)s, &o);
    cr_assert_eq(rc, 0, "curio_group_spawn(%s): %s", s->name, curio_strerror(rc));
    cr_assert_not_null(t);
    return t;
}

/* ---- event log helpers ---- */

/* The tokens of evlog that contain `pat`, joined by spaces (a static buffer). */
static const char *ev_select(const char *pat)
{
    static char out[sizeof evlog];
    char copy[sizeof evlog];
    snprintf(copy, sizeof copy, "%s", evlog);
    out[0] = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (!strstr(tok, pat))
            continue;
        if (out[0])
            strcat(out, " ");
        strcat(out, tok);
    }
    return out;
}

/* Position (in tokens) of the token equal to tok, or -1. */
static int ev_index(const char *tok)
{
    char copy[sizeof evlog];
    snprintf(copy, sizeof copy, "%s", evlog);
    char *save = NULL;
    int i = 0;
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save), i++)
        if (strcmp(t, tok) == 0)
            return i;
    return -1;
}

static void ev_before(const char *a, const char *b)
{
    int ia = ev_index(a), ib = ev_index(b);
    cr_assert_geq(ia, 0, "'%s' missing from the event log: %s", a, evlog);
    cr_assert_geq(ib, 0, "'%s' missing from the event log: %s", b, evlog);
    cr_assert_lt(ia, ib, "'%s' should come before '%s': %s", a, b, evlog);
}

static void yield_until_state(curio_task *t, const char *state)
{
    for (int i = 0; i < 10000 && strcmp(curio_task_state(t), state) != 0; i++)
        cr_assert_eq(curio_yield(), 0);
    cr_assert_str_eq(curio_task_state(t), state, "task %s never reached %s",
                     curio_task_name(t), state);
}

static void assert_ended_cancelled(curio_task *t)
{
    cr_assert(curio_task_done(t), "%s should have ended", curio_task_name(t));
    cr_assert(curio_task_cancelled(t), "%s should have ended cancelled", curio_task_name(t));
    cr_assert_eq(curio_task_result(t, NULL), CURIO_ETASKCANCELLED);
}

static void assert_ended_with(curio_task *t, long expect)
{
    long r = -12345;
    cr_assert(curio_task_done(t), "%s should have ended", curio_task_name(t));
    cr_assert_not(curio_task_cancelled(t), "%s should not be cancelled", curio_task_name(t));
    cr_assert_eq(curio_task_result(t, &r), 0);
    cr_assert_eq(r, expect, "%s returned %ld", curio_task_name(t), r);
}

/* ------------------------------------------------------------------------------------ */
/* WAIT_ALL                                                                             */
/* ------------------------------------------------------------------------------------ */

static long all_next_result_in_order(void *arg)
{
    (void)arg;
    static const spec a = {"A", 0.06, 1, 0}, b = {"B", 0.02, 2, 0}, c = {"C", 0.04, 3, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *ta = gspawn(g, &a, false), *tb = gspawn(g, &b, false),
               *tc = gspawn(g, &c, false);
    int64_t t0 = curio_clock();
    for (int i = 0; i < 3; i++) {
        long r = -1;
        int rc = curio_group_next_result(g, &r);
        cr_assert_eq(rc, 0, "next_result #%d: %s", i, curio_strerror(rc));
        ev("got=%ld", r);
    }
    cr_assert_geq(secs_since(t0), 0.05);
    long r = 777;
    cr_assert_eq(curio_group_next_result(g, &r), -ENOENT);
    cr_assert_eq(r, 777, "-ENOENT must leave *result alone");
    cr_assert_eq(curio_group_join(g), 0);
    cr_assert_null(curio_group_failed(g));
    cr_assert_null(curio_group_completed(g), "next_result took every member out");
    cr_assert_eq(curio_group_result(g, &r), -ENOENT, "join examined no member");
    assert_ended_with(ta, 1);
    assert_ended_with(tb, 2);
    assert_ended_with(tc, 3);
    curio_group_destroy(g);
    return 0;
}

Test(group, wait_all_next_result_in_order_of_ending, .timeout = 30)
{
    ev_reset();
    cr_assert_eq(run_main(all_next_result_in_order, NULL), 0);
    cr_assert_str_eq(ev_select(":end"), "B:end C:end A:end");
    cr_assert_str_eq(ev_select("got="), "got=2 got=3 got=1");
    ev_before("B:end", "got=2");
    ev_before("C:end", "got=3");
    ev_before("A:end", "got=1");
}

static long all_next_done_in_order(void *arg)
{
    (void)arg;
    static const spec a = {"A", 0.05, 10, 0}, b = {"B", 0.01, 20, 0}, c = {"C", 0.03, 30, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *ta = gspawn(g, &a, false), *tb = gspawn(g, &b, false),
               *tc = gspawn(g, &c, false);
    curio_task *expect[3] = {tb, tc, ta};
    for (int i = 0; i < 3; i++) {
        curio_task *t = NULL;
        cr_assert_eq(curio_group_next_done(g, &t), 0);
        cr_assert_eq(t, expect[i], "next_done #%d returned %s, expected %s", i,
                     t ? curio_task_name(t) : "NULL", curio_task_name(expect[i]));
        cr_assert(curio_task_done(t));
        ev("done=%s", curio_task_name(t));
    }
    curio_task *t = (curio_task *)0x1;
    cr_assert_eq(curio_group_next_done(g, &t), -ENOENT);
    cr_assert_eq(curio_group_next_done(g, NULL), -ENOENT);
    cr_assert_eq(curio_group_join(g), 0);
    curio_group_destroy(g);
    return 0;
}

Test(group, wait_all_next_done_in_order_of_ending, .timeout = 30)
{
    ev_reset();
    run_main(all_next_done_in_order, NULL);
    cr_assert_str_eq(ev_select(":end"), "B:end C:end A:end");
    cr_assert_str_eq(ev_select("done="), "done=B done=C done=A");
    ev_before("B:end", "done=B");
    ev_before("C:end", "done=C");
    ev_before("A:end", "done=A");
}

static long all_join_waits(void *arg)
{
    (void)arg;
    static const spec a = {"A", 0.04, 1, 0}, b = {"B", -1, 2, 0}, c = {"C", 0.02, 3, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *ta = gspawn(g, &a, false), *tb = gspawn(g, &b, false),
               *tc = gspawn(g, &c, false);
    int64_t t0 = curio_clock();
    int rc = curio_group_join(g);
    ev("joined=%s", errname(rc));
    cr_assert_eq(rc, 0);
    cr_assert_geq(secs_since(t0), 0.035);
    assert_ended_with(ta, 1);
    assert_ended_with(tb, 2);
    assert_ended_with(tc, 3);
    cr_assert_null(curio_group_failed(g));
    cr_assert_eq(curio_group_completed(g), tb, "completed: the first member to end");
    /* join consumed the members; nothing is left for next_done. */
    cr_assert_eq(curio_group_next_done(g, NULL), -ENOENT);
    curio_group_destroy(g);
    return 0;
}

Test(group, wait_all_join_waits_for_every_member, .timeout = 30)
{
    expect_log(all_join_waits, NULL, "B:end C:end A:end joined=0");
}

static long all_failure(void *arg)
{
    (void)arg;
    static const spec a = {"A", 0.01, 0, 0}, b = {"B", 0.03, -EIO, 0},
                      c = {"C", 5, 0, 0}, d = {"D", 5, 0, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *ta = gspawn(g, &a, false), *tb = gspawn(g, &b, false),
               *tc = gspawn(g, &c, false), *td = gspawn(g, &d, false);
    int64_t t0 = curio_clock();
    int rc = curio_group_join(g);
    ev("joined=%s", errname(rc));
    cr_assert_eq(rc, CURIO_ETASKFAILED, "join: %d (%s)", rc, curio_strerror(rc));
    cr_assert_geq(secs_since(t0), 0.025);
    cr_assert_eq(curio_group_failed(g), tb, "curio_group_failed is %s",
                 curio_group_failed(g) ? curio_task_name(curio_group_failed(g)) : "NULL");
    assert_ended_with(ta, 0);
    assert_ended_with(tb, -EIO); /* failed, not cancelled */
    assert_ended_cancelled(tc);
    assert_ended_cancelled(td);
    /* The members cancelled by the failure are still reported by next_result. */
    long r = 0;
    cr_assert_eq(curio_group_next_result(g, &r), CURIO_ETASKCANCELLED);
    cr_assert_eq(curio_group_next_result(g, &r), CURIO_ETASKCANCELLED);
    cr_assert_eq(curio_group_next_result(g, &r), -ENOENT);
    curio_group_destroy(g);
    return 0;
}

Test(group, wait_all_failure_cancels_the_rest, .timeout = 30)
{
    expect_log(all_failure, NULL, "A:end B:end C:ECANCELED D:ECANCELED joined=TASKFAILED");
}

static long next_result_failure(void *arg)
{
    (void)arg;
    static const spec f = {"F", 0.01, -EIO, 0}, ok = {"OK", -1, 5, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *tf = gspawn(g, &f, false);
    gspawn(g, &ok, false);
    long r = 0;
    cr_assert_eq(curio_group_next_result(g, &r), 0);
    cr_assert_eq(r, 5);
    r = 0;
    int rc = curio_group_next_result(g, &r);
    cr_assert_eq(rc, CURIO_ETASKFAILED, "next_result: %d (%s)", rc, curio_strerror(rc));
    cr_assert_eq(r, -EIO, "*result holds the member's negative return");
    cr_assert_eq(curio_group_failed(g), tf);
    cr_assert_eq(curio_group_next_result(g, &r), -ENOENT);
    curio_group_destroy(g);
    return 0;
}

Test(group, next_result_reports_a_failure, .timeout = 30)
{
    expect_log(next_result_failure, NULL, "OK:end F:end");
}

/* ------------------------------------------------------------------------------------ */
/* WAIT_ANY, WAIT_OBJECT, WAIT_NONE                                                     */
/* ------------------------------------------------------------------------------------ */

static long any_first(void *arg)
{
    (void)arg;
    /* A and C sleep far past B: a stalled machine cannot wake them in B's pass. */
    static const spec a = {"A", 5, 1, 0}, b = {"B", 0.01, 22, 0}, c = {"C", 5, 3, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ANY), 0);
    curio_task *ta = gspawn(g, &a, false), *tb = gspawn(g, &b, false),
               *tc = gspawn(g, &c, false);
    int rc = curio_group_join(g);
    ev("joined=%s", errname(rc));
    cr_assert_eq(rc, 0);
    cr_assert_eq(curio_group_completed(g), tb, "completed is %s",
                 curio_group_completed(g) ? curio_task_name(curio_group_completed(g))
                                          : "NULL");
    long r = 0;
    cr_assert_eq(curio_group_result(g, &r), 0);
    cr_assert_eq(r, 22);
    assert_ended_with(tb, 22);
    assert_ended_cancelled(ta);
    assert_ended_cancelled(tc);
    cr_assert_null(curio_group_failed(g));
    curio_group_destroy(g);
    return 0;
}

Test(group, wait_any_first_to_end_decides, .timeout = 30)
{
    expect_log(any_first, NULL, "B:end A:ECANCELED C:ECANCELED joined=0");
}

static long object_first_nonzero(void *arg)
{
    (void)arg;
    static const spec a = {"A", -1, 0, 0}, b = {"B", 0.01, 0, 0}, c = {"C", 0.03, 33, 0},
                      d = {"D", 5, 44, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_OBJECT), 0);
    curio_task *ta = gspawn(g, &a, false), *tb = gspawn(g, &b, false),
               *tc = gspawn(g, &c, false), *td = gspawn(g, &d, false);
    int64_t t0 = curio_clock();
    int rc = curio_group_join(g);
    ev("joined=%s", errname(rc));
    cr_assert_eq(rc, 0);
    cr_assert_geq(secs_since(t0), 0.025);
    cr_assert_eq(curio_group_completed(g), tc, "completed is %s",
                 curio_group_completed(g) ? curio_task_name(curio_group_completed(g))
                                          : "NULL");
    long r = 0;
    cr_assert_eq(curio_group_result(g, &r), 0);
    cr_assert_eq(r, 33);
    assert_ended_with(ta, 0);
    assert_ended_with(tb, 0);
    assert_ended_with(tc, 33);
    assert_ended_cancelled(td);
    curio_group_destroy(g);
    return 0;
}

Test(group, wait_object_first_nonzero_result_decides, .timeout = 30)
{
    expect_log(object_first_nonzero, NULL, "A:end B:end C:end D:ECANCELED joined=0");
}

static long object_none_nonzero(void *arg)
{
    (void)arg;
    static const spec a = {"A", -1, 0, 0}, b = {"B", 0.01, 0, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_OBJECT), 0);
    curio_task *ta = gspawn(g, &a, false), *tb = gspawn(g, &b, false);
    cr_assert_eq(curio_group_join(g), 0);
    cr_assert_null(curio_group_completed(g));
    long r = 99;
    cr_assert_eq(curio_group_result(g, &r), -ENOENT);
    cr_assert_eq(r, 99);
    assert_ended_with(ta, 0);
    assert_ended_with(tb, 0);
    curio_group_destroy(g);
    return 0;
}

Test(group, wait_object_without_a_result_waits_for_all, .timeout = 30)
{
    expect_log(object_none_nonzero, NULL, "A:end B:end");
}

static long none_cancels(void *arg)
{
    (void)arg;
    /* A and C sleep far past B: a stalled machine cannot wake them in B's pass. */
    static const spec a = {"A", 5, 1, 0}, b = {"B", 5, 2, 0}, c = {"C", 5, 3, 0};
    static const spec d = {"D", 5, 1, 0}, e = {"E", 5, 2, 0};
    /* Members that have not started yet: they still run, and see the cancellation at
     * their first blocking call. */
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_NONE), 0);
    curio_task *ta = gspawn(g, &a, false), *tb = gspawn(g, &b, false),
               *tc = gspawn(g, &c, false);
    int rc = curio_group_join(g);
    ev("joined=%s", errname(rc));
    cr_assert_eq(rc, 0);
    assert_ended_cancelled(ta);
    assert_ended_cancelled(tb);
    assert_ended_cancelled(tc);
    cr_assert_null(curio_group_completed(g));
    curio_group_destroy(g);

    /* Members already blocked. */
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_NONE), 0);
    curio_task *td = gspawn(g, &d, false), *te = gspawn(g, &e, false);
    yield_until_state(td, "TIME_SLEEP");
    yield_until_state(te, "TIME_SLEEP");
    int64_t t0 = curio_clock();
    rc = curio_group_join(g);
    ev("joined=%s", errname(rc));
    cr_assert_eq(rc, 0);
    cr_assert_lt(secs_since(t0), 4.0, "WAIT_NONE must not wait for the members' sleeps");
    assert_ended_cancelled(td);
    assert_ended_cancelled(te);
    curio_group_destroy(g);
    return 0;
}

Test(group, wait_none_cancels_every_member, .timeout = 30)
{
    expect_log(none_cancels, NULL, "A:ECANCELED B:ECANCELED C:ECANCELED joined=0 "
                                 "D:ECANCELED E:ECANCELED joined=0");
}

/* ------------------------------------------------------------------------------------ */
/* Members cancelled from outside; daemons                                              */
/* ------------------------------------------------------------------------------------ */

static curio_task *victim;

static long killer(void *arg)
{
    (void)arg;
    ev("killer:cancel");
    cr_assert_eq(curio_cancel(victim), 0);
    ev("killer:done");
    return 0;
}

static long cancelled_from_outside(void *arg)
{
    (void)arg;
    static const spec v = {"V", 5, 1, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    victim = gspawn(g, &v, false);
    curio_task *k = curio_spawn(killer, NULL);
    cr_assert_not_null(k);
    ev("main:next");
    long r = 999;
    int rc = curio_group_next_result(g, &r);
    ev("main:got=%s", errname(rc));
    cr_assert_eq(rc, CURIO_ETASKCANCELLED, "next_result: %d (%s)", rc, curio_strerror(rc));
    cr_assert_eq(r, 999, "a cancelled member has no result to store");
    assert_ended_cancelled(victim);
    cr_assert_null(curio_group_failed(g), "a cancelled member is not a failed one");
    cr_assert_eq(curio_group_next_result(g, &r), -ENOENT);
    cr_assert_eq(curio_group_join(g), 0);
    cr_assert_eq(curio_join(k, NULL), 0);
    curio_task_release(k);
    curio_group_destroy(g);
    return 0;
}

Test(group, member_cancelled_from_outside_reports_taskcancelled, .timeout = 30)
{
    expect_log(cancelled_from_outside, NULL, "main:next killer:cancel V:ECANCELED killer:done main:got=TASKCANCELLED");
}

static long daemon_member(void *arg)
{
    (void)arg;
    static const spec n = {"N", 0.02, 5, 0}, d = {"Dm", 5, 6, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *tn = gspawn(g, &n, false), *td = gspawn(g, &d, true);
    cr_assert(curio_task_daemon(td));
    cr_assert_not(curio_task_daemon(tn));
    cr_assert_eq(curio_group_size(g), 2);
    int rc = curio_group_join(g);
    ev("joined=%s", errname(rc));
    cr_assert_eq(rc, 0);
    assert_ended_with(tn, 5);
    assert_ended_cancelled(td);
    /* The daemon is never reported by next_done. */
    cr_assert_eq(curio_group_next_done(g, NULL), -ENOENT);
    curio_group_destroy(g);
    return 0;
}

Test(group, daemon_member_is_not_waited_for_and_cancelled_at_join, .timeout = 30)
{
    expect_log(daemon_member, NULL, "N:end Dm:ECANCELED joined=0");
}

static long only_daemons(void *arg)
{
    (void)arg;
    static const spec d = {"Dm", 5, 6, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *td = gspawn(g, &d, true);
    yield_until_state(td, "TIME_SLEEP");
    /* Nothing to wait for: the daemon is alive, but not waited for. */
    cr_assert_eq(curio_group_next_done(g, NULL), -ENOENT);
    cr_assert_eq(curio_group_next_result(g, NULL), -ENOENT);
    cr_assert_not(curio_task_done(td));
    ev("main:enoent");
    cr_assert_eq(curio_group_join(g), 0);
    assert_ended_cancelled(td);
    curio_group_destroy(g);
    return 0;
}

Test(group, only_daemons_left_is_enoent, .timeout = 30)
{
    expect_log(only_daemons, NULL, "main:enoent Dm:ECANCELED");
}

/* ------------------------------------------------------------------------------------ */
/* destroy                                                                              */
/* ------------------------------------------------------------------------------------ */

static long destroy_running(void *arg)
{
    (void)arg;
    static const spec a = {"A", 5, 1, 0.02}, b = {"B", 5, 2, 0.02}, c = {"C", -1, 3, 0};
    curio_kernel *k = curio_kernel_current();
    size_t before = k->ntasks;
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *ta = gspawn(g, &a, false), *tb = gspawn(g, &b, false);
    gspawn(g, &c, false);
    yield_until_state(ta, "TIME_SLEEP");
    yield_until_state(tb, "TIME_SLEEP");
    int64_t t0 = curio_clock();
    curio_group_destroy(g);
    ev("destroyed");
    cr_assert_geq(secs_since(t0), 0.015, "destroy must wait for the members' cleanup");
    cr_assert_eq(k->ntasks, before, "destroy frees every member record (%zu vs %zu)",
                 k->ntasks, before);
    return 0;
}

Test(group, destroy_cancels_running_members_and_waits, .timeout = 30)
{
    expect_log(destroy_running, NULL, "C:end A:cleaned A:ECANCELED B:cleaned B:ECANCELED destroyed");
}

static long destroy_unjoined_and_unstarted(void *arg)
{
    (void)arg;
    /* A and C sleep far past B: a stalled machine cannot wake them in B's pass. */
    static const spec a = {"A", 5, 1, 0}, b = {"B", 5, 2, 0};
    curio_kernel *k = curio_kernel_current();
    size_t before = k->ntasks;
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ANY), 0);
    gspawn(g, &a, false);
    gspawn(g, &b, true);
    curio_group_destroy(g); /* nothing has run yet */
    ev("destroyed");
    cr_assert_eq(k->ntasks, before);
    return 0;
}

Test(group, destroy_cancels_members_that_never_ran, .timeout = 30)
{
    expect_log(destroy_unjoined_and_unstarted, NULL, "A:ECANCELED B:ECANCELED destroyed");
}

static long owner_destroys_after_cancel(void *arg)
{
    (void)arg;
    static const spec a = {"A", 5, 1, 0.02}, b = {"B", 5, 2, 0.02};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    gspawn(g, &a, false);
    gspawn(g, &b, false);
    int64_t rc = curio_sleep(10);
    ev("owner:sleep=%s", errname(rc));
    cr_assert_eq(rc, -ECANCELED);
    /* Cancelled: destroy still cancels the members and waits for their cleanup. */
    curio_group_destroy(g);
    ev("owner:destroyed");
    return rc;
}

static long destroy_by_cancelled_owner(void *arg)
{
    (void)arg;
    curio_task *owner = curio_spawn(owner_destroys_after_cancel, NULL);
    yield_until_state(owner, "TIME_SLEEP");
    ev("main:cancel");
    cr_assert_eq(curio_cancel(owner), 0);
    ev("main:cancelled");
    cr_assert(curio_task_cancelled(owner));
    curio_task_release(owner);
    return 0;
}

Test(group, destroy_by_a_cancelled_owner_still_waits, .timeout = 30)
{
    expect_log(destroy_by_cancelled_owner, NULL, "main:cancel owner:sleep=ECANCELED A:cleaned A:ECANCELED "
                                 "B:cleaned B:ECANCELED owner:destroyed main:cancelled");
}

/* ------------------------------------------------------------------------------------ */
/* The owner cancelled or timed out in join                                             */
/* ------------------------------------------------------------------------------------ */

static curio_task *owner_members[3];

static long owner_joins(void *arg)
{
    (void)arg;
    static const spec a = {"M1", 5, 1, 0.02}, b = {"M2", 5, 2, 0.02}, d = {"M3", 5, 3, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    owner_members[0] = gspawn(g, &a, false);
    owner_members[1] = gspawn(g, &b, false);
    owner_members[2] = gspawn(g, &d, true);
    int rc = curio_group_join(g);
    ev("owner:join=%s", errname(rc));
    cr_assert_eq(rc, -ECANCELED, "join: %d (%s)", rc, curio_strerror(rc));
    for (int i = 0; i < 3; i++)
        assert_ended_cancelled(owner_members[i]);
    cr_assert_null(curio_group_failed(g));
    /* The cancellation is sticky. */
    cr_assert_eq(curio_yield(), -ECANCELED);
    curio_group_destroy(g);
    return rc;
}

static long cancel_owner_in_join(void *arg)
{
    (void)arg;
    curio_task *owner = curio_spawn(owner_joins, NULL);
    yield_until_state(owner, "TASK_JOIN");
    yield_until_state(owner_members[0], "TIME_SLEEP");
    yield_until_state(owner_members[1], "TIME_SLEEP");
    yield_until_state(owner_members[2], "TIME_SLEEP");
    cr_assert_str_eq(curio_task_state(owner), "TASK_JOIN");
    ev("main:cancel");
    cr_assert_eq(curio_cancel(owner), 0);
    ev("main:cancelled");
    cr_assert(curio_task_cancelled(owner));
    cr_assert_eq(curio_join(owner, NULL), CURIO_ETASKCANCELLED);
    curio_task_release(owner);
    return 0;
}

Test(group, owner_cancelled_in_join_cancels_members, .timeout = 30)
{
    expect_log(cancel_owner_in_join, NULL, "main:cancel M3:ECANCELED M1:cleaned M1:ECANCELED M2:cleaned "
                                 "M2:ECANCELED owner:join=ECANCELED main:cancelled");
}

static long owner_join_times_out(void *arg)
{
    (void)arg;
    static const spec a = {"M1", 5, 1, 0.02}, b = {"M2", -1, 2, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *ta = gspawn(g, &a, false), *tb = gspawn(g, &b, false);
    curio_scope s;
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_timeout_after(&s, 0.03), 0);
    int rc = curio_group_join(g);
    ev("join=%s", errname(rc));
    cr_assert_eq(rc, -ETIMEDOUT, "join: %d (%s)", rc, curio_strerror(rc));
    cr_assert_geq(secs_since(t0), 0.045, "timeout 0.03 + the member's 0.02 cleanup");
    assert_ended_cancelled(ta);
    assert_ended_with(tb, 2);
    /* Still inside the expired scope: every blocking call times out. */
    cr_assert_eq(curio_yield(), -ETIMEDOUT);
    cr_assert_eq(curio_scope_close(&s), -ETIMEDOUT);
    cr_assert_eq(curio_yield(), 0);
    curio_group_destroy(g);
    return 0;
}

Test(group, owner_timed_out_in_join_cancels_members, .timeout = 30)
{
    ev_reset();
    run_main(owner_join_times_out, NULL);
    cr_assert_str_eq(evlog, "M2:end M1:cleaned M1:ECANCELED join=ETIMEDOUT",
                     "the member is cancelled (it sees -ECANCELED): %s", evlog);
}

/* ------------------------------------------------------------------------------------ */
/* size, task(i), closed groups                                                         */
/* ------------------------------------------------------------------------------------ */

static long size_and_order(void *arg)
{
    (void)arg;
    static const spec s[5] = {
        {"m0", 0.05, 0, 0}, {"m1", 0.01, 1, 0}, {"m2", -1, 2, 0},
        {"m3", 0.03, 3, 0}, {"m4", 0.02, 4, 0},
    };
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    cr_assert_eq(curio_group_size(g), 0);
    curio_task *t[5];
    for (int i = 0; i < 5; i++) {
        t[i] = gspawn(g, &s[i], i == 4);
        cr_assert_eq(curio_group_size(g), (size_t)i + 1);
    }
    /* A member spawned with out == NULL still counts. */
    static const spec extra = {"m5", -1, 5, 0};
    cr_assert_eq(curio_group_spawn(g, NULL, member, (void *)&extra,
                                   &(curio_spawn_options){.name = "m5"}), 0);
    cr_assert_eq(curio_group_size(g), 6);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(curio_group_task(g, i), t[i], "task(%zu)", i);
        cr_assert_str_eq(curio_task_name(curio_group_task(g, i)), s[i].name);
        cr_assert_eq(curio_task_parent_id(t[i]), curio_task_id(curio_current()));
    }
    cr_assert_str_eq(curio_task_name(curio_group_task(g, 5)), "m5");
    for (int i = 1; i < 5; i++)
        cr_assert_gt(curio_task_id(t[i]), curio_task_id(t[i - 1]));
    cr_assert_eq(curio_group_join(g), 0);
    /* Ending changes nothing about the order. */
    cr_assert_eq(curio_group_size(g), 6);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(curio_group_task(g, i), t[i]);
    /* After join the group is closed. */
    cr_assert_eq(curio_group_spawn(g, NULL, member, (void *)&extra, NULL), -EINVAL);
    cr_assert_eq(curio_group_size(g), 6);
    curio_group_destroy(g);
    return 0;
}

Test(group, size_and_task_in_spawn_order, .timeout = 30)
{
    ev_reset();
    run_main(size_and_order, NULL);
}

/* ------------------------------------------------------------------------------------ */
/* Outside a task                                                                       */
/* ------------------------------------------------------------------------------------ */

static curio_group *stash_group;
static curio_task *stash_member;

static long make_group_and_leave(void *arg)
{
    const spec *s = arg;
    cr_assert_eq(curio_group_create(&stash_group, CURIO_WAIT_ALL), 0);
    stash_member = gspawn(stash_group, s, false);
    yield_until_state(stash_member, "TIME_SLEEP");
    return 0; /* leaves the member suspended in its sleep */
}

static long destroy_stashed(void *arg)
{
    (void)arg;
    curio_group_destroy(stash_group);
    ev("destroyed");
    return 0;
}

static void group_outside_check(void (*check)(void))
{
    static const spec s = {"M", 5, 1, 0};
    curio_kernel *k;
    int rc = curio_kernel_create(&k, NULL);
    cr_assert_eq(rc, 0, "kernel_create: %s", curio_strerror(rc));
    long res = -1;
    cr_assert_eq(curio_kernel_run(k, make_group_and_leave, (void *)&s, &res), 0);
    cr_assert_null(curio_current());
    check();
    cr_assert_eq(curio_kernel_run(k, destroy_stashed, NULL, &res), 0);
    curio_kernel_destroy(k);
}

static void check_eperm(void)
{
    static const spec s2 = {"X", -1, 0, 0};
    curio_group *g2 = NULL;
    cr_assert_eq(curio_group_create(&g2, CURIO_WAIT_ALL), -EPERM);
    cr_assert_eq(curio_group_spawn(stash_group, NULL, member, (void *)&s2, NULL), -EPERM);
    cr_assert_eq(curio_group_size(stash_group), 1, "a refused spawn adds no member");
    cr_assert_eq(curio_group_next_done(stash_group, NULL), -EPERM);
    cr_assert_eq(curio_group_next_result(stash_group, NULL), -EPERM);
    cr_assert_eq(curio_group_join(stash_group), -EPERM);
    cr_assert_str_eq(curio_task_state(stash_member), "TIME_SLEEP");
}

Test(group, outside_a_task_is_eperm, .timeout = 30)
{
    curio_group *g = NULL;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), -EPERM, "no kernel at all");
    cr_assert_null(g);
    ev_reset();
    group_outside_check(check_eperm);
    cr_assert_str_eq(evlog, "M:ECANCELED destroyed");
}

/* A blocking call made outside a task "returns -EPERM at once" (curio.h, conventions),
 * even when a member has already ended and is queued for next_done. */
static long make_group_with_ended_member(void *arg)
{
    static const spec quick = {"Q", -1, 7, 0};
    make_group_and_leave(arg);
    curio_task *q = gspawn(stash_group, &quick, false);
    yield_until_state(q, "TERMINATED");
    return 0;
}

Test(group, next_done_outside_a_task_is_eperm_with_ended_members, .timeout = 30)
{
    static const spec s = {"M", 5, 1, 0};
    ev_reset();
    curio_kernel *k;
    cr_assert_eq(curio_kernel_create(&k, NULL), 0);
    long res = -1;
    cr_assert_eq(curio_kernel_run(k, make_group_with_ended_member, (void *)&s, &res), 0);
    curio_task *t = NULL;
    int rc = curio_group_next_done(stash_group, &t);
    int rc2 = curio_group_next_result(stash_group, NULL);
    cr_assert_eq(curio_kernel_run(k, destroy_stashed, NULL, &res), 0);
    curio_kernel_destroy(k);
    cr_assert_eq(rc, -EPERM, "next_done outside a task returned %d (%s)", rc,
                 curio_strerror(rc));
    cr_assert_eq(rc2, -EPERM, "next_result outside a task returned %d (%s)", rc2,
                 curio_strerror(rc2));
}

static void check_cancel_remaining_eperm(void)
{
    int rc = curio_group_cancel_remaining(stash_group);
    cr_assert_eq(rc, -EPERM, "cancel_remaining outside a task: %d (%s)", rc,
                 curio_strerror(rc));
    /* Failing at once means doing nothing: the member was not cancelled. */
    cr_assert_str_eq(curio_task_state(stash_member), "TIME_SLEEP",
                     "a refused cancel_remaining still interrupted the member");
}

Test(group, cancel_remaining_outside_a_task_is_eperm_and_does_nothing, .timeout = 30)
{
    ev_reset();
    group_outside_check(check_cancel_remaining_eperm);
    cr_assert_str_eq(evlog, "M:ECANCELED destroyed");
}

/* ------------------------------------------------------------------------------------ */
/* cancel_remaining inside a task                                                       */
/* ------------------------------------------------------------------------------------ */

static long cancel_remaining_in_task(void *arg)
{
    (void)arg;
    static const spec a = {"A", -1, 1, 0}, b = {"B", 5, 2, 0.01}, c = {"C", 5, 3, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *ta = gspawn(g, &a, false), *tb = gspawn(g, &b, false),
               *tc = gspawn(g, &c, false);
    yield_until_state(tb, "TIME_SLEEP");
    cr_assert_eq(curio_group_cancel_remaining(g), 0);
    ev("cancelled");
    assert_ended_with(ta, 1);
    assert_ended_cancelled(tb);
    assert_ended_cancelled(tc);
    long r = 0;
    /* The members it cancelled left the group; the one that had ended is still queued. */
    cr_assert_null(curio_task_group(tb));
    cr_assert_null(curio_task_group(tc));
    cr_assert_eq(curio_task_group(ta), g);
    cr_assert_eq(curio_group_next_result(g, &r), 0);
    cr_assert_eq(r, 1);
    cr_assert_eq(curio_group_next_result(g, &r), -ENOENT);
    cr_assert_eq(curio_group_join(g), 0);
    curio_group_destroy(g);
    return 0;
}

Test(group, cancel_remaining_cancels_and_waits, .timeout = 30)
{
    expect_log(cancel_remaining_in_task, NULL, "A:end C:ECANCELED B:cleaned B:ECANCELED cancelled");
}

/* ------------------------------------------------------------------------------------ */
/* Retained members, bad arguments, another kernel's group                              */
/* ------------------------------------------------------------------------------------ */

static long retained_member(void *arg)
{
    (void)arg;
    /* A and C sleep far past B: a stalled machine cannot wake them in B's pass. */
    static const spec a = {"A", 5, 1, 0}, b = {"B", -1, 2, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *ta = curio_task_retain(gspawn(g, &a, false));
    curio_task *tb = curio_task_retain(gspawn(g, &b, false));
    yield_until_state(ta, "TIME_SLEEP");
    curio_group_destroy(g);
    /* Retained handles outlive the group. */
    assert_ended_cancelled(ta);
    assert_ended_with(tb, 2);
    curio_task_release(ta);
    curio_task_release(tb);
    return 0;
}

Test(group, retained_member_outlives_destroy, .timeout = 30)
{
    expect_log(retained_member, NULL, "B:end A:ECANCELED");
}

static long bad_mode(void *arg)
{
    (void)arg;
    curio_group *g = NULL;
    cr_assert_eq(curio_group_create(&g, (enum curio_wait)42), -EINVAL);
    cr_assert_eq(curio_group_create(&g, (enum curio_wait)-1), -EINVAL);
    cr_assert_null(g);
    return 0;
}

Test(group, create_with_a_bad_wait_mode_is_einval, .timeout = 30) { run_main(bad_mode, NULL); }

/* A task of kernel B may not spawn into or join kernel A's group. Kernel A waits, idle,
 * for a post from thread B while B tries. */
typedef struct cross {
    curio_kernel *ka;
    curio_group *g;
    curio__waitq q;
    bool done;
    int spawn_rc, join_rc, run_rc;
} cross;

static void cross_done(void *arg)
{
    cross *c = arg;
    c->done = true;
    curio__waitq_wake_all(&c->q);
}

static long cross_main_b(void *arg)
{
    cross *c = arg;
    static const spec x = {"X", -1, 0, 0};
    c->spawn_rc = curio_group_spawn(c->g, NULL, member, (void *)&x, NULL);
    c->join_rc = curio_group_join(c->g);
    return 0;
}

static void *cross_thread(void *arg)
{
    cross *c = arg;
    long r;
    c->run_rc = curio_run(cross_main_b, c, NULL, &r);
    curio_kernel_post(c->ka, cross_done, c);
    return NULL;
}

static long cross_main_a(void *arg)
{
    (void)arg;
    static const spec m = {"M", 5, 1, 0};
    cross c = {.ka = curio_kernel_current()};
    cr_assert_eq(curio_group_create(&c.g, CURIO_WAIT_ALL), 0);
    curio_task *tm = gspawn(c.g, &m, false);
    yield_until_state(tm, "TIME_SLEEP");
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, cross_thread, &c), 0);
    curio_scope s;
    cr_assert_eq(curio_timeout_after(&s, 20), 0);
    while (!c.done)
        cr_assert_eq(curio__waitq_wait(&c.q, &(curio__waiter){0}, "FUTURE_WAIT"), 0);
    cr_assert_eq(curio_scope_close(&s), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(c.run_rc, 0);
    cr_assert_eq(c.spawn_rc, -EPERM, "spawn into another kernel's group: %d", c.spawn_rc);
    cr_assert_eq(c.join_rc, -EPERM, "join of another kernel's group: %d", c.join_rc);
    cr_assert_eq(curio_group_size(c.g), 1);
    cr_assert_str_eq(curio_task_state(tm), "TIME_SLEEP");
    curio_group_destroy(c.g);
    return 0;
}

Test(group, another_kernels_group_is_eperm, .timeout = 30)
{
    expect_log(cross_main_a, NULL, "M:ECANCELED");
}

/* ------------------------------------------------------------------------------------ */
/* Curio's membership rules, retold from Curio's tests/test_task.py. Members are ordered */
/* by events and yields only, so every log is exact.                                     */
/* ------------------------------------------------------------------------------------ */

typedef struct emem {
    const char *name;
    curio_event *gate; /* wait for it first; NULL: return at once */
    long ret;
} emem;

static long emember(void *arg)
{
    const emem *m = arg;
    if (m->gate) {
        int rc = curio_event_wait(m->gate);
        if (rc < 0) {
            ev("%s:%s", m->name, errname(rc));
            return rc;
        }
    }
    ev("%s=%ld", m->name, m->ret);
    return m->ret;
}

static curio_task *espawn(curio_group *g, const emem *m, bool daemon)
{
    curio_task *t = NULL;
    curio_spawn_options o = {.name = m->name, .daemon = daemon};
    int rc = curio_group_spawn(g, &t, emember, (void *)m, &o);
    cr_assert_eq(rc, 0, "curio_group_spawn(%s): %s", m->name, curio_strerror(rc));
    return t;
}

/* A task outside any group (the caller owns its handle). */
static curio_task *plain_spawn(const emem *m)
{
    curio_task *t = NULL;
    curio_spawn_options o = {.name = m->name};
    cr_assert_eq(curio_spawn_ex(&t, emember, (void *)m, &o), 0);
    return t;
}

/* Curio's g.results as "v1 v2 ...", with the call's return code checked. */
static void expect_results(const curio_group *g, int rc_expect, const char *expect)
{
    long v[16];
    size_t n = 99;
    int rc = curio_group_results(g, v, 16, &n);
    cr_assert_eq(rc, rc_expect, "results: %s, expected %s", errname(rc), errname(rc_expect));
    char buf[256] = "";
    for (size_t i = 0; i < n && i < 16; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%ld", i ? " " : "", v[i]);
    cr_assert_str_eq(buf, expect, "g.results");
}

/* Curio's g.exceptions as "0 TASKFAILED TASKCANCELLED ...". */
static void expect_exceptions(const curio_group *g, const char *expect)
{
    int e[16];
    size_t n = 99;
    cr_assert_eq(curio_group_exceptions(g, e, 16, &n), 0);
    char buf[256] = "";
    for (size_t i = 0; i < n && i < 16; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? " " : "",
                 errname(e[i]));
    cr_assert_str_eq(buf, expect, "g.exceptions");
}

static void joined(curio_group *g, int expect)
{
    int rc = curio_group_join(g);
    ev("joined=%s", errname(rc));
    cr_assert_eq(rc, expect, "join: %s", errname(rc));
}

static const char *tname(const curio_task *t) { return t ? curio_task_name(t) : "NULL"; }

/* test_task_group: results in creation order; completed is the first to end (wait=all). */
static long tg_basic(void *arg)
{
    (void)arg;
    static const emem a = {"t1", NULL, 2}, b = {"t2", NULL, 4}, c = {"t3", NULL, 6};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *t1 = espawn(g, &a, false);
    espawn(g, &b, false);
    espawn(g, &c, false);
    joined(g, 0);
    expect_results(g, 0, "2 4 6");
    expect_exceptions(g, "0 0 0");
    cr_assert_eq(curio_group_completed(g), t1, "completed: %s", tname(curio_group_completed(g)));
    curio_task *ts[4];
    cr_assert_eq(curio_group_tasks(g, ts, 4), 3);
    cr_assert_eq(ts[0], t1);
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_group_results_in_creation_order)
{
    expect_log(tg_basic, NULL, "t1=2 t2=4 t3=6 joined=0");
}

/* test_task_group_daemon: daemons are neither waited for nor listed; a failing daemon does
 * not make join fail. */
static long tg_daemon(void *arg)
{
    (void)arg;
    curio_event never = CURIO_EVENT_INIT;
    const emem a = {"t1", NULL, 2}, b = {"t2", NULL, 4}, c = {"t3", NULL, -EINVAL},
               d = {"t4", &never, 8};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    espawn(g, &a, false);
    espawn(g, &b, true);
    espawn(g, &c, true);
    curio_task *t4 = espawn(g, &d, true);
    joined(g, 0);
    expect_results(g, 0, "2");
    expect_exceptions(g, "0");
    cr_assert_eq(curio_group_tasks(g, NULL, 0), 1);
    cr_assert_null(curio_group_failed(g), "a daemon's failure is not counted");
    assert_ended_cancelled(t4);
    cr_assert_eq(curio_task_group(t4), g, "join cancels daemons without taking them out");
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_group_daemon_not_listed)
{
    expect_log(tg_daemon, NULL, "t1=2 t2=4 t3=-22 t4:ECANCELED joined=0");
}

/* test_task_group_existing: TaskGroup([t1, t2, t3]) then add_task(t4), with t1 and t4
 * ended (and joined) before they were added. */
static long tg_existing(void *arg)
{
    (void)arg;
    curio_event evt = CURIO_EVENT_INIT;
    const emem a = {"t1", NULL, 2}, b = {"t2", &evt, 4}, c = {"t3", &evt, 6},
               d = {"t4", NULL, 8};
    curio_task *t1 = plain_spawn(&a), *t2 = plain_spawn(&b), *t3 = plain_spawn(&c),
               *t4 = plain_spawn(&d);
    long r = 0;
    cr_assert_eq(curio_join(t1, &r), 0);
    cr_assert_eq(curio_join(t4, &r), 0);
    ev("main:joined_t1_t4");
    cr_assert_null(curio_task_group(t1));
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *tasks[3] = {t1, t2, t3};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(curio_group_add_task(g, tasks[i]), 0);
    cr_assert_eq(curio_task_group(t2), g);
    cr_assert_eq(curio_event_set(&evt), 0);
    cr_assert_eq(curio_group_add_task(g, t4), 0);
    joined(g, 0);
    expect_results(g, 0, "2 4 6 8");
    cr_assert_eq(curio_group_completed(g), t1, "the ended t1 was queued when it was added");
    /* The group took handles of its own: ours can go first. */
    curio_task_release(t1);
    curio_task_release(t2);
    curio_task_release(t3);
    curio_task_release(t4);
    cr_assert_eq(curio_group_size(g), 4);
    cr_assert(curio_task_done(curio_group_task(g, 3)));
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_group_existing_tasks)
{
    expect_log(tg_existing, NULL, "t1=2 t4=8 main:joined_t1_t4 t2=4 t3=6 joined=0");
}

/* test_task_any_cancel and test_task_group_result: wait=any, the first to end decides. */
static long tg_any_cancel(void *arg)
{
    (void)arg;
    curio_event evt = CURIO_EVENT_INIT;
    const emem a = {"t1", NULL, 2}, b = {"t2", &evt, 4}, c = {"t3", &evt, 6};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ANY), 0);
    curio_task *t1 = espawn(g, &a, false), *t2 = espawn(g, &b, false),
               *t3 = espawn(g, &c, false);
    joined(g, 0);
    cr_assert_eq(curio_group_completed(g), t1);
    long r = 0;
    cr_assert_eq(curio_group_result(g, &r), 0);
    cr_assert_eq(r, 2);
    assert_ended_cancelled(t2);
    assert_ended_cancelled(t3);
    cr_assert(curio_task_cancel_requested(t2));
    cr_assert_not(curio_task_cancel_requested(t1));
    expect_results(g, CURIO_ETASKCANCELLED, "2 -125 -125");
    expect_exceptions(g, "0 TASKCANCELLED TASKCANCELLED");
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_any_cancel)
{
    expect_log(tg_any_cancel, NULL, "t1=2 t2:ECANCELED t3:ECANCELED joined=0");
}

static long tg_any_result(void *arg)
{
    (void)arg;
    static const emem a = {"t1", NULL, 2}, b = {"t2", NULL, 4}, c = {"t3", NULL, 6};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ANY), 0);
    espawn(g, &a, false);
    espawn(g, &b, false);
    espawn(g, &c, false);
    joined(g, 0);
    long r = 0;
    cr_assert_eq(curio_group_result(g, &r), 0);
    cr_assert_eq(r, 2);
    expect_results(g, 0, "2 4 6"); /* they had all ended before join looked */
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_group_result_wait_any)
{
    expect_log(tg_any_result, NULL, "t1=2 t2=4 t3=6 joined=0");
}

/* test_task_any_error: the first to end failed. */
static long tg_any_error(void *arg)
{
    (void)arg;
    curio_event evt = CURIO_EVENT_INIT;
    const emem a = {"t1", NULL, -EINVAL}, b = {"t2", &evt, 4}, c = {"t3", &evt, 6};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ANY), 0);
    curio_task *t1 = espawn(g, &a, false);
    espawn(g, &b, false);
    espawn(g, &c, false);
    joined(g, CURIO_ETASKFAILED);
    cr_assert_eq(curio_group_completed(g), t1);
    long r = 0;
    cr_assert_eq(curio_group_result(g, &r), CURIO_ETASKFAILED);
    cr_assert_eq(r, -EINVAL);
    expect_exceptions(g, "TASKFAILED TASKCANCELLED TASKCANCELLED");
    expect_results(g, CURIO_ETASKFAILED, "-22 -125 -125");
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_any_error)
{
    expect_log(tg_any_error, NULL, "t1=-22 t2:ECANCELED t3:ECANCELED joined=TASKFAILED");
}

/* test_task_group_iter: next_done takes each member out, so results are empty. */
static long tg_iter(void *arg)
{
    (void)arg;
    static const emem a = {"t1", NULL, 2}, b = {"t2", NULL, 4}, c = {"t3", NULL, 6};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    espawn(g, &a, false);
    espawn(g, &b, false);
    espawn(g, &c, false);
    curio_task *t;
    while (curio_group_next_done(g, &t) == 0) {
        cr_assert_null(curio_task_group(t), "next_done takes %s out", tname(t));
        long r = 0;
        cr_assert_eq(curio_task_result(t, &r), 0);
        ev("next=%s:%ld", tname(t), r);
    }
    joined(g, 0);
    expect_results(g, 0, "");
    cr_assert_eq(curio_group_tasks(g, NULL, 0), 0);
    cr_assert_eq(curio_group_size(g), 3, "the group still holds the records");
    cr_assert_null(curio_group_completed(g));
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_group_iter_empties_results)
{
    expect_log(tg_iter, NULL, "t1=2 t2=4 t3=6 next=t1:2 next=t2:4 next=t3:6 joined=0");
}

/* test_task_join_daemon: joining a daemon member takes it out (it was not listed anyway). */
static long tg_join_daemon(void *arg)
{
    (void)arg;
    static const emem a = {"t2", NULL, 4}, b = {"t3", NULL, 6};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *t2 = espawn(g, &a, true);
    espawn(g, &b, false);
    long r = 0;
    cr_assert_eq(curio_join(t2, &r), 0);
    ev("joined_t2=%ld", r);
    cr_assert_null(curio_task_group(t2));
    joined(g, 0);
    expect_results(g, 0, "6");
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_join_daemon)
{
    expect_log(tg_join_daemon, NULL, "t2=4 t3=6 joined_t2=4 joined=0");
}

/* test_task_group_error: in wait=all the failure ends the wait, is completed, and the rest
 * are cancelled. */
static long tg_error(void *arg)
{
    (void)arg;
    curio_event evt = CURIO_EVENT_INIT;
    const emem a = {"t1", &evt, 2}, b = {"t2", &evt, 4}, c = {"t3", NULL, -EINVAL};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *t1 = espawn(g, &a, false), *t2 = espawn(g, &b, false),
               *t3 = espawn(g, &c, false);
    joined(g, CURIO_ETASKFAILED);
    cr_assert_eq(curio_group_completed(g), t3, "completed: %s", tname(curio_group_completed(g)));
    cr_assert_eq(curio_group_failed(g), t3);
    assert_ended_cancelled(t1);
    assert_ended_cancelled(t2);
    expect_exceptions(g, "TASKCANCELLED TASKCANCELLED TASKFAILED");
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_group_error_is_completed_and_cancels_the_rest)
{
    expect_log(tg_error, NULL, "t3=-22 t1:ECANCELED t2:ECANCELED joined=TASKFAILED");
}

/* test_task_group_join: a failure the caller collected with curio_join is handled; it
 * neither fails the join nor cancels the healthy members. */
static long tg_join_member(void *arg)
{
    (void)arg;
    curio_event evt = CURIO_EVENT_INIT;
    const emem a = {"t1", NULL, -EINVAL}, b = {"t2", &evt, 4}, c = {"t3", &evt, 6};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *t1 = espawn(g, &a, false), *t2 = espawn(g, &b, false),
               *t3 = espawn(g, &c, false);
    long r = 0;
    cr_assert_eq(curio_join(t1, &r), 0);
    ev("joined_t1=%ld", r);
    cr_assert_null(curio_task_group(t1), "curio_join takes the member out");
    cr_assert_eq(curio_task_result(t2, &r), -EBUSY, "t2 has not ended: the error cancelled nothing");
    cr_assert_eq(curio_event_set(&evt), 0);
    joined(g, 0);
    cr_assert_not(curio_task_cancel_requested(t2));
    cr_assert_not(curio_task_cancel_requested(t3));
    assert_ended_with(t2, 4);
    assert_ended_with(t3, 6);
    expect_results(g, 0, "4 6");
    cr_assert_eq(curio_group_completed(g), t2);
    cr_assert_eq(curio_group_failed(g), t1, "failed still names the first failure");
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_group_join_member_takes_it_out)
{
    expect_log(tg_join_member, NULL, "t1=-22 joined_t1=-22 t2=4 t3=6 joined=0");
}

/* The same while the owner is already blocked in curio_group_join: the helper that joins
 * the failed member is woken first (joiners before the group), and the owner's join then
 * finds nothing to examine but the healthy member. */
typedef struct joiner_arg {
    curio_task *target;
    curio_event *release;
} joiner_arg;

static long joiner(void *arg)
{
    joiner_arg *j = arg;
    long r = 0;
    int rc = curio_join(j->target, &r);
    ev("H:joined=%s/%ld", errname(rc), r);
    cr_assert_eq(curio_event_set(j->release), 0);
    return 0;
}

static long tg_join_member_concurrent(void *arg)
{
    (void)arg;
    curio_event g1 = CURIO_EVENT_INIT, g2 = CURIO_EVENT_INIT;
    const emem f = {"F", &g1, -EIO}, m = {"M", &g2, 5};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *tf = espawn(g, &f, false), *tm = espawn(g, &m, false);
    joiner_arg j = {tf, &g2};
    curio_task *h = curio_spawn(joiner, &j);
    yield_until_state(h, "TASK_JOIN");
    cr_assert_eq(curio_event_set(&g1), 0);
    joined(g, 0);
    assert_ended_with(tm, 5);
    cr_assert_eq(curio_group_completed(g), tm);
    expect_results(g, 0, "5");
    cr_assert_eq(curio_join(h, NULL), 0);
    curio_task_release(h);
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, member_joined_while_the_group_joins)
{
    expect_log(tg_join_member_concurrent, NULL, "F=-5 H:joined=0/-5 M=5 joined=0");
}

/* test_task_group_cancel_remaining: next_done and next_result take members out;
 * cancel_remaining cancels the rest and takes them out too, but leaves daemons to join. */
static long tg_cancel_remaining(void *arg)
{
    (void)arg;
    curio_event evt = CURIO_EVENT_INIT;
    const emem a = {"t0", NULL, 2}, b = {"t1", NULL, 4}, c = {"t2", &evt, 0},
               d = {"t3", &evt, 0}, e = {"D", &evt, 0};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *t0 = espawn(g, &a, false);
    espawn(g, &b, false);
    curio_task *t2 = espawn(g, &c, false), *t3 = espawn(g, &d, false),
               *dm = espawn(g, &e, true);
    curio_task *t = NULL;
    cr_assert_eq(curio_group_next_done(g, &t), 0);
    cr_assert_eq(t, t0);
    long r = 0;
    cr_assert_eq(curio_group_next_result(g, &r), 0);
    ev("next=%s result=%ld", tname(t), r);
    cr_assert_eq(curio_group_cancel_remaining(g), 0);
    ev("remaining_cancelled");
    assert_ended_cancelled(t2);
    assert_ended_cancelled(t3);
    cr_assert_null(curio_task_group(t2));
    cr_assert_null(curio_task_group(t3));
    cr_assert_not(curio_task_done(dm), "cancel_remaining leaves daemons alone");
    cr_assert_eq(curio_group_next_done(g, NULL), -ENOENT);
    joined(g, 0);
    assert_ended_cancelled(dm);
    expect_results(g, 0, "");
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_group_cancel_remaining_takes_members_out)
{
    expect_log(tg_cancel_remaining, NULL, "t0=2 t1=4 next=t0 result=4 t2:ECANCELED t3:ECANCELED "
                                          "remaining_cancelled D:ECANCELED joined=0");
}

/* test_task_group_use_error: adding a member twice, adding to a joined group. */
static long tg_use_error(void *arg)
{
    (void)arg;
    static const emem a = {"t1", NULL, 0}, b = {"t2", NULL, 0};
    curio_group *g, *g2;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    cr_assert_eq(curio_group_create(&g2, CURIO_WAIT_ALL), 0);
    curio_task *t1 = espawn(g, &a, false);
    cr_assert_eq(curio_group_add_task(g, t1), -EBUSY, "already in this group");
    cr_assert_eq(curio_group_add_task(g2, t1), -EBUSY, "already in another group");
    cr_assert_eq(curio_group_add_task(g2, NULL), -EINVAL);
    cr_assert_eq(curio_group_add_task(NULL, t1), -EINVAL);
    cr_assert_eq(curio_group_size(g2), 0);
    joined(g, 0);
    cr_assert_eq(curio_group_spawn(g, NULL, emember, (void *)&b, NULL), -EINVAL);
    curio_task *t2 = plain_spawn(&b);
    cr_assert_eq(curio_group_add_task(g, t2), -EINVAL, "the group was joined");
    cr_assert_null(curio_task_group(t2));
    cr_assert_eq(curio_join(t2, NULL), 0);
    curio_task_release(t2);
    curio_group_destroy(g2);
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_group_use_error)
{
    expect_log(tg_use_error, NULL, "t1=0 joined=0 t2=0");
}

/* test_task_group_empty and test_errors: accessors before and after joining nothing. */
static long tg_empty(void *arg)
{
    (void)arg;
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    long r = 5;
    int e = 5;
    size_t n = 5;
    cr_assert_eq(curio_group_results(g, &r, 1, &n), -EBUSY, "g.results before join");
    cr_assert_eq(curio_group_exceptions(g, &e, 1, &n), -EBUSY, "g.exceptions before join");
    cr_assert_eq(n, 5);
    cr_assert_eq(curio_group_result(g, &r), -ENOENT);
    cr_assert_eq(curio_group_next_result(g, &r), -ENOENT);
    joined(g, 0);
    cr_assert_null(curio_group_completed(g));
    cr_assert_eq(curio_group_result(g, &r), -ENOENT);
    cr_assert_eq(r, 5);
    cr_assert_eq(curio_group_results(g, NULL, 0, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(curio_group_exceptions(g, NULL, 0, NULL), 0);
    cr_assert_eq(curio_group_results(NULL, NULL, 0, NULL), -EINVAL);
    cr_assert_eq(curio_group_tasks(NULL, NULL, 0), 0);
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_group_empty_and_errors)
{
    expect_log(tg_empty, NULL, "joined=0");
}

/* test_task_group_join_done: a member joined inside the block is not in g.results. */
static long tg_join_done(void *arg)
{
    (void)arg;
    static const emem a = {"t1", NULL, 2}, b = {"t2", NULL, 4}, c = {"t3", NULL, 6};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    espawn(g, &a, false);
    espawn(g, &b, false);
    curio_task *t3 = espawn(g, &c, false);
    long r = 0;
    cr_assert_eq(curio_join(t3, &r), 0);
    ev("joined_t3=%ld", r);
    joined(g, 0);
    expect_results(g, 0, "2 4");
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, task_group_join_done)
{
    expect_log(tg_join_done, NULL, "t1=2 t2=4 t3=6 joined_t3=6 joined=0");
}

/* ---- beyond Curio's tests: the rules the C API adds or makes exact ---- */

/* completed is the first member join examined: one taken out by next_done does not count. */
static long tg_completed_after_next_done(void *arg)
{
    (void)arg;
    curio_event e1 = CURIO_EVENT_INIT, e2 = CURIO_EVENT_INIT;
    const emem a = {"t1", &e1, 2}, b = {"t2", &e2, 4}, c = {"t3", NULL, 6};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *t1 = espawn(g, &a, false), *t2 = espawn(g, &b, false),
               *t3 = espawn(g, &c, false);
    curio_task *t = NULL;
    cr_assert_eq(curio_group_next_done(g, &t), 0);
    ev("next=%s", tname(t));
    cr_assert_eq(t, t3);
    cr_assert_eq(curio_event_set(&e2), 0);
    cr_assert_eq(curio_event_set(&e1), 0);
    joined(g, 0);
    cr_assert_eq(curio_group_completed(g), t2, "completed: %s", tname(curio_group_completed(g)));
    expect_results(g, 0, "2 4");
    curio_task *ts[2] = {NULL, NULL};
    cr_assert_eq(curio_group_tasks(g, ts, 1), 2, "the count, past n");
    cr_assert_eq(ts[0], t1);
    cr_assert_null(ts[1], "nothing stored past n");
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, completed_is_the_first_member_join_saw_end)
{
    expect_log(tg_completed_after_next_done, NULL, "t3=6 next=t3 t2=4 t1=2 joined=0");
}

/* wait=object: as in Curio, a failure ends the wait too; a member that returned 0 does not. */
static long tg_object_failure(void *arg)
{
    (void)arg;
    curio_event evt = CURIO_EVENT_INIT;
    const emem a = {"A", NULL, 0}, b = {"B", NULL, -EIO}, c = {"C", &evt, 7};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_OBJECT), 0);
    espawn(g, &a, false);
    curio_task *tb = espawn(g, &b, false), *tc = espawn(g, &c, false);
    joined(g, CURIO_ETASKFAILED);
    cr_assert_eq(curio_group_completed(g), tb, "completed: %s", tname(curio_group_completed(g)));
    assert_ended_cancelled(tc);
    expect_results(g, CURIO_ETASKFAILED, "0 -5 -125");
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, wait_object_failure_ends_the_wait)
{
    expect_log(tg_object_failure, NULL, "A=0 B=-5 C:ECANCELED joined=TASKFAILED");
}

/* A member that left may be added again, to this group or another; each group holds the
 * record once, until it is destroyed. An ended member is queued for next_done at once. */
static long tg_readd(void *arg)
{
    (void)arg;
    static const emem a = {"A", NULL, 1};
    curio_group *g, *g2;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    cr_assert_eq(curio_group_create(&g2, CURIO_WAIT_ALL), 0);
    curio_task *ta = espawn(g, &a, false);
    cr_assert_eq(curio_task_group(ta), g);
    curio_task *t = NULL;
    cr_assert_eq(curio_group_next_done(g, &t), 0);
    cr_assert_null(curio_task_group(ta));
    cr_assert_eq(curio_group_add_task(g, ta), 0);
    cr_assert_eq(curio_group_size(g), 1, "held once");
    cr_assert_eq(curio_group_next_done(g, &t), 0, "queued again at once");
    ev("again=%s", tname(t));
    cr_assert_eq(curio_group_add_task(g2, ta), 0);
    cr_assert_eq(curio_task_group(ta), g2);
    curio_group_destroy(g);
    cr_assert_eq(curio_task_group(ta), g2, "destroying the old group leaves it alone");
    joined(g2, 0);
    expect_results(g2, 0, "1");
    curio_group_destroy(g2);
    return 0;
}

Test(group_curio, member_added_again_after_leaving)
{
    expect_log(tg_readd, NULL, "A=1 again=A joined=0");
}

/* Adopted members: a running daemon is cancelled by join and not listed; the owner may
 * release its handle at once, the group's keeps the record. */
static long tg_adopt_daemon(void *arg)
{
    (void)arg;
    curio_event never = CURIO_EVENT_INIT;
    const emem d = {"D", &never, 0}, m = {"M", NULL, 3};
    curio_task *td = NULL, *tm = plain_spawn(&m);
    curio_spawn_options o = {.name = "D", .daemon = true};
    cr_assert_eq(curio_spawn_ex(&td, emember, (void *)&d, &o), 0);
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    cr_assert_eq(curio_group_add_task(g, td), 0);
    cr_assert_eq(curio_group_add_task(g, tm), 0);
    curio_task_release(td);
    curio_task_release(tm);
    joined(g, 0);
    cr_assert_eq(curio_group_task(g, 0), tm, "task-id order: M was spawned first");
    assert_ended_cancelled(td);
    cr_assert_eq(curio_task_group(td), g);
    expect_results(g, 0, "3");
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, adopted_daemon_and_released_handles)
{
    expect_log(tg_adopt_daemon, NULL, "M=3 D:ECANCELED joined=0");
}

/* Two tasks in next_done, one member: one gets it, the other -ENOENT (not a hang). */
typedef struct nd_arg {
    curio_group *g;
    const char *name;
} nd_arg;

static long next_doner(void *arg)
{
    nd_arg *a = arg;
    curio_task *t = NULL;
    int rc = curio_group_next_done(a->g, &t);
    ev("%s:%s%s%s", a->name, errname(rc), rc == 0 ? "/" : "", rc == 0 ? tname(t) : "");
    return 0;
}

static long tg_two_waiters(void *arg)
{
    (void)arg;
    curio_event evt = CURIO_EVENT_INIT;
    const emem m = {"M", &evt, 1};
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    espawn(g, &m, false);
    nd_arg a1 = {g, "W1"}, a2 = {g, "W2"};
    curio_task *w1 = curio_spawn(next_doner, &a1), *w2 = curio_spawn(next_doner, &a2);
    yield_until_state(w1, "TASK_JOIN");
    yield_until_state(w2, "TASK_JOIN");
    cr_assert_eq(curio_event_set(&evt), 0);
    cr_assert_eq(curio_join(w1, NULL), 0);
    cr_assert_eq(curio_join(w2, NULL), 0);
    curio_task_release(w1);
    curio_task_release(w2);
    joined(g, 0);
    curio_group_destroy(g);
    return 0;
}

Test(group_curio, two_next_done_waiters_both_answered)
{
    expect_log(tg_two_waiters, NULL, "M=1 W1:0/M W2:ENOENT joined=0");
}
