/*
 * curio_subprocess_run and curio_subprocess_check_output: capture, input, the check flag
 * (CURIO_EPROCESS with the output still handed back), exec failures, and timeouts and
 * cancellation, after which the child has been killed and reaped, even when a grandchild
 * still holds its pipes open.
 */
#include "proctest.h"

static long capture_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    const char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 2", NULL};
    curio_run_options o = {.capture_output = true};
    curio_completed res;
    cr_assert_eq(curio_subprocess_run(argv, &o, &res), 0);
    cr_assert_eq(res.returncode, 2);
    cr_assert_str_eq(res.out, "out\n");
    cr_assert_str_eq(res.err, "err\n");
    curio_completed_free(&res);

    o.check = true;
    cr_assert_eq(curio_subprocess_run(argv, &o, &res), CURIO_EPROCESS);
    cr_assert_eq(res.returncode, 2);
    cr_assert_str_eq(res.out, "out\n", "CalledProcessError keeps the output");
    curio_completed_free(&res);

    const char *tr[] = {"tr", "a-z", "A-Z", NULL};
    curio_run_options in = {.input = "shout\n", .input_len = 6, .capture_output = true};
    cr_assert_eq(curio_subprocess_run(tr, &in, &res), 0);
    cr_assert_str_eq(res.out, "SHOUT\n");
    curio_completed_free(&res);

    /* nothing captured: out and err stay NULL */
    const char *t[] = {"true", NULL};
    cr_assert_eq(curio_subprocess_run(t, NULL, &res), 0);
    cr_assert_null(res.out);
    cr_assert_null(res.err);

    const char *missing[] = {"curio-test-no-such-program", NULL};
    cr_assert_eq(curio_subprocess_run(missing, &o, &res), -ENOENT);
    cr_assert_eq(curio_subprocess_run(NULL, &o, &res), -EINVAL);
    cr_assert_eq(curio_subprocess_run(t, &o, NULL), -EINVAL);
    cr_assert_eq(count_fds(), fds);
    return 0;
}

Test(run, capture_input_check_and_errors)
{
    run_main(capture_main, NULL);
    const char *t[] = {"true", NULL};
    curio_completed res;
    cr_assert_eq(curio_subprocess_run(t, NULL, &res), -EPERM);
}

/* ---- a timeout kills the child and reaps it; the captured part comes back ---- */

static long timeout_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"sh", "-c", "echo $$; exec sleep 1000", NULL};
    curio_run_options o = {.capture_output = true};
    curio_completed res;
    /* The child's pid comes from its output: a run whose timeout came before the shell
     * could print it (a loaded machine) is made again with twice the time. */
    for (double secs = 0.2;; secs *= 2) {
        curio_scope s;
        int64_t t0 = curio_clock();
        curio_timeout_after(&s, secs);
        int rc = curio_subprocess_run(argv, &o, &res);
        cr_assert_eq(curio_scope_close(&s), -ETIMEDOUT);
        cr_assert_eq(rc, -ETIMEDOUT);
        cr_assert_geq(secs_since(t0), secs);
        if (res.out && atoi(res.out) > 0)
            break;
        curio_completed_free(&res);
    }
    /* Killed, not waited for: a sleep of 1000 s that ended would say 0. */
    cr_assert_eq(res.returncode, -SIGKILL);
    pid_t pid = atoi(res.out);
    cr_assert_gt(pid, 0, "output: %s", res.out);
    cr_assert(reaped_already(pid), "reaped before run returned");
    curio_completed_free(&res);
    return 0;
}

Test(run, a_timeout_kills_and_reaps_the_child)
{
    run_main(timeout_main, NULL);
}

/* ---- a grandchild holding the pipes open cannot hang a timed-out run ---- */

static long grandchild_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"sh", "-c", "sleep 30 & echo $!; exec sleep 1000", NULL};
    curio_run_options o = {.capture_output = true};
    curio_completed res;
    /* As above, made again with more time if the shell had not printed yet. */
    for (double secs = 0.2;; secs *= 2) {
        curio_scope s;
        curio_timeout_after(&s, secs);
        int rc = curio_subprocess_run(argv, &o, &res);
        curio_scope_close(&s);
        cr_assert_eq(rc, -ETIMEDOUT);
        if (res.out && atoi(res.out) > 0)
            break;
        curio_completed_free(&res);
    }
    pid_t grandchild = atoi(res.out);
    cr_assert_gt(grandchild, 0);
    /* Returned without draining the pipes: the grandchild that holds them open runs on
     * (they would close only when its 30 s are over). */
    cr_assert(running(grandchild), "the grandchild still runs");
    kill(grandchild, SIGKILL); /* not ours to reap: it was reparented */
    curio_completed_free(&res);
    return 0;
}

Test(run, a_grandchild_holding_the_pipes_does_not_hang_a_timeout)
{
    run_main(grandchild_main, NULL);
}

/* ---- cancellation: the same ---- */

static char pidfile[] = "/tmp/curio-test-run-XXXXXX";

static long runner(void *arg)
{
    (void)arg;
    char script[128];
    snprintf(script, sizeof script, "echo $$ > %s; exec sleep 10", pidfile);
    const char *argv[] = {"sh", "-c", script, NULL};
    curio_run_options o = {.capture_output = true};
    curio_completed res;
    int rc = curio_subprocess_run(argv, &o, &res);
    ev("run %s code=%d", rcname(rc), res.returncode);
    curio_completed_free(&res);
    return rc;
}

/* The pid the child wrote, once it has exec'ed sleep; 0 until then. */
static pid_t started_child(void)
{
    FILE *f = fopen(pidfile, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    char path[64], comm[32] = {0};
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    if (pid <= 0 || !(f = fopen(path, "r")))
        return 0;
    bool slept = fgets(comm, sizeof comm, f) && strcmp(comm, "sleep\n") == 0;
    fclose(f);
    return slept ? pid : 0;
}

static long cancel_main(void *arg)
{
    (void)arg;
    int fd = mkstemp(pidfile);
    cr_assert_geq(fd, 0);
    close(fd);
    curio_task *t = curio_spawn(runner, NULL);
    pid_t pid;
    while (!(pid = started_child()))
        curio_sleep(0.001);
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert(curio_task_cancelled(t));
    curio_task_release(t);
    cr_assert(reaped_already(pid), "reaped before run returned");
    unlink(pidfile);
    return 0;
}

Test(run, cancellation_kills_and_reaps_the_child)
{
    expect_log(cancel_main, NULL, "run ECANCELED code=-9");
}

/* ---- check_output ---- */

static long check_output_main(void *arg)
{
    (void)arg;
    char *out = (char *)1;
    size_t len = 99;
    const char *echo[] = {"echo", "hello", NULL};
    cr_assert_eq(curio_subprocess_check_output(echo, NULL, &out, &len), 0);
    cr_assert_eq(len, 6);
    cr_assert_str_eq(out, "hello\n");
    free(out);

    const char *fails[] = {"sh", "-c", "echo some output; exit 1", NULL};
    cr_assert_eq(curio_subprocess_check_output(fails, NULL, &out, &len), CURIO_EPROCESS);
    cr_assert_str_eq(out, "some output\n", "the output of a failed program is still there");
    free(out);

    const char *both[] = {"sh", "-c", "echo a; echo b >&2", NULL};
    curio_run_options o = {.process.stderr_mode = CURIO_STDIO_STDOUT};
    cr_assert_eq(curio_subprocess_check_output(both, &o, &out, NULL), 0);
    cr_assert_str_eq(out, "a\nb\n");
    free(out);
    o.process.stderr_mode = CURIO_STDIO_PIPE; /* read and dropped */
    cr_assert_eq(curio_subprocess_check_output(both, &o, &out, NULL), 0);
    cr_assert_str_eq(out, "a\n");
    free(out);

    const char *t[] = {"true", NULL};
    cr_assert_eq(curio_subprocess_check_output(t, NULL, &out, &len), 0);
    cr_assert_str_eq(out, "", "no output is an empty string");
    cr_assert_eq(len, 0);
    free(out);

    const char *missing[] = {"curio-test-no-such-program", NULL};
    cr_assert_eq(curio_subprocess_check_output(missing, NULL, &out, &len), -ENOENT);
    cr_assert_null(out);
    cr_assert_eq(curio_subprocess_check_output(echo, NULL, NULL, NULL), -EINVAL);
    return 0;
}

Test(run, check_output)
{
    run_main(check_output_main, NULL);
}
