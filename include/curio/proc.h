/*
 * curio/proc.h - subprocesses, Unix signals, threads and worker processes (Curio's
 * curio.subprocess, SignalEvent/SignalQueue, run_in_thread and run_in_process). Included
 * by <curio.h>; do not include it directly.
 *
 * As everywhere in curio: results are 0 (or a count) or a negative code; calls documented
 * as blocking are tasks-only (-EPERM elsewhere), cancellation points (-ECANCELED) and
 * honour timeout scopes (-ETIMEDOUT); a wait that is already over (a process already
 * waited for, a signal already queued) returns at once and is then not a cancellation
 * point. A wait inside a timeout scope may also return -ENOMEM when the kernel's timer
 * heap cannot grow (nothing was begun). Releasing calls (destroy, close_stdin, kill)
 * never block and are never cancellation points. Destroying a process or a watcher while
 * tasks are inside calls on it: every such call returns -EBADF (even one whose wait had
 * just ended), the object is freed when the last of them has returned, and a task that
 * got that -EBADF must not use it again (the rule of every curio handle).
 *
 * Processes and signals in one program. curio never installs a signal handler (no
 * SIGCHLD handler: children are waited for through pidfds) and never changes a signal's
 * disposition. Two process-wide rules follow from that, and from the kernel's:
 *  - Do not set SIGCHLD to SIG_IGN and do not reap children you did not start yourself
 *    (waitpid(-1, ...), wait()): a child reaped by someone else can no longer be waited
 *    for here (curio_process_wait then returns -ECHILD).
 *  - Watching a signal blocks it in the kernel's thread (see "Signals"); every other
 *    thread must block it too, or the signal may be delivered there instead.
 */
#ifndef CURIO_PROC_H
#define CURIO_PROC_H
#ifndef CURIO_H
#error "include <curio.h>, not <curio/proc.h>"
#endif

#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Curio's CalledProcessError: the program exited with a non-zero status (or was killed by
 * a signal) and the call was asked to check (curio_subprocess_run with check,
 * curio_subprocess_check_output). What the program wrote is still handed back. The codes
 * of this layer start at -5020, clear of the other layers'. */
#define CURIO_EPROCESS         (-5020)
/* run_in_process: the worker process died before it returned a result (the function
 * crashed, called exit, or the worker was killed from outside). */
#define CURIO_EWORKERDIED      (-5021)

/* ------------------------------------------------------------------------------------ */
/* Subprocesses (Curio's curio.subprocess)                                              */
/* ------------------------------------------------------------------------------------ */

/*
 * A child process started by curio_popen (Curio's Popen). Its standard streams may be
 * pipes, exposed as curio_streams (curio/io.h), so readline, read_all, write and friends
 * work on them; its exit is waited for through a pidfd read by the kernel's io_uring
 * (Linux 5.3 or later), never by a SIGCHLD handler.
 *
 *     const char *argv[] = {"ls", "-l", NULL};
 *     curio_process_options o = {.stdout_mode = CURIO_STDIO_PIPE};
 *     curio_process *p;
 *     if (curio_popen(&p, argv, &o) == 0) {
 *         const char *line;
 *         ssize_t n;
 *         while ((n = curio_stream_readline_ref(curio_process_stdout(p), &line)) > 0)
 *             printf("Got: %.*s", (int)n, line);
 *         int returncode;
 *         curio_process_wait(p, &returncode);
 *         curio_process_destroy(p);
 *     }
 *
 * Exit status. A returncode, as Python's: the exit code (0..255) if the program exited,
 * or minus the signal number if a signal killed it (-9 for SIGKILL).
 *
 * Reaping, and the one rule to remember: curio_process_destroy kills a child that is still
 * running (SIGKILL) and reaps it. So a process object never leaves a zombie nor a stray
 * child behind; to let a child finish, wait for it before destroying the object. The kill
 * never blocks the caller: a killed child that has not ended at once is reaped by a
 * short-lived background thread as soon as it has.
 *
 * Descriptors. The child gets exactly its three standard descriptors: every other
 * descriptor of the parent is closed in the child (also those opened without O_CLOEXEC),
 * and every descriptor curio opens is close-on-exec. The pidfd and the pipes' ends are
 * the object's and are closed by curio_process_destroy.
 */
typedef struct curio_process curio_process;

/* Where one of the child's standard descriptors goes. */
enum curio_stdio {
    CURIO_STDIO_INHERIT = 0, /* the parent's own descriptor (the default) */
    CURIO_STDIO_PIPE,        /* a pipe to the parent, exposed as a curio_stream
                                (Curio's subprocess.PIPE) */
    CURIO_STDIO_DEVNULL,     /* /dev/null (subprocess.DEVNULL) */
    CURIO_STDIO_STDOUT,      /* stderr only: wherever the child's stdout goes
                                (subprocess.STDOUT) */
    CURIO_STDIO_FD,          /* a descriptor of the caller's (the *_fd field): for
                                example another process's pipe, for a pipeline */
};

/*
 * Options for curio_popen. Zero-initialise; zero means default. The pointers are read
 * during the call only.
 */
typedef struct curio_process_options {
    const char *const *env;  /* the child's environment, NULL-terminated "NAME=value"
                                strings; default (NULL): the caller's `environ`. The
                                program is searched for in the caller's PATH either way */
    const char *cwd;         /* the child's working directory; default: the caller's. A
                                relative argv[0] containing '/' is taken from there */
    int stdin_mode;          /* enum curio_stdio, for each descriptor; default INHERIT */
    int stdout_mode;
    int stderr_mode;
    int stdin_fd;            /* with CURIO_STDIO_FD: the descriptor to give the child
                                (duplicated; it stays the caller's) */
    int stdout_fd;
    int stderr_fd;
    bool new_session;        /* the child calls setsid(): a new session and process group
                                of its own (Python's start_new_session), so the terminal's
                                Ctrl-C does not reach it; default false */
} curio_process_options;

/*
 * Start a program (Curio's Popen): argv[0] is searched for in PATH when it has no '/';
 * argv is NULL-terminated and read during the call only. Not a blocking call and not a
 * cancellation point (the calling thread waits only for the child's exec, through vfork),
 * usable outside tasks; but waiting for the child and using its pipes are blocking calls,
 * for tasks. opts may be NULL.
 *
 * Pipes. stdin, with CURIO_STDIO_PIPE, is the write end of a socket pair, so that writing
 * to a child that has exited returns -EPIPE instead of raising SIGPIPE (libuv does the
 * same; the child reads it as any stdin); stdout and stderr are pipes. Their streams,
 * curio_process_stdin/stdout/stderr, belong to the process object: do not close them
 * with curio_stream_close (curio_process_close_stdin closes stdin, to send the child
 * end of file); they are closed by curio_process_destroy. Their default options apply
 * (64 KiB read buffer and longest line, unbuffered writes).
 *
 * The child starts with the caller's signal mask less the signals curio blocks for its
 * own use (curio_enable_signals, and the signals being watched), so a program started
 * by a kernel that watches SIGINT still dies of Ctrl-C. Signal dispositions are as exec
 * leaves them: handled signals revert to their default, ignored ones stay ignored.
 *
 * Returns 0 and *out, or: -ENOENT, -EACCES, -ENOEXEC, -ENOTDIR ... when the program cannot
 * be executed (reported by the exec itself: no child is left behind, nothing exits 127),
 * also when cwd cannot be entered; -EINVAL (NULL out or argv, empty argv, a bad mode,
 * CURIO_STDIO_STDOUT for another descriptor than stderr, a negative *_fd with
 * CURIO_STDIO_FD); -EBADF (a *_fd that is not open); -EMFILE, -ENFILE, -ENOMEM, -EAGAIN
 * (no process could be created); -ENOSYS (the running kernel has no pidfd_open: Linux
 * older than 5.3; no child was started).
 */
CURIO_API int curio_popen(curio_process **out, const char *const argv[],
                          const curio_process_options *opts);

/* The child's pid (it stays reserved for it until it has been waited for). */
CURIO_API pid_t curio_process_pid(const curio_process *p);

/* The child's standard streams, for CURIO_STDIO_PIPE, else NULL (also for NULL p):
 * curio_process_stdin is written to, the others are read. Owned by p. */
CURIO_API curio_stream *curio_process_stdin(const curio_process *p);
CURIO_API curio_stream *curio_process_stdout(const curio_process *p);
CURIO_API curio_stream *curio_process_stderr(const curio_process *p);

/* Close the stdin pipe, so that the child reads end of file (Python's p.stdin.close()),
 * as curio_stream_close does (a task blocked writing to it gets -EBADF). Returns 0, the
 * close's error, or -EINVAL (NULL, or no stdin pipe, or closed already). Never blocks on
 * the child. */
CURIO_API int curio_process_close_stdin(curio_process *p);

/*
 * Wait for the child to end (blocking: state PROC_WAIT) and reap it. Returns 0 with
 * *returncode (if non-NULL) set; at once, without being a cancellation point, if the
 * child has ended already (or been waited for). Any number of tasks may wait for the same
 * process; they all get the same returncode. A wait that is interrupted (-ECANCELED, -ETIMEDOUT)
 * leaves the child running and waitable. Also: -EPERM (outside a task), -EINVAL (NULL),
 * -EBADF (p was destroyed while the task waited), -ECHILD (somebody else reaped the
 * child: see the rules at the top), -ENOMEM.
 *
 * The exit is read through io_uring: with IORING_OP_WAITID where the running kernel has it
 * (Linux 6.7, probed once), else by polling the pidfd and reaping it with waitid(2).
 */
CURIO_API int curio_process_wait(curio_process *p, int *returncode);

/* Python's poll(): 0 with *returncode if the child has ended (reaping it), -EBUSY while it
 * runs, -ECHILD as for wait, -EINVAL for NULL. Never blocks; works outside tasks. */
CURIO_API int curio_process_poll(curio_process *p, int *returncode);

/*
 * Send a signal to the child through its pidfd (pidfd_send_signal: never to another
 * process that reuses the pid). Sending to a child that has been waited for does nothing
 * and returns 0, as in Python (a child that has exited but not been waited for can still
 * be signalled: nothing happens). Returns 0, -EINVAL (NULL, bad signal number), -EPERM.
 * Never blocks. terminate is SIGTERM, kill is SIGKILL.
 */
CURIO_API int curio_process_send_signal(curio_process *p, int sig);
CURIO_API int curio_process_terminate(curio_process *p);
CURIO_API int curio_process_kill(curio_process *p);

/*
 * Release p: kill the child if it is still running (SIGKILL) and reap it (in the
 * background if it has not ended at once), close the pipes and the pidfd, free p. Never
 * blocks on the child (closing a pipe stream inside a task waits for its io_uring close,
 * as curio_stream_close does). Tasks blocked in a call on p or on its streams return
 * -EBADF; p is freed when the last of them has left. NULL is fine.
 */
CURIO_API void curio_process_destroy(curio_process *p);

/* What communicate and run collect. out and err are from malloc, NUL-terminated (also
 * when empty), NULL for a stream that was not captured; free them with
 * curio_completed_free (which leaves the struct zeroed; a zeroed struct is fine). */
typedef struct curio_completed {
    int returncode;   /* as for curio_process_wait; meaningful when the call waited */
    char *out;        /* what the child wrote on stdout */
    size_t out_len;
    char *err;        /* ... on stderr */
    size_t err_len;
} curio_completed;

CURIO_API void curio_completed_free(curio_completed *c);

/*
 * Python's communicate(): write input to the child's stdin, read its stdout and stderr
 * to their end at the same time (no deadlock whatever the amounts: each has a task of its
 * own), then wait for the child. Blocking. stdin (if it is a pipe) is closed once input
 * has been written, also with no input: the child sees end of file. A child that exits
 * without reading its input is no error (the rest of the input is dropped). *res is
 * overwritten (set it up zeroed or freed): out/err for the streams that are pipes.
 *
 * Returns 0 with *res filled and res->returncode set. Interrupted (-ECANCELED,
 * -ETIMEDOUT) it hands back in *res what had been read so far (consumed from the
 * streams: a later communicate, or reads, go on from there), and leaves the child
 * running, as Python's TimeoutExpired does: kill it, or call communicate again, which
 * reads on without writing. Also -EINVAL (NULL p or res, input but no stdin pipe),
 * -EPERM, -ENOMEM, -EBADF (p destroyed meanwhile), a read error. Free *res in every case.
 * input must stay valid until the call returns.
 */
CURIO_API int curio_process_communicate(curio_process *p, const void *input,
                                        size_t input_len, curio_completed *res);

/* Options for curio_subprocess_run and curio_subprocess_check_output. Zero-initialise. */
typedef struct curio_run_options {
    curio_process_options process; /* as for curio_popen; stdout/stderr set to
                                       CURIO_STDIO_PIPE are captured into the result */
    const void *input;              /* non-NULL: written to the child's stdin, which is
                                       then a pipe (Python's input=); default: stdin as
                                       process.stdin_mode says */
    size_t input_len;
    bool capture_output;            /* stdout and stderr are pipes and captured (Python's
                                       capture_output=True) */
    bool check;                     /* a non-zero returncode is CURIO_EPROCESS (Python's
                                       check=True; check_output always checks) */
} curio_run_options;

/*
 * Python's subprocess.run(): start argv, communicate (input, capture), wait, and destroy
 * the process. Blocking. Returns 0 with *res (returncode, and out/err for what was
 * captured; free it with curio_completed_free), or:
 *   CURIO_EPROCESS        with check: the returncode was not 0; *res is filled
 *   -ETIMEDOUT/-ECANCELED a timeout scope expired or the task was cancelled (Python's
 *                         TimeoutExpired): the child was killed (SIGKILL) and reaped
 *                         before the call returned; *res holds what had been captured
 *                         and the returncode (-9), and the pipes were not read further
 *                         (a grandchild holding them open cannot hang the call)
 *   what curio_popen returns (-ENOENT ...); -EPERM outside a task; -EINVAL, -ENOMEM.
 * A timeout is a scope around the call (Curio's timeout_after):
 *     curio_scope s;
 *     curio_timeout_after(&s, 5.0);
 *     rc = curio_subprocess_run(argv, &o, &res);
 *     curio_scope_close(&s);
 */
CURIO_API int curio_subprocess_run(const char *const argv[], const curio_run_options *opts,
                                   curio_completed *res);

/*
 * Python's check_output(): run argv with stdout captured and checked. Returns 0 with *out
 * (from malloc, NUL-terminated, length *len; the caller frees it), or CURIO_EPROCESS (the
 * program failed: *out still holds its output), or another error of curio_subprocess_run
 * (*out then holds what was captured, or NULL). opts may be NULL; its stdout_mode is
 * ignored, its stderr_mode applies (CURIO_STDIO_PIPE reads and drops it, CURIO_STDIO_STDOUT
 * merges it into *out) and check is implied. For the returncode, use curio_subprocess_run.
 * len may be NULL.
 */
CURIO_API int curio_subprocess_check_output(const char *const argv[],
                                            const curio_run_options *opts, char **out,
                                            size_t *len);

/* ------------------------------------------------------------------------------------ */
/* Signals (Curio's SignalEvent, SignalQueue, enable_signals)                           */
/* ------------------------------------------------------------------------------------ */

/*
 * Unix signals as events and queues that tasks wait on, without a signal handler: while a
 * signal is watched, it is blocked in the kernel's thread and read from a signalfd through
 * the kernel's io_uring (by a daemon task, "curio.signals", started with the first
 * watcher and gone with the last). Every watcher of a signal sees every arrival of it that
 * curio reads.
 *
 *     int sigs[] = {SIGHUP};
 *     curio_signal_event *goodbye;
 *     curio_signal_event_create(&goodbye, sigs, 1);
 *     curio_signal_event_wait(goodbye);        // until a SIGHUP arrives
 *     curio_signal_event_destroy(goodbye);
 *
 * Threads: the process-wide implication. A signal sent to the process (kill, the
 * terminal's Ctrl-C) is delivered to one thread that does not block it; only if every
 * thread blocks it does it wait for the signalfd. Blocking it in the kernel's thread is
 * therefore not enough in a program with other threads: they must block it too, or they
 * may take the signal (with its default action: SIGINT, SIGHUP, SIGTERM end the process).
 * Threads inherit the mask of the thread that creates them, so call curio_enable_signals
 * in main() before any thread is created. curio's own worker threads (run_in_thread, DNS)
 * block every asynchronous signal anyway. A signal sent to the kernel's thread itself
 * (pthread_kill) is read too. A process-directed signal is read by one kernel only: watch
 * a signal in one kernel of the program.
 *
 * The mask is restored when the last watcher of a signal goes: the signal is unblocked
 * again unless it was blocked before the first watcher came (by curio_enable_signals, or
 * by the program). Arrivals not yet read are read for the remaining watchers first, so
 * none is delivered with its default action afterwards; one that arrives later is.
 *
 * Signals that cannot be watched (-EINVAL): SIGKILL and SIGSTOP (they cannot be blocked),
 * the synchronous fault signals SIGSEGV, SIGBUS, SIGFPE, SIGILL (blocking them does not
 * stop a fault from killing the process; curio reports stack overflows through SIGSEGV),
 * and the two real-time signals glibc keeps for itself (32, 33). Arrivals of one standard
 * signal that happen before curio reads it merge into one, as the kernel keeps at most one
 * pending; real-time signals (SIGRTMIN...) queue.
 *
 * Watchers belong to the kernel (and thread) that created them; destroy them on it before
 * it ends. Children started by curio_popen and run_in_process workers start with the
 * watched signals unblocked.
 *
 * With the portable ucontext switch (built with -Dcontext=ucontext), each task has a
 * signal mask of its own (swapcontext restores it at every switch), so a signal blocked by
 * a watcher would be unblocked again by the next switch. There, the signals must be
 * blocked before the kernel starts, with curio_enable_signals in main(); creating a
 * watcher for a signal that is not blocked yet returns -ENOTSUP.
 */
typedef struct curio_signal_event curio_signal_event;
typedef struct curio_signal_queue curio_signal_queue;

/*
 * Block signals[0..n) in the calling thread, so that threads created afterwards inherit
 * the block (Curio's enable_signals, which in Python must run in the main thread before
 * other threads start). Call it early in main(), before any thread (or a kernel in
 * another thread) starts. curio remembers the set: children started by curio get it
 * unblocked. Usable anywhere. Returns 0, or -EINVAL (a signal that cannot be watched, see
 * above; nothing was blocked).
 */
CURIO_API int curio_enable_signals(const int *signals, size_t n);

/*
 * Curio's SignalEvent: an event set when one of signals[0..n) arrives. It stays set until
 * cleared. Requires a task (it may start the daemon reader): returns 0 and *out, or
 * -EPERM (outside a task), -EINVAL (NULL, n == 0, a signal that cannot be watched),
 * -ENOMEM, -ENOTSUP (the ucontext switch, see above), or the error of signalfd(2). A
 * signal that was already pending (blocked, not yet read) when the event is created sets
 * it.
 */
CURIO_API int curio_signal_event_create(curio_signal_event **out, const int *signals,
                                        size_t n);
/* Wait until the event is set (blocking: state SIGNAL_WAIT); at once if it is. Does not
 * clear it. Returns 0, -ECANCELED, -ETIMEDOUT, -EPERM, -EINVAL, -ENOMEM, -EBADF (destroyed
 * meanwhile). */
CURIO_API int curio_signal_event_wait(curio_signal_event *e);
/* Whether it is set; clear it; set it by hand (waking every waiter, as a signal would).
 * Never block. The last signal that set it (0 if set by hand or not set) is returned by
 * curio_signal_event_signo. */
CURIO_API bool curio_signal_event_is_set(const curio_signal_event *e);
CURIO_API void curio_signal_event_clear(curio_signal_event *e);
CURIO_API void curio_signal_event_set(curio_signal_event *e);
CURIO_API int curio_signal_event_signo(const curio_signal_event *e);
/* Stop watching and free e (see "The mask is restored" above). Never blocks; tasks waiting
 * on e return -EBADF. NULL is fine. */
CURIO_API void curio_signal_event_destroy(curio_signal_event *e);

/*
 * Curio's SignalQueue: the signal numbers of signals[0..n) in the order they arrived.
 * Overflow rule: it holds up to maxsize of them (0: 128); arrivals while it is full are
 * dropped and counted (curio_signal_queue_dropped). (Curio's queue is unbounded; a bound
 * keeps a flood of real-time signals from using up memory.) Requires a task. Returns 0
 * and *out, -EPERM, -EINVAL, -ENOMEM, -ENOTSUP, or signalfd(2)'s error. Signals already
 * pending are queued at once.
 */
CURIO_API int curio_signal_queue_create(curio_signal_queue **out, const int *signals,
                                        size_t n, size_t maxsize);
/* The oldest queued signal number (blocking: state SIGNAL_WAIT; at once if one is
 * queued). Returns 0 and *signo, -ECANCELED, -ETIMEDOUT, -EPERM, -EINVAL, -ENOMEM, -EBADF
 * (destroyed meanwhile). When several tasks wait, each arrival goes to the first. */
CURIO_API int curio_signal_queue_get(curio_signal_queue *q, int *signo);
/* The same without waiting: -EAGAIN if none is queued. Never blocks. */
CURIO_API int curio_signal_queue_get_nowait(curio_signal_queue *q, int *signo);
/* Signals queued now; arrivals dropped because the queue was full, since creation. */
CURIO_API size_t curio_signal_queue_size(const curio_signal_queue *q);
CURIO_API uint64_t curio_signal_queue_dropped(const curio_signal_queue *q);
/* Stop watching and free q; queued signals are dropped; waiting tasks return -EBADF.
 * Never blocks. NULL is fine. */
CURIO_API void curio_signal_queue_destroy(curio_signal_queue *q);

/* ------------------------------------------------------------------------------------ */
/* Threads                                                                              */
/* ------------------------------------------------------------------------------------ */

/*
 * Curio's run_in_thread: call fn(arg) on a worker thread and wait for it (a blocking call:
 * state FUTURE_WAIT). fn may block as it likes (a blocking library, a pthread lock, a slow
 * system call) without stopping the kernel's other tasks; it must not call curio's
 * blocking calls (it is not a task).
 *
 * The threads form one pool for the whole process: up to 64 run at once, started when
 * needed and leaving after 10 s without work; further calls queue in FIFO order. They
 * block every asynchronous signal (see "Signals").
 *
 * Returns 0 with *result (if non-NULL) = fn's return value once fn has run. Cancellation
 * and timeouts, as everywhere in curio, never abandon memory that may still be in use: a
 * call interrupted while fn waits in the queue returns -ECANCELED or -ETIMEDOUT at once
 * and fn never runs; once fn has started, the call waits for it to return (a thread
 * cannot be stopped safely) and then returns 0 with its result, and the cancellation or
 * timeout is delivered at the task's next blocking call. So arg may point into the task's
 * stack, and whatever fn returns can always be freed. Also -EPERM outside a task, -EINVAL
 * for a NULL fn, -EAGAIN if no thread could be started.
 */
CURIO_API int curio_run_in_thread(curio_task_fn fn, void *arg, long *result);

/* ------------------------------------------------------------------------------------ */
/* Worker processes (Curio's run_in_process)                                            */
/* ------------------------------------------------------------------------------------ */

/*
 * A function for run_in_process. It runs in a worker process, a fork of the calling
 * program, and gets a copy of the argument bytes (arg, len; arg is NULL when len is 0). It
 * returns a long (the call's *result), and may hand back bytes too: set *out to memory
 * from malloc and *out_len to its length; the worker sends them and frees them.
 *
 * C cannot pickle, so this is the calling convention: a function pointer, valid in a fork
 * of this process (any function of the program, or of a library loaded before the call),
 * plus bytes in and bytes out. Pass values, not pointers into the caller's memory: the
 * worker's memory is a copy taken when the worker was forked, possibly long before the
 * call (workers are reused), and nothing it writes reaches the caller.
 *
 * What fn may do: compute; malloc and free; open, use and close files and sockets of its
 * own; print (stdout and stderr are the parent's and are flushed after each call); block.
 * What fn must not do: call curio (the worker has no kernel: blocking calls return
 * -EPERM); use locks, threads or library state that another thread of the parent may
 * have held at the moment of the fork (the worker is a fork of a possibly multi-threaded
 * program: only the forking thread lives on in it); call exit() (that runs the parent's
 * atexit handlers; return instead: exiting is treated as a crash); rely on descriptors of
 * the parent (the worker closes all of them but stdin, stdout and stderr, so it never
 * holds a connection of the parent open). It runs on a stack of 8 MiB.
 */
typedef long (*curio_process_fn)(const void *arg, size_t len, void **out, size_t *out_len);

/*
 * Curio's run_in_process: run fn(arg bytes) in a worker process of the calling thread's
 * pool and wait for its result, while the kernel's other tasks go on. Blocking: state
 * WORKER_WAIT while every worker is busy, then WRITE_WAIT/READ_WAIT on the worker's
 * socket (sending arg, waiting for the result). arg is copied to the worker before the
 * call can return; it may point anywhere, and is not used afterwards.
 *
 * Returns 0 with *result = fn's value (if result is non-NULL) and, if out is non-NULL,
 * *out = the bytes fn handed back (from malloc, NUL-terminated, the caller frees them;
 * NULL if it handed back none) and *out_len (if non-NULL) their length. Or:
 *   -ECANCELED/-ETIMEDOUT  the task was cancelled or a timeout scope expired. If fn had
 *                          been sent to a worker, that worker was killed (SIGKILL) and
 *                          reaped before the call returned (as Curio kills it); the pool
 *                          starts a fresh one when needed
 *   CURIO_EWORKERDIED      the worker died during the call (fn crashed, exited, was
 *                          killed): an error for this call only; the worker is replaced
 *   -EINVAL (NULL fn, or NULL arg with len > 0), -EPERM (outside a task), -ENOMEM (here,
 *   or in the worker for the argument), -EAGAIN (fork failed), -EMFILE
 * *out is NULL on every error.
 *
 * The pool: up to curio_process_pool_set_max workers (default: the number of online
 * CPUs, like Curio); calls beyond that wait, first come first served. Workers are forked
 * on demand from the calling thread and kept for later calls; they end with the pool
 * (curio_process_pool_shutdown, the end of the thread, the end of the program).
 */
CURIO_API int curio_run_in_process(curio_process_fn fn, const void *arg, size_t len,
                                   long *result, void **out, size_t *out_len);

/* Set how many workers the calling thread's pool may have (0: the default). Idle workers
 * beyond a lowered limit end at once, busy ones when their call returns. Returns 0. */
CURIO_API int curio_process_pool_set_max(size_t max);

/* End the calling thread's idle workers now: each is killed and reaped before this
 * returns (it waits for their exit, which follows SIGKILL at once). Busy workers end when
 * their call returns. The pool starts anew with the next call. Not a blocking call in the
 * curio sense; usable anywhere on the thread. Also done when the thread ends. */
CURIO_API void curio_process_pool_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif /* CURIO_PROC_H */
