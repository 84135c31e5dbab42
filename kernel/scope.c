/*
 * kernel/scope.c - timeout scopes (timeout_after, ignore_after) and disable_cancellation.
 *
 * A task's open scopes are a stack in its own record, outermost first. The curio_scope a
 * user holds only names its entry (depth and id), so a scope opened in a function that
 * returned without closing it is still safe to detect and discard: nothing ever reads the
 * dead frame. A deadline applies to a blocking call unless a disable_cancellation scope
 * lies between them.
 */
#include "core.h"

#include <stdlib.h>

static int push(curio_scope *s, int kind, int64_t deadline)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (!s)
        return -EINVAL;
    if (curio__grow(&self->scopes, &self->cap_scopes, self->nscopes, sizeof(*self->scopes)))
        return -ENOMEM;
    curio__scope_rec *r = &self->scopes[self->nscopes];
    r->deadline = deadline;
    r->id = ++self->scope_ids;
    r->kind = (uint8_t)kind;
    r->expired = 0;
    s->task = self;
    s->id = r->id;
    s->depth = self->nscopes++;
    s->expired = false;
    if (kind == CURIO__SCOPE_NOCANCEL)
        self->nocancel++;
    return 0;
}

/* Zero, negative or NaN: already expired; +infinity or anything past ~292 years: no
 * deadline. */
static int64_t deadline_in(double seconds)
{
    if (!(seconds > 0))
        return curio__now();
    if (seconds >= 9.2e9)
        return CURIO__NO_DEADLINE;
    return curio__now() + curio__ns(seconds);
}

int curio_timeout_at(curio_scope *s, int64_t d) { return push(s, CURIO__SCOPE_TIMEOUT, d); }
int curio_ignore_at(curio_scope *s, int64_t d) { return push(s, CURIO__SCOPE_IGNORE, d); }

int curio_timeout_after(curio_scope *s, double seconds)
{
    return push(s, CURIO__SCOPE_TIMEOUT, deadline_in(seconds));
}

int curio_ignore_after(curio_scope *s, double seconds)
{
    return push(s, CURIO__SCOPE_IGNORE, deadline_in(seconds));
}

int curio_disable_cancellation(curio_scope *s)
{
    return push(s, CURIO__SCOPE_NOCANCEL, CURIO__NO_DEADLINE);
}

/* The record s names, or NULL if s is not open on the calling task. */
static curio__scope_rec *lookup(const curio_scope *s)
{
    curio__task *self = curio__self();
    if (!self || !s || s->task != self || s->depth >= self->nscopes)
        return NULL;
    curio__scope_rec *r = &self->scopes[s->depth];
    return r->id == s->id ? r : NULL;
}

/* Whether a blocking call was told -ETIMEDOUT because of r's deadline (see
 * curio__trap_check_slow): a deadline that passed while nothing blocked is not an expiry,
 * as in Curio, where a block that completes without receiving TaskTimeout is not expired. */
static bool delivered(const curio__scope_rec *r)
{
    return r->kind != CURIO__SCOPE_NOCANCEL && r->expired != 0;
}

bool curio_scope_expired(const curio_scope *s)
{
    curio__scope_rec *r = lookup(s);
    return r ? delivered(r) : s && s->expired;
}

int curio_scope_close(curio_scope *s)
{
    curio__scope_rec *r = lookup(s);
    if (!r)
        return -EINVAL;
    curio__task *self = s->task;
    /* Inner scopes still open were left behind by code that returned without closing
     * them; if one of them expired, its timeout escaped: Curio's UncaughtTimeoutError. */
    bool leaked = false;
    while (self->nscopes > s->depth + 1) {
        curio__scope_rec *o = &self->scopes[--self->nscopes];
        if (o->kind == CURIO__SCOPE_NOCANCEL)
            self->nocancel--;
        else if (delivered(o))
            leaked = true;
    }
    self->nscopes--;
    s->task = NULL;
    if (r->kind == CURIO__SCOPE_NOCANCEL) {
        self->nocancel--;
        return leaked ? CURIO_ETIMEOUT_LEAKED : 0;
    }
    s->expired = delivered(r);
    /* An enclosing deadline delivered with ours takes precedence: unwinding goes on to it
     * (the outermost expired scope owns the timeout, as in Curio). */
    for (unsigned i = s->depth; i-- > 0;) {
        curio__scope_rec *o = &self->scopes[i];
        if (o->kind == CURIO__SCOPE_NOCANCEL)
            break;
        if (delivered(o))
            return CURIO_ETIMEOUT_OUTER;
    }
    if (leaked)
        return CURIO_ETIMEOUT_LEAKED;
    if (s->expired)
        return r->kind == CURIO__SCOPE_TIMEOUT ? -ETIMEDOUT : 0;
    return 0;
}

void curio__scopes_drop_deadlines(curio__task *t)
{
    /* Curio's first step of a cancel drops the task's pending timeout: the cancellation,
     * not a deadline that passes during the cleanup it starts, is what the task reports.
     * Scopes opened inside a disable_cancellation scope that is open now bound that
     * cleanup (nothing else can interrupt it) and keep their deadlines; so do scopes
     * opened after the request. */
    for (unsigned i = 0; i < t->nscopes; i++) {
        curio__scope_rec *r = &t->scopes[i];
        if (r->kind == CURIO__SCOPE_NOCANCEL)
            return;
        if (!r->expired)
            r->deadline = CURIO__NO_DEADLINE;
    }
}

static int call_under(int kind, double seconds, curio_task_fn fn, void *arg, long *result,
                      bool *expired)
{
    if (!fn)
        return curio__self() ? -EINVAL : -EPERM;
    curio_scope s;
    int rc = push(&s, kind, deadline_in(seconds));
    if (rc < 0)
        return rc;
    long r = fn(arg);
    rc = curio_scope_close(&s);
    if (expired)
        *expired = s.expired;
    /* Whatever fn returned is the caller's: a value it completed in time must not be
     * lost, and one it returned after an expiry (its -ETIMEDOUT) says how it ended. */
    if (result)
        *result = r;
    return rc;
}

int curio_timeout_after_call(double seconds, curio_task_fn fn, void *arg, long *result)
{
    return call_under(CURIO__SCOPE_TIMEOUT, seconds, fn, arg, result, NULL);
}

int curio_ignore_after_call(double seconds, curio_task_fn fn, void *arg, long *result,
                            bool *expired)
{
    return call_under(CURIO__SCOPE_IGNORE, seconds, fn, arg, result, expired);
}

int curio_check_cancellation(void)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (self->cancel_requested) { /* reported even inside disable_cancellation */
        self->cancel_delivered = true; /* observed: returning it means "cancelled" */
        return -ECANCELED;
    }
    return curio__trap_check_slow(self); /* the scopes, as a blocking call sees them */
}
