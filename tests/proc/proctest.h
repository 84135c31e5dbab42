/*
 * tests/proc/proctest.h - what the proc tests share beyond tests/common/testutil.h:
 * starting the programs the tests use (sh, cat, ls, sleep: all in Debian's base system),
 * and checks that a child is gone for good (reaped: no zombie left).
 *
 * criterion 2.4's runner leaks when the tests of one binary have different .timeout
 * values (see tests/sync/synctest.h): keep every .timeout in a file the same.
 */
#ifndef CURIO_PROCTEST_H
#define CURIO_PROCTEST_H

#include "testutil.h"
#include "kernel.h"
#include "../../proc/proc.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* A short name for a result in event logs. */
static inline const char *rcname(long rc)
{
    switch (rc) {
    case 0: return "ok";
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case -EPERM: return "EPERM";
    case -EINVAL: return "EINVAL";
    case -EAGAIN: return "EAGAIN";
    case -EBUSY: return "EBUSY";
    case -EBADF: return "EBADF";
    case -ENOENT: return "ENOENT";
    case -EACCES: return "EACCES";
    case -ECHILD: return "ECHILD";
    case -EPIPE: return "EPIPE";
    case -ENOMEM: return "ENOMEM";
    case CURIO_EPROCESS: return "EPROCESS";
    case CURIO_EWORKERDIED: return "EWORKERDIED";
    default: return rc > 0 ? "positive" : "other";
    }
}

/* ---- signal masks ---- */

/* With the ucontext switch (-Dcontext=ucontext) every task context has a signal mask of
 * its own, so watched signals must be blocked before the kernel starts (curio/proc.h);
 * the tests then block theirs first (block_first, from a suite's init), and a signal
 * blocked first stays blocked after its last watcher. */
#ifdef CURIO_CTX_UCONTEXT
#define PER_CONTEXT_MASKS true
#else
#define PER_CONTEXT_MASKS false
#endif

static inline bool sig_blocked(int sig)
{
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    return sigismember(&now, sig);
}

/* What the mask should say of sig once its last watcher has gone. */
static inline bool mask_restored(int sig)
{
    return PER_CONTEXT_MASKS ? sig_blocked(sig) : !sig_blocked(sig);
}

static inline void block_first(const int *sigs, size_t n)
{
    if (PER_CONTEXT_MASKS)
        cr_assert_eq(curio_enable_signals(sigs, n), 0);
}

/* Start argv with the given options, asserting success. */
static inline curio_process *start(const char *const *argv, const curio_process_options *o)
{
    curio_process *p = NULL;
    int rc = curio_popen(&p, argv, o);
    cr_assert_eq(rc, 0, "popen %s: %s", argv[0], curio_strerror(rc));
    return p;
}

/* "sh -c script" with stdout piped (and the other options as given). */
static inline curio_process *shell(const char *script, curio_process_options o)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    return start(argv, &o);
}

/* True once pid is no longer a child of ours waiting to be reaped (no zombie). */
static inline bool reaped_already(pid_t pid)
{
    siginfo_t si;
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

/* Wait (20 s at least; background reaping takes a moment) until pid has been reaped. */
static inline void assert_reaped(pid_t pid)
{
    for (int i = 0; i < 20000 && !reaped_already(pid); i++)
        usleep(1000);
    cr_assert(reaped_already(pid), "child %d was not reaped", (int)pid);
}

/* Wait (20 s at least) until count_fds() == n: a background reaper closes a pidfd just
 * after it has reaped the child. */
static inline void assert_fds(int n)
{
    for (int i = 0; i < 20000 && count_fds() != n; i++)
        usleep(1000);
    cr_assert_eq(count_fds(), n);
}

/* Whether pid still runs (a zombie counts as ended). */
static inline bool running(pid_t pid)
{
    char path[64], state = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    int n = fscanf(f, "%*d %*s %c", &state);
    fclose(f);
    return n == 1 && state != 'Z' && state != 'X';
}

/* Read the whole stream into a static buffer (NUL-terminated); returns the length. */
static inline size_t slurp(curio_stream *s, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = curio_stream_read(s, buf + n, cap - 1 - n);
        cr_assert_geq(r, 0, "read: %s", curio_strerror((int)r));
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = 0;
    return n;
}

#endif
