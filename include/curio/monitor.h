/*
 * curio/monitor.h - the monitor (Curio's curio.monitor): a thread of the kernel's that
 * serves a plain-text command line over TCP (or a Unix socket), for looking inside a
 * running program, also while one of its tasks holds the kernel. Included by
 * <curio.h>; do not include it directly.
 *
 * Turning it on. Set curio_options.monitor, or the environment variable CURIO_MONITOR:
 *
 *     CURIO_MONITOR=1 ./server                # on, at 127.0.0.1:48802
 *     CURIO_MONITOR=127.0.0.1:9000 ./server   # on, at that address
 *     CURIO_MONITOR=unix:/run/me/app.sock ./server   # on, at a Unix socket, mode 0600
 *
 * ("1", "yes", "on", "true" mean on; "", "0", "no", "off", "false" leave it as the program
 * asked; anything else is an address). The address is curio_options.monitor_address if the
 * program set one, else the one CURIO_MONITOR gives, else 127.0.0.1:48802. Port 0 lets the
 * system choose a free port; curio_monitor_address tells which.
 *
 * What it is. curio_kernel_create starts the monitor's thread, which runs a curio kernel of
 * its own and listens before curio_kernel_create returns, and spawns the monitor's task on
 * the program's kernel, a daemon named "monitor" (task 1, since it is the kernel's first),
 * which does what must happen on the kernel's thread (snapshots with timeouts, the stacks
 * of suspended tasks, cancellations); ps marks it with a '*'. The thread serves up to 16
 * connections at once. A connection silent for curio_options.monitor_idle_timeout
 * (CURIO_MONITOR_IDLE; default 300 s), or not reading its replies for as long, is closed.
 * When the kernel does not answer within 50 ms (a task runs without a blocking call, or the
 * kernel is between runs), ps and parents are answered from what another thread may read
 * (no timeouts), with the running task and how long it has run without a trap; where on
 * that task samples its stack with a signal (SIGURG) to the kernel's thread; cancel is
 * handed over and takes effect when the kernel gets to it. The monitor never keeps the
 * kernel alive: curio_kernel_destroy ends its thread once the kernel's tasks have ended.
 * In a curio_cores_run, kernel 0's monitor serves the whole run; the other kernels have
 * the monitor's task (their task 1) and no thread or address of their own.
 *
 * The stall detector (curio_options.stall_ms, CURIO_STALL_MS): when a task runs that many
 * milliseconds without a blocking call, its name, how long and its C stack are printed
 * once to stderr. Off by default; it needs no monitor.
 *
 * If the monitor cannot start (the port is in use, a bad address, out of memory), the
 * kernel starts without it and says so on stderr (unless curio_options.quiet):
 *     curio: monitor: cannot listen on 127.0.0.1:48802: Address already in use; the
 *     kernel runs without a monitor (choose another address with ...)
 *
 * Talking to it: the curio-monitor program (installed with the library), or any TCP client
 * (nc 127.0.0.1 48802). The protocol is lines of text: a banner, the prompt "curio > ",
 * then one command per line, each answered by its output and a new prompt. A reply to a
 * command that failed begins with "Error: ". Lines are at most 1023 bytes. The commands:
 *
 *     ps              the task table: id, state, cycles, the time left until the nearest
 *                     deadline of the task's open timeout scopes (None without one), name
 *     where ID        the C call stack of task ID, most recent call last: function names,
 *                     file:line and inlined calls where debugging information exists
 *     cancel ID       curio_cancel_nowait, then up to 1 s of waiting to say how it ended;
 *                     curio's own tasks (the monitor's, the signal reader, channel
 *                     authenticators) are refused
 *     signal SIG      send a signal (SIGHUP, HUP, or a number) to this process
 *     parents ID      task ID and its parents, up to the main task
 *     where all       every live task's stack
 *     ended           the last 64 tasks to end, newest first, and how: result N, error
 *                     (a timeout named), or cancelled by task N
 *     blocked         what each blocked task waits on: its descriptor and, for a socket,
 *                     the peer (or the address it listens on); or the kind of sync object
 *                     (lock, event, queue ...) and its address
 *     stats           the kernel's counters, one "name value" a line (tasks, switches,
 *                     operations in flight, ring sizes and depths, CQ overflows, timers)
 *     json CMD        any command, answered as one line of JSON
 *     kernels         every kernel of a curio_cores_run: index, thread, tasks
 *     on K CMD        a command about kernel K of the run; K:N names task N of kernel K
 *                     in where, cancel and parents
 *     help            the list of commands
 *     quit            close this connection (end of input does the same)
 *
 * Security: anyone who can connect to the TCP port can cancel tasks and signal the
 * process. The default address is loopback (every local user can reach it); listening on
 * another one exposes that control to its network. A Unix-socket address ("unix:/path")
 * is made with mode 0600: its file's permissions decide who may connect.
 *
 * How `where` works. The task asked about is suspended in a blocking call. The monitor
 * switches to it for a moment: on its own stack, without returning from that call, the task
 * takes its backtrace with glibc's backtrace() (which unwinds through the DWARF call-frame
 * information of every function, so code built without frame pointers is fine) and
 * switches straight back. Its state, its wait and any I/O it has in flight are untouched.
 * The addresses are then turned into names on a worker thread, in the process, by
 * elfutils' libdw when curio was built with it: the function, file:line and the calls
 * inlined there, from the debugging information of the executable or library each falls
 * in (or of its separate debugging file, found by build ID or .gnu_debuglink), else the
 * function from its symbol table (static functions included, no -rdynamic needed; only
 * exported names when the file is stripped). Built without libdw, a frame is its file and
 * offset, named when dladdr(3) knows the function (exported ones). A task with less than
 * 16 KiB of its stack left is not unwound (the unwinder needs room on it); `where` says so.
 */
#ifndef CURIO_MONITOR_H
#define CURIO_MONITOR_H
#ifndef CURIO_H
#error "include <curio.h>, not <curio/monitor.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The default address of the monitor (also curio-monitor's). */
#define CURIO_MONITOR_HOST "127.0.0.1"
#define CURIO_MONITOR_PORT 48802

/*
 * The address kernel k's monitor listens on, with the port the system chose if port 0 was
 * asked for; for a kernel of a curio_cores_run, the address of kernel 0's monitor, which
 * serves the run. Returns 0 and *a, or -EINVAL (k or a NULL), -ENOENT (k has no monitor:
 * none was asked for, it could not start, or its task has ended; in a run, also when
 * kernel 0 has none). Never blocks; works anywhere on k's thread.
 */
CURIO_API int curio_monitor_address(curio_kernel *k, curio_addr *a);

#ifdef __cplusplus
}
#endif
#endif /* CURIO_MONITOR_H */
