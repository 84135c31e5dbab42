/*
 * curio_popen: starting programs with argv, env and cwd; exec failures reported as error
 * codes (no child left behind); the standard descriptors (inherit, pipe, /dev/null, stderr
 * to stdout, a caller's descriptor); no descriptor of the parent reaching the child; the
 * child's signal mask; new sessions; destroy of a running child.
 */
#include "proctest.h"

#include <sys/stat.h>

static char out[65536];

/* Run argv with stdout piped, read all of it into out, wait; returns the returncode. */
static int output_of(const char *const *argv, curio_process_options o)
{
    o.stdout_mode = CURIO_STDIO_PIPE;
    curio_process *p = start(argv, &o);
    slurp(curio_process_stdout(p), out, sizeof out);
    int code = -1000;
    cr_assert_eq(curio_process_wait(p, &code), 0);
    cr_assert(reaped_already(curio_process_pid(p)), "waited for: no zombie");
    curio_process_destroy(p);
    return code;
}

static long echo_main(void *arg)
{
    (void)arg;
    const char *argv[] = {"echo", "hello", "world", NULL};
    cr_assert_eq(output_of(argv, (curio_process_options){0}), 0);
    cr_assert_str_eq(out, "hello world\n");
    return 0;
}

Test(spawn, runs_a_program_from_path_and_reads_its_output)
{
    run_main(echo_main, NULL);
}

/* ---- exec failures are error codes, and no child is left behind ---- */

static bool no_children(void)
{
    siginfo_t si;
    return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

static long exec_failure_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    curio_process *p = (curio_process *)1;
    const char *missing[] = {"/nonexistent/program", NULL};
    cr_assert_eq(curio_popen(&p, missing, NULL), -ENOENT);
    cr_assert_null(p);
    const char *not_in_path[] = {"curio-test-no-such-program", "x", NULL};
    cr_assert_eq(curio_popen(&p, not_in_path, NULL), -ENOENT);
    const char *not_executable[] = {"/etc/passwd", NULL};
    cr_assert_eq(curio_popen(&p, not_executable, NULL), -EACCES);
    const char *a_directory[] = {"/tmp", NULL};
    cr_assert_eq(curio_popen(&p, a_directory, NULL), -EACCES);
    /* also with pipes set up: they are closed again */
    curio_process_options o = {.stdin_mode = CURIO_STDIO_PIPE, .stdout_mode = CURIO_STDIO_PIPE,
                               .stderr_mode = CURIO_STDIO_PIPE};
    cr_assert_eq(curio_popen(&p, missing, &o), -ENOENT);
    const char *pwd[] = {"pwd", NULL};
    o.cwd = "/nonexistent-directory";
    cr_assert_eq(curio_popen(&p, pwd, &o), -ENOENT);
    cr_assert(no_children(), "a failed exec leaves no child (not even one that exits 127)");
    cr_assert_eq(count_fds(), fds);
    return 0;
}

Test(spawn, exec_failure_is_an_error_code_and_leaves_no_child)
{
    run_main(exec_failure_main, NULL);
}

static long bad_arguments_main(void *arg)
{
    (void)arg;
    curio_process *p;
    const char *argv[] = {"true", NULL};
    const char *empty[] = {NULL};
    cr_assert_eq(curio_popen(NULL, argv, NULL), -EINVAL);
    cr_assert_eq(curio_popen(&p, NULL, NULL), -EINVAL);
    cr_assert_eq(curio_popen(&p, empty, NULL), -EINVAL);
    curio_process_options o = {.stdout_mode = 42};
    cr_assert_eq(curio_popen(&p, argv, &o), -EINVAL);
    o = (curio_process_options){.stdin_mode = CURIO_STDIO_STDOUT};
    cr_assert_eq(curio_popen(&p, argv, &o), -EINVAL);
    o = (curio_process_options){.stdout_mode = CURIO_STDIO_FD, .stdout_fd = -1};
    cr_assert_eq(curio_popen(&p, argv, &o), -EINVAL);
    o = (curio_process_options){.stdout_mode = CURIO_STDIO_FD, .stdout_fd = 999};
    cr_assert_eq(curio_popen(&p, argv, &o), -EBADF);
    cr_assert(no_children());
    return 0;
}

Test(spawn, bad_arguments)
{
    run_main(bad_arguments_main, NULL);
}

/* ---- environment and working directory ---- */

static long env_cwd_main(void *arg)
{
    (void)arg;
    const char *env[] = {"CURIO_TEST=from the parent", "PATH=/usr/bin:/bin", NULL};
    const char *echo_var[] = {"sh", "-c", "echo \"$CURIO_TEST\"; echo ${HOME:-no home}", NULL};
    cr_assert_eq(output_of(echo_var, (curio_process_options){.env = env}), 0);
    cr_assert_str_eq(out, "from the parent\nno home\n");
    const char *pwd[] = {"pwd", NULL};
    cr_assert_eq(output_of(pwd, (curio_process_options){.cwd = "/usr"}), 0);
    cr_assert_str_eq(out, "/usr\n");
    return 0;
}

Test(spawn, environment_and_working_directory)
{
    run_main(env_cwd_main, NULL);
}

/* ---- the child gets exactly 0, 1, 2: no descriptor of the parent leaks into it ---- */

static long no_leak_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    int inheritable = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
    cr_assert_geq(inheritable, 3);
    int p[2];
    cr_assert_eq(pipe(p), 0);                      /* nor here */
    /* ls lists its own descriptor for the directory as well: 0 1 2 3 */
    const char *ls[] = {"ls", "/proc/self/fd", NULL};
    curio_process_options o = {.stdin_mode = CURIO_STDIO_PIPE, .stderr_mode = CURIO_STDIO_PIPE};
    cr_assert_eq(output_of(ls, o), 0);
    cr_assert_str_eq(out, "0\n1\n2\n3\n");
    close(inheritable);
    close(p[0]);
    close(p[1]);
    cr_assert_eq(count_fds(), fds, "popen, wait and destroy close everything they opened");
    return 0;
}

Test(spawn, no_descriptor_leaks_into_the_child_or_stays_behind)
{
    run_main(no_leak_main, NULL);
}

/* ---- the standard descriptors ---- */

static long stdio_main(void *arg)
{
    (void)arg;
    /* stdin from /dev/null: cat ends at once */
    const char *cat[] = {"cat", NULL};
    cr_assert_eq(output_of(cat, (curio_process_options){.stdin_mode = CURIO_STDIO_DEVNULL}), 0);
    cr_assert_str_eq(out, "");
    /* stderr into stdout */
    const char *both[] = {"sh", "-c", "echo out; echo err >&2; echo out again", NULL};
    cr_assert_eq(output_of(both, (curio_process_options){.stderr_mode = CURIO_STDIO_STDOUT}), 0);
    cr_assert_str_eq(out, "out\nerr\nout again\n");
    /* stdout to /dev/null, stderr piped */
    curio_process_options o = {.stdout_mode = CURIO_STDIO_DEVNULL,
                               .stderr_mode = CURIO_STDIO_PIPE};
    curio_process *p = start(both, &o);
    cr_assert_null(curio_process_stdout(p));
    cr_assert_null(curio_process_stdin(p));
    slurp(curio_process_stderr(p), out, sizeof out);
    cr_assert_str_eq(out, "err\n");
    int code;
    cr_assert_eq(curio_process_wait(p, &code), 0);
    cr_assert_eq(code, 0);
    curio_process_destroy(p);
    return 0;
}

Test(spawn, stdin_stdout_stderr_modes)
{
    run_main(stdio_main, NULL);
}

/* A pipeline, as Python's Popen(stdin=p1.stdout): echo | tr. */
static long pipeline_main(void *arg)
{
    (void)arg;
    const char *echo[] = {"echo", "through a pipeline", NULL};
    curio_process_options o1 = {.stdout_mode = CURIO_STDIO_PIPE};
    curio_process *p1 = start(echo, &o1);
    const char *tr[] = {"tr", "a-z", "A-Z", NULL};
    curio_process_options o2 = {.stdin_mode = CURIO_STDIO_FD,
                                .stdin_fd = curio_stream_fd(curio_process_stdout(p1))};
    cr_assert_eq(output_of(tr, o2), 0);
    cr_assert_str_eq(out, "THROUGH A PIPELINE\n");
    cr_assert_eq(curio_process_wait(p1, NULL), 0);
    curio_process_destroy(p1);
    /* the caller's descriptor may be 0, 1 or 2 itself: stdout to our stderr and back */
    const char *sh[] = {"sh", "-c", "echo to fd 2", NULL};
    int saved = dup(STDERR_FILENO);
    int pfd[2];
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    dup2(pfd[1], STDERR_FILENO);
    close(pfd[1]);
    curio_process_options o3 = {.stdout_mode = CURIO_STDIO_FD, .stdout_fd = STDERR_FILENO,
                                .stderr_mode = CURIO_STDIO_DEVNULL};
    curio_process *p3 = start(sh, &o3);
    dup2(saved, STDERR_FILENO);
    close(saved);
    cr_assert_eq(curio_process_wait(p3, NULL), 0);
    curio_process_destroy(p3);
    char buf[64] = {0};
    cr_assert_eq(read(pfd[0], buf, sizeof buf - 1), 8);
    cr_assert_str_eq(buf, "to fd 2\n");
    close(pfd[0]);
    return 0;
}

Test(spawn, a_callers_descriptor_and_a_pipeline)
{
    run_main(pipeline_main, NULL);
}

/* ---- new_session, and the signal mask a child starts with ---- */

static long session_main(void *arg)
{
    (void)arg;
    const char *sid[] = {"sh", "-c", "read pid comm state ppid pgrp sid rest < /proc/$$/stat; "
                         "echo $$ $sid $pgrp", NULL};
    curio_process_options o = {.new_session = true, .stdout_mode = CURIO_STDIO_PIPE};
    curio_process *p = start(sid, &o);
    slurp(curio_process_stdout(p), out, sizeof out);
    int pid = curio_process_pid(p), s = 0, g = 0, me = 0;
    cr_assert_eq(sscanf(out, "%d %d %d", &me, &s, &g), 3, "%s", out);
    cr_assert_eq(me, pid);
    cr_assert_eq(s, pid, "a session of its own");
    cr_assert_eq(g, pid, "a process group of its own");
    cr_assert_eq(curio_process_wait(p, NULL), 0);
    curio_process_destroy(p);
    return 0;
}

Test(spawn, new_session)
{
    run_main(session_main, NULL);
}

static long sigmask_main(void *arg)
{
    (void)arg;
    /* SIGUSR2 blocked by curio_enable_signals, SIGPWR by the program itself */
    int sigs[] = {SIGUSR2};
    cr_assert_eq(curio_enable_signals(sigs, 1), 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPWR);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    const char *grep[] = {"grep", "SigBlk", "/proc/self/status", NULL};
    cr_assert_eq(output_of(grep, (curio_process_options){0}), 0);
    unsigned long long mask = 0;
    cr_assert_eq(sscanf(out, "SigBlk: %llx", &mask), 1, "%s", out);
    cr_assert_eq(mask & (1ull << (SIGUSR2 - 1)), 0, "what curio blocked is unblocked: %s", out);
    cr_assert_neq(mask & (1ull << (SIGPWR - 1)), 0, "what the program blocked stays: %s", out);
    return 0;
}

Test(spawn, the_child_starts_without_the_signals_curio_blocks)
{
    run_main(sigmask_main, NULL);
}

/* ---- outside any task: popen works; destroy kills and reaps a running child ---- */

Test(spawn, outside_a_task_and_destroy_of_a_running_child)
{
    const char *sleep_[] = {"sleep", "1000", NULL};
    curio_process *p = start(sleep_, NULL);
    pid_t pid = curio_process_pid(p);
    cr_assert(running(pid));
    cr_assert_eq(curio_process_wait(p, NULL), -EPERM, "waiting is for tasks");
    cr_assert_eq(curio_process_poll(p, NULL), -EBUSY);
    int64_t t0 = curio_clock();
    curio_process_destroy(p);
    /* It does not wait for the child's 1000 s (a bound far from any machine's speed). */
    cr_assert_lt(secs_since(t0), 60.0, "destroy does not wait for the child");
    assert_reaped(pid);
    cr_assert(!running(pid), "killed");
    curio_process_destroy(NULL);
}
