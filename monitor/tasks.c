/*
 * monitor/tasks.c - the commands about tasks: ps (Curio's table), parents, cancel.
 *
 * They read the kernel through its introspection interface (kernel/introspect.h): the
 * live tasks in spawn order, which is id order, and a snapshot of each (state, cycles,
 * nearest scope deadline ...).
 */
#include "monitor.h"

#include <stdio.h>
#include <stdlib.h>
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

/* ps under json: {"tasks": [{"id", "parent", "state", "cycles", "timeout" (seconds or
 * null), "name", "daemon", "internal", "own"}]} */
static void ps_json(curio__mon_session *s)
{
    curio__text *o = &s->out;
    int64_t now = curio__now();
    curio__text_printf(o, "{\"busy\": false, \"tasks\": [");
    size_t i = 0;
    for (curio__task *t = curio__tasks_first(s->mon->k); t; t = curio__tasks_next(t), i++) {
        curio__task_info ti;
        curio__task_snapshot(t, &ti);
        curio__text_printf(o, "%s{\"id\": %llu, \"parent\": %llu, \"state\": \"%s\", "
                              "\"cycles\": %llu, \"timeout\": ", i ? ", " : "",
                           (unsigned long long)ti.id, (unsigned long long)ti.parent_id,
                           ti.state, (unsigned long long)ti.cycles);
        if (ti.deadline == CURIO__NO_DEADLINE)
            curio__text_printf(o, "null");
        else
            curio__text_printf(o, "%.6f", (double)(ti.deadline - now) / 1e9);
        curio__text_printf(o, ", \"name\": ");
        curio__text_json(o, ti.name);
        curio__text_printf(o, ", \"daemon\": %s, \"internal\": %s, \"own\": %s}",
                           ti.daemon ? "true" : "false", ti.internal ? "true" : "false",
                           curio__mon_is_own(s->mon, ti.id) ? "true" : "false");
    }
    curio__text_printf(o, "]}\n");
}

int curio__mon_ps(curio__mon_session *s, char *arg)
{
    (void)arg;
    if (s->json) {
        ps_json(s);
        return 0;
    }
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
    if (s->json)
        curio__text_printf(&s->out, "{\"chain\": [");
    for (bool first = true;; first = false) {
        curio__task_info ti;
        curio__task_snapshot(t, &ti);
        if (s->json) {
            curio__text_printf(&s->out, "%s{\"id\": %llu, \"state\": \"%s\", \"name\": ",
                               first ? "" : ", ", (unsigned long long)ti.id, ti.state);
            curio__text_json(&s->out, ti.name);
            curio__text_printf(&s->out, "}");
        } else {
            curio__text_printf(&s->out, "%-6llu %12s %s\n", (unsigned long long)ti.id,
                               ti.state, ti.name);
        }
        uint64_t up = ti.parent_id;
        if (up == 0)
            break;
        t = curio__task_lookup(s->mon->k, up);
        if (!t) {
            if (s->json)
                curio__text_printf(&s->out, ", {\"id\": %llu, \"state\": \"TERMINATED\", "
                                            "\"name\": null}", (unsigned long long)up);
            else
                curio__text_printf(&s->out, "%-6llu %12s (ended; nothing more is known)\n",
                                   (unsigned long long)up, "TERMINATED");
            break;
        }
    }
    if (s->json)
        curio__text_printf(&s->out, "]}\n");
    return 0;
}

/* ---- cancel ---- */

/* How long cancel waits to report how the task ended. */
#define CANCEL_WAIT 1.0
/* How often it looks. */
#define CANCEL_POLL 0.01
/* How long the first answer waits for the task's end. */
#define CANCEL_QUICK 0.02

/* A task being cancelled, held (a handle) so that its outcome can be read once it ended:
 * the agent's, on the watched kernel's thread. */
struct curio__mon_held {
    struct curio__mon_held *next;
    curio__task *t;
    uint64_t id;
    int64_t since;
};

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

static void unhold(struct curio__mon_held **pp)
{
    struct curio__mon_held *h = *pp;
    *pp = h->next;
    curio_task_release(h->t);
    free(h);
}

void curio__mon_held_expire(struct curio__monitor *m, bool all)
{
    int64_t old = curio__now() - curio__ns(2 * CANCEL_WAIT);
    for (struct curio__mon_held **pp = &m->held; *pp;) {
        if (all || (*pp)->since < old)
            unhold(pp);
        else
            pp = &(*pp)->next;
    }
}

void curio__mon_cancel_start(curio__mon_session *s, curio__mon_req *r)
{
    r->ended = true;
    curio__task *t;
    if (!curio__mon_task_arg(s, r->arg, "cancel", &t))
        return;
    curio__task_info ti;
    curio__task_snapshot(t, &ti);
    unsigned long long id = (unsigned long long)ti.id;
    if (ti.done) {
        curio__text_printf(&s->out, "Error: task %llu has already ended\n", id);
        return;
    }
    if (ti.internal) {
        /* Cancelling one would take a piece of curio away for the rest of the process (the
         * monitor itself, the delivery of signals), with no way to start it again. */
        curio__text_printf(&s->out, "Error: task %llu (%s) is curio's own: the monitor does "
                                    "not cancel it\n", id, ti.name);
        return;
    }
    struct curio__mon_held *h = calloc(1, sizeof *h);
    if (h) {
        h->t = curio_task_retain(t);
        h->id = ti.id;
        h->since = curio__now();
        h->next = s->mon->held;
        s->mon->held = h;
    }
    curio__text_printf(&s->out, "Cancelling task %llu\n", id);
    if (ti.cancel_requested)
        curio__text_printf(&s->out, "(its cancellation had been requested already)\n");
    curio_cancel_nowait(t);
    r->ended = false;
    /* Most tasks end at once: wait a moment, so that the answer can say so (and say it
     * before a program whose end this brings has ended). */
    curio_task_retain(t);
    curio_scope sc;
    if (curio_timeout_after(&sc, CANCEL_QUICK) == 0) {
        curio_task_wait(t);
        curio_scope_close(&sc);
    }
    curio__task_snapshot(t, &ti);
    curio_task_release(t);
    if (ti.done) {
        report(s, &ti);
        r->ended = true;
        if (h && s->mon->held == h)
            unhold(&s->mon->held);
    }
}

void curio__mon_cancel_status(curio__mon_session *s, curio__mon_req *r)
{
    uint64_t id = strtoull(r->arg, NULL, 10);
    for (struct curio__mon_held **pp = &s->mon->held; *pp; pp = &(*pp)->next) {
        if ((*pp)->id != id)
            continue;
        curio__task_info ti;
        curio__task_snapshot((*pp)->t, &ti);
        if (ti.done || r->final) {
            report(s, &ti);
            r->ended = true;
            unhold(pp);
        }
        return;
    }
    curio__text_printf(&s->out, "(task %llu: its outcome is no longer known)\n",
                       (unsigned long long)id);
    r->ended = true;
}

/* ---- the commands, on the monitor's thread ---- */

/* The monitor's connections (its sessions are tasks of its own thread's kernel, not of
 * the kernel watched): oldest first. */
static void connections(curio__mon_session *s)
{
    curio__text_printf(&s->out, "Monitor connections (%u):", s->mon->nsessions);
    const char *sep = " ";
    for (curio__list_node *n = curio__list_last(&s->mon->sessions); n;
         n = curio__list_prev(n)) {
        const curio__mon_session *o = curio__list_entry(n, curio__mon_session, node);
        curio__text_printf(&s->out, "%s%s%s", sep, o->peer, o == s ? " (this one)" : "");
        sep = ", ";
    }
    curio__text_printf(&s->out, "\n");
}

int curio__mon_cmd_ps(curio__mon_session *s, char *arg)
{
    curio__mon_req *r;
    int rc = curio__mon_ask(s, CURIO__MON_PS, arg, false, CURIO__MON_ASK_WAIT, &r);
    if (rc == -ETIMEDOUT) {
        curio__mon_ps_busy(s);
        if (!s->json)
            connections(s);
        return 0;
    }
    if (rc < 0)
        return curio__mon_ask_failed(s, rc);
    curio__mon_take(s, r);
    curio__mon_req_put(r);
    if (!s->json && s->target < 0)
        connections(s);
    return 0;
}

int curio__mon_cmd_parents(curio__mon_session *s, char *arg)
{
    curio__mon_req *r;
    int rc = curio__mon_ask(s, CURIO__MON_PARENTS, arg, false, CURIO__MON_ASK_WAIT, &r);
    if (rc == -ETIMEDOUT) {
        curio__mon_parents_busy(s, arg);
        return 0;
    }
    if (rc < 0)
        return curio__mon_ask_failed(s, rc);
    curio__mon_take(s, r);
    curio__mon_req_put(r);
    return 0;
}

int curio__mon_cmd_cancel(curio__mon_session *s, char *arg)
{
    curio__mon_req *r;
    int rc = curio__mon_ask(s, CURIO__MON_CANCEL, arg, false,
                            CURIO__MON_ASK_WAIT + CANCEL_QUICK, &r);
    if (rc == -ETIMEDOUT) {
        curio__text_printf(&s->out, "Cancelling task %s when the kernel gets to it: ", arg);
        curio__mon_busy_line(s);
        return 0;
    }
    if (rc < 0)
        return curio__mon_ask_failed(s, rc);
    curio__mon_take(s, r);
    bool ended = r->ended;
    curio__mon_req_put(r);
    if (ended)
        return 0;
    if (!s->json && (rc = curio__mon_flush(s)) < 0)
        return rc;
    /* Ask for its outcome until it has ended, for CANCEL_WAIT at most. */
    int64_t until = curio__now() + curio__ns(CANCEL_WAIT);
    for (;;) {
        bool final = curio__now() >= until;
        rc = curio__mon_ask(s, CURIO__MON_STATUS, arg, final, CURIO__MON_ASK_WAIT, &r);
        if (rc == -ETIMEDOUT && final) {
            curio__mon_busy_line(s);
            return 0;
        }
        if (rc < 0 && rc != -ETIMEDOUT)
            return curio__mon_ask_failed(s, rc);
        if (rc == 0) {
            curio__mon_take(s, r);
            ended = r->ended;
            curio__mon_req_put(r);
            if (ended)
                return 0;
        }
        int64_t z = curio_sleep(CANCEL_POLL);
        if (z < 0)
            return (int)z;
    }
}
