/*
 * tests/common/testutil.h - what every test file shares: an event log to check orderings
 * without sleeps, and a helper that runs one function as the main task of a kernel.
 */
#ifndef CURIO_TESTUTIL_H
#define CURIO_TESTUTIL_H

#include <criterion/criterion.h>
#include <curio.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- event log: ev("a"); ev("b%d", 1); ... cr_assert_str_eq(evlog, "a b1"); ---- */
static char evlog[8192];

static inline void ev_reset(void) { evlog[0] = 0; }

__attribute__((format(printf, 1, 2))) static inline void ev(const char *fmt, ...)
{
    size_t n = strlen(evlog);
    if (n && n + 1 < sizeof evlog)
        evlog[n++] = ' ', evlog[n] = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(evlog + n, sizeof evlog - n, fmt, ap);
    va_end(ap);
}

/* ---- run fn as the main task; asserts the kernel started and returns main's result ---- */
static inline long run_main(curio_task_fn fn, void *arg)
{
    long result = -12345;
    int rc = curio_run(fn, arg, NULL, &result);
    cr_assert_eq(rc, 0, "curio_run: %s", curio_strerror(rc));
    return result;
}

/* ---- run fn as the main task and require exactly this event log ---- */
#define expect_log(fn, arg, expected)                                                      \
    do {                                                                                   \
        ev_reset();                                                                        \
        run_main((fn), (arg));                                                             \
        cr_assert_str_eq(evlog, (expected));                                               \
    } while (0)

/* ---- open descriptors, to check for leaks ---- */
static inline int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the DIR's own descriptor */
}

static inline double secs_since(int64_t t0) { return (curio_clock() - t0) / 1e9; }

/* ---- a timeout that must end a wait, not prevent it ----
 * Run op(arg), a blocking call, under a timeout_after scope of `seconds`; return op's
 * result and set *closed to what closing the scope returned. The deadline is counted from
 * the opening of the scope, and a loaded machine can stop the task between that and op's
 * parking for longer than any short timeout: op then returns -ETIMEDOUT without having
 * waited (no switch happened), and the test, which meant to time out a task that stands in
 * a line, would see another order of events. That run proves nothing, changed nothing
 * (op refused before parking), and is repeated with twice the timeout. */
static inline int timeout_while_waiting(double seconds, int (*op)(void *), void *arg,
                                        int *closed)
{
    for (;; seconds *= 2) {
        curio_scope s;
        cr_assert_eq(curio_timeout_after(&s, seconds), 0);
        uint64_t cycles = curio_task_cycles(curio_current());
        int rc = op(arg);
        bool waited = curio_task_cycles(curio_current()) != cycles;
        int close = curio_scope_close(&s);
        if (rc == -ETIMEDOUT && !waited)
            continue;
        if (closed)
            *closed = close;
        return rc;
    }
}

/* The same for a call written in place: rc = call under a timeout_after scope of `seconds`,
 * closed = what closing it returned. For calls that make progress before they block (a
 * read that gets the bytes already there, then waits for more): a run in which the
 * deadline passed before the call could even start did nothing, and is repeated. */
#define TIMEOUT_WHILE_WAITING(seconds, rc, closed, call)                                    \
    do {                                                                                   \
        for (double sec_ = (seconds);; sec_ *= 2) {                                        \
            curio_scope sc_;                                                               \
            cr_assert_eq(curio_timeout_after(&sc_, sec_), 0);                              \
            uint64_t cycles_ = curio_task_cycles(curio_current());                         \
            (rc) = (call);                                                                 \
            bool waited_ = curio_task_cycles(curio_current()) != cycles_;                  \
            (closed) = curio_scope_close(&sc_);                                            \
            if ((rc) != -ETIMEDOUT || waited_)                                             \
                break;                                                                     \
        }                                                                                  \
    } while (0)

/* The same for a call that takes its timeout as an argument: op(arg, seconds). */
static inline int own_timeout_while_waiting(double seconds, int (*op)(void *, double),
                                            void *arg)
{
    for (;; seconds *= 2) {
        uint64_t cycles = curio_task_cycles(curio_current());
        int rc = op(arg, seconds);
        if (rc == -ETIMEDOUT && curio_task_cycles(curio_current()) == cycles)
            continue;
        return rc;
    }
}

#endif
