/*
 * monitor/where.c - the `where` command: the C call stack of a task.
 *
 * A suspended task's backtrace must be taken on its own stack, so it is taken by a probe
 * (kernel/sched.c, curio__probe_run): the task is switched to for a moment and, still
 * inside curio__suspend, runs capture_probe, which calls glibc's backtrace() and returns;
 * the kernel switches straight back. backtrace() unwinds with the DWARF call-frame
 * information (.eh_frame), which every function has on x86-64 and aarch64 whether or not
 * it keeps a frame pointer, and stops at the task's first frame: the switch's trampoline
 * marks the end of the stack (x86-64: its return address is undefined in its CFI; aarch64:
 * it has no unwind entry; ucontext: glibc's __start_context ends the chain).
 *
 * Only addresses are taken on the task's stack. Turning them into names reads debugging
 * information through libdw, so that happens on a pool thread (curio_run_in_thread) while the
 * session task waits; the kernel goes on running meanwhile.
 */
#include "monitor.h"

#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAMES CURIO__MON_MAX_FRAMES

/* The stack a task must have left for the unwinder to run on it. backtrace() takes about
 * 1.1 KiB of it on x86-64 (5.5 KiB under AddressSanitizer; tests/monitor/test_probe.c
 * measures it); the rest is margin, since running off the end of a stack would kill the
 * process to answer a monitor command. */
#define UNWIND_ROOM (16 * 1024)

struct capture {
    const void *stack_lo;        /* the lowest usable byte of the task's stack */
    void *pcs[MAX_FRAMES];
    int n;
    int err;
};

/* Runs on the suspended task's stack (see curio__probe). noinline: it is a frame of its
 * own, which format() leaves out. */
__attribute__((noinline)) static void capture_probe(curio__probe *p)
{
    struct capture *c = p->arg;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t base = (uintptr_t)c->stack_lo;
    if (sp < base || sp - base < UNWIND_ROOM) {
        c->err = -ENOSPC;
        return;
    }
    c->n = backtrace(c->pcs, MAX_FRAMES);
}

/* The running task (the session asking about itself): its own stack is the one running. */
__attribute__((noinline)) static void capture_self(struct capture *c)
{
    c->n = backtrace(c->pcs, MAX_FRAMES);
}

struct symbolise_job {
    void *const *pcs;
    size_t n;
    curio__frames frames;
};

static long symbolise_job(void *arg)
{
    struct symbolise_job *j = arg;
    curio__symbolise(j->pcs, j->n, &j->frames);
    return 0;
}

static bool named(const curio__frame *f, const char *name)
{
    return f->func && strcmp(f->func, name) == 0;
}

/* The curio machinery above the task's blocking call (the capture, the probe's serving,
 * the suspension), which the listing leaves out; also backtrace() itself where a
 * sanitizer's interceptor stands in for it. */
static bool machinery(const curio__frame *f)
{
    return named(f, "capture_probe") || named(f, "capture_self") ||
           named(f, "serve_probes") || named(f, "curio__suspend") ||
           named(f, "sample_handler") ||
           (f->func && strncmp(f->func, "__interceptor_backtrace", 23) == 0);
}

/* Where the task's own frames begin: after curio__suspend, with what the compiler inlined
 * into it (the switch's helpers, which libdw names too); or, when curio__suspend has
 * no frame of its own (inlined into curio_yield), after the leading machinery. */
static size_t first_own(const curio__frames *fr, bool probed)
{
    if (probed)
        for (size_t i = 0; i < fr->n && i < 12; i++)
            if (named(&fr->v[i], "curio__suspend"))
                return i + 1;
    size_t first = 0;
    while (first < fr->n && machinery(&fr->v[first]))
        first++;
    return first;
}

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void format_frame(curio__text *o, const curio__frame *f)
{
    const char *func = f->func ? f->func : "??";
    if (f->file)
        curio__text_printf(o, "  File \"%s\", line %u, in %s\n", f->file, f->line, func);
    else if (f->module)
        curio__text_printf(o, "  File \"%s\" +0x%llx, in %s\n", basename_of(f->module),
                           (unsigned long long)f->offset, func);
    else
        curio__text_printf(o, "  In %s\n", func);
}

/* List the frames that belong to the task, most recent call last (Curio's order): from the
 * task's function (task_entry, which calls it, and what lies under it are left out) down
 * to the blocking call. skip is how many captured addresses are surely machinery when
 * there are no names to go by. */
static void format_json(curio__text *o, const curio__frames *fr, size_t first, size_t end,
                        bool truncated)
{
    curio__text_printf(o, "\"truncated\": %s, \"frames\": [", truncated ? "true" : "false");
    for (size_t i = end, k = 0; i-- > first; k++) {
        const curio__frame *f = &fr->v[i];
        curio__text_printf(o, "%s{\"func\": ", k ? ", " : "");
        if (f->func)
            curio__text_json(o, f->func);
        else
            curio__text_printf(o, "null");
        curio__text_printf(o, ", \"file\": ");
        if (f->file) {
            curio__text_json(o, f->file);
            curio__text_printf(o, ", \"line\": %u", f->line);
        } else {
            curio__text_printf(o, "null, \"line\": null");
        }
        curio__text_printf(o, ", \"module\": ");
        if (f->module)
            curio__text_json(o, f->module);
        else
            curio__text_printf(o, "null");
        curio__text_printf(o, ", \"offset\": %llu}", (unsigned long long)f->offset);
    }
    curio__text_printf(o, "]");
}

static void format(curio__text *o, const curio__frames *fr, size_t skip, bool probed,
                   bool truncated, bool json)
{
    size_t first = 0, end = fr->n;
    bool names = false; /* some frame is named (a vdso's, for one, may not be) */
    for (size_t i = 0; i < fr->n && !names; i++)
        names = fr->v[i].func != NULL;
    if (names) {
        first = first_own(fr, probed);
        for (size_t i = first; i < fr->n; i++) {
            if (named(&fr->v[i], "task_entry")) {
                end = i;
                break;
            }
        }
    } else {
        while (first < fr->n && fr->v[first].index < skip)
            first++;
    }
    if (json) {
        format_json(o, fr, first < end ? first : end, end, truncated && end == fr->n);
        return;
    }
    if (first >= end)
        curio__text_printf(o, "  (no frames)\n");
    if (truncated && end == fr->n)
        curio__text_printf(o, "  (only the innermost %d calls are shown)\n", MAX_FRAMES);
    bool lines = false;
    for (size_t i = end; i-- > first;) {
        format_frame(o, &fr->v[i]);
        lines |= fr->v[i].file != NULL;
    }
    if (fr->failed)
        curio__text_printf(o, "  (out of memory: frames may be missing or unnamed)\n");
    if (!lines && first < end)
        curio__text_printf(o, "  (no file:line: that needs debugging information (-g) and "
                              "a build with libdw)\n");
}

void curio__mon_format_stack(curio__text *o, void *const *pcs, int n, int skip)
{
    curio__frames fr = {0};
    curio__symbolise(pcs, n > 0 ? (size_t)n : 0, &fr);
    format(o, &fr, (size_t)skip, false, n == MAX_FRAMES, false);
    curio__frames_free(&fr);
}

/* On the watched kernel's thread (the agent): take the task's stack. */
void curio__mon_where_capture(curio__mon_session *s, curio__mon_req *r)
{
    curio__task *t;
    if (!curio__mon_task_arg(s, r->arg, "where", &t))
        return;
    curio__task_info ti;
    curio__task_snapshot(t, &ti);
    unsigned long long id = (unsigned long long)ti.id;
    if (ti.done) {
        curio__text_printf(&s->out, "Error: task %llu has ended: it has no stack\n", id);
        return;
    }
    /* The header describes the task as it was when its stack was taken: the names are
     * looked up on a thread meanwhile, while the task may move on (or end). */
    struct capture c = {.stack_lo = ti.stack_lo};
    int skip = 1;
    if (t == s->task) {
        capture_self(&c);
    } else {
        curio__probe p = {.task = t, .fn = capture_probe, .arg = &c};
        int rc = curio__probe_run(&p);
        if (rc == -EAGAIN) {
            curio__text_printf(&s->out, "Error: task %llu has not started yet: it has no "
                                        "stack to show\n", id);
            return;
        }
        if (rc < 0) {
            curio__text_printf(&s->out, "Error: task %llu: %s\n", id, curio_strerror(rc));
            return;
        }
        skip = 2; /* capture_probe, serve_probes */
    }
    if (c.err == -ENOSPC) {
        curio__text_printf(&s->out, "Error: task %llu has less than %d KiB of stack left: too "
                                    "little to unwind it safely\n", id, UNWIND_ROOM / 1024);
        return;
    }
    memcpy(r->pcs, c.pcs, sizeof r->pcs);
    r->n = c.n > 0 ? c.n : 0;
    r->skip = skip;
    r->ti = ti;
    r->captured = true;
}

/* Symbolise and list a stack taken (on the monitor's thread). */
static int show(curio__mon_session *s, void *const *pcs, int n, int skip, bool probed,
                unsigned long long id, const char *name, const char *state, const char *note)
{
    struct symbolise_job j = {.pcs = pcs, .n = n > 0 ? (size_t)n : 0};
    int rc = curio_run_in_thread(symbolise_job, &j, NULL);
    if (rc < 0) {
        curio__frames_free(&j.frames);
        if (rc == -ECANCELED)
            return rc;
        curio__text_printf(&s->out, "Error: cannot symbolise the stack: %s\n",
                           curio_strerror(rc));
        return 0;
    }
    if (s->json) {
        curio__text_printf(&s->out, "{\"id\": %llu, \"name\": ", id);
        curio__text_json(&s->out, name);
        curio__text_printf(&s->out, ", \"state\": \"%s\", \"note\": ", state);
        if (note)
            curio__text_json(&s->out, note);
        else
            curio__text_printf(&s->out, "null");
        curio__text_printf(&s->out, ", ");
        format(&s->out, &j.frames, (size_t)skip, probed, n == MAX_FRAMES, true);
        curio__text_printf(&s->out, "}%s", s->json_list ? "" : "\n");
        curio__frames_free(&j.frames);
        return 0;
    }
    curio__text_printf(&s->out, "Stack for Task(id=%llu, name='%s', state='%s') (most recent "
                                "call last):\n", id, name, state);
    if (note)
        curio__text_printf(&s->out, "%s", note);
    format(&s->out, &j.frames, (size_t)skip, probed, n == MAX_FRAMES, false);
    curio__frames_free(&j.frames);
    return 0;
}

/* The running task of a kernel too busy to answer: its stack by a signal. */
static int where_running(curio__mon_session *s, uint64_t id, double for_s)
{
    void *pcs[MAX_FRAMES];
    int skip;
    int n = curio__mon_sample_stack(s->mon->tid, pcs, MAX_FRAMES, &skip);
    if (n <= 0) {
        curio__text_printf(&s->out, "Error: task %llu is running and its stack could not be "
                                    "sampled\n", (unsigned long long)id);
        return 0;
    }
    char name[32] = "?";
    size_t cap = curio__tasks_peek(s->mon->k, NULL, 0) + 16;
    curio__task_peek *v = calloc(cap, sizeof *v);
    if (v) {
        size_t m = curio__tasks_peek(s->mon->k, v, cap);
        for (size_t i = 0; i < m && i < cap; i++)
            if (v[i].id == id)
                memcpy(name, v[i].name, sizeof name);
        free(v);
    }
    char note[128];
    snprintf(note, sizeof note, "  (running for %.3f s without a trap; sampled where it runs "
                                "now)\n", for_s);
    /* The handler's frames are left out by position: the signal's return trampoline has
     * no name of its own (it is named after whatever symbol precedes it). */
    return show(s, pcs + skip, n - skip, 0, false, (unsigned long long)id, name, "RUNNING",
                note);
}

static int where_one(curio__mon_session *s, char *arg, bool *busy);

/* where all: every live task's stack, in id order. A task that ends meanwhile, or has not
 * started, is listed with why it has no stack. */
static int where_all(curio__mon_session *s)
{
    size_t n;
    curio__task_peek *v = curio__mon_peek_all(s, &n);
    if (!v)
        return 0;
    if (s->json)
        curio__text_printf(&s->out, "{\"stacks\": [");
    int rc = 0;
    bool busy = false; /* once the kernel has not answered, it is not asked again */
    for (size_t i = 0; i < n && rc == 0; i++) {
        char id[24];
        snprintf(id, sizeof id, "%llu", (unsigned long long)v[i].id);
        size_t start = s->out.len;
        if (s->json) {
            if (i)
                curio__text_printf(&s->out, ", ");
            start = s->out.len;
            s->json_list = true;
        }
        rc = where_one(s, id, &busy);
        s->json_list = false;
        if (rc == 0 && s->json && !s->out.failed && s->out.len > start &&
            s->out.p[start] != '{') {
            /* An error line: as an object of its own. */
            char *text = strdup(s->out.p + start);
            s->out.len = start;
            s->out.p[start] = 0;
            if (text) {
                size_t k = strlen(text);
                if (k && text[k - 1] == '\n')
                    text[k - 1] = 0;
                curio__text_printf(&s->out, "{\"id\": %s, \"error\": ", id);
                curio__text_json(&s->out, strncmp(text, "Error: ", 7) ? text : text + 7);
                curio__text_printf(&s->out, "}");
                free(text);
            }
        } else if (!s->json && i + 1 < n) {
            curio__text_printf(&s->out, "\n");
        }
    }
    if (s->json && rc == 0)
        curio__text_printf(&s->out, "]}\n");
    free(v);
    return rc;
}

int curio__mon_cmd_where(curio__mon_session *s, char *arg)
{
    if (strcmp(arg, "all") == 0)
        return where_all(s);
    return where_one(s, arg, NULL);
}

/* where for one task. With busy (where all): *busy once the kernel has not answered in
 * time, and then the kernel is not asked (and made to take the stacks later) again. */
static int where_one(curio__mon_session *s, char *arg, bool *busy)
{
    curio__mon_req *r = NULL;
    int rc = busy && *busy ? -ETIMEDOUT
                           : curio__mon_ask(s, CURIO__MON_WHERE, arg, false, CURIO__MON_ASK_WAIT,
                                            &r);
    if (rc == -ETIMEDOUT) {
        if (busy)
            *busy = true;
        char *end;
        unsigned long long id = strtoull(arg, &end, 10);
        double for_s;
        uint64_t running = curio__mon_running(s->mon, &for_s);
        if (running && *arg >= '0' && *arg <= '9' && !*end && id == running)
            return where_running(s, running, for_s);
        curio__text_printf(&s->out, "Error: task %s's stack can be read once the kernel "
                                    "answers ", arg);
        curio__mon_busy_line(s);
        return 0;
    }
    if (rc < 0)
        return curio__mon_ask_failed(s, rc);
    if (!r->captured) {
        curio__mon_take(s, r);
        curio__mon_req_put(r);
        return 0;
    }
    rc = show(s, r->pcs, r->n, r->skip, r->skip == 2, (unsigned long long)r->ti.id, r->ti.name,
              r->ti.state, NULL);
    curio__mon_req_put(r);
    return rc;
}
