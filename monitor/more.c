/*
 * monitor/more.c - the commands that show more than the task table: ended (the last tasks
 * to end and how), blocked (what each blocked task waits on), stats (a kernel's counters,
 * one "name value" a line), kernels (every kernel of a curio_cores_run).
 *
 * ended and kernels read thread-safe views from the monitor's thread (kernel/introspect.h,
 * kernel/cores.c); waits and stats are answered by the agent on the watched kernel's
 * thread, since what they read (a blocked task's operation, the ring) is that thread's.
 * The kernel records only pointers and descriptors it has anyway (the wait queue a task
 * parks in, its operation's descriptor); the formatting, and the getpeername(2) that
 * names a socket's peer, happen here.
 */
#include "monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static bool ended_copy(curio__mon_session *s, curio__ended_info *v, size_t cap, size_t *n,
                       uint64_t *total);

/* ---- ended ---- */

/* How an ended task ended, in words. */
static void outcome_text(curio__mon_session *s, const curio__ended_info *e, char *buf,
                         size_t cap)
{
    if (e->cancelled) {
        if (!e->cancel_by)
            snprintf(buf, cap, "cancelled (not by a task: the kernel's shutdown or a post)");
        else
            snprintf(buf, cap, "cancelled by task %llu%s", (unsigned long long)e->cancel_by,
                     curio__mon_is_own(s->mon, e->cancel_by) ? " (the monitor)" : "");
    } else if (e->result == -ETIMEDOUT) {
        snprintf(buf, cap, "error %ld (%s: a timeout)", e->result, curio_strerror(-ETIMEDOUT));
    } else if (e->result < 0) {
        snprintf(buf, cap, "error %ld (%s)", e->result, curio_strerror((int)e->result));
    } else {
        snprintf(buf, cap, "result %ld", e->result);
    }
}

int curio__mon_cmd_ended(curio__mon_session *s, char *arg)
{
    (void)arg;
    curio__ended_info *v = calloc(CURIO__MON_ENDED, sizeof *v);
    if (!v) {
        curio__text_printf(&s->out, "Error: out of memory\n");
        return 0;
    }
    uint64_t total;
    size_t n;
    if (!ended_copy(s, v, CURIO__MON_ENDED, &n, &total)) {
        free(v);
        return 0;
    }
    int64_t now = curio__now();
    curio__text *o = &s->out;
    if (s->json) {
        curio__text_printf(o, "{\"ended_total\": %llu, \"kept\": %zu, \"tasks\": [",
                           (unsigned long long)total, n);
        for (size_t i = 0; i < n; i++) {
            const curio__ended_info *e = &v[i];
            const char *how = e->cancelled ? "cancelled" : e->result < 0 ? "error" : "result";
            curio__text_printf(o, "%s{\"id\": %llu, \"parent\": %llu, \"name\": ", i ? ", " : "",
                               (unsigned long long)e->id, (unsigned long long)e->parent_id);
            curio__text_json(o, e->name);
            curio__text_printf(o, ", \"ago\": %.6f, \"how\": \"%s\", \"result\": %ld",
                               (double)(now - e->when) / 1e9, how, e->result);
            if (e->result < 0 && !e->cancelled) {
                curio__text_printf(o, ", \"error\": ");
                curio__text_json(o, curio_strerror((int)e->result));
            }
            curio__text_printf(o, ", \"timeout\": %s", e->result == -ETIMEDOUT && !e->cancelled
                                                           ? "true" : "false");
            if (e->cancel_requested && e->cancel_by)
                curio__text_printf(o, ", \"cancelled_by\": %llu",
                                   (unsigned long long)e->cancel_by);
            else
                curio__text_printf(o, ", \"cancelled_by\": null");
            curio__text_printf(o, ", \"internal\": %s}", e->internal ? "true" : "false");
        }
        curio__text_printf(o, "]}\n");
        free(v);
        return 0;
    }
    curio__text_printf(o, "%-6s %-10s %-20s %s\n", "Task", "Ago (s)", "Name", "How it ended");
    curio__text_printf(o, "------ ---------- -------------------- "
                          "----------------------------------------\n");
    for (size_t i = 0; i < n; i++) {
        const curio__ended_info *e = &v[i];
        char how[160];
        outcome_text(s, e, how, sizeof how);
        curio__text_printf(o, "%-6llu %-10.3f %-20s %s", (unsigned long long)e->id,
                           (double)(now - e->when) / 1e9, e->name, how);
        if (e->cancel_requested && !e->cancelled)
            curio__text_printf(o, " (its cancellation was requested by %s%llu)",
                               e->cancel_by ? "task " : "", (unsigned long long)e->cancel_by);
        curio__text_printf(o, "\n");
    }
    curio__text_printf(o, "(%llu tasks ended in all; the last %u are kept, newest first)\n",
                       (unsigned long long)total, (unsigned)CURIO__MON_ENDED);
    free(v);
    return 0;
}

/* ---- waits ---- */

/* The kind of object a wait-queue state is about. */
static const char *object_kind(const char *state)
{
    static const struct {
        const char *prefix, *kind;
    } kinds[] = {
        {"EVENT", "event"},     {"LOCK", "lock"},       {"SEMA", "semaphore"},
        {"COND", "condition"},  {"QUEUE", "queue"},     {"TASK_JOIN", "task"},
        {"CORE", "core"},       {"PROC", "process"},    {"SIGNAL", "signal set"},
        {"WORKER", "worker"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strncmp(state, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
            return kinds[i].kind;
    return "wait queue";
}

/* What descriptor fd is: "socket" with its peer (or the address it listens on), or
 * "fd" for another file. */
static void describe_fd(int fd, bool *sock, char *peer, size_t cap, bool *listening)
{
    *sock = false;
    *listening = false;
    peer[0] = 0;
    int type;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return;
    *sock = true;
    curio_addr a = {.len = sizeof a.u};
    if (getpeername(fd, &a.u.sa, &a.len) == 0) {
        curio_addr_format(&a, peer, cap);
        return;
    }
    int acc = 0;
    len = sizeof acc;
    a.len = sizeof a.u;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0 && acc &&
        getsockname(fd, &a.u.sa, &a.len) == 0) {
        *listening = true;
        curio_addr_format(&a, peer, cap);
    }
}

static int by_task(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const curio__fd_claim_info *)a)->task;
    uintptr_t y = (uintptr_t)((const curio__fd_claim_info *)b)->task;
    return x < y ? -1 : x > y;
}

/* The descriptor a task waits on according to the claims (a wait without an operation of
 * its own, such as a receive from the provided-buffer ring), or -1. */
static int claimed_fd(const curio__fd_claim_info *v, size_t n, const curio__task *t)
{
    curio__fd_claim_info key = {.task = t};
    const curio__fd_claim_info *f = v ? bsearch(&key, v, n, sizeof *v, by_task) : NULL;
    return f ? f->fd : -1;
}

void curio__mon_waits(curio__mon_session *s, char *arg)
{
    (void)arg;
    curio__text *o = &s->out;
    size_t nclaims = curio__fd_claims_list(s->mon->k, NULL, 0);
    curio__fd_claim_info *claims = nclaims ? calloc(nclaims, sizeof *claims) : NULL;
    if (claims) {
        curio__fd_claims_list(s->mon->k, claims, nclaims);
        qsort(claims, nclaims, sizeof *claims, by_task);
    }
    if (s->json)
        curio__text_printf(o, "{\"waits\": [");
    else
        curio__text_printf(o, "%-6s %-12s %-20s %s\n------ ------------ -------------------- "
                              "----------------------------------------\n",
                           "Task", "State", "Name", "Waits on");
    size_t k = 0;
    for (curio__task *t = curio__tasks_first(s->mon->k); t; t = curio__tasks_next(t)) {
        curio__task_info ti;
        curio__task_snapshot(t, &ti);
        if (ti.fd < 0 && !ti.waits_on && strcmp(ti.state, "READY") != 0 &&
            strcmp(ti.state, "RUNNING") != 0)
            ti.fd = claimed_fd(claims, nclaims, t);
        if (ti.fd < 0 && !ti.waits_on)
            continue;
        char peer[CURIO_ADDR_STRLEN];
        bool sock = false, listening = false;
        if (ti.fd >= 0)
            describe_fd(ti.fd, &sock, peer, sizeof peer, &listening);
        if (s->json) {
            curio__text_printf(o, "%s{\"id\": %llu, \"state\": \"%s\", \"name\": ", k ? ", " : "",
                               (unsigned long long)ti.id, ti.state);
            curio__text_json(o, ti.name);
            if (ti.fd >= 0) {
                curio__text_printf(o, ", \"fd\": %d, \"socket\": %s", ti.fd,
                                   sock ? "true" : "false");
                if (peer[0]) {
                    curio__text_printf(o, ", \"%s\": ", listening ? "listening" : "peer");
                    curio__text_json(o, peer);
                }
            } else {
                curio__text_printf(o, ", \"object\": \"%s\", \"address\": \"%p\"",
                                   object_kind(ti.state), ti.waits_on);
            }
            curio__text_printf(o, "}");
        } else {
            curio__text_printf(o, "%-6llu %-12s %-20s ", (unsigned long long)ti.id, ti.state,
                               ti.name);
            if (ti.fd >= 0 && peer[0])
                curio__text_printf(o, "fd %d, socket, %s %s\n", ti.fd,
                                   listening ? "listening on" : "peer", peer);
            else if (ti.fd >= 0)
                curio__text_printf(o, "fd %d%s\n", ti.fd, sock ? ", socket" : "");
            else
                curio__text_printf(o, "%s at %p\n", object_kind(ti.state), ti.waits_on);
        }
        k++;
    }
    free(claims);
    if (s->json)
        curio__text_printf(o, "]}\n");
    else
        curio__text_printf(o, "(%zu tasks wait on a descriptor or an object)\n", k);
}

int curio__mon_cmd_waits(curio__mon_session *s, char *arg)
{
    curio__mon_req *r;
    int rc = curio__mon_ask(s, CURIO__MON_WAITS, arg, false, CURIO__MON_ASK_WAIT, &r);
    if (rc == -ETIMEDOUT) {
        if (s->json)
            curio__text_printf(&s->out, "{\"busy\": true}\n");
        else {
            curio__text_printf(&s->out, "Error: what tasks wait on can be read once the kernel "
                                        "answers ");
            curio__mon_busy_line(s);
        }
        return 0;
    }
    if (rc < 0)
        return curio__mon_ask_failed(s, rc);
    curio__mon_take(s, r);
    curio__mon_req_put(r);
    return 0;
}

/* ---- stats ---- */

/* The counters, as lines "curio_<name> <value>" (or a JSON object). */
static void put_stat(curio__mon_session *s, bool *first, const char *name, uint64_t v)
{
    if (s->json)
        curio__text_printf(&s->out, "%s\"%s\": %llu", *first ? "" : ", ", name,
                           (unsigned long long)v);
    else
        curio__text_printf(&s->out, "%s %llu\n", name, (unsigned long long)v);
    *first = false;
}

void curio__mon_stats(curio__mon_session *s, char *arg)
{
    (void)arg;
    curio__kernel_stats st;
    curio__kernel_stats_read(s->mon->k, &st);
    bool first = true;
    if (s->json)
        curio__text_printf(&s->out, "{");
    put_stat(s, &first, "tasks", st.tasks);
    put_stat(s, &first, "tasks_ready", st.ready);
    put_stat(s, &first, "tasks_zombie", st.zombies);
    put_stat(s, &first, "tasks_ended", st.ended);
    put_stat(s, &first, "switches", st.switches);
    put_stat(s, &first, "ops_inflight", st.inflight);
    put_stat(s, &first, "sq_entries", st.sq_entries);
    put_stat(s, &first, "sq_depth", st.sq_ready);
    put_stat(s, &first, "cq_entries", st.cq_entries);
    put_stat(s, &first, "cq_depth", st.cq_ready);
    put_stat(s, &first, "cq_overflows", st.cq_overflow);
    put_stat(s, &first, "timers", st.timers);
    put_stat(s, &first, "posts_pending", st.posts_pending);
    if (s->json)
        curio__text_printf(&s->out, "}\n");
}

int curio__mon_cmd_stats(curio__mon_session *s, char *arg)
{
    curio__mon_req *r;
    int rc = curio__mon_ask(s, CURIO__MON_STATS, arg, false, CURIO__MON_ASK_WAIT, &r);
    if (rc == -ETIMEDOUT && s->target < 0) {
        /* What another thread may read: the task list and the switch counter. */
        uint64_t running, switches, total;
        curio__kernel_activity(s->mon->k, &running, &switches);
        size_t tasks = curio__tasks_peek(s->mon->k, NULL, 0);
        (void)curio__tasks_ended(s->mon->k, NULL, 0, &total);
        double for_s;
        (void)curio__mon_running(s->mon, &for_s);
        bool first = true;
        if (s->json)
            curio__text_printf(&s->out, "{\"busy\": true, ");
        put_stat(s, &first, "tasks", tasks);
        put_stat(s, &first, "tasks_ended", total);
        put_stat(s, &first, "switches", switches);
        put_stat(s, &first, "running_task", running);
        put_stat(s, &first, "running_for_us", (uint64_t)(for_s * 1e6));
        if (s->json)
            curio__text_printf(&s->out, "}\n");
        else
            curio__text_printf(&s->out, "busy 1\n");
        return 0;
    }
    if (rc < 0)
        return curio__mon_ask_failed(s, rc);
    curio__mon_take(s, r);
    curio__mon_req_put(r);
    if (!s->json)
        curio__text_printf(&s->out, "busy 0\n");
    return 0;
}

/* ---- the kernels of a curio_cores_run ---- */

struct put_foreign {
    unsigned index;
    curio__mon_req *r;
    int rc;
};

static void put_foreign_cb(void *arg, unsigned index, int tid, curio_kernel *k)
{
    (void)tid;
    struct put_foreign *p = arg;
    const struct curio__monitor *m = curio__kernel_monitor(k);
    if (index == p->index && m)
        p->rc = curio_universal_queue_put(m->requests, p->r);
}

int curio__mon_put_foreign(struct curio__monitor *m, unsigned index, curio__mon_req *r)
{
    struct put_foreign p = {.index = index, .r = r, .rc = -ESRCH};
    if (m->run)
        curio__cores_visit(m->run, put_foreign_cb, &p);
    return p.rc;
}

struct ended_foreign {
    unsigned index;
    curio__ended_info *v;
    size_t cap, n;
    uint64_t total;
    bool found;
};

static void ended_foreign_cb(void *arg, unsigned index, int tid, curio_kernel *k)
{
    (void)tid;
    struct ended_foreign *e = arg;
    if (index == e->index) {
        e->n = curio__tasks_ended(k, e->v, e->cap, &e->total);
        e->found = true;
    }
}

/* ended's copy of the ring, of the monitor's own kernel or of the session's target.
 * Returns false (and says so) for a kernel that is not there. */
static bool ended_copy(curio__mon_session *s, curio__ended_info *v, size_t cap, size_t *n,
                       uint64_t *total)
{
    if (s->target < 0) {
        *n = curio__tasks_ended(s->mon->k, v, cap, total);
        return true;
    }
    struct ended_foreign e = {.index = (unsigned)s->target, .v = v, .cap = cap};
    if (s->mon->run)
        curio__cores_visit(s->mon->run, ended_foreign_cb, &e);
    if (!e.found) {
        curio__text_printf(&s->out, "Error: no kernel %d in this run (or it is ending)\n",
                           s->target);
        return false;
    }
    *n = e.n;
    *total = e.total;
    return true;
}

struct kernels_walk {
    curio__mon_session *s;
    unsigned seen;
};

static void kernel_entry(void *arg, unsigned index, int tid, curio_kernel *k)
{
    struct kernels_walk *w = arg;
    curio__mon_session *s = w->s;
    curio__text *o = &s->out;
    size_t cap = curio__tasks_peek(k, NULL, 0) + 16;
    curio__task_peek *v = calloc(cap, sizeof *v);
    size_t n = v ? curio__tasks_peek(k, v, cap) : 0;
    if (n > cap)
        n = cap;
    uint64_t running, switches;
    curio__kernel_activity(k, &running, &switches);
    const struct curio__monitor *km = curio__kernel_monitor(k);
    if (s->json) {
        curio__text_printf(o, "%s{\"index\": %u, \"thread\": %d, \"this\": %s, \"agent\": %s, "
                              "\"running\": %llu, \"switches\": %llu, \"tasks\": [",
                           w->seen ? ", " : "", index, tid, k == s->mon->k ? "true" : "false",
                           km ? "true" : "false", (unsigned long long)running,
                           (unsigned long long)switches);
        for (size_t i = 0; i < n; i++) {
            curio__text_printf(o, "%s{\"id\": \"%u:%llu\", \"state\": \"%s\", \"cycles\": %llu, "
                                  "\"name\": ", i ? ", " : "", index,
                               (unsigned long long)v[i].id, v[i].state,
                               (unsigned long long)v[i].cycles);
            curio__text_json(o, v[i].name);
            curio__text_printf(o, ", \"internal\": %s}", v[i].internal ? "true" : "false");
        }
        curio__text_printf(o, "]}");
    } else {
        curio__text_printf(o, "Kernel %u (thread %d)%s: %zu tasks, %s", index, tid,
                           k == s->mon->k ? ", this monitor's" : "", n,
                           km ? "" : "no agent (the monitor cannot act on it), ");
        if (running)
            curio__text_printf(o, "running task %u:%llu\n", index,
                               (unsigned long long)running);
        else
            curio__text_printf(o, "in its scheduler\n");
        for (size_t i = 0; i < n; i++) {
            char id[32];
            snprintf(id, sizeof id, "%u:%llu", index, (unsigned long long)v[i].id);
            curio__text_printf(o, "    %-10s %-12s %-10llu %s\n", id, v[i].state,
                               (unsigned long long)v[i].cycles, v[i].name);
        }
    }
    if (!v)
        s->out.failed = true;
    free(v);
    w->seen++;
}

int curio__mon_cmd_kernels(curio__mon_session *s, char *arg)
{
    (void)arg;
    struct kernels_walk w = {.s = s};
    if (s->json)
        curio__text_printf(&s->out, "{\"run\": %s, \"kernels\": [",
                           s->mon->run ? "true" : "false");
    if (s->mon->run) {
        unsigned n = curio__cores_visit(s->mon->run, kernel_entry, &w);
        if (!s->json && w.seen < n)
            curio__text_printf(&s->out, "(%u of the run's %u kernels are not running)\n",
                               n - w.seen, n);
    } else {
        kernel_entry(&w, 0, s->mon->tid, s->mon->k);
        if (!s->json)
            curio__text_printf(&s->out, "(one kernel: not a curio_cores_run)\n");
    }
    if (s->json)
        curio__text_printf(&s->out, "]}\n");
    return 0;
}

int curio__mon_cmd_on(curio__mon_session *s, char *arg)
{
    char *end;
    unsigned long k = strtoul(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || (*end != ' ' && *end != '\t') || k > 65535) {
        curio__text_printf(&s->out, "Error: usage: on kernel command (kernel: its index, as "
                                    "kernels lists)\n");
        return 0;
    }
    end += strspn(end, " \t");
    int was = s->target;
    s->target = s->mon->run && k != s->mon->core ? (int)k : -1;
    if (!s->mon->run && k != 0)
        curio__text_printf(&s->out, "Error: no kernel %lu: not a curio_cores_run\n", k);
    int rc = s->mon->run || k == 0 ? curio__mon_command(s, end) : 0;
    s->target = was;
    return rc;
}
