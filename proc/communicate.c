/*
 * proc/communicate.c - Python's communicate(): feed stdin and drain stdout and stderr at
 * the same time, then wait for the child.
 *
 * Each pipe gets a task of its own in a task group (Curio does the same with spawned
 * readers), so a child that fills one pipe while we write to another can never deadlock
 * us, whatever the amounts. The group's join gives the structure: an interruption of the
 * caller cancels the members and waits for them before returning, and what each reader
 * had read by then is handed back (read_all keeps what it read before an error). The
 * members reach the streams through the process object, never through a pointer taken
 * before they ran: destroy may have closed a stream before a member starts.
 */
#include "proc.h"

#include <stdlib.h>
#include <string.h>

struct member {
    curio_process *p;
    int which;                /* STDIN_FILENO, STDOUT_FILENO or STDERR_FILENO */
    const void *input;        /* the writer's */
    size_t len;
    char *data;               /* a reader's: what it read (from read_all) */
    size_t n;
    long rc;
};

static long writer(void *arg)
{
    struct member *m = arg;
    curio_process *p = m->p;
    curio_stream *s = p->std[0];
    if (p->gate.closing || !s)
        return m->rc = -EBADF;
    ssize_t rc = m->len ? curio_stream_write(s, m->input, m->len, NULL) : 0;
    if (rc == -EPIPE || rc == -ECONNRESET)
        rc = 0; /* the child ended without reading all of it: not an error (Python) */
    if (!p->gate.closing && p->std[0] == s)
        curio_process_close_stdin(p); /* end of file for the child, also when interrupted */
    return m->rc = rc < 0 ? rc : 0;
}

static long reader(void *arg)
{
    struct member *m = arg;
    curio_stream *s = m->p->std[m->which];
    if (m->p->gate.closing || !s)
        return m->rc = -EBADF;
    ssize_t rc = curio_stream_read_all(s, &m->data, &m->n);
    return m->rc = rc < 0 ? rc : 0;
}

static int spawn_member(curio_group *g, struct member *m, curio_task_fn fn, const char *name)
{
    curio_spawn_options o = {.name = name};
    return curio_group_spawn(g, NULL, fn, m, &o);
}

/* Hand a reader's bytes over: an empty string rather than NULL for a captured stream. */
static int take(struct member *m, bool captured, char **data, size_t *n)
{
    *data = NULL;
    *n = 0;
    if (!captured)
        return 0;
    if (!m->data && !(m->data = calloc(1, 1)))
        return -ENOMEM;
    *data = m->data;
    *n = m->n;
    return 0;
}

/* The group ended badly: which member's error to report. */
static int member_error(struct member *ms, int count)
{
    for (int i = 0; i < count; i++)
        if (ms[i].rc < 0 && ms[i].rc != -ECANCELED)
            return (int)ms[i].rc;
    return -ECANCELED;
}

int curio_process_communicate(curio_process *p, const void *input, size_t input_len,
                              curio_completed *res)
{
    if (res)
        memset(res, 0, sizeof *res);
    if (!p || !res)
        return -EINVAL;
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (p->gate.closing)
        return -EBADF;
    if (input_len && (!input || !p->std[0]))
        return -EINVAL;
    bool out = p->std[1] != NULL, err = p->std[2] != NULL;
    struct member ms[3] = {
        {.p = p, .which = 0, .input = input, .len = input_len},
        {.p = p, .which = 1},
        {.p = p, .which = 2},
    };
    curio__process_enter(p, self); /* cannot fail: not closing, checked above */
    curio_group *g = NULL;
    int rc = curio_group_create(&g, CURIO_WAIT_ALL);
    if (rc == 0 && p->std[0])
        rc = spawn_member(g, &ms[0], writer, "communicate-stdin");
    if (rc == 0 && out)
        rc = spawn_member(g, &ms[1], reader, "communicate-stdout");
    if (rc == 0 && err)
        rc = spawn_member(g, &ms[2], reader, "communicate-stderr");
    if (rc == 0)
        rc = curio_group_join(g);
    if (rc == CURIO_ETASKFAILED)
        rc = member_error(ms, 3);
    if (g)
        curio_group_destroy(g); /* after a failed spawn: cancels and waits for the rest */
    int t1 = take(&ms[1], out, &res->out, &res->out_len);
    int t2 = take(&ms[2], err, &res->err, &res->err_len);
    if (rc == 0)
        rc = t1 < 0 ? t1 : t2;
    if (rc == 0)
        rc = curio_process_wait(p, &res->returncode);
    return curio__process_leave(p, rc);
}

void curio_completed_free(curio_completed *c)
{
    if (!c)
        return;
    free(c->out);
    free(c->err);
    memset(c, 0, sizeof *c);
}
