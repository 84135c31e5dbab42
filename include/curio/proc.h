/*
 * curio/proc.h - threads (and, later, subprocesses, signals and worker processes).
 * Included by <curio.h>; do not include it directly.
 */
#ifndef CURIO_PROC_H
#define CURIO_PROC_H
#ifndef CURIO_H
#error "include <curio.h>, not <curio/proc.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Curio's CalledProcessError: the program exited with a non-zero status (or was killed by
 * a signal) and the call was asked to check (curio_subprocess_run with check,
 * curio_subprocess_check_output). What the program wrote is still handed back. */
#define CURIO_EPROCESS         (-5020)
/* run_in_process: the worker process died before it returned a result (the function
 * crashed, called exit, or the worker was killed from outside). */
#define CURIO_EWORKERDIED      (-5021)

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
 * needed and leaving after 10 s without work; further calls queue in FIFO order.
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

#ifdef __cplusplus
}
#endif
#endif /* CURIO_PROC_H */
