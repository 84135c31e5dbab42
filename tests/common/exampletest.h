/*
 * tests/common/exampletest.h - running examples as programs (the net and proc tests):
 * start one with its stdout on a pipe, read until a line appears, stop it by the pid
 * started here (SIGTERM), or run one to its end. The executables come from the build
 * through CURIO_EXAMPLE_<NAME> variables (the tests' meson.build).
 */
#ifndef CURIO_EXAMPLETEST_H
#define CURIO_EXAMPLETEST_H

#include "testutil.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

typedef struct xproc {
    pid_t pid;
    int out;               /* the child's stdout (and stderr, started by xstart) */
    char buf[16384];       /* everything it printed so far */
    size_t len;
} xproc;

/* Programs started by the running test, killed by the suite's fini if an assertion
 * fails half-way. */
static pid_t xstarted[8];
static int nxstarted;

static inline void xkill_started(void)
{
    for (int i = 0; i < nxstarted; i++)
        if (xstarted[i] > 0 && kill(xstarted[i], SIGKILL) == 0)
            waitpid(xstarted[i], NULL, 0);
    nxstarted = 0;
}

static inline void xforget(pid_t pid)
{
    for (int i = 0; i < nxstarted; i++)
        if (xstarted[i] == pid)
            xstarted[i] = 0;
}

static inline const char *xexample(const char *name)
{
    char var[64];
    snprintf(var, sizeof var, "CURIO_EXAMPLE_%s", name);
    for (char *c = var; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    const char *path = getenv(var);
    cr_assert_not_null(path, "%s is not set (run through meson test)", var);
    return path;
}

/* Start the example with its stdout (and its stderr too, if with_stderr) on p->out. */
static inline void xspawn(xproc *p, const char *name, const char *const *args,
                          bool with_stderr)
{
    const char *argv[16] = {xexample(name)};
    for (int n = 1; args && args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    int pfd[2];
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
    if (with_stderr)
        posix_spawn_file_actions_adddup2(&fa, pfd[1], STDERR_FILENO);
    int rc = posix_spawn(&p->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "spawn %s: %s", argv[0], strerror(rc));
    if (nxstarted < 8)
        xstarted[nxstarted++] = p->pid;
    close(pfd[1]);
    p->out = pfd[0];
    p->len = 0;
    p->buf[0] = 0;
}

/* Its stdout and stderr in p->buf, or its stdout only (stderr stays the test's). */
static inline void xstart(xproc *p, const char *name, const char *const *args)
{
    xspawn(p, name, args, true);
}

static inline void xstart_stdout(xproc *p, const char *name, const char *const *args)
{
    xspawn(p, name, args, false);
}

/* Read the output until it contains what (or it ends, or 10 s pass). */
static inline const char *xexpect(xproc *p, const char *what)
{
    while (!strstr(p->buf, what)) {
        struct pollfd pf = {.fd = p->out, .events = POLLIN};
        cr_assert_gt(poll(&pf, 1, 10000), 0, "no \"%s\" within 10 s; output: %s", what, p->buf);
        ssize_t n = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
        cr_assert_gt(n, 0, "output ended without \"%s\": %s", what, p->buf);
        p->len += (size_t)n;
        p->buf[p->len] = 0;
    }
    return strstr(p->buf, what);
}

/* The port of a "<what> listening at 127.0.0.1:PORT" line. */
static inline int xport(xproc *p, const char *what)
{
    char line[64];
    snprintf(line, sizeof line, "%s listening at 127.0.0.1:", what);
    const char *l = xexpect(p, line);
    xexpect(p, "\n");
    return atoi(l + strlen(line));
}

static inline void xstop(xproc *p)
{
    cr_assert_eq(kill(p->pid, SIGTERM), 0);
    int status;
    cr_assert_eq(waitpid(p->pid, &status, 0), p->pid);
    xforget(p->pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
              "it ran until stopped (status %#x); output: %s", status, p->buf);
    close(p->out);
}

/* Wait for the end of a program started with xstart; its exit status. */
static inline int xwait(xproc *p)
{
    for (;;) {
        struct pollfd pf = {.fd = p->out, .events = POLLIN};
        cr_assert_gt(poll(&pf, 1, 10000), 0, "it hangs; output: %s", p->buf);
        ssize_t n = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
        if (n <= 0)
            break;
        p->len += (size_t)n;
        p->buf[p->len] = 0;
    }
    close(p->out);
    int status;
    cr_assert_eq(waitpid(p->pid, &status, 0), p->pid);
    xforget(p->pid);
    cr_assert(WIFEXITED(status), "died (status %#x); output: %s", status, p->buf);
    return WEXITSTATUS(status);
}

static inline int xrun(xproc *p, const char *name, const char *const *args)
{
    xstart(p, name, args);
    return xwait(p);
}

static inline int xrun_stdout(xproc *p, const char *name, const char *const *args)
{
    xstart_stdout(p, name, args);
    return xwait(p);
}

#endif
