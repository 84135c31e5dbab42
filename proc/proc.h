/*
 * proc/proc.h - the proc layer's private interface: the process object's layout and the
 * calls its files share (waiting on pidfds, background reaping, the signal mask children
 * start with). Nothing here is exported.
 */
#ifndef CURIO_PROC_PRIVATE_H
#define CURIO_PROC_PRIVATE_H

#include "../kernel/gate.h"
#include "../kernel/waitq.h"

#include <signal.h>

/*
 * A child process. Tasks inside a blocking call on it are counted by its gate
 * (kernel/gate.h): destroying it while they are inside only marks it closing and wakes
 * them with -EBADF; the last to leave frees it. Waiting: one task at a time has the pidfd wait
 * in flight (reaper); the others park on `waiters` and are woken when the status is known,
 * or (one of them) to take over when the reaper was interrupted.
 */
struct curio_process {
    pid_t pid;
    int pidfd;                /* owned; -1 once handed to the background reaper */
    curio_stream *std[3];     /* pipe streams for stdin, stdout, stderr, or NULL */
    bool reaped;              /* waited for: returncode is valid, the pid is gone */
    bool lost;                /* reaped by somebody else (-ECHILD): status unknown */
    int returncode;
    curio__task *reaper;      /* the task whose wait on the pidfd is in flight */
    curio__waitq waiters;     /* further tasks in curio_process_wait */
    curio__gate gate;         /* tasks inside a blocking call on p (no directions: the
                                 waiters queue behind the reaper instead) */
};

/* Free p: kill and reap the child if it runs (in the background), close the streams and
 * the pidfd (spawn.c). For curio_process_destroy, or the last user leaving a closing p. */
CURIO__HIDDEN void curio__process_free(curio_process *p);

/* Enter a blocking call on p: 0 or -EBADF (destroyed). */
static inline int curio__process_enter(curio_process *p, curio__task *self)
{
    return curio__gate_enter(&p->gate, self, 0);
}

/* Leave a blocking call on p and return rc, or -EBADF if p was destroyed meanwhile (then
 * it may be freed: do not touch it after). */
static inline int curio__process_leave(curio_process *p, int rc)
{
    if (__builtin_expect(curio__gate_leave_rc(&p->gate, 0, &rc), 0))
        curio__process_free(p);
    return rc;
}

/* ---- waiting for a child (wait.c) ---- */

/* Python's returncode from a waitid result: the exit code, or minus the signal. */
CURIO__HIDDEN int curio__returncode(const siginfo_t *si);

/* Wait for the child of pidfd to end and reap it, through io_uring (blocking: state
 * PROC_WAIT). 0 and *returncode, -ECANCELED/-ETIMEDOUT (not reaped; nothing in flight),
 * -ECHILD, -EPERM, -ENOMEM. */
CURIO__HIDDEN int curio__pidfd_reap(int pidfd, int *returncode);

/* Without waiting: 0 and *returncode if the child has ended (reaped, unless peek), -EBUSY
 * while it runs, or -errno (-ECHILD). */
CURIO__HIDDEN int curio__pidfd_try_reap(int pidfd, bool peek, int *returncode);

/* Tests set this to use the pidfd poll path even where IORING_OP_WAITID exists. */
extern bool curio__proc_force_poll CURIO__HIDDEN;

/* ---- starting and ending children (spawn.c, reap.c) ---- */

/* pidfd_open(2), or -errno (-ENOSYS before Linux 5.3). */
CURIO__HIDDEN int curio__pidfd_open(pid_t pid);

/* The child of pidfd has been sent SIGKILL: reap it and close pidfd, now if it has ended
 * already, else on a short-lived background thread (or, failing that, by waiting here).
 * Never blocks long: a killed child ends at once unless it is stuck in the kernel. */
CURIO__HIDDEN void curio__reap_in_background(int pidfd);

/* SIGKILL the child and reap it before returning (blocking the thread, not the task). */
CURIO__HIDDEN void curio__kill_and_reap_now(int pidfd);

/* Move fd to a number >= 3 (close-on-exec), so that the dup2s into a child's 0, 1, 2 never
 * clobber it. Returns the descriptor to use (fd itself, or its copy, fd then closed), or
 * -errno with fd closed. */
CURIO__HIDDEN int curio__fd_above_stdio(int fd);

/* ---- the signals curio blocks (sigmask.c) ---- */

/* Whether sig may be watched (see "Signals" in curio/proc.h). */
CURIO__HIDDEN bool curio__signal_watchable(int sig);
/* The set of signals[0..n): 0, or -EINVAL (NULL, n == 0, a signal not watchable). */
CURIO__HIDDEN int curio__signals_set(const int *signals, size_t n, sigset_t *set);
/* Count one more (one fewer) watcher of each signal of set on this thread: the first
 * blocks it here unless it was blocked already; the last unblocks what the first
 * blocked. */
CURIO__HIDDEN void curio__signals_watch(const sigset_t *set);
CURIO__HIDDEN void curio__signals_unwatch(const sigset_t *set);
/* The signal mask a child starts with: the calling thread's, less the signals curio
 * blocked (curio_enable_signals) or watches on this thread. */
CURIO__HIDDEN void curio__child_sigmask(sigset_t *mask);

/* ---- run_in_process workers (process_pool.c, worker.c) ---- */

/* The messages on a worker's socket. */
struct curio__work_req {
    uint64_t fn;              /* the curio_process_fn, valid in the fork */
    uint64_t len;             /* argument bytes that follow */
};
struct curio__work_resp {
    int32_t status;           /* 0, or -ENOMEM: the worker had no memory for the argument */
    int32_t unused;
    int64_t result;           /* what fn returned */
    uint64_t len;             /* result bytes that follow */
};

/* The worker's life after fork() (worker.c): never returns. sock is its end of the socket
 * pair, parent the pid of the process that forked it, mask its signal mask. */
CURIO__HIDDEN void curio__worker_main(int sock, pid_t parent, const sigset_t *mask)
    __attribute__((noreturn));

/* ---- signal watchers (signal.c reads, sigwatch.c is the public face) ---- */

struct curio__sighub;

/* What an event and a queue share: the signals watched, the tasks waiting, and the
 * gate's rule (kernel/gate.h). */
typedef struct curio__sigwatch {
    curio__list_node node;    /* in the hub's watchers */
    struct curio__sighub *hub;
    sigset_t set;
    curio__waitq waiters;
    curio__gate gate;         /* tasks inside a wait on it (kernel/gate.h; no
                                 directions: they wait on `waiters`) */
    bool is_queue;
    /* event */
    bool flag;
    int signo;                /* the last signal that set it */
    /* queue: ring[(head + i) % cap] for i < count, oldest first */
    int *ring;
    size_t cap, head, count;
    uint64_t dropped;
} curio__sigwatch;

/* Start watching w->set for w (in a task): blocks the signals here, widens the signalfd
 * of this kernel's hub (creating it and its reader task if needed), and delivers at once
 * what was pending. 0, -EPERM, -ENOMEM, or signalfd's error (nothing changed). */
CURIO__HIDDEN int curio__sigwatch_attach(curio__sigwatch *w);
/* Stop watching: deliver what has arrived, narrow the signalfd, restore the mask; the hub
 * and its reader go with the last watcher. Never blocks. */
CURIO__HIDDEN void curio__sigwatch_detach(curio__sigwatch *w);
/* Before a wait: make sure the hub's reader runs (it may have been cancelled from
 * outside). 0 or -ENOMEM. */
CURIO__HIDDEN int curio__sigwatch_reading(curio__sigwatch *w);
/* One arrival of signo for w (sigwatch.c): set the event, or queue it. */
CURIO__HIDDEN void curio__sigwatch_deliver(curio__sigwatch *w, int signo);

#endif
