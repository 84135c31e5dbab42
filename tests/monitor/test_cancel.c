/*
 * cancel: a blocked task is cancelled and the reply says how it ended; its state changes in
 * ps; a task that returns something else after its cancellation; a task that defers it in
 * disable_cancellation; a second cancel; the monitor's own tasks (the session, the server);
 * bad ids and ended tasks.
 */
#include "montest.h"

static long sleeper(void *arg)
{
    (void)arg;
    int64_t r = curio_sleep(100);
    return r < 0 ? r : 0;
}

/* Catches its cancellation and returns normally (Curio: except CancelledError: return 1). */
static long forgiving(void *arg)
{
    (void)arg;
    int64_t r = curio_sleep(100);
    return r == -ECANCELED ? 42 : -1;
}

/* Defers cancellation until the event is set. */
static curio_event release_it = CURIO_EVENT_INIT;

static long stubborn(void *arg)
{
    (void)arg;
    curio_scope s;
    curio_disable_cancellation(&s);
    curio_event_wait(&release_it);
    curio_scope_close(&s);
    return curio_check_cancellation();
}

static curio_task *spawn_named(curio_task_fn fn, const char *name)
{
    curio_task *t;
    curio_spawn_options o = {.name = name};
    cr_assert_eq(curio_spawn_ex(&t, fn, NULL, &o), 0);
    return t;
}

static const char *cancel(mon_conn *c, curio_task *t)
{
    char cmd[32];
    snprintf(cmd, sizeof cmd, "cancel %llu", (unsigned long long)curio_task_id(t));
    return mon_cmd(c, cmd);
}

static long cancel_main(void *arg)
{
    (void)arg;
    curio_task *kid = spawn_named(sleeper, "kid");
    curio_task *other = spawn_named(forgiving, "forgiving");
    wait_state(other, "TIME_SLEEP");
    mon_conn *c = mon_open();
    char row[256], f[64], want[256];
    unsigned long long id = (unsigned long long)curio_task_id(kid);
    cr_assert_str_eq(ps_field(ps_row(mon_cmd(c, "ps"), id, row, sizeof row), 1, f, sizeof f),
                     "TIME_SLEEP");

    snprintf(want, sizeof want, "Cancelling task %llu\nTask %llu cancelled\n", id, id);
    cr_assert_str_eq(cancel(c, kid), want);
    cr_assert(curio_task_done(kid) && curio_task_cancelled(kid));
    cr_assert_eq(ps_row(mon_cmd(c, "ps"), id, row, sizeof row)[0], 0, "ended: not in ps");
    /* Ended (its record is held here): an error, nothing done. */
    snprintf(want, sizeof want, "Error: task %llu has already ended\n", id);
    cr_assert_str_eq(cancel(c, kid), want);

    id = (unsigned long long)curio_task_id(other);
    snprintf(want, sizeof want, "Cancelling task %llu\nTask %llu ended, returning 42 (not "
             "-ECANCELED: it does not count as cancelled)\n", id, id);
    cr_assert_str_eq(cancel(c, other), want);

    cr_assert_str_eq(mon_cmd(c, "cancel 999"), "Error: no task 999\n");
    cr_assert_str_eq(mon_cmd(c, "cancel"), "Error: usage: cancel taskid\n");
    cr_assert_str_eq(mon_cmd(c, "cancel kid"), "Error: cancel needs a task id (a number), "
                                               "not 'kid'\n");
    mon_close(c);
    curio_task_release(kid);
    curio_task_release(other);
    return 0;
}

Test(cancel, ends_the_task_and_says_how)
{
    cr_assert_eq(run_monitored(cancel_main, NULL), 0);
}

static long deferred_main(void *arg)
{
    (void)arg;
    curio_task *t = spawn_named(stubborn, "stubborn");
    wait_state(t, "EVENT_WAIT");
    /* Asked for here already: the monitor says so, asks again (nothing changes) and waits. */
    cr_assert_eq(curio_cancel_nowait(t), 0);
    mon_conn *c = mon_open();
    unsigned long long id = (unsigned long long)curio_task_id(t);
    int64_t t0 = curio_clock();
    const char *r = cancel(c, t);
    char want[384];
    snprintf(want, sizeof want, "Cancelling task %llu\n(its cancellation had been requested "
             "already)\nTask %llu has not ended after 1 s (state EVENT_WAIT): it is in a "
             "disable_cancellation scope, which defers the cancellation\n", id, id);
    cr_assert_str_eq(r, want);
    cr_assert_geq(secs_since(t0), 1.0);
    mon_close(c);
    curio_event_set(&release_it);
    long res = 0;
    cr_assert_eq(curio_join(t, &res), CURIO_ETASKCANCELLED, "the deferred cancellation "
                                                            "arrived: %ld", res);
    curio_task_release(t);
    return 0;
}

Test(cancel, a_deferred_cancellation)
{
    cr_assert_eq(run_monitored(deferred_main, NULL), 0);
}

/* Cancelling the session itself: the reply goes out, then the connection closes. */
static long self_main(void *arg)
{
    (void)arg;
    mon_conn *c = mon_open();
    const char *ps = mon_cmd(c, "ps");
    const char *run = strstr(ps, "RUNNING");
    cr_assert(run);
    while (run > ps && run[-1] != '\n')
        run--;
    unsigned long long id = strtoull(run, NULL, 10);
    char cmd[32], want[256];
    snprintf(cmd, sizeof cmd, "cancel %llu", id);
    snprintf(want, sizeof want, "Cancelling task %llu\n(a task of the monitor's own: this "
             "connection closes)\n", id);
    cr_assert_str_eq(mon_cmd_closing(c, cmd), want);
    mon_close(c);
    /* The monitor serves on. */
    c = mon_open();
    mon_cmd(c, "ps");
    mon_close(c);
    return 0;
}

Test(cancel, the_session_itself)
{
    cr_assert_eq(run_monitored(self_main, NULL), 0);
}

/* Cancelling the server (task 1): the monitor stops, and its address is gone. */
static long server_main(void *arg)
{
    (void)arg;
    int port = mon_port();
    mon_conn *c = mon_open();
    cr_assert_str_eq(mon_cmd_closing(c, "cancel 1"), "Cancelling task 1\n(a task of the "
                                                     "monitor's own: this connection "
                                                     "closes)\n");
    mon_close(c);
    wait_until(curio_kernel_current()->monitor == NULL);
    curio_addr a;
    cr_assert_eq(curio_monitor_address(curio_kernel_current(), &a), -ENOENT);
    curio_socket *s;
    cr_assert_eq(curio_open_connection(&s, "127.0.0.1", (uint16_t)port, NULL), -ECONNREFUSED,
                 "nobody listens there any more");
    return 0;
}

Test(cancel, the_monitor_server)
{
    cr_assert_eq(run_monitored(server_main, NULL), 0);
}
