/*
 * curio.h - Curio's task model for C, on io_uring.
 *
 * Read this header top to bottom as the manual. Conventions used everywhere:
 *
 *  - Every fallible call returns a negative error code (-errno, or one of the CURIO_E*
 *    codes below) or a non-negative result. errno is never the channel.
 *  - "Blocking" calls may only be made from inside a task. Called from anywhere else they
 *    return -EPERM at once. Every blocking call is a cancellation point: it returns
 *    -ECANCELED once the task has been cancelled, and -ETIMEDOUT once an enclosing timeout
 *    scope has expired (see "Timeouts"). A call that finds what it waits for already there
 *    (joining an ended task, next_done with an ended member queued) returns it without
 *    waiting and is then not a cancellation point, as in Curio.
 *  - Releasing things (release, cancel_nowait, closing a scope, task exit) never blocks.
 *    The one exception is leaving a task group (curio_group_destroy), which, like Curio's
 *    `async with TaskGroup()` exit, waits for the members it cancels.
 *  - A NULL task, scope, group or function where one is needed is -EINVAL (accessors that
 *    return no error code return NULL, 0 or false instead). Introspection calls (curio_task_id
 *    and friends) take a valid handle.
 *  - Durations are seconds as double, like Curio. Clock readings are nanoseconds.
 *  - Threads: a kernel and its tasks belong to the thread that created the kernel. Only
 *    curio_kernel_post, curio_clock and curio_strerror may be called from other threads.
 */
#ifndef CURIO_H
#define CURIO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CURIO_API __attribute__((visibility("default")))
#else
#define CURIO_API
#endif

#define CURIO_VERSION_MAJOR 0
#define CURIO_VERSION_MINOR 1
#define CURIO_VERSION_PATCH 0

/* ------------------------------------------------------------------------------------ */
/* Errors                                                                               */
/* ------------------------------------------------------------------------------------ */

/* Codes of curio's own, outside the errno range (Linux errno values stay below 4096). */
#define CURIO_ETASKCANCELLED   (-5001) /* the joined task ended by cancellation (TaskError) */
#define CURIO_ETIMEOUT_OUTER   (-5002) /* an enclosing scope expired (TimeoutCancellationError) */
#define CURIO_ETIMEOUT_LEAKED  (-5003) /* an inner scope expired and was left open
                                          (UncaughtTimeoutError) */
#define CURIO_ETASKFAILED      (-5004) /* a task group member failed */

/* A static string describing any code returned by curio (negative errno or CURIO_E*). */
CURIO_API const char *curio_strerror(int err);

/* ------------------------------------------------------------------------------------ */
/* Kernel                                                                               */
/* ------------------------------------------------------------------------------------ */

typedef struct curio_kernel curio_kernel;
typedef struct curio_task curio_task;

/*
 * A task function. Its return value is the task's result and follows the library's own
 * rule: non-negative is success (0 means "no result", like Python's None; pointers may be
 * returned as (long)(intptr_t)ptr), negative is a failure with that error code. A task that
 * returns -ECANCELED after its cancellation was delivered counts as cancelled.
 */
typedef long (*curio_task_fn)(void *arg);

/* Options for a kernel. Zero-initialise; every zero field means its default. */
typedef struct curio_options {
    size_t stack_size;      /* bytes of stack per task; default 128 KiB; rounded up to pages */
    unsigned ring_entries;  /* submission queue entries; default 256 (CQ is 4x) */
    unsigned stack_cache;   /* free guarded stacks (and task records) kept for reuse; more
                               are unmapped while the kernel is idle; default 4096 */
    unsigned guarded_stacks; /* stacks with a guard page (each costs two kernel VMAs) in
                               the whole process, fixed by the first kernel created;
                               default: half of vm.max_map_count minus 4096. Stacks past it
                               come from unguarded slabs (odd sizes: a mapping each), kept
                               for reuse until the kernel is destroyed; their overflow is
                               caught by a canary checked whenever the task switches out,
                               or by the fault handler, and may first corrupt a
                               neighbouring stack. */
    bool monitor;           /* start the monitor (see curio/monitor.h): a thread serving
                               ps, where, cancel ... on 127.0.0.1:48802; default off,
                               unless the environment variable CURIO_MONITOR turns it on */
    const char *monitor_address; /* "host:port" for the monitor to listen on ("[::1]:port"
                               for IPv6, "unix:/path" for a Unix socket of mode 0600; a
                               host name is resolved once, when the kernel is
                               created; port 0: a free port, see curio_monitor_address);
                               read by curio_kernel_create only; default NULL: the address
                               CURIO_MONITOR gives, else 127.0.0.1:48802 */
    bool quiet;             /* do not print start-up failures to stderr; default false */
    double monitor_idle_timeout; /* seconds a monitor connection may stay without sending
                               a command (or without reading a reply) before the monitor
                               closes it; default: CURIO_MONITOR_IDLE if set, else 300;
                               negative: never */
    unsigned recv_buffers;  /* buffers in the kernel's receive buffer ring (curio_recv_buf,
                               see curio/net.h), rounded up to a power of two; default
                               256, at most 32768 */
    unsigned recv_buffer_size; /* bytes per buffer of that ring; default 4096 */
    unsigned stall_ms;      /* the stall detector (see curio/monitor.h): when a task runs
                               this many milliseconds without a blocking call, its name,
                               how long and its C stack are printed once to stderr;
                               default 0: CURIO_STALL_MS if set, else off */
} curio_options;

/*
 * Run fn(arg) as the main task of a new kernel on this thread and return when it ends.
 * Then every task still alive is cancelled, newest first, and the kernel is destroyed.
 * Returns 0 with *result (if non-NULL) set to the main task's return value,
 * CURIO_ETASKCANCELLED if the main task was cancelled, or what curio_kernel_create
 * returned when the kernel could not start. opts may be NULL; it is copied.
 */
CURIO_API int curio_run(curio_task_fn fn, void *arg, const curio_options *opts, long *result);

/*
 * Create a kernel for the calling thread (one kernel per thread at a time). Returns 0, or
 * -EBUSY (this thread already has one), -ENOMEM, or the error that kept io_uring from
 * starting: -EPERM (kernel.io_uring_disabled, or a seccomp filter), -ENOSYS (no io_uring,
 * or a filter answering ENOSYS), -ENOMEM (ring memory). For those a message saying what
 * to change is printed to stderr unless opts->quiet. opts may be NULL; it is copied.
 */
CURIO_API int curio_kernel_create(curio_kernel **out, const curio_options *opts);

/*
 * Run fn(arg) as a main task until it ends; other tasks run meanwhile and those still
 * alive afterwards stay suspended until the next run or destroy. Same returns as curio_run.
 * -EBUSY if called from inside a task or on a kernel of another thread.
 */
CURIO_API int curio_kernel_run(curio_kernel *k, curio_task_fn fn, void *arg, long *result);

/* Cancel all remaining tasks, newest first, wait for them, run the posts still pending,
 * and free the kernel and every task record (handles still held become invalid). Must be
 * called on the thread that created it, outside curio_kernel_run (so not from a task or a
 * posted function); anywhere else it does nothing. Task groups not destroyed by then are
 * leaked. Posting to a kernel while it is being destroyed is not allowed. */
CURIO_API void curio_kernel_destroy(curio_kernel *k);

/*
 * Thread-safe: from any thread, ask kernel k to call fn(arg) on its own thread, outside any
 * task, soon: while curio_kernel_run is running (or, at the latest, in curio_kernel_destroy).
 * Wakes the kernel if it is waiting. fn must not block; it may call curio_cancel_nowait.
 * This is the bridge that thread pools and thread-safe queues are built on. k must not be
 * destroyed before the call returns. Returns 0, or -ENOMEM.
 */
CURIO_API int curio_kernel_post(curio_kernel *k, void (*fn)(void *arg), void *arg);

/* The kernel running the calling thread's tasks, or NULL. */
CURIO_API curio_kernel *curio_kernel_current(void);

/* ------------------------------------------------------------------------------------ */
/* Tasks                                                                                */
/* ------------------------------------------------------------------------------------ */

/*
 * Task handles. A handle returned by spawn belongs to the caller and stays valid (even
 * after the task ended) until curio_task_release() or the kernel's destruction. Releasing
 * a handle does not cancel the task; it runs on and its record is freed when it ends.
 */

/* Options for curio_spawn_ex(). Zero-initialise; zero means default. */
typedef struct curio_spawn_options {
    const char *name;   /* copied (up to 31 bytes); default: "task-<id>" */
    bool daemon;        /* a daemon task: not waited for by task groups; default false */
    size_t stack_size;  /* default: the kernel's */
} curio_spawn_options;

/*
 * Queue fn(arg) as a new task and return its handle; does not switch (the new task runs
 * when the caller blocks or yields). The child inherits the caller's task-local values.
 * The function always runs, even if the task is cancelled before it starts (its first
 * blocking call then returns -ECANCELED), so it can always release what arg owns.
 * Returns NULL with no task created if called outside a task (errno is not set; use
 * curio_spawn_ex for the error code) or out of memory.
 */
CURIO_API curio_task *curio_spawn(curio_task_fn fn, void *arg);

/* As curio_spawn with options; returns 0 and *out, or -EPERM (outside a task), -EINVAL
 * (fn is NULL), -ENOMEM. opts may be NULL. */
CURIO_API int curio_spawn_ex(curio_task **out, curio_task_fn fn, void *arg,
                             const curio_spawn_options *opts);

/* Take another handle on t (for example on curio_current(), to keep it past the task's
 * end); each handle is released once. Returns t. */
CURIO_API curio_task *curio_task_retain(curio_task *t);

/* Drop one handle. The record is freed once the task has ended and no handle is left. */
CURIO_API void curio_task_release(curio_task *t);

/*
 * Wait for t to end (blocking: state TASK_JOIN). Returns
 *   0                     t returned; *result (if non-NULL) = its return value, which is
 *                         negative if t failed
 *   CURIO_ETASKCANCELLED  t ended because it was cancelled
 *   -ECANCELED/-ETIMEDOUT the caller was cancelled or timed out; t goes on unaffected
 *   -EDEADLK              t is the caller
 *   -EINVAL               t belongs to another kernel
 * The handle stays valid; join any number of times. Joining a task that has already ended
 * returns its outcome at once, without being a cancellation point.
 */
CURIO_API int curio_join(curio_task *t, long *result);

/* Wait for t to end without reading its outcome (Curio's task.wait()). 0, the caller's own
 * -ECANCELED/-ETIMEDOUT, -EDEADLK or -EINVAL as for curio_join. */
CURIO_API int curio_task_wait(curio_task *t);

/*
 * Cancel t and wait until it has ended (Curio's await task.cancel()). Cancelling a task
 * that already ended, or a second time, just waits. Returns 0 once t has ended, the
 * caller's own -ECANCELED/-ETIMEDOUT (the request stays made), or -EDEADLK for oneself.
 */
CURIO_API int curio_cancel(curio_task *t);

/* Request cancellation of t without waiting. Never blocks; callable on oneself (the
 * cancellation then arrives at one's next blocking call) and from code posted with
 * curio_kernel_post. Returns 0, or -EPERM when called on another thread than t's kernel. */
CURIO_API int curio_cancel_nowait(curio_task *t);

/* Yield to the other ready tasks (Curio's sleep(0)). A cancellation point. */
CURIO_API int curio_yield(void);

/* The calling task, or NULL outside tasks. The pointer is valid while the task runs; to
 * keep it longer, take a handle with curio_task_retain. */
CURIO_API curio_task *curio_current(void);

/* Introspection: valid on any live handle. */
CURIO_API uint64_t curio_task_id(const curio_task *t);        /* 1, 2, 3 ... per kernel */
CURIO_API uint64_t curio_task_parent_id(const curio_task *t); /* 0 for a main task */
CURIO_API const char *curio_task_name(const curio_task *t); /* valid until renamed/freed */
CURIO_API int curio_task_set_name(curio_task *t, const char *name); /* copies; -EINVAL */
CURIO_API const char *curio_task_state(const curio_task *t);  /* "READY", "RUNNING",
                                         "TIME_SLEEP", "TASK_JOIN", ..., "TERMINATED" */
CURIO_API uint64_t curio_task_cycles(const curio_task *t);    /* times scheduled */
CURIO_API bool curio_task_daemon(const curio_task *t);
CURIO_API bool curio_task_done(const curio_task *t);          /* has ended */
CURIO_API bool curio_task_cancelled(const curio_task *t);     /* ended by cancellation */
/* A cancellation was requested while t was alive (by anyone: curio_cancel, a group, a
 * shutdown), whether or not t has ended or ended by it: Curio's `t.cancelled`. */
CURIO_API bool curio_task_cancel_requested(const curio_task *t);
/* The task group t is a member of, or NULL (never added, or left it: see "Task groups"):
 * Curio's `t.taskgroup`. */
CURIO_API struct curio_group *curio_task_group(const curio_task *t);

/* t's outcome once ended: 0 and *result, CURIO_ETASKCANCELLED, or -EBUSY if still alive. */
CURIO_API int curio_task_result(const curio_task *t, long *result);

/* ------------------------------------------------------------------------------------ */
/* Time                                                                                 */
/* ------------------------------------------------------------------------------------ */

/* CLOCK_MONOTONIC in nanoseconds. Usable anywhere. */
CURIO_API int64_t curio_clock(void);

/* Sleep (state TIME_SLEEP). Returns the clock at wake-up (positive), or -ECANCELED,
 * -ETIMEDOUT, -EPERM, -EINVAL (negative or NaN seconds). curio_sleep(0) yields. */
CURIO_API int64_t curio_sleep(double seconds);

/* ------------------------------------------------------------------------------------ */
/* Timeouts                                                                             */
/* ------------------------------------------------------------------------------------ */

/*
 * A timeout scope around a block of code, Curio's `async with timeout_after(s)` /
 * `ignore_after(s)`. The scope lives in the caller's stack frame:
 *
 *     curio_scope s;
 *     curio_timeout_after(&s, 2.0);
 *     rc = do_work();                 // blocking calls here may return -ETIMEDOUT
 *     rc = curio_scope_close(&s);     // -ETIMEDOUT if *this* scope expired
 *
 * When the deadline passes, the call blocked at that moment returns -ETIMEDOUT, and every
 * later blocking call inside the scope returns -ETIMEDOUT at once, until it is closed.
 * Scopes nest; close them in LIFO order on the task that opened them. A scope has expired
 * only when its deadline was delivered: a blocking call inside it returned -ETIMEDOUT
 * because of it (also a deferred one, after a disable_cancellation scope closed). A
 * deadline that passed while nothing blocked is not an expiry (Curio discards it, at most
 * logging a "Badness delta"): the work finished, and its result stands. Once a
 * cancellation has been requested, the deadlines of the scopes then open are dropped
 * (Curio's first step of a cancel), except those opened inside a disable_cancellation
 * scope, which bound the cleanup. curio_scope_close returns, first match wins:
 *   -EINVAL                s is not open on the calling task (never opened, or closed)
 *   CURIO_ETIMEOUT_OUTER   an enclosing scope's deadline was delivered too; keep unwinding to it
 *                          (Curio's TimeoutCancellationError)
 *   CURIO_ETIMEOUT_LEAKED  an inner scope, left open by code that returned without closing
 *                          it, had expired (UncaughtTimeoutError). Inner scopes still open
 *                          are closed along with s in any case.
 *   -ETIMEDOUT             this timeout_after scope's own deadline passed (TaskTimeout)
 *   0                      otherwise; also when an ignore_after scope's own deadline passed
 *                          (see curio_scope_expired)
 * Closing is never a cancellation point. The curio_scope may live anywhere (a frame, a
 * struct); curio only reads it when it is passed in.
 */
typedef struct curio_scope {
    /* private: the library's, set by the opening call. The scope's state lives in the
     * task's own record, so a scope whose frame is gone is never read. */
    void *task;           /* the task that opened it; NULL once closed */
    uint64_t id;          /* matches the task's record while open */
    uint32_t depth;       /* its index in the task's stack of scopes */
    bool expired;         /* the final answer, written by close */
} curio_scope;

/* Open a scope that expires `seconds` from now: negative or NaN means already expired,
 * INFINITY means no deadline (Curio's timeout_after(None)). Returns 0, -EPERM outside a
 * task, or -ENOMEM. */
CURIO_API int curio_timeout_after(curio_scope *s, double seconds);
CURIO_API int curio_ignore_after(curio_scope *s, double seconds);
/* The same with an absolute deadline in curio_clock() nanoseconds. */
CURIO_API int curio_timeout_at(curio_scope *s, int64_t deadline_ns);
CURIO_API int curio_ignore_at(curio_scope *s, int64_t deadline_ns);

CURIO_API int curio_scope_close(curio_scope *s);
/* True once this scope's own deadline has been delivered (for ignore_after's
 * `if s.expired`); after close, what close decided. */
CURIO_API bool curio_scope_expired(const curio_scope *s);

/*
 * The function forms, Curio's `await timeout_after(s, coro())`: run fn(arg) in the calling
 * task under a new scope, and return what curio_scope_close returned (0, -ETIMEDOUT,
 * CURIO_ETIMEOUT_OUTER, ...). fn's return value always reaches *result (if non-NULL), so
 * nothing fn completed is ever lost: when the deadline was delivered it is whatever fn
 * made of its -ETIMEDOUT. ignore_after_call returns 0 when its own deadline was delivered
 * and always sets *expired (if non-NULL). -EPERM outside a task, -EINVAL without fn.
 */
CURIO_API int curio_timeout_after_call(double seconds, curio_task_fn fn, void *arg,
                                       long *result);
CURIO_API int curio_ignore_after_call(double seconds, curio_task_fn fn, void *arg,
                                      long *result, bool *expired);

/* ------------------------------------------------------------------------------------ */
/* Cancellation control                                                                 */
/* ------------------------------------------------------------------------------------ */

/*
 * Curio's `async with disable_cancellation()`: inside the scope, cancellation and the
 * deadlines of timeout scopes opened outside it are deferred; blocking calls work normally.
 * A timeout scope opened inside it still applies. Close it with curio_scope_close (which
 * returns 0, or CURIO_ETIMEOUT_LEAKED as for any scope). Then a pending cancellation is
 * delivered at the next blocking call (-ECANCELED), and an outer deadline that passed
 * meanwhile makes it return -ETIMEDOUT. Scopes nest. Returns 0, -EPERM or -ENOMEM.
 */
CURIO_API int curio_disable_cancellation(curio_scope *s);

/* -ECANCELED if a cancellation has been requested for the calling task (even while
 * deferred by disable_cancellation), -ETIMEDOUT if an applicable scope has expired, else 0,
 * or -EPERM outside a task. Never blocks (Curio's check_cancellation()). A task that
 * returns the -ECANCELED it got here counts as cancelled. */
CURIO_API int curio_check_cancellation(void);

/* ------------------------------------------------------------------------------------ */
/* Task-local storage                                                                   */
/* ------------------------------------------------------------------------------------ */

/*
 * A key, usually a static variable: `static curio_local request_id;`. Values are plain
 * pointers, not owned by curio. A spawned task starts with a copy of its parent's values;
 * later changes on either side are not seen by the other (Curio's Local).
 */
typedef struct curio_local {
    const char *name; /* optional, for diagnostics */
} curio_local;

/* The calling task's value for key, or NULL (also outside tasks). */
CURIO_API void *curio_local_get(const curio_local *key);
/* Set it; NULL erases (so NULL is the one value that cannot be stored). Returns 0, -EPERM
 * outside a task, -ENOMEM. */
CURIO_API int curio_local_set(const curio_local *key, void *value);

/* ------------------------------------------------------------------------------------ */
/* Task groups                                                                          */
/* ------------------------------------------------------------------------------------ */

typedef struct curio_group curio_group;

/*
 * Membership follows Curio: a task is a member of at most one group at a time, and leaves
 * it when curio_group_next_done (or next_result) returns it, when curio_join collects it,
 * or when curio_group_cancel_remaining cancels it. Only members are waited for, examined
 * by join, cancelled by the group and listed by curio_group_tasks/results/exceptions. The
 * group holds every task that was ever its member until curio_group_destroy, so a task it
 * handed out stays valid that long (retain it to keep it longer; do not release what you
 * did not retain).
 */

/* What curio_group_join waits for (Curio's TaskGroup(wait=...)). In every mode a member
 * that failed (returned negative, not by cancellation) ends the wait, as in Curio. */
enum curio_wait {
    CURIO_WAIT_ALL = 0,  /* every member */
    CURIO_WAIT_ANY,      /* the first member to end, however it ended */
    CURIO_WAIT_OBJECT,   /* the first member to return a positive (non-empty) result */
    CURIO_WAIT_NONE,     /* nothing: cancel every member at once */
};

/* Create a group. Any task of the same kernel may spawn into it, wait on it or join it;
 * the task that leaves its scope destroys it. Returns 0, -EPERM (outside a task), -EINVAL
 * (bad wait mode), -ENOMEM. */
CURIO_API int curio_group_create(curio_group **out, enum curio_wait wait);

/* Spawn a member. A daemon member (opts->daemon) is never reported by next_done, waited
 * for or listed by the results accessors; it is only cancelled when the group is joined
 * or destroyed. Returns 0, -EPERM (outside a task or another kernel's group), -EINVAL
 * (the group was joined already), -ENOMEM. out may be NULL. */
CURIO_API int curio_group_spawn(curio_group *g, curio_task **out, curio_task_fn fn,
                                void *arg, const curio_spawn_options *opts);

/* Curio's g.add_task(t), and TaskGroup(tasks=[...]) as create + add_task: make a task of
 * this kernel a member, running or ended, daemon or not (an ended one is queued for
 * next_done at once). The group takes a handle of its own; yours stays yours. Returns 0,
 * -EBUSY (t is a member of a group already, this one or another), -EINVAL (t NULL or of
 * another kernel, or the group was joined already), -EPERM as for spawn, -ENOMEM. */
CURIO_API int curio_group_add_task(curio_group *g, curio_task *t);

/* Wait for the next member to end and return it in *out (in order of ending); it leaves
 * the group. Returns 0, -ENOENT when no member is left to wait for, or the caller's own
 * -ECANCELED/-ETIMEDOUT. */
CURIO_API int curio_group_next_done(curio_group *g, curio_task **out);

/* next_done, then that member's outcome: 0 and *result, the member's failure as
 * CURIO_ETASKFAILED (*result = its negative return), CURIO_ETASKCANCELLED, -ENOENT, or own
 * error. */
CURIO_API int curio_group_next_result(curio_group *g, long *result);

/*
 * Wait according to the group's wait mode, then cancel any member still running (daemons
 * included) and wait for it; afterwards no member can be added. The members join examined
 * or cancelled stay members. Returns 0; CURIO_ETASKFAILED if the wait was ended by a
 * member that failed, which cancelled the rest (only members count: one taken out by
 * next_done or curio_join does not); the caller's own -ECANCELED/-ETIMEDOUT (the remaining
 * members are then cancelled too, in a disable_cancellation scope, before returning); or
 * -EPERM. (Curio 1.0+ raises nothing here; see docs/curio-mapping.md.)
 */
CURIO_API int curio_group_join(curio_group *g);

/* Cancel every non-daemon member still running and wait for them; each leaves the group
 * as it ends. 0 or own -ECANCELED/-ETIMEDOUT. */
CURIO_API int curio_group_cancel_remaining(curio_group *g);

/* After join: Curio's g.completed, the first member to end that join examined (in
 * CURIO_WAIT_OBJECT the first that ended the wait; NULL in CURIO_WAIT_NONE or if none); and
 * its outcome as for next_result, or -ENOENT if there is none. */
CURIO_API curio_task *curio_group_completed(const curio_group *g);
CURIO_API int curio_group_result(const curio_group *g, long *result);
/* The first non-daemon member that failed (returned negative, not by cancellation), or
 * NULL; still reported after it left the group. */
CURIO_API curio_task *curio_group_failed(const curio_group *g);

/* Curio's g.tasks: stores up to n of the group's non-daemon members, in task-id order, in
 * out[] and returns how many there are (out may be NULL when n is 0). */
CURIO_API size_t curio_group_tasks(const curio_group *g, curio_task **out, size_t n);
/* Curio's g.results and g.exceptions, after join, over the same tasks in the same order.
 * results[] gets up to n return values (-ECANCELED for a cancelled task), errors[] up to n
 * outcomes (0, CURIO_ETASKFAILED or CURIO_ETASKCANCELLED), *count (if non-NULL) how many
 * tasks there are. curio_group_results returns 0, or the outcome of the first task that did
 * not return (where Curio raises its exception); curio_group_exceptions returns 0. Both:
 * -EBUSY before join, -EINVAL for a NULL group. */
CURIO_API int curio_group_results(const curio_group *g, long *results, size_t n,
                                  size_t *count);
CURIO_API int curio_group_exceptions(const curio_group *g, int *errors, size_t n,
                                     size_t *count);
/* Every task the group holds (members and former members), in task-id order: the count,
 * and the i-th. */
CURIO_API size_t curio_group_size(const curio_group *g);
CURIO_API curio_task *curio_group_task(const curio_group *g, size_t i);

/* Leave the group's scope: cancel what is left, wait for it (deferring the caller's own
 * cancellation meanwhile), and free the group and the member records nobody retained.
 * Call it from a task of the group's kernel; never fails. */
CURIO_API void curio_group_destroy(curio_group *g);

/* private: the library's intrusive list (kernel/list.h) and the kernel's wait queue, a
 * list of waiter records that live on the waiting tasks' stacks (kernel/waitq.h). They are
 * defined here because the primitives of <curio/sync.h> embed wait queues by value. All
 * zero is an empty list and an empty queue. */
struct curio__list_node;
typedef struct curio__list {
    struct curio__list_node *head, *tail;
} curio__list;
typedef struct curio__waitq {
    curio__list line;
} curio__waitq;

#ifdef __cplusplus
}
#endif

/* The layers above the kernel, each in its own header (include <curio.h>, not these). */
#include "curio/sync.h"
#include "curio/io.h"
#include "curio/net.h"
#include "curio/tls.h"
#include "curio/channel.h"
#include "curio/proc.h"
#include "curio/monitor.h"
#include "curio/cores.h"

#endif /* CURIO_H */
