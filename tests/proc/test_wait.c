/*
 * curio_process_wait, poll and send_signal: exit codes and deaths by signal, on both ways
 * of waiting (IORING_OP_WAITID where the kernel has it, and the pidfd poll); timeouts and
 * cancellation of a wait (the child stays waitable); several waiters, and the hand-over
 * when the one whose operation is in flight is interrupted; destroy while tasks wait; a
 * child reaped behind curio's back; and that every waited child is reaped (no zombie).
 */
#include "proctest.h"

static int waitid_supported(void)
{
    struct io_uring r;
    if (io_uring_queue_init(2, &r, 0) < 0)
        return 0;
    struct io_uring_probe *p = io_uring_get_probe_ring(&r);
    int yes = p && io_uring_opcode_supported(p, 50 /* IORING_OP_WAITID */);
    if (p)
        io_uring_free_probe(p);
    io_uring_queue_exit(&r);
    return yes;
}

/* The returncode of `sh -c script`, waited for by a task. */
static int code_of(const char *script)
{
    curio_process *p = shell(script, (curio_process_options){0});
    int code = -1000;
    int rc = curio_process_wait(p, &code);
    cr_assert_eq(rc, 0, "wait: %s", curio_strerror(rc));
    cr_assert(reaped_already(curio_process_pid(p)));
    int again = -1000;
    cr_assert_eq(curio_process_wait(p, &again), 0, "waiting again is fine");
    cr_assert_eq(again, code);
    curio_process_destroy(p);
    return code;
}

static int killed_by(int sig)
{
    const char *argv[] = {"sleep", "10", NULL};
    curio_process *p = start(argv, NULL);
    cr_assert_eq(curio_process_send_signal(p, sig), 0);
    int code = -1000;
    cr_assert_eq(curio_process_wait(p, &code), 0);
    cr_assert_eq(curio_process_send_signal(p, SIGTERM), 0, "a waited child: nothing happens");
    cr_assert_eq(curio_process_kill(p), 0);
    curio_process_destroy(p);
    return code;
}

static long codes_main(void *arg)
{
    (void)arg;
    cr_assert_eq(code_of("exit 0"), 0);
    cr_assert_eq(code_of("exit 3"), 3);
    cr_assert_eq(code_of("exit 255"), 255);
    cr_assert_eq(code_of("kill -USR1 $$"), -SIGUSR1);
    cr_assert_eq(killed_by(SIGKILL), -SIGKILL);
    cr_assert_eq(killed_by(SIGTERM), -SIGTERM);
    const char *argv[] = {"sleep", "10", NULL};
    curio_process *p = start(argv, NULL);
    cr_assert_eq(curio_process_terminate(p), 0);
    int code;
    cr_assert_eq(curio_process_wait(p, &code), 0);
    cr_assert_eq(code, -SIGTERM);
    cr_assert_eq(curio_process_send_signal(p, 99999), -EINVAL);
    cr_assert_eq(curio_process_send_signal(NULL, SIGTERM), -EINVAL);
    curio_process_destroy(p);
    return 0;
}

Test(wait, exit_codes_and_signals_through_waitid)
{
    if (!waitid_supported())
        cr_skip_test("the running kernel has no IORING_OP_WAITID (Linux 6.7)");
    run_main(codes_main, NULL);
}

Test(wait, exit_codes_and_signals_through_the_pidfd_poll)
{
    curio__proc_force_poll = true;
    run_main(codes_main, NULL);
}

/* ---- the task state, timeouts and cancellation: the child stays waitable ---- */

static long waiter(void *arg)
{
    curio_process *p = arg;
    int code = -1000;
    int rc = curio_process_wait(p, &code);
    ev("%s/%d", rcname(rc), rc == 0 ? code : 0);
    return rc;
}

static long timeout_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"sleep", "10", NULL};
    curio_process *p = start(argv, NULL);
    curio_scope s;
    int64_t t0 = curio_clock();
    curio_timeout_after(&s, 0.05);
    int rc = curio_process_wait(p, NULL);
    cr_assert_eq(curio_scope_close(&s), -ETIMEDOUT);
    cr_assert_eq(rc, -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.05);
    cr_assert_eq(curio_process_poll(p, NULL), -EBUSY, "still running");
    cr_assert(running(curio_process_pid(p)));

    /* cancelled while waiting; the state meanwhile is PROC_WAIT */
    curio_task *t = curio_spawn(waiter, p);
    for (int i = 0; i < 100 && strcmp(curio_task_state(t), "PROC_WAIT"); i++)
        curio_yield();
    cr_assert_str_eq(curio_task_state(t), "PROC_WAIT");
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert(curio_task_cancelled(t));
    curio_task_release(t);
    cr_assert(running(curio_process_pid(p)));

    /* and waited for at last */
    cr_assert_eq(curio_process_kill(p), 0);
    int code;
    cr_assert_eq(curio_process_wait(p, &code), 0);
    cr_assert_eq(code, -SIGKILL);
    cr_assert(reaped_already(curio_process_pid(p)));
    curio_process_destroy(p);
    return 0;
}

Test(wait, timeout_and_cancellation_leave_the_child_waitable)
{
    ev_reset();
    run_main(timeout_main, NULL);
    cr_assert_str_eq(evlog, "ECANCELED/0");
}

Test(wait, timeout_and_cancellation_on_the_poll_path)
{
    curio__proc_force_poll = true;
    ev_reset();
    run_main(timeout_main, NULL);
    cr_assert_str_eq(evlog, "ECANCELED/0");
}

/* ---- several waiters: all get the code; an interrupted reaper hands over ---- */

static long waiters_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"sh", "-c", "read line; exit 7", NULL};
    curio_process_options o = {.stdin_mode = CURIO_STDIO_PIPE};
    curio_process *p = start(argv, &o);
    curio_task *a = curio_spawn(waiter, p); /* the first: its operation is in flight */
    curio_task *b = curio_spawn(waiter, p); /* parked behind it */
    curio_task *c = curio_spawn(waiter, p);
    while (strcmp(curio_task_state(c), "PROC_WAIT"))
        curio_yield();
    cr_assert_eq(p->reaper, a);
    cr_assert_eq(curio_cancel(a), 0);       /* in flight: b takes the wait over */
    cr_assert_eq(curio_cancel(c), 0);       /* parked: just leaves */
    curio_yield();
    cr_assert_eq(p->reaper, b);
    cr_assert_eq(curio_stream_write(curio_process_stdin(p), "go\n", 3, NULL), 3);
    int code = -1000;
    cr_assert_eq(curio_process_wait(p, &code), 0);
    cr_assert_eq(code, 7);
    cr_assert_eq(curio_join(b, NULL), 0);
    curio_task_release(a);
    curio_task_release(b);
    curio_task_release(c);
    curio_process_destroy(p);
    return 0;
}

Test(wait, several_waiters_and_the_hand_over)
{
    ev_reset();
    run_main(waiters_main, NULL);
    cr_assert_str_eq(evlog, "ECANCELED/0 ECANCELED/0 ok/7");
}

/* ---- a wait that is over already is not a cancellation point ---- */

static long over_main(void *arg)
{
    (void)arg;
    curio_process *p = shell("exit 5", (curio_process_options){0});
    while (running(curio_process_pid(p)))
        usleep(1000);
    curio_cancel_nowait(curio_current());
    int code = -1000;
    cr_assert_eq(curio_process_wait(p, &code), 0);
    cr_assert_eq(code, 5);
    cr_assert_eq(curio_process_poll(p, &code), 0);
    cr_assert_eq(code, 5);
    curio_process_destroy(p);
    cr_assert_eq(curio_yield(), -ECANCELED, "the cancellation is still pending");
    return 0;
}

Test(wait, a_wait_already_over_returns_without_being_a_cancellation_point)
{
    run_main(over_main, NULL);
}

/* ---- poll, outside tasks too ---- */

Test(wait, poll)
{
    const char *argv[] = {"sh", "-c", "exit 9", NULL};
    curio_process *p = start(argv, NULL);
    int code = -1000, rc;
    while ((rc = curio_process_poll(p, &code)) == -EBUSY)
        usleep(1000);
    cr_assert_eq(rc, 0);
    cr_assert_eq(code, 9);
    cr_assert(reaped_already(curio_process_pid(p)), "poll reaps");
    cr_assert_eq(curio_process_poll(NULL, &code), -EINVAL);
    curio_process_destroy(p);
}

/* ---- destroy while tasks wait: they return -EBADF; the child is killed and reaped ---- */

static long destroy_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"sleep", "10", NULL};
    curio_process *p = start(argv, NULL);
    pid_t pid = curio_process_pid(p);
    curio_task *a = curio_spawn(waiter, p);
    curio_task *b = curio_spawn(waiter, p);
    while (strcmp(curio_task_state(b), "PROC_WAIT"))
        curio_yield();
    curio_process_destroy(p);
    long r;
    cr_assert_eq(curio_join(a, &r), 0);
    cr_assert_eq(r, -EBADF);
    cr_assert_eq(curio_join(b, &r), 0);
    cr_assert_eq(r, -EBADF);
    curio_task_release(a);
    curio_task_release(b);
    assert_reaped(pid);
    cr_assert(!running(pid));
    return 0;
}

Test(wait, destroy_while_tasks_wait)
{
    ev_reset();
    run_main(destroy_main, NULL);
    cr_assert_str_eq(evlog, "EBADF/0 EBADF/0");
}

/* ---- a child reaped by somebody else: -ECHILD, and destroy leaves the pid alone ---- */

static long echild_main(void *arg)
{
    (void)arg;
    curio_process *p = shell("exit 0", (curio_process_options){0});
    cr_assert_eq(waitpid(curio_process_pid(p), NULL, 0), curio_process_pid(p));
    cr_assert_eq(curio_process_wait(p, NULL), -ECHILD);
    cr_assert_eq(curio_process_poll(p, NULL), -ECHILD);
    curio_process_destroy(p);
    cr_assert_eq(curio_process_wait(NULL, NULL), -EINVAL);
    return 0;
}

Test(wait, a_child_reaped_by_somebody_else)
{
    run_main(echild_main, NULL);
}

/* ---- the wait ended (the waiter was woken, had not run yet) when p is destroyed: it
 * gets -EBADF, as for every handle closed under a call (kernel/gate.h) ---- */

static long ended_then_destroyed_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"sh", "-c", "read line; exit 5", NULL};
    curio_process_options o = {.stdin_mode = CURIO_STDIO_PIPE};
    curio_process *p = start(argv, &o);
    pid_t pid = curio_process_pid(p);
    curio_task *a = curio_spawn(waiter, p);
    while (strcmp(curio_task_state(a), "PROC_WAIT"))
        curio_yield();
    cr_assert_eq(curio_stream_write(curio_process_stdin(p), "go\n", 3, NULL), 3);
    for (int i = 0; i < 1000000 && strcmp(curio_task_state(a), "READY"); i++)
        curio_yield();
    cr_assert_str_eq(curio_task_state(a), "READY");
    curio_process_destroy(p);
    long r;
    cr_assert_eq(curio_join(a, &r), 0);
    cr_assert_eq(r, -EBADF);
    curio_task_release(a);
    assert_reaped(pid);
    return 0;
}

Test(wait, wait_ended_then_destroyed_returns_ebadf)
{
    ev_reset();
    int fds = count_fds();
    run_main(ended_then_destroyed_main, NULL);
    cr_assert_str_eq(evlog, "EBADF/0");
    cr_assert_eq(count_fds(), fds);
}
