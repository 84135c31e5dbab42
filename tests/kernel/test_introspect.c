/*
 * The introspection interface (kernel/introspect.h), as a tool such as the monitor uses it,
 * without the kernel's records: the walk over the live tasks in spawn order, the lookup by
 * id (ended tasks whose record is still held included), and what a snapshot says of a
 * blocked task, of one in a disable_cancellation scope, and of one that ended.
 */
#include "testutil.h"
#include "introspect.h"

#include <string.h>

static curio_kernel *here(void) { return curio__task_kernel(curio__self()); }

/* Sleeps inside a timeout scope (the snapshot's deadline) until cancelled. */
static long sleeper(void *arg)
{
    (void)arg;
    curio_scope sc;
    cr_assert_eq(curio_timeout_after(&sc, 60.0), 0);
    int64_t rc = curio_sleep(120.0);
    curio_scope_close(&sc);
    return rc < 0 ? (long)rc : 0;
}

/* Parks in a disable_cancellation scope until its argument (an event) is set. */
static long shielded(void *arg)
{
    curio_scope nc;
    cr_assert_eq(curio_disable_cancellation(&nc), 0);
    int rc = curio_event_wait(arg);
    curio_scope_close(&nc);
    return rc;
}

static long walk_and_snapshot(void *arg)
{
    (void)arg;
    curio_kernel *k = here();
    curio__task *self = curio__self();
    curio_spawn_options so = {.name = "sleeper", .daemon = true};
    curio_task *s;
    cr_assert_eq(curio_spawn_ex(&s, sleeper, NULL, &so), 0);
    curio_event e = CURIO_EVENT_INIT;
    curio_task *n = curio_spawn(shielded, &e);
    cr_assert_not_null(n);
    curio__task_set_internal(n);
    cr_assert_eq(curio_yield(), 0); /* both block */

    /* The walk: spawn order, which is id order. */
    curio__task *seen[3] = {0};
    size_t count = 0;
    for (curio__task *t = curio__tasks_first(k); t; t = curio__tasks_next(t)) {
        cr_assert_lt(count, 3u);
        seen[count++] = t;
    }
    cr_assert_eq(count, 3u);
    cr_assert_eq(curio__tasks_live(k), 3u);
    cr_assert(seen[0] == self && seen[1] == s && seen[2] == n);
    cr_assert(curio__task_lookup(k, curio_task_id(s)) == s);
    cr_assert_null(curio__task_lookup(k, 1000));

    int64_t now = curio__now();
    curio__task_info ti;
    curio__task_snapshot(s, &ti);
    cr_assert_eq(ti.id, curio_task_id(s));
    cr_assert_eq(ti.parent_id, curio_task_id(self));
    cr_assert_str_eq(ti.name, "sleeper");
    cr_assert_str_eq(ti.state, "TIME_SLEEP");
    cr_assert_eq(ti.cycles, 1u);
    cr_assert(ti.daemon && !ti.internal && !ti.done && !ti.cancelled && !ti.cancel_requested &&
              !ti.nocancel);
    cr_assert(ti.deadline > now && ti.deadline <= now + curio__ns(60.0),
              "the timeout scope's deadline");
    cr_assert(ti.has_stack && ti.stack_lo);
    cr_assert_lt((uintptr_t)ti.stack_lo, (uintptr_t)ti.stack_hi);

    curio__task_snapshot(n, &ti);
    cr_assert_str_eq(ti.name, "task-3");
    cr_assert_str_eq(ti.state, "EVENT_WAIT");
    cr_assert(!ti.daemon && ti.internal && ti.nocancel);
    cr_assert_eq(ti.deadline, CURIO__NO_DEADLINE);

    curio__task_snapshot(self, &ti);
    cr_assert_str_eq(ti.state, "RUNNING");
    cr_assert_eq(ti.parent_id, 0u);

    /* Ended, with a handle held: found by id, TERMINATED, without a stack. */
    cr_assert_eq(curio_cancel(s), 0);
    cr_assert_eq(curio_event_set(&e), 0);
    long r = -1;
    cr_assert_eq(curio_join(n, &r), 0);
    cr_assert_eq(r, 0);
    cr_assert_eq(curio__tasks_live(k), 1u);
    cr_assert(curio__task_lookup(k, curio_task_id(s)) == s);
    curio__task_snapshot(s, &ti);
    cr_assert_str_eq(ti.state, "TERMINATED");
    cr_assert(ti.done && ti.cancelled && ti.cancel_requested && !ti.has_stack);
    cr_assert_null(ti.stack_lo);
    uint64_t sid = curio_task_id(s);
    curio_task_release(s);
    curio_task_release(n);
    cr_assert_null(curio__task_lookup(k, sid), "released: its record is gone");
    return 0;
}

Test(introspect, walk_lookup_and_snapshots, .timeout = 30)
{
    cr_assert_eq(run_main(walk_and_snapshot, NULL), 0);
}

/* The options the kernel was created with, and the monitor slot (empty without one). */
static long options(void *arg)
{
    (void)arg;
    const curio_options *o = curio__kernel_options(here());
    cr_assert_eq(o->stack_size, 256 * 1024u);
    cr_assert(o->quiet);
    cr_assert_null(curio__kernel_monitor(here()));
    return 0;
}

Test(introspect, kernel_options, .timeout = 30)
{
    curio_options o = {.stack_size = 256 * 1024, .quiet = true};
    long result = -1;
    cr_assert_eq(curio_run(options, NULL, &o, &result), 0);
    cr_assert_eq(result, 0);
}
