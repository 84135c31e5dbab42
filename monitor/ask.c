/*
 * monitor/ask.c - a session's requests to the agent, the monitor's task on the kernel it
 * watches (monitor.h): what must happen on that kernel's thread. The asker and the agent
 * each hold a reference to the request, so that an asker that stops waiting (the kernel
 * is busy) leaves it to the agent, which does it when the kernel gets to it.
 */
#include "monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void curio__mon_req_put(curio__mon_req *r)
{
    if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    curio__text_free(&r->out);
    if (r->done)
        curio_universal_event_destroy(r->done);
    free(r);
}

int curio__mon_ask(curio__mon_session *s, enum curio__mon_op op, const char *arg, bool final,
                   double wait, curio__mon_req **out)
{
    *out = NULL;
    curio__mon_req *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    atomic_init(&r->refs, 2);
    r->op = op;
    r->final = final;
    r->json = s->json;
    snprintf(r->arg, sizeof r->arg, "%s", arg ? arg : "");
    int rc = curio_universal_event_create(&r->done);
    if (rc < 0) {
        free(r);
        return rc;
    }
    if (s->target >= 0)
        rc = curio__mon_put_foreign(s->mon, (unsigned)s->target, r);
    else
        rc = curio_universal_queue_put(s->mon->requests, r);
    if (rc < 0) {
        atomic_store(&r->refs, 1);
        curio__mon_req_put(r);
        return rc;
    }
    rc = curio_universal_event_wait_timeout(r->done, wait);
    if (rc < 0) {
        curio__mon_req_put(r);
        /* Another kernel's busy view is not this monitor's to give. */
        return rc == -ETIMEDOUT && s->target >= 0 ? -EBUSY : rc;
    }
    *out = r;
    return 0;
}

void curio__mon_take(curio__mon_session *s, const curio__mon_req *r)
{
    if (r->out.failed)
        s->out.failed = true;
    else if (r->out.len)
        curio__text_put(&s->out, r->out.p, r->out.len);
}

int curio__mon_ask_failed(curio__mon_session *s, int rc)
{
    if (rc == -ECANCELED)
        return rc;
    if (rc == -EBUSY)
        curio__text_printf(&s->out, "Error: kernel %d did not answer within %.0f ms (a task "
                                    "runs without trapping); the request stays queued\n",
                           s->target, CURIO__MON_ASK_WAIT * 1e3);
    else if (rc == -ESRCH)
        curio__text_printf(&s->out, "Error: no kernel %d in this run (or it is ending)\n",
                           s->target);
    else
        curio__text_printf(&s->out, "Error: cannot reach the kernel: %s\n",
                           curio_strerror(rc));
    return 0;
}

/* ---- the agent, on the watched kernel's thread ---- */

static void handle(struct curio__monitor *m, curio__mon_req *r)
{
    curio__mon_session fs = {.mon = m, .task = curio__self(), .json = r->json,
                             .target = -1};
    switch (r->op) {
    case CURIO__MON_PS:
        curio__mon_ps(&fs, r->arg);
        break;
    case CURIO__MON_PARENTS:
        curio__mon_parents(&fs, r->arg);
        break;
    case CURIO__MON_CANCEL:
        curio__mon_cancel_start(&fs, r);
        break;
    case CURIO__MON_STATUS:
        curio__mon_cancel_status(&fs, r);
        break;
    case CURIO__MON_WHERE:
        curio__mon_where_capture(&fs, r);
        break;
    case CURIO__MON_WAITS:
        curio__mon_waits(&fs, r->arg);
        break;
    case CURIO__MON_STATS:
        curio__mon_stats(&fs, r->arg);
        break;
    }
    r->out = fs.out;
}

long curio__mon_agent(void *arg)
{
    struct curio__monitor *m = arg;
    int rc;
    for (;;) {
        void *item;
        rc = curio_universal_queue_get(m->requests, &item);
        if (rc < 0)
            break;
        curio__mon_req *r = item;
        handle(m, r);
        curio_universal_event_set(r->done);
        curio__mon_req_put(r);
        curio__mon_held_expire(m, false);
    }
    curio__mon_held_expire(m, true);
    return rc;
}

void curio__mon_requests_drain(struct curio__monitor *m)
{
    void *item;
    while (curio_universal_queue_get_timeout(m->requests, &item, 0) == 0)
        curio__mon_req_put(item);
}
