/*
 * kernel/scope.c - timeout scopes (timeout_after, ignore_after) and disable_cancellation.
 *
 * A task's open scopes are a stack in its own record, outermost first. The curio_scope a
 * user holds only names its entry (depth and id), so a scope opened in a function that
 * returned without closing it is still safe to detect and discard: nothing ever reads the
 * dead frame. A deadline applies to a blocking call unless a disable_cancellation scope
 * lies between them.
 */
#include "kernel.h"

#include <math.h>
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
    r->expired = false;
    s->task = self;
    s->id = r->id;
    s->depth = self->nscopes++;
    s->expired = false;
    if (kind == CURIO__SCOPE_NOCANCEL)
        self->nocancel++;
    return 0;
}

/* NaN: already expired; +infinity or anything past ~292 years: no deadline. */
static int64_t deadline_in(double seconds)
{
    if (isnan(seconds))
        return curio__now();
    if (seconds >= 9.2e9)
        return CURIO__NO_DEADLINE;
    return curio__now() + (int64_t)llround(seconds * 1e9);
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

static bool passed(curio__scope_rec *r, int64_t now)
{
    if (r->kind != CURIO__SCOPE_NOCANCEL && !r->expired && r->deadline <= now)
        r->expired = true;
    return r->expired;
}

bool curio_scope_expired(const curio_scope *s)
{
    curio__scope_rec *r = lookup(s);
    return r ? passed(r, curio__now()) : s && s->expired;
}

int curio_scope_close(curio_scope *s)
{
    curio__scope_rec *r = lookup(s);
    if (!r)
        return -EINVAL;
    curio__task *self = s->task;
    int64_t now = curio__now();
    /* Inner scopes still open were left behind by code that returned without closing
     * them; if one of them expired, its timeout escaped: Curio's UncaughtTimeoutError. */
    bool leaked = false;
    while (self->nscopes > s->depth + 1) {
        curio__scope_rec *o = &self->scopes[--self->nscopes];
        if (o->kind == CURIO__SCOPE_NOCANCEL)
            self->nocancel--;
        else if (passed(o, now))
            leaked = true;
    }
    self->nscopes--;
    s->task = NULL;
    if (r->kind == CURIO__SCOPE_NOCANCEL) {
        self->nocancel--;
        return leaked ? CURIO_ETIMEOUT_LEAKED : 0;
    }
    s->expired = passed(r, now);
    /* An enclosing deadline that applies here takes precedence: unwinding goes on to it. */
    for (unsigned i = s->depth; i-- > 0;) {
        curio__scope_rec *o = &self->scopes[i];
        if (o->kind == CURIO__SCOPE_NOCANCEL)
            break;
        if (passed(o, now))
            return CURIO_ETIMEOUT_OUTER;
    }
    if (leaked)
        return CURIO_ETIMEOUT_LEAKED;
    if (s->expired)
        return r->kind == CURIO__SCOPE_TIMEOUT ? -ETIMEDOUT : 0;
    return 0;
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
    if (rc == 0 && !s.expired && result)
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
