/*
 * proc/wait.c - waiting for a child's exit through its pidfd on the kernel's ring, and the
 * calls that depend on its state: wait, poll, send_signal.
 *
 * Two ways to wait, chosen at run time. IORING_OP_WAITID (Linux 6.7) reaps the child in
 * one operation; liburing 2.3 does not know it, so its SQE is prepared by hand and the
 * opcode probed once per process. Older kernels poll the pidfd (readable once the child
 * has exited, Linux 5.3) and then reap it with waitid(WNOHANG) on the kernel's thread.
 * Either operation can be cancelled: an interrupted wait leaves the child unreaped.
 */
#include "proc.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
/* enum io_uring_op in Linux 6.7's uapi header; absent from liburing 2.3's copy. */
#define OP_WAITID 50

bool curio__proc_force_poll;

enum { PROBE_UNKNOWN, PROBE_YES, PROBE_NO };
static _Atomic int waitid_probe = PROBE_UNKNOWN;

static bool use_waitid(curio_kernel *k)
{
    if (curio__proc_force_poll)
        return false;
    int v = atomic_load_explicit(&waitid_probe, memory_order_relaxed);
    if (v == PROBE_UNKNOWN) {
        struct io_uring_probe *p = io_uring_get_probe_ring(curio__kernel_ring(k));
        if (!p)
            return false; /* out of memory: poll this time, ask again next time */
        v = io_uring_opcode_supported(p, OP_WAITID) ? PROBE_YES : PROBE_NO;
        io_uring_free_probe(p);
        atomic_store_explicit(&waitid_probe, v, memory_order_relaxed);
    }
    return v == PROBE_YES;
}

int curio__returncode(const siginfo_t *si)
{
    return si->si_code == CLD_EXITED ? si->si_status : -si->si_status;
}

int curio__pidfd_try_reap(int pidfd, bool peek, int *returncode)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG | (peek ? WNOWAIT : 0)) < 0)
        return -errno;
    if (si.si_pid == 0)
        return -EBUSY;
    *returncode = curio__returncode(&si);
    return 0;
}

/* One IORING_OP_WAITID: fills *si and reaps. si lives on the task's stack, which the
 * operation may write to until its own completion (the buffer invariant holds it). */
static int waitid_op(int pidfd, siginfo_t *si)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin(&op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_rw(OP_WAITID, sqe, pidfd, NULL, P_PIDFD, 0); /* len = idtype, fd = id */
    sqe->file_index = WEXITED;                                  /* the waitid options */
    sqe->addr2 = (uint64_t)(uintptr_t)si;                       /* infop */
    return curio__op_wait(&op, sqe, "PROC_WAIT");
}

static int poll_op(int pidfd)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin(&op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_poll_add(sqe, pidfd, POLLIN);
    rc = curio__op_wait(&op, sqe, "PROC_WAIT");
    return rc < 0 ? rc : 0;
}

static int reap_by_poll(int pidfd, int *returncode)
{
    for (;;) {
        int rc = poll_op(pidfd);
        if (rc < 0)
            return rc;
        rc = curio__pidfd_try_reap(pidfd, false, returncode);
        if (rc != -EBUSY)
            return rc;
    }
}

int curio__pidfd_reap(int pidfd, int *returncode)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (use_waitid(curio__task_kernel(self))) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int rc = waitid_op(pidfd, &si);
        if (rc == 0) {
            *returncode = curio__returncode(&si);
            return 0;
        }
        if (rc != -EINVAL)
            return rc;
        /* A kernel that lists the opcode but refuses a pidfd: poll from now on. */
        atomic_store_explicit(&waitid_probe, PROBE_NO, memory_order_relaxed);
    }
    return reap_by_poll(pidfd, returncode);
}

/* ---- the process object ---- */

static void reaped(curio_process *p, int rc, int code)
{
    if (rc == 0) {
        p->reaped = true;
        p->returncode = code;
    } else {
        p->lost = true; /* -ECHILD: reaped behind our back */
    }
    curio__waitq_wake_all(&p->waiters, 0);
}

/* With no reaper in flight: reap now if the child has ended already. */
static void try_reap(curio_process *p)
{
    int code = 0;
    int rc = curio__pidfd_try_reap(p->pidfd, false, &code);
    if (rc == 0 || rc == -ECHILD)
        reaped(p, rc, code);
}

int curio_process_wait(curio_process *p, int *returncode)
{
    if (!p)
        return -EINVAL;
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    int rc = curio__process_enter(p, self);
    if (rc < 0)
        return rc;
    if (!p->reaped && !p->lost && !p->reaper)
        try_reap(p); /* a wait that is over already is not a cancellation point */
    for (;;) {
        if (p->reaped || p->lost || p->gate.closing) {
            rc = p->reaped ? 0 : p->lost ? -ECHILD : -EBADF;
            break;
        }
        if (!p->reaper) {
            p->reaper = self;
            int code = 0;
            rc = curio__pidfd_reap(p->pidfd, &code);
            p->reaper = NULL;
            if (rc == 0 || rc == -ECHILD) {
                reaped(p, rc, code);
                continue;
            }
            /* Interrupted: the next waiter in line takes the wait over. */
            curio__task *next = curio__waitq_pop(&p->waiters);
            if (next)
                curio__ready_with(next, 0);
            break;
        }
        rc = curio__wait_on(&p->waiters, "PROC_WAIT", CURIO__NO_DEADLINE);
        if (rc < 0)
            break;
    }
    if (rc == 0 && returncode)
        *returncode = p->returncode;
    return curio__process_leave(p, rc);
}

int curio_process_poll(curio_process *p, int *returncode)
{
    if (!p)
        return -EINVAL;
    int code = 0;
    if (!p->reaped && !p->lost) {
        int rc = curio__pidfd_try_reap(p->pidfd, p->reaper != NULL, &code);
        if (rc == -EBUSY)
            return rc;
        if (rc == 0 && p->reaper) {
            if (returncode)
                *returncode = code;
            return 0;
        }
        reaped(p, rc == -ECHILD ? rc : 0, code);
    }
    if (p->lost)
        return -ECHILD;
    if (returncode)
        *returncode = p->returncode;
    return 0;
}

int curio_process_send_signal(curio_process *p, int sig)
{
    if (!p || sig < 0 || sig >= NSIG)
        return -EINVAL;
    if (p->reaped || p->lost || p->pidfd < 0)
        return 0;
    if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) < 0)
        return errno == ESRCH ? 0 : -errno;
    return 0;
}

int curio_process_terminate(curio_process *p) { return curio_process_send_signal(p, SIGTERM); }

int curio_process_kill(curio_process *p) { return curio_process_send_signal(p, SIGKILL); }
