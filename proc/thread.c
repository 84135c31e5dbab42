/*
 * proc/thread.c - Curio's run_in_thread: a function run on the worker-thread pool
 * (kernel/thread.c) while the calling task waits.
 */
#include "../kernel/kernel.h"

struct call {
    curio__job job;              /* first: the pool hands back &job */
    curio_task_fn fn;
    void *arg;
    long result;
};

static void call_work(curio__job *j)
{
    struct call *c = (struct call *)j;
    c->result = c->fn(c->arg);
}

int curio_run_in_thread(curio_task_fn fn, void *arg, long *result)
{
    if (!fn)
        return curio_current() ? -EINVAL : -EPERM;
    struct call c = {.job = {.work = call_work}, .fn = fn, .arg = arg};
    int rc = curio__job_run(&c.job, "FUTURE_WAIT");
    if (rc == 0 && result)
        *result = c.result;
    return rc;
}
