/*
 * tests/common/child.h - run a function in a forked child and report how it died, what it
 * printed on stderr and what it returned: for tests of fatal reports (stack overflow) and
 * of start-up failures that must not disturb the test process itself.
 */
#ifndef CURIO_TEST_CHILD_H
#define CURIO_TEST_CHILD_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct child_report {
    int status;        /* from waitpid */
    char err[16384];   /* the child's stderr (truncated) */
    size_t errlen;
    long value;        /* what fn returned, or LONG_MIN if it never returned */
} child_report;

static void run_in_child(long (*fn)(void *), void *arg, child_report *out)
{
    int errp[2], resp[2];
    cr_assert_eq(pipe2(errp, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(resp, O_CLOEXEC), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(errp[0]);
        close(resp[0]);
        if (dup2(errp[1], STDERR_FILENO) < 0)
            _exit(120);
        close(errp[1]);
        long v = fn(arg);
        ssize_t w = write(resp[1], &v, sizeof v);
        _exit(w == (ssize_t)sizeof v ? 0 : 121);
    }
    close(errp[1]);
    close(resp[1]);
    out->errlen = 0;
    for (;;) {
        char scratch[4096];
        char *dst = scratch;
        size_t room = sizeof scratch;
        if (out->errlen + 1 < sizeof out->err) {
            dst = out->err + out->errlen;
            room = sizeof out->err - 1 - out->errlen;
        }
        ssize_t n = read(errp[0], dst, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (dst != scratch)
            out->errlen += (size_t)n;
    }
    out->err[out->errlen] = 0;
    close(errp[0]);
    pid_t w;
    do
        w = waitpid(pid, &out->status, 0);
    while (w < 0 && errno == EINTR);
    cr_assert_eq(w, pid, "waitpid: %s", strerror(errno));
    long v;
    out->value = read(resp[0], &v, sizeof v) == (ssize_t)sizeof v ? v : LONG_MIN;
    close(resp[0]);
}

#endif
