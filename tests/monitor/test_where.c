/*
 * where: the C call stack of a task blocked in a sleep, a read and a join shows the chain of
 * functions it is in, in order, with file:line; the running task (the session itself);
 * bad ids, an ended task, a task not started yet; the task is untouched (its sleep ends on
 * time, its read gets its byte); names without addr2line; a task with too little stack.
 */
#include "montest.h"

#include "monitor.h"

/* Chains of functions that neither get inlined nor end in a tail call (the work after
 * each call keeps every frame on the stack). */
#define KEEP __attribute__((noinline))

static double sleep_for = 100;

KEEP static long level3(void)
{
    int64_t r = curio_sleep(sleep_for);
    return r < 0 ? r : 3;
}

KEEP static long level2(void)
{
    long r = level3();
    return r < 0 ? r : r + 2;
}

KEEP static long level1(void *arg)
{
    (void)arg;
    long r = level2();
    return r < 0 ? r : r + 1;
}

static int pipefd[2];

KEEP static long read_inner(void)
{
    char c = 0;
    ssize_t n = curio_read(pipefd[0], &c, 1);
    return n == 1 ? c : (n < 0 ? n : -EIO);
}

KEEP static long read_outer(void *arg)
{
    (void)arg;
    long r = read_inner();
    return r < 0 ? r : r + 1000;
}

KEEP static long join_outer(void *arg)
{
    long r = curio_join(arg, NULL);
    return r < 0 ? r : 7;
}

static curio_task *spawn_named(curio_task_fn fn, void *arg, const char *name)
{
    curio_task *t;
    curio_spawn_options o = {.name = name};
    cr_assert_eq(curio_spawn_ex(&t, fn, arg, &o), 0);
    return t;
}

/* Every needle appears in text, in this order. */
static void expect_in_order(const char *text, const char *const *needles)
{
    const char *at = text;
    for (; *needles; needles++) {
        const char *p = strstr(at, *needles);
        cr_assert(p, "'%s' missing (or out of order) in:\n%s", *needles, text);
        at = p + strlen(*needles);
    }
}

static const char *where(mon_conn *c, curio_task *t)
{
    char cmd[32];
    snprintf(cmd, sizeof cmd, "where %llu", (unsigned long long)curio_task_id(t));
    return mon_cmd(c, cmd);
}

static bool with_lines;   /* addr2line is expected to give file:line */

static long chains_main(void *arg)
{
    (void)arg;
    cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
    curio_task *sleeper = spawn_named(level1, NULL, "sleeper");
    curio_task *reader = spawn_named(read_outer, NULL, "reader");
    curio_task *joiner = spawn_named(join_outer, sleeper, "joiner");
    wait_state(joiner, "TASK_JOIN");
    mon_conn *c = mon_open();

    const char *w = where(c, sleeper);
    char head[128];
    snprintf(head, sizeof head, "Stack for Task(id=%llu, name='sleeper', state='TIME_SLEEP') "
             "(most recent call last):\n", (unsigned long long)curio_task_id(sleeper));
    cr_assert(strncmp(w, head, strlen(head)) == 0, "%s", w);
    expect_in_order(w, (const char *const[]){"in level1\n", "in level2\n", "in level3\n",
                                             "in curio_sleep\n", "in curio__park\n", NULL});
    cr_assert(!strstr(w, "capture_probe") && !strstr(w, "serve_probes") &&
              !strstr(w, "curio__suspend") && !strstr(w, "reap_exited") &&
              !strstr(w, " in run\n") && !strstr(w, "task_entry"),
              "machinery shown:\n%s", w);
    if (with_lines) {
        expect_in_order(w, (const char *const[]){"tests/monitor/test_where.c\", line ",
                                                 "kernel/time.c\", line ", NULL});
        cr_assert(!strstr(w, "/../"), "paths are tidied:\n%s", w);
    }

    w = where(c, reader);
    expect_in_order(w, (const char *const[]){"state='READ_WAIT'", "in read_outer\n",
                                             "in read_inner\n", "in curio_read\n",
                                             "in curio__op_wait\n", NULL});
    w = where(c, joiner);
    expect_in_order(w, (const char *const[]){"state='TASK_JOIN'", "in join_outer\n",
                                             "in curio_join\n", "in curio__waitq_wait\n",
                                             NULL}); /* curio_task_wait between: clang inlines it */
    /* The main task, waiting for this very reply. */
    w = where(c, curio_current());
    expect_in_order(w, (const char *const[]){"state='READ_WAIT'", "in chains_main\n",
                                             "in curio_recv\n", NULL});

    mon_close(c);
    curio_cancel(sleeper);
    curio_cancel(reader);
    long r = 0;
    cr_assert_eq(curio_join(joiner, &r), 0);
    cr_assert_eq(r, CURIO_ETASKCANCELLED, "the joiner saw the sleeper cancelled");
    curio_task_release(sleeper);
    curio_task_release(reader);
    curio_task_release(joiner);
    close(pipefd[0]);
    close(pipefd[1]);
    return 0;
}

Test(where, sleep_read_join_chains_with_lines)
{
    with_lines = true;
    cr_assert_eq(run_monitored(chains_main, NULL), 0);
}

/* Without addr2line the names still come from the symbol table; no file:line. */
Test(where, names_without_addr2line)
{
    setenv("CURIO_ADDR2LINE", "", 1);
    cr_assert_eq(run_monitored(chains_main, NULL), 0);
}

Test(where, names_when_addr2line_cannot_run)
{
    setenv("CURIO_ADDR2LINE", "/nonexistent/addr2line", 1);
    cr_assert_eq(run_monitored(chains_main, NULL), 0);
}

static long bare_main(void *arg)
{
    (void)arg;
    curio_task *sleeper = spawn_named(level1, NULL, "sleeper");
    wait_state(sleeper, "TIME_SLEEP");
    mon_conn *c = mon_open();
    const char *w = where(c, sleeper);
    cr_assert(strstr(w, "  File \"test_monitor_where\" +0x"), "%s", w);
    cr_assert(strstr(w, "(no file:line: that needs debugging information"), "%s", w);
    expect_in_order(w, (const char *const[]){"in level1\n", "in level2\n", "in level3\n",
                                             NULL});
    mon_close(c);
    curio_cancel(sleeper);
    curio_task_release(sleeper);
    return 0;
}

Test(where, module_and_offset_without_lines)
{
    setenv("CURIO_ADDR2LINE", "", 1);
    cr_assert_eq(run_monitored(bare_main, NULL), 0);
}

/* ---- the monitor's task asking about itself: its own stack, running ---- */

static long self_main(void *arg)
{
    (void)arg;
    mon_conn *c = mon_open();
    const char *ps = mon_cmd(c, "ps");
    const char *run = strstr(ps, "RUNNING");
    cr_assert(run, "%s", ps);
    while (run > ps && run[-1] != '\n')
        run--;
    unsigned long long id = strtoull(run, NULL, 10);
    char cmd[32];
    snprintf(cmd, sizeof cmd, "where %llu", id);
    const char *w = mon_cmd(c, cmd);
    /* (curio__mon_command calls the command's function as a tail call: no frame; gcc
     * keeps serve() between, clang inlines it.) */
    expect_in_order(w, (const char *const[]){"state='RUNNING'", "in curio__mon_agent\n",
                                             NULL});
    cr_assert(!strstr(w, "capture_self"), "%s", w);
    mon_close(c);
    return 0;
}

Test(where, the_running_agent_itself)
{
    cr_assert_eq(run_monitored(self_main, NULL), 0);
}

/* ---- what is not a stack ---- */

static long quick(void *arg)
{
    (void)arg;
    return 5;
}

static long errors_main(void *arg)
{
    (void)arg;
    curio_task *ended = spawn_named(quick, NULL, "ended");
    cr_assert_eq(curio_join(ended, NULL), 0);
    mon_conn *c = mon_open();
    cr_assert_str_eq(mon_cmd(c, "where 999"), "Error: no task 999\n");
    cr_assert_str_eq(mon_cmd(c, "where x"), "Error: where needs a task id (a number), not "
                                            "'x'\n");
    cr_assert_str_eq(mon_cmd(c, "where -1"), "Error: where needs a task id (a number), not "
                                             "'-1'\n");
    cr_assert_str_eq(mon_cmd(c, "where"), "Error: usage: where taskid\n");
    cr_assert_str_eq(mon_cmd(c, "where 1 2"), "Error: usage: where taskid\n");
    char cmd[32], want[96];
    snprintf(cmd, sizeof cmd, "where %llu", (unsigned long long)curio_task_id(ended));
    snprintf(want, sizeof want, "Error: task %llu has ended: it has no stack\n",
             (unsigned long long)curio_task_id(ended));
    cr_assert_str_eq(mon_cmd(c, cmd), want);
    mon_close(c);
    curio_task_release(ended);

    /* A task that has not run yet cannot be seen through a connection (it runs before the
     * monitor answers), so the command is run here directly. */
    curio__task *late = spawn_named(quick, NULL, "late");
    curio__mon_session s = {.mon = curio_kernel_current()->monitor, .task = curio__self()};
    static curio__mon_req r;
    snprintf(r.arg, sizeof r.arg, "%llu", (unsigned long long)late->id);
    curio__mon_where_capture(&s, &r);
    snprintf(want, sizeof want, "Error: task %llu has not started yet: it has no stack to "
             "show\n", (unsigned long long)late->id);
    cr_assert_str_eq(s.out.p, want);
    curio__text_free(&s.out);
    curio_join(late, NULL);
    curio_task_release(late);
    return 0;
}

Test(where, bad_ids_ended_and_not_started)
{
    cr_assert_eq(run_monitored(errors_main, NULL), 0);
}

/* ---- the task looked at is untouched ---- */

static long untouched_main(void *arg)
{
    (void)arg;
    cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
    sleep_for = 1.5; /* longer than the where calls take, also under a sanitizer */
    int64_t t0 = curio_clock();
    curio_task *sleeper = spawn_named(level1, NULL, "sleeper");
    curio_task *reader = spawn_named(read_outer, NULL, "reader");
    wait_state(reader, "READ_WAIT");
    uint64_t cycles_s = curio_task_cycles(sleeper), cycles_r = curio_task_cycles(reader);
    mon_conn *c = mon_open();
    int64_t deadline = ((curio__task *)sleeper)->sleep_until;
    for (int i = 0; i < 2; i++) {
        where(c, sleeper);
        where(c, reader);
    }
    /* (On a machine so loaded that the where calls outlast the sleep, the sleeper has
     * woken, normally: only its return value and time are checked then.) */
    if (curio_clock() < deadline) {
        cr_assert_str_eq(curio_task_state(sleeper), "TIME_SLEEP");
        cr_assert_eq(curio_task_cycles(sleeper), cycles_s);
        cr_assert_eq(((curio__task *)sleeper)->sleep_until, deadline);
    }
    cr_assert_str_eq(curio_task_state(reader), "READ_WAIT");
    cr_assert_eq(curio_task_cycles(reader), cycles_r);
    mon_close(c);
    cr_assert_eq(write(pipefd[1], "x", 1), 1);
    long r = 0;
    cr_assert_eq(curio_join(reader, &r), 0);
    cr_assert_eq(r, 'x' + 1000);
    cr_assert_eq(curio_join(sleeper, &r), 0);
    cr_assert_eq(r, 6, "the sleep returned normally");
    cr_assert_geq(secs_since(t0), 1.5);
    curio_task_release(sleeper);
    curio_task_release(reader);
    close(pipefd[0]);
    close(pipefd[1]);
    return 0;
}

Test(where, leaves_the_task_as_it_was)
{
    cr_assert_eq(run_monitored(untouched_main, NULL), 0);
}

/* ---- a task near the end of its stack ---- */

KEEP static long deep(void *arg)
{
    /* 24 KiB of a 32 KiB stack in use while it sleeps. */
    volatile char big[24 * 1024];
    big[0] = 1;
    big[sizeof big - 1] = (char)(intptr_t)arg;
    __asm__ volatile("" : : "r"(big) : "memory"); /* escapes: clang would keep 8 bytes */
    int64_t r = curio_sleep(100);
    return r < 0 ? r : big[0] + big[sizeof big - 1];
}

static long stack_main(void *arg)
{
    (void)arg;
    curio_task *t;
    curio_spawn_options o = {.name = "deep", .stack_size = 32 * 1024};
    cr_assert_eq(curio_spawn_ex(&t, deep, NULL, &o), 0);
    wait_state(t, "TIME_SLEEP");
    mon_conn *c = mon_open();
    char want[128];
    snprintf(want, sizeof want, "Error: task %llu has less than 16 KiB of stack left: too "
             "little to unwind it safely\n", (unsigned long long)curio_task_id(t));
    cr_assert_str_eq(where(c, t), want);
    mon_close(c);
    curio_cancel(t);
    curio_task_release(t);
    return 0;
}

Test(where, refuses_a_stack_nearly_full)
{
    cr_assert_eq(run_monitored(stack_main, NULL), 0);
}

/* ---- a chain deeper than what is captured ---- */

KEEP static long recurse(long n)
{
    if (n == 0) {
        int64_t r = curio_sleep(100);
        return r < 0 ? r : 0;
    }
    long r = recurse(n - 1);
    return r < 0 ? r : r + 1;
}

static long recurse_task(void *arg)
{
    (void)arg;
    return recurse(100);
}

static long deep_chain_main(void *arg)
{
    (void)arg;
    curio_task *t = spawn_named(recurse_task, NULL, "recursive");
    wait_state(t, "TIME_SLEEP");
    mon_conn *c = mon_open();
    const char *w = where(c, t);
    cr_assert(strstr(w, "(only the innermost 64 calls are shown)\n"), "%s", w);
    cr_assert(!strstr(w, "in recurse_task\n"), "%s", w);
    expect_in_order(w, (const char *const[]){"in recurse\n", "in recurse\n", "in curio_sleep\n",
                                             NULL});
    mon_close(c);
    curio_cancel(t);
    curio_task_release(t);
    return 0;
}

Test(where, a_chain_deeper_than_64_calls)
{
    cr_assert_eq(run_monitored(deep_chain_main, NULL), 0);
}
