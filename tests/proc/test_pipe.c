/*
 * The pipes of a child as curio streams: writing to stdin and reading stdout line by line
 * (the how-to's Popen with stdin and stdout pipes), end of file both ways, a read that
 * times out or is cancelled (no byte lost: the line comes later), and writing to a child
 * that has gone (-EPIPE, never SIGPIPE).
 */
#include "proctest.h"

static long both_directions_main(void *arg)
{
    (void)arg;
    const char *cat[] = {"cat", NULL};
    curio_process_options o = {.stdin_mode = CURIO_STDIO_PIPE, .stdout_mode = CURIO_STDIO_PIPE};
    curio_process *p = start(cat, &o);
    curio_stream *in = curio_process_stdin(p), *out = curio_process_stdout(p);
    char line[128];
    for (int i = 0; i < 3; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "line %d\n", i);
        cr_assert_eq(curio_stream_write(in, msg, (size_t)n, NULL), n);
        cr_assert_eq(curio_stream_readline(out, line, sizeof line), n);
        cr_assert_str_eq(line, msg);
    }
    cr_assert_eq(curio_process_close_stdin(p), 0);
    cr_assert_null(curio_process_stdin(p));
    cr_assert_eq(curio_process_close_stdin(p), -EINVAL, "closed already");
    cr_assert_eq(curio_stream_readline(out, line, sizeof line), 0, "end of file");
    int code;
    cr_assert_eq(curio_process_wait(p, &code), 0);
    cr_assert_eq(code, 0);
    curio_process_destroy(p);
    return 0;
}

Test(pipe, write_stdin_read_stdout_and_end_of_file)
{
    run_main(both_directions_main, NULL);
}

/* ---- much more than a pipe buffer through one pipe ---- */

static long large_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x", NULL};
    curio_process_options o = {.stdout_mode = CURIO_STDIO_PIPE};
    curio_process *p = start(argv, &o);
    char *data = NULL;
    size_t len = 0;
    cr_assert_eq(curio_stream_read_all(curio_process_stdout(p), &data, &len), 3000000);
    cr_assert_eq(len, 3000000);
    cr_assert_eq(data[0], 'x');
    cr_assert_eq(data[len - 1], 'x');
    free(data);
    cr_assert_eq(curio_process_wait(p, NULL), 0);
    curio_process_destroy(p);
    return 0;
}

Test(pipe, large_output_through_read_all)
{
    run_main(large_main, NULL);
}

/* ---- a pipe read that times out or is cancelled loses nothing ---- */

static long line_reader(void *arg)
{
    char line[64];
    ssize_t rc = curio_stream_readline(arg, line, sizeof line);
    ev("reader %s", rcname(rc < 0 ? rc : 0));
    return rc;
}

static long interrupted_read_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"sh", "-c", "read go; echo late line", NULL};
    curio_process_options o = {.stdin_mode = CURIO_STDIO_PIPE, .stdout_mode = CURIO_STDIO_PIPE};
    curio_process *p = start(argv, &o);
    curio_stream *out = curio_process_stdout(p);
    char line[64];
    curio_scope s;
    int64_t t0 = curio_clock();
    curio_timeout_after(&s, 0.05);
    ssize_t rc = curio_stream_readline(out, line, sizeof line);
    cr_assert_eq(curio_scope_close(&s), -ETIMEDOUT);
    cr_assert_eq(rc, -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.05);

    curio_task *t = curio_spawn(line_reader, out);
    while (strcmp(curio_task_state(t), "READ_WAIT"))
        curio_yield();
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);

    cr_assert_eq(curio_stream_write(curio_process_stdin(p), "go\n", 3, NULL), 3);
    cr_assert_eq(curio_stream_readline(out, line, sizeof line), 10);
    cr_assert_str_eq(line, "late line\n");
    cr_assert_eq(curio_process_wait(p, NULL), 0);
    curio_process_destroy(p);
    return 0;
}

Test(pipe, a_read_that_times_out_or_is_cancelled_loses_nothing)
{
    expect_log(interrupted_read_main, NULL, "reader ECANCELED");
}

/* ---- writing to a child that has exited: -EPIPE, and the process lives on ---- */

static long epipe_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"true", NULL};
    curio_process_options o = {.stdin_mode = CURIO_STDIO_PIPE};
    curio_process *p = start(argv, &o);
    cr_assert_eq(curio_process_wait(p, NULL), 0);
    static char big[1 << 20];
    ssize_t rc = curio_stream_write(curio_process_stdin(p), big, sizeof big, NULL);
    cr_assert(rc == -EPIPE || rc == -ECONNRESET, "got %zd", rc);
    curio_process_destroy(p);
    return 0;
}

Test(pipe, writing_to_a_child_that_has_gone_is_EPIPE_not_SIGPIPE)
{
    run_main(epipe_main, NULL);
}

/* ---- destroy while a task reads the child's stdout ---- */

static long destroy_reader_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"sleep", "10", NULL};
    curio_process_options o = {.stdout_mode = CURIO_STDIO_PIPE};
    curio_process *p = start(argv, &o);
    pid_t pid = curio_process_pid(p);
    int fds = count_fds();
    curio_task *t = curio_spawn(line_reader, curio_process_stdout(p));
    while (strcmp(curio_task_state(t), "READ_WAIT"))
        curio_yield();
    curio_process_destroy(p);
    long r;
    cr_assert_eq(curio_join(t, &r), 0);
    cr_assert_eq(r, -EBADF);
    curio_task_release(t);
    assert_reaped(pid);
    assert_fds(fds - 2); /* the pipe and the pidfd are closed */
    return 0;
}

Test(pipe, destroy_while_a_task_reads)
{
    expect_log(destroy_reader_main, NULL, "reader EBADF");
}
