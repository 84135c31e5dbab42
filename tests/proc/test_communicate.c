/*
 * curio_process_communicate: input in, stdout and stderr out at the same time with no
 * deadlock whatever the amounts (several times a pipe buffer on each of the three), end
 * of file for the child, a child that does not read its input, and timeouts and
 * cancellation: the output read so far is handed back and the child is left running, to
 * be killed or communicated with again.
 */
#include "proctest.h"

static curio_process_options all_pipes(void)
{
    return (curio_process_options){.stdin_mode = CURIO_STDIO_PIPE,
                                   .stdout_mode = CURIO_STDIO_PIPE,
                                   .stderr_mode = CURIO_STDIO_PIPE};
}

static long basic_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    const char *cat[] = {"cat", NULL};
    curio_process_options o = all_pipes();
    curio_process *p = start(cat, &o);
    curio_completed res;
    cr_assert_eq(curio_process_communicate(p, "hello\n", 6, &res), 0);
    cr_assert_eq(res.returncode, 0);
    cr_assert_eq(res.out_len, 6);
    cr_assert_str_eq(res.out, "hello\n");
    cr_assert_eq(res.err_len, 0);
    cr_assert_str_eq(res.err, "");
    cr_assert(reaped_already(curio_process_pid(p)));
    curio_completed_free(&res);
    cr_assert_null(res.out);
    curio_process_destroy(p);

    /* no input: stdin is closed, cat ends; stdout not captured (inherited): NULL */
    o.stdout_mode = CURIO_STDIO_DEVNULL;
    p = start(cat, &o);
    cr_assert_eq(curio_process_communicate(p, NULL, 0, &res), 0);
    cr_assert_null(res.out);
    cr_assert_str_eq(res.err, "");
    curio_completed_free(&res);
    curio_process_destroy(p);
    cr_assert_eq(count_fds(), fds);
    return 0;
}

Test(communicate, input_output_and_end_of_file)
{
    run_main(basic_main, NULL);
}

/* ---- 2 MiB in, 2 MiB out on stdout and on stderr: tee needs all three at once ---- */

#define BIG (2u << 20)

static long large_main(void *arg)
{
    (void)arg;
    char *input = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        input[i] = (char)('a' + i % 26);
    const char *tee[] = {"tee", "/dev/stderr", NULL};
    curio_process_options o = all_pipes();
    curio_process *p = start(tee, &o);
    curio_completed res;
    cr_assert_eq(curio_process_communicate(p, input, BIG, &res), 0);
    cr_assert_eq(res.returncode, 0);
    cr_assert_eq(res.out_len, BIG);
    cr_assert_eq(res.err_len, BIG);
    cr_assert_eq(memcmp(res.out, input, BIG), 0);
    cr_assert_eq(memcmp(res.err, input, BIG), 0);
    curio_completed_free(&res);
    curio_process_destroy(p);

    /* the child fills stderr before it reads anything */
    const char *sh[] = {"sh", "-c", "head -c 1000000 /dev/zero >&2; cat", NULL};
    p = start(sh, &o);
    cr_assert_eq(curio_process_communicate(p, input, BIG, &res), 0);
    cr_assert_eq(res.err_len, 1000000);
    cr_assert_eq(res.out_len, BIG);
    curio_completed_free(&res);
    curio_process_destroy(p);
    free(input);
    return 0;
}

Test(communicate, more_than_a_pipe_buffer_everywhere_without_deadlock)
{
    run_main(large_main, NULL);
}

/* ---- a child that never reads its input is not an error ---- */

static long unread_main(void *arg)
{
    (void)arg;
    static char input[BIG];
    const char *sh[] = {"sh", "-c", "echo done; exit 4", NULL};
    curio_process_options o = all_pipes();
    curio_process *p = start(sh, &o);
    curio_completed res;
    cr_assert_eq(curio_process_communicate(p, input, sizeof input, &res), 0);
    cr_assert_eq(res.returncode, 4);
    cr_assert_str_eq(res.out, "done\n");
    curio_completed_free(&res);
    curio_process_destroy(p);
    return 0;
}

Test(communicate, a_child_that_does_not_read_its_input)
{
    run_main(unread_main, NULL);
}

/* ---- timeout: the partial output comes back, the child runs on ---- */

static const char *slow[] = {"sh", "-c", "echo partial; echo perr >&2; exec sleep 10", NULL};

static bool sleeping(pid_t pid);

static long timeout_main(void *arg)
{
    (void)arg;
    curio_process_options o = all_pipes();
    curio_process *p = start(slow, &o);
    curio_completed res;
    /* Not before the lines are in the pipes: a loaded machine may take longer than the
     * timeout to start a shell. */
    while (!sleeping(curio_process_pid(p)))
        curio_sleep(0.001);
    int64_t t0 = curio_clock();
    int rc, closed;
    TIMEOUT_WHILE_WAITING(0.2, rc, closed, curio_process_communicate(p, NULL, 0, &res));
    cr_assert_eq(closed, -ETIMEDOUT);
    cr_assert_eq(rc, -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.2);
    cr_assert_str_eq(res.out, "partial\n");
    cr_assert_str_eq(res.err, "perr\n");
    curio_completed_free(&res);
    cr_assert(running(curio_process_pid(p)), "left running, as Python does");
    /* kill it and communicate again: the rest (nothing), and the status */
    cr_assert_eq(curio_process_kill(p), 0);
    cr_assert_eq(curio_process_communicate(p, NULL, 0, &res), 0);
    cr_assert_str_eq(res.out, "");
    cr_assert_eq(res.returncode, -SIGKILL);
    curio_completed_free(&res);
    curio_process_destroy(p);
    return 0;
}

Test(communicate, timeout_hands_back_the_partial_output)
{
    run_main(timeout_main, NULL);
}

/* ---- cancellation while blocked: the same ---- */

struct call {
    curio_process *p;
    curio_completed res;
};

static long communicator(void *arg)
{
    struct call *c = arg;
    int rc = curio_process_communicate(c->p, NULL, 0, &c->res);
    ev("communicate %s", rcname(rc));
    return rc;
}

/* Once the child has exec'ed sleep, both lines are in the pipes. */
static bool sleeping(pid_t pid)
{
    char path[64], comm[32] = {0};
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool yes = fgets(comm, sizeof comm, f) && strcmp(comm, "sleep\n") == 0;
    fclose(f);
    return yes;
}

static long cancel_main(void *arg)
{
    (void)arg;
    curio_process_options o = all_pipes();
    struct call c = {.p = start(slow, &o)};
    pid_t pid = curio_process_pid(c.p);
    curio_task *t = curio_spawn(communicator, &c);
    while (!sleeping(pid))
        curio_sleep(0.001);
    curio_sleep(0.02); /* for the readers' completions to come in */
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert(curio_task_cancelled(t));
    curio_task_release(t);
    cr_assert_str_eq(c.res.out, "partial\n");
    cr_assert_str_eq(c.res.err, "perr\n");
    curio_completed_free(&c.res);
    cr_assert(running(pid));
    curio_process_destroy(c.p);
    assert_reaped(pid);
    return 0;
}

Test(communicate, cancellation_hands_back_the_partial_output)
{
    expect_log(cancel_main, NULL, "communicate ECANCELED");
}

/* ---- arguments ---- */

static long args_main(void *arg)
{
    (void)arg;
    const char *t[] = {"true", NULL};
    curio_process *p = start(t, NULL);
    curio_completed res;
    cr_assert_eq(curio_process_communicate(p, "x", 1, &res), -EINVAL, "no stdin pipe");
    cr_assert_eq(curio_process_communicate(NULL, NULL, 0, &res), -EINVAL);
    cr_assert_eq(curio_process_communicate(p, NULL, 0, NULL), -EINVAL);
    cr_assert_eq(curio_process_communicate(p, NULL, 0, &res), 0, "nothing to read: waits");
    cr_assert_eq(res.returncode, 0);
    curio_process_destroy(p);
    return 0;
}

Test(communicate, arguments)
{
    run_main(args_main, NULL);
    const char *t[] = {"true", NULL};
    curio_process *p = start(t, NULL);
    curio_completed res;
    cr_assert_eq(curio_process_communicate(p, NULL, 0, &res), -EPERM);
    curio_process_destroy(p);
}
