/*
 * parents: a task and its parents up to the main task (Curio's "%-6d %12s %s" lines); a
 * parent that has ended and been freed; bad ids.
 */
#include "montest.h"

static curio_event done = CURIO_EVENT_INIT;

static long grandchild(void *arg)
{
    (void)arg;
    return curio_event_wait(&done);
}

static long child(void *arg)
{
    curio_task **out = arg;
    curio_spawn_options o = {.name = "grandchild"};
    if (curio_spawn_ex(out, grandchild, NULL, &o) < 0)
        return -1;
    return curio_event_wait(&done);
}

static long parents_main(void *arg)
{
    (void)arg;
    curio_task_set_name(curio_current(), "parent");
    curio_task *kid, *grandkid = NULL;
    curio_spawn_options o = {.name = "child"};
    cr_assert_eq(curio_spawn_ex(&kid, child, &grandkid, &o), 0);
    wait_state(kid, "EVENT_WAIT");
    cr_assert_not_null(grandkid);
    wait_state(grandkid, "EVENT_WAIT");
    mon_conn *c = mon_open();
    char cmd[32], want[512];
    unsigned long long g = curio_task_id(grandkid), k = curio_task_id(kid),
                       m = curio_task_id(curio_current());
    snprintf(cmd, sizeof cmd, "parents %llu", g);
    snprintf(want, sizeof want, "%-6llu %12s grandchild\n%-6llu %12s child\n%-6llu %12s parent\n",
             g, "EVENT_WAIT", k, "EVENT_WAIT", m, "READ_WAIT");
    cr_assert_str_eq(mon_cmd(c, cmd), want);
    snprintf(cmd, sizeof cmd, "parents %llu", m);
    snprintf(want, sizeof want, "%-6llu %12s parent\n", m, "READ_WAIT");
    cr_assert_str_eq(mon_cmd(c, cmd), want, "the main task has no parent");

    /* The child ends and its record goes: the grandchild's chain stops there. */
    curio_task_release(kid);
    curio_cancel(kid);
    snprintf(cmd, sizeof cmd, "parents %llu", g);
    snprintf(want, sizeof want, "%-6llu %12s grandchild\n%-6llu %12s (ended; nothing more is "
             "known)\n", g, "EVENT_WAIT", k, "TERMINATED");
    cr_assert_str_eq(mon_cmd(c, cmd), want);
    cr_assert_str_eq(mon_cmd(c, "parents 999"), "Error: no task 999\n");
    cr_assert_str_eq(mon_cmd(c, "parents"), "Error: usage: parents taskid\n");
    mon_close(c);
    curio_event_set(&done);
    cr_assert_eq(curio_join(grandkid, NULL), 0);
    curio_task_release(grandkid);
    return 0;
}

Test(parents, the_chain_up_to_main)
{
    cr_assert_eq(run_monitored(parents_main, NULL), 0);
}
