/*
 * kernel/kernel.h - the kernel's private interface, for the layers above it (sync, io, net,
 * proc, monitor). Nothing here is exported from the library. Tasks and kernels are opaque
 * here: their records are the kernel's own (kernel/core.h), read by the layers through the
 * accessors below, and by tools such as the monitor through kernel/introspect.h.
 */
#ifndef CURIO_KERNEL_H
#define CURIO_KERNEL_H

#include "curio.h"
#include "arch/context.h"
#include "list.h"

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>

#define CURIO__HIDDEN __attribute__((visibility("hidden")))
#define CURIO__NO_DEADLINE INT64_MAX

/* user_data of SQEs whose completions carry nothing to deliver (cancel requests, linked
 * timeouts, the wake-up eventfd's re-arm). Real operations use the address of their
 * curio__op record, which is never this small. */
#define CURIO__UD_IGNORE 1u
#define CURIO__UD_WAKE 2u
#define CURIO__UD_MSG 3u    /* the CQE another kernel's IORING_OP_MSG_RING put in our ring */

/*
 * A CQE sink: the receiver of completions that belong to no one suspended task, such as a
 * multishot operation's (each CQE with IORING_CQE_F_MORE is one of a series; the last one
 * comes without it). The SQE's user_data is the sink's address with bit 0 set
 * (curio__sink_data); the ring calls fn for each of its CQEs, in the kernel's thread,
 * outside any task: fn must not block, and may wake tasks (curio__ready ...). The sink's
 * owner keeps it alive until its last CQE has been reaped, and counts that CQE in
 * k->inflight itself (curio__sink_armed / curio__sink_done) so that the kernel waits for it.
 */
typedef struct curio__sink {
    void (*fn)(struct curio__sink *sink, const struct io_uring_cqe *cqe);
} curio__sink;

static inline void curio__sink_data(struct io_uring_sqe *sqe, curio__sink *sink)
{
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)sink | 1u);
}

/* A sink's operation was queued (its last CQE is now due), and that last CQE came. */
CURIO__HIDDEN void curio__sink_armed(curio_kernel *k);
CURIO__HIDDEN void curio__sink_done(curio_kernel *k);

typedef struct curio_task curio__task;

/* One in-flight io_uring operation, living on the blocked task's stack. The task is not
 * resumed before the completion of *this* SQE has been reaped (the buffer invariant). */
typedef struct curio__op {
    curio__task *task;
    int res;                  /* the CQE's result, valid once done */
    uint32_t cqe_flags;
    int interrupt;            /* -ECANCELED/-ETIMEDOUT once an ASYNC_CANCEL was queued */
    bool done;
    bool linked_timeout;      /* an IOSQE_IO_LINK + LINK_TIMEOUT pair was submitted */
    bool claimed;             /* holds claim_fd's claim_dir (curio__op_begin_fd); released
                                 by curio__op_wait */
    uint8_t claim_dir;
    int claim_fd;
    bool claimed2;            /* the same for curio__op_begin_fd2's second descriptor */
    uint8_t claim_dir2;
    int claim_fd2;
    struct __kernel_timespec ts; /* the linked timeout's absolute deadline; read at submit */
    int64_t deadline;
} curio__op;

typedef struct curio__post {
    struct curio__post *next;
    void (*fn)(void *);
    void *arg;
    bool heap;                   /* made by curio_kernel_post (freed after fn ran); else
                                    owned by the poster (curio__post_node) */
} curio__post;

/* Make room for element number len in a doubling array (*arr of *cap elements of size
 * elem). Returns 0 or -ENOMEM, leaving the array as it was. */
CURIO__HIDDEN int curio__grow(void *arr, size_t *cap, size_t len, size_t elem);

/* --- the calling thread's kernel --- */
/* initial-exec: a plain %fs-relative load instead of a __tls_get_addr call on every trap.
 * It needs a little static TLS space, which glibc reserves even for dlopen'ed libraries. */
extern __thread curio_kernel *curio__tls_kernel CURIO__HIDDEN
    __attribute__((tls_model("initial-exec")));

/*
 * The fast paths. Every blocking call runs curio__self and curio__trap_check; they stay
 * inline, and read the first fields of the task and kernel records (core.h) through these
 * views of them: struct curio_task begins with cancel_requested and nscopes, struct
 * curio_kernel with current, of these types in this order (kernel/access.c checks it).
 * may_alias: the kernel writes those fields by their names in its records, and the views
 * must see what it writes. Read only.
 */
typedef struct __attribute__((may_alias)) curio__task_fast {
    bool cancel_requested;
    uint32_t nscopes;
} curio__task_fast;
typedef struct __attribute__((may_alias)) curio__kernel_fast {
    curio__task *current;
} curio__kernel_fast;

static inline curio__task *curio__self(void)
{
    const curio__kernel_fast *k = (const curio__kernel_fast *)(const void *)curio__tls_kernel;
    return k ? k->current : NULL;
}

/* --- scheduling (sched.c) --- */
CURIO__HIDDEN void curio__ready(curio__task *t);
CURIO__HIDDEN void curio__ready_with(curio__task *t, int result);
/* Give up the CPU until curio__ready() is called for the caller. */
CURIO__HIDDEN void curio__suspend(curio__task *self);
CURIO__HIDDEN void curio__task_exit(curio__task *self) __attribute__((noreturn));
CURIO__HIDDEN void curio__loop_until(curio_kernel *k, curio__task *until);
/* Prepare a new task's context to start in its function, on its stack but the top
 * `reserved` bytes (records placed there by curio__spawn_on_stack). */
CURIO__HIDDEN void curio__task_start_ctx(curio__task *t, size_t reserved);

/*
 * Probes: run a function on the stack of a suspended task, for the monitor's `where` (a
 * backtrace must be taken on the stack it describes). The prober switches to the task,
 * which, coming out of its switch in curio__suspend, finds k->exited set to CURIO__PROBING
 * (the test every resumption makes anyway for an ended task's stack: the hook costs
 * nothing more), calls fn, and switches straight back, still inside curio__suspend: it
 * never returns from its blocking call, and its state, cycles, wait queue, timer and
 * in-flight operation are untouched. fn runs with k->current set to the task (so a stack
 * overflow names it) and must not block, switch, or call into curio; it uses the task's
 * stack below the saved frames.
 */
#define CURIO__PROBING ((curio__task *)1)
typedef struct curio__probe {
    curio__task *task;                   /* the task to run fn on */
    void (*fn)(struct curio__probe *p);  /* called on task's stack */
    void *arg;                           /* fn's */
    curio__task *from;                   /* private: the prober */
} curio__probe;
/* Run p->fn(p) on p->task's stack and return when it has returned. p->task must be a task
 * of the caller's kernel that has run and is now suspended. Returns 0, -EPERM outside a
 * task, -EINVAL (NULL, the caller itself, another kernel's task, or one that has ended),
 * -EAGAIN (it has not started yet: there is no stack to look at). */
CURIO__HIDDEN int curio__probe_run(curio__probe *p);

/* --- traps (trap.c) --- */
CURIO__HIDDEN int curio__trap_check_slow(curio__task *self);
/* The common entry of every blocking call: -EPERM outside a task, -ECANCELED or
 * -ETIMEDOUT when one is due (sticky), else 0. Inline: a task with no cancellation
 * requested and no scope open passes with two loads. */
static inline int curio__trap_check(curio__task *self)
{
    const curio__task_fast *f = (const curio__task_fast *)(const void *)self;
    if (__builtin_expect(f && !f->cancel_requested && !f->nscopes, 1))
        return 0;
    return curio__trap_check_slow(self);
}
/* The deadline that applies to the caller's next blocking call (innermost first,
 * ignoring scopes outside an open disable_cancellation), or CURIO__NO_DEADLINE. */
CURIO__HIDDEN int64_t curio__effective_deadline(curio__task *self);
/* A scope's deadline was delivered (a blocking call returns -ETIMEDOUT because of it):
 * mark the applicable scopes whose deadline is <= when as expired. Call it exactly where
 * that -ETIMEDOUT is returned; an expiry nobody was told of is not one (curio_scope_close). */
CURIO__HIDDEN void curio__expire_scopes(curio__task *self, int64_t when);
/* An internal wait was told -ETIMEDOUT (rc) but its call completes anyway (a hand-off or a
 * job that finished first): the delivery did not reach the caller, so the scopes it marked
 * are not expired after all; the deadline stays passed and the next blocking call is told.
 * Returns 0, the call's result. */
CURIO__HIDDEN int curio__undeliver(curio__task *self, int rc);
/* A cancellation was just requested for t: its pending deadlines no longer apply (scope.c). */
CURIO__HIDDEN void curio__scopes_drop_deadlines(curio__task *t);
/* Park the calling task until something readies it (state names what for, for the
 * monitor): the base of every wait that is not I/O. Returns the waker's wake_result (0
 * when its own deadline passed), or -ECANCELED/-ETIMEDOUT (interrupted), -ENOMEM (no room
 * for a deadline in the timer heap), -EPERM outside a task. deadline is the wait's own
 * (a sleep's), or CURIO__NO_DEADLINE; the scopes' deadlines are added in. Waiting for
 * another task is a wait queue's business (kernel/waitq.h), which parks here (waitq.c). */
CURIO__HIDDEN int curio__park(const char *state, int64_t deadline);
/* Park until a waker readies the task, deaf to cancellation and to scope deadlines (for
 * waits that must end before the blocking call can return: re-taking a condition's lock,
 * a wake-up record still in flight from another thread). A cancellation requested
 * meanwhile is recorded and delivered at the next blocking call. The caller loops on its
 * own condition: a wake-up may be spurious. */
CURIO__HIDDEN void curio__park_nointr(curio__task *self, const char *state);
/* Interrupt whatever the task is blocked on with err; in-flight I/O gets an ASYNC_CANCEL
 * and the task wakes only when the operation's own completion arrives. */
CURIO__HIDDEN void curio__interrupt(curio__task *t, int err);

/* I/O traps: curio__op_begin does the trap checks, fixes the deadline and hands out an SQE
 * (never NULL: it submits when the ring is full, and leaves room for a linked timeout);
 * the caller prepares the SQE and calls curio__op_wait, which returns the operation's
 * result, or -ECANCELED/-ETIMEDOUT if it was cancelled before it completed. */
CURIO__HIDDEN int curio__op_begin(curio__op *op, struct io_uring_sqe **sqe);
/* The same for an operation on one direction of a descriptor: also claims it (see
 * fdclaim.c; -EBUSY if another task waits there) until curio__op_wait returns. */
CURIO__HIDDEN int curio__op_begin_fd(curio__op *op, struct io_uring_sqe **sqe, int fd,
                                     int dir);
CURIO__HIDDEN int curio__op_wait(curio__op *op, struct io_uring_sqe *sqe, const char *state);
/* Where curio__op_wait keeps a deadline: one at least curio__link_below ns past the
 * kernel's latest reading of the clock goes into the timer heap, a nearer one gets a
 * linked timeout SQE. A variable so that bench/ and tests can choose either path
 * (INT64_MAX: always a linked timeout; 0: always the heap). */
#define CURIO__LINK_BELOW_NS 1000000
extern int64_t curio__link_below CURIO__HIDDEN;
CURIO__HIDDEN struct io_uring_sqe *curio__sqe(curio_kernel *k);

/* --- waiting for another task: the wait queue (kernel/waitq.h); lists (kernel/list.h) --- */

/* --- time (time.c) --- */
/* Seconds to nanoseconds, rounded to nearest, for |seconds| < 9.2e9 (the callers clamp):
 * without libm's llround, so that the kernel needs nothing beyond libc and liburing. */
static inline int64_t curio__ns(double seconds)
{
    double ns = seconds * 1e9;
    return (int64_t)(ns < 0 ? ns - 0.5 : ns + 0.5);
}
/* CLOCK_MONOTONIC in ns; every deadline check in the library reads it here. */
CURIO__HIDDEN int64_t curio__now(void);
/* Tests only (NULL otherwise): sees every reading of curio__now and returns the time to
 * use instead, so that a test can move the clock past a deadline between any two checks. */
extern int64_t (*curio__clock_hook)(int64_t now) CURIO__HIDDEN;
CURIO__HIDDEN int curio__timer_add(curio_kernel *k, curio__task *t, int64_t when);
/* Move t's entry to `when` (or add one): 0 or -ENOMEM. */
CURIO__HIDDEN int curio__timer_set(curio_kernel *k, curio__task *t, int64_t when);
CURIO__HIDDEN void curio__timer_remove(curio_kernel *k, curio__task *t);
CURIO__HIDDEN int64_t curio__timer_next(curio_kernel *k);
CURIO__HIDDEN void curio__timers_fire(curio_kernel *k, int64_t now);

/* --- ring (ring.c) --- */
CURIO__HIDDEN int curio__ring_init(curio_kernel *k);
CURIO__HIDDEN void curio__ring_exit(curio_kernel *k);
/* Submit what is pending and reap completions; wait for at least one only if `wait`,
 * and then no later than `deadline` (CURIO__NO_DEADLINE: no limit). True if the wait
 * ended at its deadline. */
CURIO__HIDDEN bool curio__ring_poll(curio_kernel *k, bool wait, int64_t deadline);
CURIO__HIDDEN void curio__posts_run(curio_kernel *k);
/* curio_kernel_post with a node the caller owns and keeps valid until p->fn has run on the
 * kernel's thread (so it cannot fail: for completions that must not be lost). */
CURIO__HIDDEN void curio__post_node(curio_kernel *k, curio__post *p);

/* --- a kernel per core (cores.c, ring.c): curio__post_node between two kernels of one
 *     curio_cores_run wakes the receiver with IORING_OP_MSG_RING (see ring.c) --- */
/* The calling thread's place in a curio_cores_run (an address unique to it while the run
 * lasts), or NULL on a thread that is not a kernel of a run: what handles (kernel/gate.h)
 * are bound to, so that another kernel's use of one gets -EXDEV. */
extern __thread const void *curio__tls_core CURIO__HIDDEN
    __attribute__((tls_model("initial-exec")));
/* A MSG_RING sent by k to wake `to` completed with res (ring.c's completion path). */
CURIO__HIDDEN void curio__msg_sent(curio_kernel *k, curio_kernel *to, int res);

/* --- the worker-thread pool (thread.c) --- */
typedef struct curio__job {
    /* public: set by the caller */
    void (*work)(struct curio__job *j);   /* runs on a pool thread */
    void (*orphan)(struct curio__job *j); /* NULL: the waiting task always waits for work to
                                             finish, even when interrupted (j may live on
                                             its stack). Else, if the task is interrupted
                                             while work runs, curio__job_run returns at once
                                             and the pool thread calls orphan(j) after work;
                                             on any other failure (interrupted while
                                             queued, -EPERM, -EAGAIN) orphan(j) is called
                                             at once by curio__job_run and work never runs:
                                             for an orphanable job, any failure means j is
                                             no longer the caller's. j must be heap memory
                                             orphan frees, and work must touch nothing else
                                             the task owns. */
    bool ran;                             /* set by curio__job_run: work ran to its end */
    /* private */
    curio__list_node node;                /* the pool's queue, under its lock */
    curio_kernel *k;
    curio__task *task;
    _Atomic int state;                    /* QUEUED, RUNNING, DONE, ORPHANED (thread.c) */
    bool finished;                        /* the completion post has run (kernel thread) */
    curio__post post;
} curio__job;
/* Run j->work on a pool thread while the calling task waits (state: what the monitor
 * shows). 0: work ran to its end and j is the caller's again; this includes a task
 * cancelled or timed out meanwhile when j has no orphan: the call waited for work and the
 * interruption arrives at the next blocking call, as for an I/O result that raced with a
 * cancel. -ECANCELED/-ETIMEDOUT: work never ran (interrupted while queued), or j was
 * orphaned; for an orphanable j every failure means j is no longer the caller's (orphan
 * has been or will be called). j->ran is true exactly when 0
 * is returned. -EPERM outside a task; -EAGAIN if no pool thread could be started. */
CURIO__HIDDEN int curio__job_run(curio__job *j, const char *state);
/* Pool threads at work (or starting) plus jobs waiting for one: 0 once every job handed
 * to the pool, orphaned ones included, is over. For tests, which otherwise could only
 * guess with a sleep when an abandoned job has let go. */
CURIO__HIDDEN unsigned curio__pool_busy(void);

/* --- one waiter per direction per descriptor (fdclaim.c) --- */
enum { CURIO__FD_READ = 0, CURIO__FD_WRITE = 1 };
/* Claim direction dir of fd for self for the length of one blocking call. Returns 0
 * (claimed: unclaim when done), 1 (self already holds it: do not unclaim), -EBUSY
 * (another task is waiting there: Curio's ResourceBusy), -EBADF (fd < 0) or -ENOMEM. */
CURIO__HIDDEN int curio__fd_claim(curio__task *self, int fd, int dir);
CURIO__HIDDEN void curio__fd_unclaim(curio__task *self, int fd, int dir);
/* The task holding direction dir of fd, or NULL (for the monitor and for close). */
CURIO__HIDDEN curio__task *curio__fd_claimant(curio_kernel *k, int fd, int dir);

/* --- services: what the layers above start with every kernel (the monitor) --- */
/* Register start under name, to be called by curio_kernel_create once the kernel is set
 * up, outside any task. start returns 0, or the error that kept its service from starting,
 * which it has reported on stderr itself: the kernel runs either way. A layer registers
 * from a constructor of the object that holds its service, so that the kernel names no
 * layer above it: the service is there whenever that object is linked in (always with
 * the shared library; in a static link when the program names one of its calls), and a
 * program that uses only the kernel links with liburing and libc alone. Registering the
 * same start twice is a no-op; there is room for 4. */
CURIO__HIDDEN void curio__service_register(const char *name, int (*start)(curio_kernel *k));
/* Whether an environment variable's value says "no": unset, empty, or 0, no, off, false
 * (any case). For the switches of the services (CURIO_MONITOR). */
CURIO__HIDDEN bool curio__env_no(const char *value);

/* --- tasks (task.c) --- */
CURIO__HIDDEN int curio__spawn(curio_kernel *k, curio__task *parent, curio__task **out,
                               curio_task_fn fn, void *arg, const curio_spawn_options *o);
CURIO__HIDDEN void curio__task_maybe_free(curio__task *t);
/*
 * Spawn as curio_spawn_ex, with the task's record carved from the top bytes of its own
 * stack instead of the heap, and `room` bytes under it (16-byte aligned, zeroed) for the
 * caller: *roomp, which is also the task's arg. A parked task keeps its stack's top page
 * resident anyway, so records there cost no memory of their own. The record must outlive
 * the stack while a handle or a group holds it after the task ends: then the stack (its
 * pages) stays until the record is freed. Meant for tasks whose spawner releases its
 * handle at once (a server's connections). Returns 0, -EPERM (outside a task), -EINVAL
 * (fn NULL, or room too large for the stack), -ENOMEM.
 */
CURIO__HIDDEN int curio__spawn_on_stack(curio__task **out, curio_task_fn fn, size_t room,
                                        void **roomp, const curio_spawn_options *o);
CURIO__HIDDEN void curio__group_member_done(curio__task *t);
/* t has ended and was joined (curio_join): it leaves its group, as in Curio. */
CURIO__HIDDEN void curio__group_discard(curio__task *t);

/* --- the task and kernel records as the layers see them (access.c): the records are the
 *     kernel's own (core.h); a layer reads and sets what it needs through these --- */
CURIO__HIDDEN curio_kernel *curio__task_kernel(const curio__task *t);
CURIO__HIDDEN uint64_t curio__task_id(const curio__task *t);
/* Blocked in curio__park or curio__park_nointr (not in I/O): what a waker readies. */
CURIO__HIDDEN bool curio__task_parked(const curio__task *t);
/* Blocked on an io_uring operation (curio__op_wait). */
CURIO__HIDDEN bool curio__task_in_io(const curio__task *t);
/* Mark t as curio's own machinery (the monitor's tasks, the signal reader, channel
 * authenticators; set by its spawner): the monitor refuses to cancel it. */
CURIO__HIDDEN void curio__task_set_internal(curio__task *t);

/* --- a kernel's cache of empty pipes, for splicing (pipes.c) --- */
typedef struct curio__pipe {
    int rd, wr;        /* the read and write ends (O_CLOEXEC, blocking) */
    size_t size;       /* its capacity in bytes (F_GETPIPE_SZ) */
} curio__pipe;
#define CURIO__PIPES 4 /* the most a kernel keeps */
/* The size new pipes are asked to have (F_SETPIPE_SZ, 256 KiB); for benchmarks. */
extern size_t curio__pipe_size CURIO__HIDDEN;
/* An empty pipe from k's cache, or a new one: 0, or -EMFILE/-ENFILE/-ENOMEM. */
CURIO__HIDDEN int curio__pipe_get(curio_kernel *k, curio__pipe *p);
/* Give p back: kept if empty (no byte left in it) and there is room, else closed. A pipe
 * that may hold bytes must never be put back as empty. */
CURIO__HIDDEN void curio__pipe_put(curio_kernel *k, const curio__pipe *p, bool empty);
/* Close the cached pipes (curio_kernel_destroy). */
CURIO__HIDDEN void curio__pipes_destroy(curio_kernel *k);
/* How many pipes k keeps now (tests). */
CURIO__HIDDEN unsigned curio__pipes_cached(curio_kernel *k);

/* --- io_uring details every layer shares: the byte limit of one operation, the opcode
 *     probe, raw preps, the two-descriptor begin (uring.h) --- */
#include "uring.h"

#endif
