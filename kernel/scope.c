/*
 * kernel/scope.c - timeout scopes (timeout_after, ignore_after) and disable_cancellation.
 *
 * A task's open scopes form a stack through curio_scope.outer, innermost first, living in
 * the frames of the code that opened them. A deadline applies to a blocking call unless a
 * disable_cancellation scope lies between it and the call.
 */
#include "kernel.h"

#include <math.h>

static int push(curio_scope *s, int kind, int64_t deadline)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    s->outer = self->scopes;
    s->deadline = deadline;
    s->task = self;
    s->kind = (uint8_t)kind;
    s->expired = false;
    s->reserved = 0;
    self->scopes = s;
    if (kind == CURIO__SCOPE_NOCANCEL)
        self->nocancel++;
    return 0;
}

static int64_t deadline_in(double seconds)
{
    if (isnan(seconds))
        return curio__now();
    if (seconds >= 9.2e9)
        return CURIO__NO_DEADLINE - 1;
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

bool curio_scope_expired(const curio_scope *s) { return s->expired; }

/* An enclosing scope that applies inside s has expired (or its deadline has passed). */
static bool outer_expired(curio_scope *s)
{
    if (s->kind == CURIO__SCOPE_NOCANCEL)
        return false;
    int64_t now = 0;
    for (curio_scope *o = s->outer; o; o = o->outer) {
        if (o->kind == CURIO__SCOPE_NOCANCEL)
            return false;
        if (o->expired)
            return true;
        if (o->deadline != CURIO__NO_DEADLINE) {
            if (!now)
                now = curio__now();
            if (o->deadline <= now) {
                o->expired = true;
                return true;
            }
        }
    }
    return false;
}

int curio_scope_close(curio_scope *s)
{
    curio__task *self = curio__self();
    if (!self || s->task != self)
        return -EINVAL;
    bool leaked = false, found = false;
    for (curio_scope *o = self->scopes; o; o = o->outer) {
        if (o == s) {
            found = true;
            break;
        }
    }
    if (!found)
        return -EINVAL;
    /* Inner scopes left open (their code returned without closing them) are closed here;
     * if one of them had expired, its timeout escaped: Curio's UncaughtTimeoutError. */
    while (self->scopes != s) {
        curio_scope *o = self->scopes;
        if (o->expired && o->kind != CURIO__SCOPE_NOCANCEL)
            leaked = true;
        if (o->kind == CURIO__SCOPE_NOCANCEL)
            self->nocancel--;
        self->scopes = o->outer;
        o->task = NULL;
    }
    self->scopes = s->outer;
    s->task = NULL;
    if (s->kind == CURIO__SCOPE_NOCANCEL) {
        self->nocancel--;
        return 0;
    }
    if (outer_expired(s))
        return CURIO_ETIMEOUT_OUTER;
    if (leaked)
        return CURIO_ETIMEOUT_LEAKED;
    if (s->expired)
        return s->kind == CURIO__SCOPE_TIMEOUT ? -ETIMEDOUT : 0;
    return 0;
}

static int call_under(int kind, double seconds, curio_task_fn fn, void *arg, long *result,
                      bool *expired)
{
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
    if (self->cancel_requested)
        return -ECANCELED;
    int64_t d = curio__effective_deadline(self);
    for (curio_scope *s = self->scopes; s; s = s->outer) {
        if (s->kind == CURIO__SCOPE_NOCANCEL)
            break;
        if (s->expired)
            return -ETIMEDOUT;
    }
    if (d != CURIO__NO_DEADLINE && d <= curio__now()) {
        curio__expire_scopes(self, curio__now());
        return -ETIMEDOUT;
    }
    return 0;
}
