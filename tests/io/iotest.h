/*
 * tests/io/iotest.h - what the io tests share: error names for the event log, pipes and
 * socket pairs, and a run that also checks that no descriptor leaked.
 */
#ifndef CURIO_IOTEST_H
#define CURIO_IOTEST_H

#include "testutil.h"

#include "core.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* A short name for a result, for the event log. */
static inline const char *ename(long rc)
{
    static char other[32];
    switch (rc) {
    case 0: return "0";
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case -EBUSY: return "EBUSY";
    case -EBADF: return "EBADF";
    case -EMSGSIZE: return "EMSGSIZE";
    case -EPIPE: return "EPIPE";
    case -ECONNRESET: return "ECONNRESET";
    case -EPERM: return "EPERM";
    case -EINVAL: return "EINVAL";
    case -ENOMEM: return "ENOMEM";
    case -ESPIPE: return "ESPIPE";
    case -ENOENT: return "ENOENT";
    case -EEXIST: return "EEXIST";
    case CURIO_EINCOMPLETE: return "EINCOMPLETE";
    case CURIO_EUNFLUSHED: return "EUNFLUSHED";
    }
    snprintf(other, sizeof other, "%ld", rc);
    return other;
}

static inline void mkpipe(int p[2]) { cr_assert_eq(pipe2(p, O_CLOEXEC), 0); }

static inline void mksocks(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* Bytes waiting to be read on a pipe or socket. */
static inline int pending(int fd)
{
    int n = -1;
    cr_assert_eq(ioctl(fd, FIONREAD, &n), 0);
    return n;
}

static inline curio_stream *sopen(int fd, const curio_stream_options *o)
{
    curio_stream *s = NULL;
    int rc = curio_stream_open(&s, fd, o);
    cr_assert_eq(rc, 0, "stream_open: %s", curio_strerror(rc));
    return s;
}

/* Run fn as the main task and require that it left no descriptor open. */
static inline long run_io(curio_task_fn fn, void *arg)
{
    int fds = count_fds();
    long r = run_main(fn, arg);
    cr_assert_eq(count_fds(), fds, "a descriptor leaked");
    return r;
}

/* Yield until the task t is blocked in a state other than READY/RUNNING. */
static inline void until_blocked(curio_task *t)
{
    for (int i = 0; i < 1000; i++) {
        const char *st = curio_task_state(t);
        if (strcmp(st, "READY") && strcmp(st, "RUNNING"))
            return;
        curio_yield();
    }
    cr_assert_fail("task never blocked");
}

/* Yield until everything queued on the ring has been submitted to the kernel. */
static inline void until_submitted(void)
{
    curio_kernel *k = curio_kernel_current();
    while (io_uring_sq_ready(&k->ring))
        curio_yield();
}

/* Yield until t is blocked in an operation that the kernel has received and not
 * completed (for a read of a pipe with data, or a write that goes through in parts, that
 * is the operation after those that completed at once). */
static inline void until_in_flight(curio_task *t)
{
    for (int i = 0; i < 1000; i++) {
        until_blocked(t);
        until_submitted();
        if (t->op && !t->op->done)
            return;
    }
    cr_assert_fail("no operation stayed in flight");
}

/* Yield until the completion of t's operation has been reaped (t is then ready). */
static inline void until_op_done(curio_task *t)
{
    while (t->op && !t->op->done)
        curio_yield();
}

#endif
