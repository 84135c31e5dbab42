/*
 * cancel: a blocked task is cancelled and the reply says how it ended; its state changes in
 * ps; a task that returns something else after its cancellation; a task that defers it in
 * disable_cancellation; a second cancel; curio's own tasks (the session, the server, the
 * signal reader) are refused; bad ids and ended tasks.
 */
#include "montest.h"

#include <signal.h>

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

/* The monitor's own tasks are refused: the session itself, the server (task 1); and the
 * connection stays, and the monitor keeps serving. */
static void refused(mon_conn *c, unsigned long long id, const char *name)
{
    char cmd[32], want[256];
    snprintf(cmd, sizeof cmd, "cancel %llu", id);
    snprintf(want, sizeof want, "Error: task %llu (%s) is curio's own: the monitor does not "
             "cancel it\n", id, name);
    cr_assert_str_eq(mon_cmd(c, cmd), want);
}

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
    curio__task *t = NULL;
    curio__list_foreach_entry(u, &curio_kernel_current()->all, curio__task, all_node)
        if (u->id == id)
            t = u;
    cr_assert_not_null(t);
    refused(c, id, curio_task_name(t));
    cr_assert(!t->cancel_requested);
    refused(c, 1, "monitor");
    cr_assert(strstr(mon_cmd(c, "ps"), "Task   State"), "the same connection answers");
    mon_close(c);
    c = mon_open();
    mon_cmd(c, "ps");
    mon_close(c);
    return 0;
}

Test(cancel, the_monitors_own_tasks_are_refused)
{
    cr_assert_eq(run_monitored(self_main, NULL), 0);
}

/* The task that reads signals for every watcher (curio.signals) is refused too, and
 * signals are still delivered afterwards. */
static long signals_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1};
    cr_assert_eq(curio_enable_signals(sigs, 1), 0);
    curio_signal_event *e;
    cr_assert_eq(curio_signal_event_create(&e, sigs, 1), 0);
    mon_conn *c = mon_open();
    curio__task *reader = NULL;
    curio__list_foreach_entry(t, &curio_kernel_current()->all, curio__task, all_node)
        if (strcmp(curio_task_name(t), "curio.signals") == 0)
            reader = t;
    cr_assert_not_null(reader, "the signal reader runs");
    refused(c, (unsigned long long)reader->id, "curio.signals");
    cr_assert(!reader->cancel_requested);
    cr_assert_eq(kill(getpid(), SIGUSR1), 0);
    cr_assert_eq(curio_signal_event_wait(e), 0);
    cr_assert_eq(curio_signal_event_signo(e), SIGUSR1);
    cr_assert(strstr(mon_cmd(c, "ps"), "curio.signals"));
    mon_close(c);
    curio_signal_event_destroy(e);
    return 0;
}

Test(cancel, the_signal_reader_is_refused)
{
    cr_assert_eq(run_monitored(signals_main, NULL), 0);
}
