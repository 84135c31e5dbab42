/*
 * ps: Curio's table (Task, State, Cycles, Timeout, Task) for a known set of tasks, each
 * blocked in a different trap; names, cycles, the time left of the nearest scope deadline,
 * the marks on the monitor's own tasks, and the banner's count.
 */
#include "montest.h"

static curio_event ev_never = CURIO_EVENT_INIT;
static curio_lock lock = CURIO_LOCK_INIT;
static curio_queue *queue;
static int pipefd[2];

static long sleeper(void *arg)
{
    (void)arg;
    return curio_sleep(100) < 0 ? 0 : 1;
}

static long scoped_sleeper(void *arg)
{
    (void)arg;
    curio_scope s;
    curio_timeout_after(&s, 50);
    curio_sleep(100);
    curio_scope_close(&s);
    return 0;
}

static long joiner(void *arg)
{
    return curio_join(arg, NULL);
}

static long reader(void *arg)
{
    (void)arg;
    char c;
    return curio_read(pipefd[0], &c, 1);
}

static long event_waiter(void *arg)
{
    (void)arg;
    return curio_event_wait(&ev_never);
}

static long locker(void *arg)
{
    (void)arg;
    int rc = curio_lock_acquire(&lock);
    if (rc == 0)
        curio_lock_release(&lock);
    return rc;
}

static long getter(void *arg)
{
    (void)arg;
    void *item;
    return curio_queue_get(queue, &item);
}

static long never_started(void *arg)
{
    (void)arg;
    return 0;
}

static curio_task *spawn_named(curio_task_fn fn, void *arg, const char *name)
{
    curio_task *t;
    curio_spawn_options o = {.name = name};
    cr_assert_eq(curio_spawn_ex(&t, fn, arg, &o), 0);
    return t;
}

static void expect_row(const char *ps, curio_task *t, const char *state, const char *name)
{
    char row[256], f[128];
    ps_row(ps, curio_task_id(t), row, sizeof row);
    cr_assert(row[0], "no row for task %llu in:\n%s", (unsigned long long)curio_task_id(t), ps);
    cr_assert_str_eq(ps_field(row, 1, f, sizeof f), state, "row: %s", row);
    cr_assert_str_eq(ps_field(row, 4, f, sizeof f), name, "row: %s", row);
    /* The blocked tasks have not run since; the caller has (it was woken by the reply). */
    unsigned long long cycles = strtoull(ps_field(row, 2, f, sizeof f), NULL, 10);
    if (t == curio_current())
        cr_assert_lt(cycles, curio_task_cycles(t), "row: %s", row);
    else
        cr_assert_eq(cycles, curio_task_cycles(t), "row: %s", row);
}

static long ps_main(void *arg)
{
    (void)arg;
    cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
    cr_assert_eq(curio_queue_create(&queue, 0), 0);
    curio_task_set_name(curio_current(), "parent");
    cr_assert_eq(curio_lock_acquire(&lock), 0);
    curio_task *ts[] = {
        spawn_named(sleeper, NULL, "kid"),
        spawn_named(scoped_sleeper, NULL, "scoped"),
        NULL, /* the joiner, below */
        spawn_named(reader, NULL, "reader"),
        spawn_named(event_waiter, NULL, "waiter"),
        spawn_named(locker, NULL, "locker"),
        spawn_named(getter, NULL, "getter"),
    };
    ts[2] = spawn_named(joiner, ts[0], "joiner");
    wait_state(ts[6], "QUEUE_GET");
    for (int i = 0; i < 7; i++)
        cr_assert_neq(strcmp(curio_task_state(ts[i]), "READY"), 0);
    mon_conn *c = mon_open();
    const char *ps = mon_cmd(c, "ps");

    cr_assert(strncmp(ps, "Task   State        Cycles     Timeout Task\n"
                          "------ ------------ ---------- ------- -----", 49) == 0,
              "header:\n%s", ps);
    expect_row(ps, ts[0], "TIME_SLEEP", "kid");
    expect_row(ps, ts[1], "TIME_SLEEP", "scoped");
    expect_row(ps, ts[2], "TASK_JOIN", "joiner");
    expect_row(ps, ts[3], "READ_WAIT", "reader");
    expect_row(ps, ts[4], "EVENT_WAIT", "waiter");
    expect_row(ps, ts[5], "LOCK_ACQUIRE", "locker");
    expect_row(ps, ts[6], "QUEUE_GET", "getter");
    /* The main task waits for the reply; the monitor's task on this kernel (task 1) runs
     * to take the table; its sessions are tasks of the monitor's own thread, listed below
     * the table. */
    expect_row(ps, curio_current(), "READ_WAIT", "parent");
    char row[256], f[128];
    cr_assert_str_eq(ps_field(ps_row(ps, 1, row, sizeof row), 4, f, sizeof f), "monitor *");
    cr_assert_str_eq(ps_field(row, 1, f, sizeof f), "RUNNING");
    cr_assert(strstr(ps, "Monitor connections (1): 127.0.0.1:"), "%s", ps);
    cr_assert(strstr(ps, " (this one)\n"), "%s", ps);
    cr_assert(strstr(ps, "* the monitor's own tasks\n"), "%s", ps);

    /* Timeouts: None without a scope; the scoped sleeper's deadline ~50 s away. */
    cr_assert_str_eq(ps_field(ps_row(ps, curio_task_id(ts[0]), row, sizeof row), 3, f,
                              sizeof f), "None");
    ps_field(ps_row(ps, curio_task_id(ts[1]), row, sizeof row), 3, f, sizeof f);
    cr_assert_eq(strlen(f), 7, "Curio cuts the timeout to 7 characters: '%s'", f);
    double left = atof(f);
    cr_assert(left > 45 && left <= 50, "timeout left %s", f);

    /* The count of live tasks in a new connection's banner: main, 7 spawned and the
     * monitor's task (the sessions are tasks of the monitor's thread). */
    mon_conn *c2 = calloc(1, sizeof *c2);
    cr_assert_eq(curio_open_connection(&c2->s, "127.0.0.1", (uint16_t)mon_port(), NULL), 0);
    bool closed;
    const char *banner = mon_read_reply(c2, &closed);
    cr_assert(strstr(banner, "Curio Monitor: 9 tasks running\n"), "%s", banner);
    mon_close(c2);

    mon_close(c);
    for (int i = 0; i < 7; i++) {
        curio_cancel(ts[i]);
        curio_task_release(ts[i]);
    }
    curio_lock_release(&lock);
    curio_queue_destroy(queue);
    close(pipefd[0]);
    close(pipefd[1]);
    return 0;
}

Test(ps, states_names_cycles_timeouts)
{
    cr_assert_eq(run_monitored(ps_main, NULL), 0);
}

/* ps again later: a task's timeout counts down, an ended task is gone. */
static long countdown_main(void *arg)
{
    (void)arg;
    curio_task *t = spawn_named(scoped_sleeper, NULL, "scoped");
    curio_task *gone = spawn_named(never_started, NULL, "gone");
    wait_state(t, "TIME_SLEEP");
    cr_assert_eq(curio_join(gone, NULL), 0);
    mon_conn *c = mon_open();
    char row[256], f[128];
    double first = atof(ps_field(ps_row(mon_cmd(c, "ps"), curio_task_id(t), row, sizeof row),
                                 3, f, sizeof f));
    curio_sleep(0.05);
    const char *ps = mon_cmd(c, "ps");
    double second = atof(ps_field(ps_row(ps, curio_task_id(t), row, sizeof row), 3, f,
                                  sizeof f));
    cr_assert(second <= first - 0.04, "%f then %f", first, second);
    cr_assert_eq(ps_row(ps, curio_task_id(gone), row, sizeof row)[0], 0, "%s", ps);
    mon_close(c);
    curio_cancel(t);
    curio_task_release(t);
    curio_task_release(gone);
    return 0;
}

Test(ps, timeout_counts_down_and_ended_tasks_go)
{
    cr_assert_eq(run_monitored(countdown_main, NULL), 0);
}
