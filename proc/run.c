/*
 * proc/run.c - Python's subprocess.run() and check_output(): start, communicate, wait,
 * destroy, in one call.
 *
 * On any failure after the start (a timeout scope expiring, a cancellation, an error) the
 * child is killed and then waited for, inside a disable_cancellation scope so that the
 * wait itself is not cut short: when the call returns, the child is gone. The pipes are
 * not drained after the kill (Curio's run reads them to their end): a grandchild that
 * inherited them could keep them open, and the call would then hang past its deadline.
 */
#include "proc.h"

#include <string.h>

int curio_subprocess_run(const char *const argv[], const curio_run_options *opts,
                         curio_completed *res)
{
    if (res)
        memset(res, 0, sizeof *res);
    if (!res || !argv)
        return -EINVAL;
    if (!curio__self())
        return -EPERM;
    curio_run_options d = {0};
    const curio_run_options *o = opts ? opts : &d;
    curio_process_options po = o->process;
    if (o->input)
        po.stdin_mode = CURIO_STDIO_PIPE;
    if (o->capture_output)
        po.stdout_mode = po.stderr_mode = CURIO_STDIO_PIPE;
    curio_process *p;
    int rc = curio_popen(&p, argv, &po);
    if (rc < 0)
        return rc;
    rc = curio_process_communicate(p, o->input, o->input ? o->input_len : 0, res);
    if (rc < 0) {
        curio_process_kill(p);
        curio_scope nc;
        bool deferred = curio_disable_cancellation(&nc) == 0;
        int code;
        if (curio_process_wait(p, &code) == 0)
            res->returncode = code;
        if (deferred)
            curio_scope_close(&nc);
    }
    curio_process_destroy(p); /* reaps it in the background if the wait did not happen */
    if (rc == 0 && o->check && res->returncode != 0)
        rc = CURIO_EPROCESS;
    return rc;
}

int curio_subprocess_check_output(const char *const argv[], const curio_run_options *opts,
                                  char **out, size_t *len)
{
    if (len)
        *len = 0;
    if (!out)
        return -EINVAL;
    *out = NULL;
    curio_run_options o = opts ? *opts : (curio_run_options){0};
    o.process.stdout_mode = CURIO_STDIO_PIPE;
    o.check = true;
    curio_completed res;
    int rc = curio_subprocess_run(argv, &o, &res);
    *out = res.out;
    if (len)
        *len = res.out_len;
    res.out = NULL;
    curio_completed_free(&res);
    return rc;
}
