/*
 * monitor/tasks.c - the commands about tasks: ps (Curio's table), parents, cancel.
 *
 * They read the kernel through its introspection interface (kernel/introspect.h): the
 * live tasks in spawn order, which is id order, and a snapshot of each (state, cycles,
 * nearest scope deadline ...).
 */
#include "monitor.h"

#include <stdio.h>
#include <string.h>

/* ---- ps ---- */

/* Curio's column: the seconds left until the task's nearest scope deadline, as "%0.6f"
 * cut to 7 characters, or None. */
static void format_timeout(const curio__task_info *t, int64_t now, char out[8])
{
    int64_t d = t->deadline;
    if (d == CURIO__NO_DEADLINE) {
        memcpy(out, "None", 5);
        return;
    }
    char buf[48];
    snprintf(buf, sizeof buf, "%0.6f", (double)(d - now) / 1e9);
    memcpy(out, buf, 7);
    out[7] = 0;
}

int curio__mon_ps(curio__mon_session *s, char *arg)
{
    (void)arg;
    static const int widths[] = {6, 12, 10, 7, 50};
    curio__text *o = &s->out;
    curio__text_printf(o, "%-6s %-12s %-10s %-7s %s\n", "Task", "State", "Cycles", "Timeout",
                       "Task");
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        char dashes[64];
        memset(dashes, '-', (size_t)widths[i]);
        dashes[widths[i]] = 0;
        curio__text_printf(o, "%s%s", i ? " " : "", dashes);
    }
    curio__text_printf(o, "\n");
    int64_t now = curio__now();
    bool own = false;
    for (curio__task *t = curio__tasks_first(s->mon->k); t; t = curio__tasks_next(t)) {
        curio__task_info ti;
        curio__task_snapshot(t, &ti);
        char timeout[8];
        format_timeout(&ti, now, timeout);
        bool mine = curio__mon_is_own(s->mon, ti.id);
        own |= mine;
        curio__text_printf(o, "%-6llu %-12s %-10llu %-7s %s%s\n", (unsigned long long)ti.id,
                           ti.state, (unsigned long long)ti.cycles, timeout, ti.name,
                           mine ? " *" : "");
    }
    if (own)
        curio__text_printf(o, "* the monitor's own tasks\n");
    return 0;
}

/* ---- parents ---- */

int curio__mon_parents(curio__mon_session *s, char *arg)
{
    curio__task *t;
    if (!curio__mon_task_arg(s, arg, "parents", &t))
        return 0;
    for (;;) {
        curio__task_info ti;
        curio__task_snapshot(t, &ti);
        curio__text_printf(&s->out, "%-6llu %12s %s\n", (unsigned long long)ti.id, ti.state,
                           ti.name);
        uint64_t up = ti.parent_id;
        if (up == 0)
            break;
        t = curio__task_lookup(s->mon->k, up);
        if (!t) {
            curio__text_printf(&s->out, "%-6llu %12s (ended; nothing more is known)\n",
                               (unsigned long long)up, "TERMINATED");
            break;
        }
    }
    return 0;
}

/* ---- cancel ---- */

/* How long cancel waits to report how the task ended. */
#define CANCEL_WAIT 1.0

/* What became of the task after the wait (t: its snapshot then): ended, or why not yet. */
static void report(curio__mon_session *s, const curio__task_info *t)
{
    unsigned long long id = (unsigned long long)t->id;
    if (t->done && t->cancelled)
        curio__text_printf(&s->out, "Task %llu cancelled\n", id);
    else if (t->done)
        curio__text_printf(&s->out, "Task %llu ended, returning %ld (not -ECANCELED: it does "
                                    "not count as cancelled)\n", id, t->result);
    else if (t->nocancel)
        curio__text_printf(&s->out, "Task %llu has not ended after %.0f s (state %s): it is in "
                                    "a disable_cancellation scope, which defers the "
                                    "cancellation\n", id, CANCEL_WAIT, t->state);
    else
        curio__text_printf(&s->out, "Task %llu has not ended after %.0f s (state %s): the "
                                    "cancellation was delivered and the task is still "
                                    "winding down\n", id, CANCEL_WAIT, t->state);
}

int curio__mon_cancel(curio__mon_session *s, char *arg)
{
    curio__task *t;
    if (!curio__mon_task_arg(s, arg, "cancel", &t))
        return 0;
    curio__task_info ti;
    curio__task_snapshot(t, &ti);
    unsigned long long id = (unsigned long long)ti.id;
    if (ti.done) {
        curio__text_printf(&s->out, "Error: task %llu has already ended\n", id);
        return 0;
    }
    if (ti.internal) {
        /* Cancelling one would take a piece of curio away for the rest of the process (the
         * monitor itself, the delivery of signals), with no way to start it again. */
        curio__text_printf(&s->out, "Error: task %llu (%s) is curio's own: the monitor does "
                                    "not cancel it\n", id, ti.name);
        return 0;
    }
    curio__text_printf(&s->out, "Cancelling task %llu\n", id);
    if (ti.cancel_requested)
        curio__text_printf(&s->out, "(its cancellation had been requested already)\n");
    int rc = curio__mon_flush(s);
    if (rc < 0)
        return rc;
    curio_task_retain(t);
    curio_cancel_nowait(t);
    curio_scope sc;
    rc = curio_timeout_after(&sc, CANCEL_WAIT);
    if (rc == 0) {
        rc = curio_task_wait(t);
        curio_scope_close(&sc);
    }
    if (rc == 0 || rc == -ETIMEDOUT) {
        curio__task_snapshot(t, &ti);
        report(s, &ti);
        rc = 0;
    } else if (rc == -ENOMEM) {
        curio__text_printf(&s->out, "(out of memory to wait for it: not waiting)\n");
        rc = 0;
    }
    curio_task_release(t);
    return rc; /* else the session's own cancellation (the kernel is shutting down) */
}
