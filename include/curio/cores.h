/*
 * curio/cores.h - a kernel per core: N kernels on N threads running one program, servers
 * across them, and messages between them. Include <curio.h>, not this file.
 *
 *     static long core_main(unsigned index, void *arg)
 *     {
 *         curio_server_options o = {.reuse_port = true};
 *         return curio_tcp_server("127.0.0.1", 25000, echo_handler, NULL, &o);
 *     }
 *     ...
 *     curio_cores_options co = {.stop_all = true};
 *     int rc = curio_cores_run(core_main, NULL, &co);   // until Ctrl-C: -EINTR
 *
 * What crosses kernels and what never does. A task, a task handle (curio_task), a scope,
 * a task group, a socket, stream or file in use by a task, a wait queue, and the sync
 * layer's Event, Lock, Semaphore, Condition and Queue belong to the kernel that made them:
 * only tasks of that kernel may use them. curio_join, curio_task_wait and curio_cancel
 * return -EINVAL or -EPERM for another kernel's task (see curio.h); curio_core_join
 * returns -EXDEV on a kernel other than the spawner's. What does cross: curio_core_post,
 * curio_core_spawn and its handle's result, curio_kernel_post, UniversalQueue and
 * UniversalEvent (curio/sync.h: their waiters may be tasks of any kernel and threads),
 * and the worker pool behind curio_run_in_thread (one per process, shared by every
 * kernel). A descriptor number may be handed to another kernel, which then opens its own
 * handle on it (curio_socket_from_fd); the handle it came from must no longer be used.
 */
#ifndef CURIO_CORES_H
#define CURIO_CORES_H

#include "../curio.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most kernels one curio_cores_run starts. */
#define CURIO_CORES_MAX 256

/* Each kernel's main task: index is the kernel's (0 .. count-1), arg curio_cores_run's. */
typedef long (*curio_core_fn)(unsigned index, void *arg);

/* Options for curio_cores_run. Zero-initialise; zero means default. */
typedef struct curio_cores_options {
    unsigned kernels;   /* how many kernels (threads); default: the online CPUs
                           (sysconf(_SC_NPROCESSORS_ONLN)); at most CURIO_CORES_MAX */
    bool pin;           /* pin kernel i's thread to the (i mod n)-th of the n CPUs the
                           calling thread may run on (sched_getaffinity); default off */
    bool stop_all;      /* when one main ends with a negative result (a failure, or
                           -ECANCELED), cancel every other main; default off: the others
                           run on */
    bool no_signals;    /* leave SIGINT and SIGTERM alone (see curio_cores_run); default
                           off: the run takes them */
    const curio_options *kernel; /* every kernel's options; NULL: the defaults */
    long *results;      /* NULL, or room for one result per kernel: main i's return value
                           is stored in results[i] (0 for a kernel whose main never ran) */
    int *signo;         /* NULL, or where the signal that stopped the run is stored (0 if
                           none did) */
} curio_cores_options;

/*
 * Run fn(index, arg) as the main task of each of N kernels, each on a thread of its own
 * (kernel index runs on thread index), and return when every main has ended and every
 * kernel is destroyed. The kernels are all created before any main starts, so a main may
 * reach every other kernel at once (curio_core_post ...). A kernel whose main has ended
 * keeps running its other tasks (a task spawned on it from another kernel, a server's
 * clients) until every main has ended; then each kernel cancels its remaining tasks and
 * waits for them, refuses new posts and spawns (-ESRCH), and is destroyed.
 *
 * Signals: unless no_signals, SIGINT and SIGTERM are blocked in the calling thread for
 * the length of the run (the kernels' threads inherit the block) and read there, from a
 * signalfd: each arrival is taken once, by the run, which then cancels every kernel's
 * main task (each sees -ECANCELED at its blocking call, and a server winds down); a
 * second arrival does the same again; one that arrives once every main has ended is read
 * and ignored. The caller's mask is restored at the end. Other
 * threads of the program must block them too (curio_enable_signals in main() before any
 * thread starts), or the kernel may hand them one with its default action. Tasks must not
 * watch SIGINT or SIGTERM themselves (curio_signal_event ...) during such a run: the run
 * and the watcher would race for each arrival. With no_signals, watch them in one kernel
 * only (index 0, say) and fan out with curio_core_post.
 *
 * Returns 0: every main returned a non-negative result. -EINTR: a SIGINT or SIGTERM
 * arrived while a main ran, and every main was cancelled (see signo). Otherwise, when a
 * main returned a negative result (a failure, -ECANCELED), the first such result. Before
 * any main ran: -EINVAL (fn NULL, kernels > CURIO_CORES_MAX), -ENOMEM, -EAGAIN (a thread
 * could not be started), or the error of curio_kernel_create for a kernel that could not
 * start (io_uring unavailable: -EPERM, -ENOSYS, -ENOMEM ...); no main runs then. Must not
 * be called from a thread that runs a kernel of another curio_cores_run (-EBUSY).
 */
CURIO_API int curio_cores_run(curio_core_fn fn, void *arg, const curio_cores_options *opts);

/* The calling thread's kernel index in its curio_cores_run, or -1 on a thread that is not
 * one of a run's kernels. Never blocks. */
CURIO_API int curio_core_index(void);
/* How many kernels the calling thread's run has; 0 outside a run. Never blocks. */
CURIO_API unsigned curio_core_count(void);
/* Kernel index of the calling thread's run, for curio_kernel_post; NULL outside a run or
 * for an index out of range. Valid until the run returns. Never blocks. */
CURIO_API curio_kernel *curio_core_kernel(unsigned index);

/*
 * Run fn(arg) on kernel index of the caller's run (the caller's own included), on its
 * thread, outside any task, as curio_kernel_post does: fn must not block, and may spawn
 * tasks (curio_spawn there makes a task of that kernel), wake them through
 * UniversalQueue/UniversalEvent, or cancel its tasks. Posts from one kernel to another
 * run in the order they were made. The other kernel is woken with IORING_OP_MSG_RING,
 * queued on the caller's own ring and submitted with its next io_uring_enter, where the
 * running Linux has it (5.18; the environment variable CURIO_MSG_RING=0 at the run's
 * start turns it off); else, and from a thread that is not a kernel of the run, by a
 * write to its eventfd. Never blocks. Returns 0, -EPERM (the caller is not a kernel of
 * a run), -EINVAL (fn NULL, index out of range), -ESRCH (that kernel is shutting down:
 * fn will not run), -ENOMEM.
 */
CURIO_API int curio_core_post(unsigned index, void (*fn)(void *), void *arg);

/* A task spawned on another kernel, as seen from the kernel that spawned it. */
typedef struct curio_core_task curio_core_task;

/*
 * Spawn fn(arg) as a task of kernel index of the caller's run (its own included); *out
 * is the caller's handle on it, which only the spawning kernel's tasks may use, and which
 * must be released (curio_core_release) once joined or no longer wanted. The task is
 * started by a post (see curio_core_post), so it may start after this returns. Requires
 * a task of a kernel of a run. Returns 0 and *out, -EPERM (not in a task of a run),
 * -EINVAL (out or fn NULL, index out of range), -ESRCH (that kernel is shutting down),
 * -ENOMEM. Never blocks.
 */
CURIO_API int curio_core_spawn(curio_core_task **out, unsigned index, curio_task_fn fn,
                               void *arg);
/*
 * Wait for the task to end (blocking: state CORE_JOIN) and store its return value in
 * *result (may be NULL). Returns 0; CURIO_ETASKCANCELLED (it ended by cancellation);
 * -ESRCH (it never started: its kernel was shutting down, or could not make the task,
 * see curio_core_spawn); -ENOMEM (its kernel had no memory for it); -ECANCELED or
 * -ETIMEDOUT (the caller was interrupted: the task runs on, the handle stays valid);
 * -EPERM outside a task; -EINVAL (t NULL); -EXDEV (called on a kernel other than the one
 * that spawned t).
 */
CURIO_API int curio_core_join(curio_core_task *t, long *result);
/* Ask the task to be cancelled (on its kernel, by a post); does not wait: curio_core_join
 * tells when it has ended. Returns 0 (also when it has already ended), -EINVAL (NULL),
 * -EXDEV (not on the spawning kernel). Never blocks. */
CURIO_API int curio_core_cancel(curio_core_task *t);
/* Whether the task has ended and its end has reached the spawning kernel. */
CURIO_API bool curio_core_done(const curio_core_task *t);
/* Give up the handle: the task runs on, and its record goes when it ends. Call it on the
 * spawning kernel. NULL is fine. Never blocks. */
CURIO_API void curio_core_release(curio_core_task *t);

/*
 * Servers across kernels (net/reuseport.c). Every kernel of a run calls the same one
 * from its main, with the same arguments: each kernel then serves its own share of the
 * connections, and a connection stays on the kernel that accepted it (its handler runs
 * there, in a task of that kernel, from start to end).
 *
 * TCP: every kernel listens on a socket of its own, all bound to host:port with
 * SO_REUSEPORT (reuse_port is set whatever opts says), and Linux spreads incoming
 * connections over them by a hash of their addresses. Kernel 0 binds first; the others
 * wait for it (state EVENT_WAIT) and bind the port it got, so port 0 works: every kernel
 * serves the one port kernel 0 was given. Unix: Linux has no SO_REUSEPORT for Unix
 * sockets; kernel 0 makes the one listening socket and every kernel accepts on a
 * duplicate of its descriptor, each accept taking one connection. Linux wakes one
 * waiting accept per connection, and while a kernel's accept stays armed it tends to be
 * the same one: this does not spread connections evenly (a stream of one connection at a
 * time all went to one kernel in tests/net/test_cores_server.c); it keeps a Unix server
 * working in a run.
 *
 * Otherwise as curio_tcp_server / curio_unix_server (curio/net.h), on every kernel: a
 * failing handler is logged and its kernel's server goes on; on_listen is called on every
 * kernel with the same address. Returns what curio_run_server returns on that kernel
 * (-ECANCELED when the main is cancelled, as by SIGINT/SIGTERM in curio_cores_run), or
 * the listening socket's error (-EADDRINUSE ...; kernel 0's error is every kernel's),
 * -EPERM (not in a task of a run's kernel), -EINVAL (handler NULL), -ENOMEM, -ECANCELED or
 * -ETIMEDOUT while waiting for kernel 0.
 */
CURIO_API int curio_cores_tcp_server(const char *host, uint16_t port, curio_client_fn handler,
                                     void *arg, const curio_server_options *opts);
CURIO_API int curio_cores_unix_server(const char *path, curio_client_fn handler, void *arg,
                                      const curio_server_options *opts);

#ifdef __cplusplus
}
#endif

#endif /* CURIO_CORES_H */
