/*
 * Task-local storage: inheritance at spawn (a copy), isolation afterwards in both
 * directions, erasing with NULL, several keys, grandchildren, group members, and the calls
 * made outside a task.
 */
#include "testutil.h"
#include "kernel.h"
#include "waitq.h"

static curio_local key_a = {"a"}, key_b = {"b"}, key_c = {"c"};

/* Distinct addresses to store (values are plain pointers, never owned by curio). */
static int v1, v2, v3, v4, v5;

static const char *vname(const void *p)
{
    if (p == NULL) return "NULL";
    if (p == &v1) return "v1";
    if (p == &v2) return "v2";
    if (p == &v3) return "v3";
    if (p == &v4) return "v4";
    if (p == &v5) return "v5";
    return "?";
}

/* ---- a value set before spawning is inherited; later changes stay on their side ---- */

static long child_changes(void *arg)
{
    (void)arg;
    ev("child:got=%s", vname(curio_local_get(&key_a)));
    cr_assert_eq(curio_local_set(&key_a, &v2), 0);
    cr_assert_eq(curio_yield(), 0);
    ev("child:sees=%s", vname(curio_local_get(&key_a)));
    return 0;
}

static long parent_and_child(void *arg)
{
    (void)arg;
    cr_assert_null(curio_local_get(&key_a), "a main task starts without values");
    cr_assert_eq(curio_local_set(&key_a, &v1), 0);
    ev("parent:set=v1");
    curio_task *t = curio_spawn(child_changes, NULL);
    cr_assert_not_null(t);
    /* Spawning does not switch: the child has not run yet, and still gets v1. */
    cr_assert_eq(curio_local_set(&key_a, &v3), 0);
    ev("parent:set=v3");
    cr_assert_eq(curio_yield(), 0);
    ev("parent:sees=%s", vname(curio_local_get(&key_a)));
    cr_assert_eq(curio_join(t, NULL), 0);
    ev("parent:joined=%s", vname(curio_local_get(&key_a)));
    curio_task_release(t);
    return 0;
}

Test(local, inherited_copy_changes_stay_on_their_side, .timeout = 30)
{
    expect_log(parent_and_child, NULL, "parent:set=v1 parent:set=v3 child:got=v1 parent:sees=v3 "
                                 "child:sees=v2 parent:joined=v3");
}

static long child_reports(void *arg)
{
    (void)arg;
    ev("child:a=%s", vname(curio_local_get(&key_a)));
    return 0;
}

static long spawned_before_set(void *arg)
{
    (void)arg;
    curio_task *early = curio_spawn(child_reports, NULL);
    cr_assert_eq(curio_local_set(&key_a, &v1), 0);
    curio_task *late = curio_spawn(child_reports, NULL);
    cr_assert_eq(curio_join(early, NULL), 0);
    cr_assert_eq(curio_join(late, NULL), 0);
    curio_task_release(early);
    curio_task_release(late);
    return 0;
}

Test(local, child_spawned_before_the_set_does_not_see_it, .timeout = 30)
{
    expect_log(spawned_before_set, NULL, "child:a=NULL child:a=v1");
}

/* ---- NULL erases ---- */

static long erase(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_local_set(&key_a, &v1), 0);
    cr_assert_eq(curio_local_get(&key_a), &v1);
    cr_assert_eq(curio_local_set(&key_a, &v2), 0, "setting again overwrites");
    cr_assert_eq(curio_local_get(&key_a), &v2);
    cr_assert_eq(curio_local_set(&key_a, NULL), 0);
    cr_assert_null(curio_local_get(&key_a));
    cr_assert_eq(curio_local_set(&key_a, NULL), 0, "erasing an absent key is fine");
    cr_assert_eq(curio_local_set(&key_b, NULL), 0, "erasing a never-set key is fine");
    cr_assert_null(curio_local_get(&key_b));
    /* A child spawned after the erase does not see the old value. */
    curio_task *t = curio_spawn(child_reports, NULL);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    /* And the key can be set again. */
    cr_assert_eq(curio_local_set(&key_a, &v3), 0);
    cr_assert_eq(curio_local_get(&key_a), &v3);
    return 0;
}

Test(local, null_erases, .timeout = 30)
{
    expect_log(erase, NULL, "child:a=NULL");
}

/* ---- several keys ---- */

static long child_all_keys(void *arg)
{
    (void)arg;
    ev("child:a=%s,b=%s,c=%s", vname(curio_local_get(&key_a)), vname(curio_local_get(&key_b)),
       vname(curio_local_get(&key_c)));
    cr_assert_eq(curio_local_set(&key_a, NULL), 0);
    cr_assert_eq(curio_local_set(&key_c, &v5), 0);
    ev("child:a=%s,b=%s,c=%s", vname(curio_local_get(&key_a)), vname(curio_local_get(&key_b)),
       vname(curio_local_get(&key_c)));
    return 0;
}

static long several_keys(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_local_set(&key_a, &v1), 0);
    cr_assert_eq(curio_local_set(&key_b, &v2), 0);
    cr_assert_eq(curio_local_set(&key_c, &v3), 0);
    cr_assert_eq(curio_local_get(&key_a), &v1);
    cr_assert_eq(curio_local_get(&key_b), &v2);
    cr_assert_eq(curio_local_get(&key_c), &v3);
    /* Erasing one leaves the others alone, whatever their order inside. */
    cr_assert_eq(curio_local_set(&key_a, NULL), 0);
    cr_assert_null(curio_local_get(&key_a));
    cr_assert_eq(curio_local_get(&key_b), &v2);
    cr_assert_eq(curio_local_get(&key_c), &v3);
    cr_assert_eq(curio_local_set(&key_a, &v4), 0);
    cr_assert_eq(curio_local_set(&key_b, NULL), 0);
    cr_assert_eq(curio_local_get(&key_a), &v4);
    cr_assert_null(curio_local_get(&key_b));
    cr_assert_eq(curio_local_get(&key_c), &v3);
    cr_assert_eq(curio_local_set(&key_b, &v2), 0);

    curio_task *t = curio_spawn(child_all_keys, NULL);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    ev("parent:a=%s,b=%s,c=%s", vname(curio_local_get(&key_a)),
       vname(curio_local_get(&key_b)), vname(curio_local_get(&key_c)));
    return 0;
}

Test(local, several_keys, .timeout = 30)
{
    expect_log(several_keys, NULL, "child:a=v4,b=v2,c=v3 child:a=NULL,b=v2,c=v5 "
                                 "parent:a=v4,b=v2,c=v3");
}

#define NKEYS 40
static curio_local many[NKEYS];
static int many_vals[NKEYS];

static long child_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < NKEYS; i++) {
        void *want = (i % 2) ? &many_vals[i] : NULL;
        cr_assert_eq(curio_local_get(&many[i]), want, "child: key %d", i);
    }
    for (int i = 0; i < NKEYS; i++)
        cr_assert_eq(curio_local_set(&many[i], NULL), 0);
    return 0;
}

static long many_keys(void *arg)
{
    (void)arg;
    for (int i = 0; i < NKEYS; i++)
        cr_assert_eq(curio_local_set(&many[i], &many_vals[i]), 0);
    for (int i = 0; i < NKEYS; i++)
        cr_assert_eq(curio_local_get(&many[i]), &many_vals[i], "key %d", i);
    for (int i = 0; i < NKEYS; i += 2)
        cr_assert_eq(curio_local_set(&many[i], NULL), 0);
    for (int i = 0; i < NKEYS; i++) {
        void *want = (i % 2) ? &many_vals[i] : NULL;
        cr_assert_eq(curio_local_get(&many[i]), want, "key %d after erasing the even ones", i);
    }
    curio_task *t = curio_spawn(child_many, NULL);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    for (int i = 1; i < NKEYS; i += 2)
        cr_assert_eq(curio_local_get(&many[i]), &many_vals[i], "parent key %d", i);
    return 0;
}

Test(local, many_keys, .timeout = 30) { run_main(many_keys, NULL); }

/* ---- grandchildren ---- */

static long grandchild(void *arg)
{
    (void)arg;
    ev("grandchild:a=%s,b=%s,c=%s", vname(curio_local_get(&key_a)),
       vname(curio_local_get(&key_b)), vname(curio_local_get(&key_c)));
    return 0;
}

static long middle_child(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_local_set(&key_a, &v2), 0);
    cr_assert_eq(curio_local_set(&key_b, &v4), 0);
    curio_task *t = curio_spawn(grandchild, NULL);
    cr_assert_eq(curio_local_set(&key_b, &v5), 0); /* after the spawn: not seen */
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    ev("child:a=%s,b=%s,c=%s", vname(curio_local_get(&key_a)), vname(curio_local_get(&key_b)),
       vname(curio_local_get(&key_c)));
    return 0;
}

static long three_generations(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_local_set(&key_a, &v1), 0);
    cr_assert_eq(curio_local_set(&key_c, &v3), 0);
    curio_task *t = curio_spawn(middle_child, NULL);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    ev("main:a=%s,b=%s,c=%s", vname(curio_local_get(&key_a)), vname(curio_local_get(&key_b)),
       vname(curio_local_get(&key_c)));
    return 0;
}

Test(local, grandchild_inherits_the_childs_value, .timeout = 30)
{
    expect_log(three_generations, NULL, "grandchild:a=v2,b=v4,c=v3 child:a=v2,b=v5,c=v3 "
                                 "main:a=v1,b=NULL,c=v3");
}

/* ---- group members and spawn_ex children inherit too ---- */

static long group_inherits(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_local_set(&key_a, &v4), 0);
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    cr_assert_eq(curio_group_spawn(g, NULL, child_reports, NULL, NULL), 0);
    curio_spawn_options o = {.name = "d", .daemon = true};
    cr_assert_eq(curio_group_spawn(g, NULL, child_reports, NULL, &o), 0);
    cr_assert_eq(curio_local_set(&key_a, &v5), 0);
    curio_task *t;
    cr_assert_eq(curio_spawn_ex(&t, child_reports, NULL, &o), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(curio_group_join(g), 0);
    curio_group_destroy(g);
    return 0;
}

Test(local, group_members_and_spawn_ex_children_inherit, .timeout = 30)
{
    expect_log(group_inherits, NULL, "child:a=v4 child:a=v4 child:a=v5");
}

/* ---- outside a task ---- */

static void posted_outside(void *arg)
{
    int *out = arg;
    /* Posted functions run on the kernel's thread but outside any task. */
    out[0] = curio_current() == NULL;
    out[1] = curio_local_get(&key_a) == NULL;
    out[2] = curio_local_set(&key_a, &v2);
}

static curio__waitq post_q;
static bool post_ran;

static void posted_then_wake(void *arg)
{
    posted_outside(arg);
    post_ran = true;
    curio__waitq_wake_all(&post_q);
}

static long set_then_post(void *arg)
{
    cr_assert_eq(curio_local_set(&key_a, &v1), 0);
    cr_assert_eq(curio_kernel_post(curio_kernel_current(), posted_then_wake, arg), 0);
    curio_scope s;
    cr_assert_eq(curio_timeout_after(&s, 10), 0);
    while (!post_ran)
        cr_assert_eq(curio__waitq_wait(&post_q, &(curio__waiter){0}, "FUTURE_WAIT"), 0);
    cr_assert_eq(curio_scope_close(&s), 0);
    /* The failed set from outside changed nothing here. */
    cr_assert_eq(curio_local_get(&key_a), &v1);
    return 0;
}

static long main_reports(void *arg)
{
    (void)arg;
    ev("main:a=%s", vname(curio_local_get(&key_a)));
    return 0;
}

Test(local, outside_a_task, .timeout = 30)
{
    /* No kernel at all. */
    cr_assert_null(curio_local_get(&key_a));
    cr_assert_eq(curio_local_set(&key_a, &v1), -EPERM);
    cr_assert_eq(curio_local_set(&key_a, NULL), -EPERM);
    cr_assert_null(curio_local_get(&key_a));

    /* A kernel exists, but no task is running. */
    curio_kernel *k;
    cr_assert_eq(curio_kernel_create(&k, NULL), 0);
    long res = -1;
    ev_reset();
    cr_assert_eq(curio_kernel_run(k, set_then_post, (int[3]){0}, &res), 0);
    cr_assert_null(curio_current());
    cr_assert_null(curio_local_get(&key_a), "the ended main task's value must not leak out");
    cr_assert_eq(curio_local_set(&key_a, &v3), -EPERM);
    /* The next main task starts without values. */
    cr_assert_eq(curio_kernel_run(k, main_reports, NULL, &res), 0);
    curio_kernel_destroy(k);
    cr_assert_str_eq(evlog, "main:a=NULL");
}

Test(local, posted_functions_are_outside_a_task, .timeout = 30)
{
    int out[3] = {0, 0, 12345};
    post_ran = false;
    long res = -1;
    cr_assert_eq(curio_run(set_then_post, out, NULL, &res), 0);
    cr_assert_eq(res, 0);
    cr_assert(post_ran);
    cr_assert(out[0], "a posted function runs outside any task");
    cr_assert(out[1], "curio_local_get outside a task returns NULL");
    cr_assert_eq(out[2], -EPERM, "curio_local_set outside a task returns -EPERM");
}

static long run_sets(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_local_set(&key_a, &v1), 0);
    return 0;
}

Test(local, each_run_starts_without_values, .timeout = 30)
{
    ev_reset();
    run_main(run_sets, NULL);
    run_main(main_reports, NULL);
    cr_assert_str_eq(evlog, "main:a=NULL");
}
