/*
 * tests/sync/synctest.h - what the sync tests share beyond tests/common/testutil.h.
 *
 * Note: criterion 2.4's runner leaks 48 bytes (LeakSanitizer fails the sanitizer build)
 * when the tests of one binary, run with --jobs=2, have different .timeout values. Keep
 * every .timeout in a file the same.
 */
#ifndef CURIO_SYNCTEST_H
#define CURIO_SYNCTEST_H

#include "testutil.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

/* A short name for a result in event logs. */
static inline const char *rcname(long rc)
{
    switch (rc) {
    case 0: return "ok";
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case -EPERM: return "EPERM";
    case -EINVAL: return "EINVAL";
    case -EAGAIN: return "EAGAIN";
    case -EBUSY: return "EBUSY";
    case -EOVERFLOW: return "EOVERFLOW";
    case -ENOMEM: return "ENOMEM";
    default: return rc > 0 ? "positive" : "other";
    }
}

/* Yield until task t shows the given state (or fail). */
static inline void yield_until_state(curio_task *t, const char *state)
{
    for (int i = 0; i < 10000 && strcmp(curio_task_state(t), state) != 0; i++)
        cr_assert_eq(curio_yield(), 0);
    cr_assert_str_eq(curio_task_state(t), state);
}

/* Join t (which must end normally), release it, and return its result. */
static inline long join_release(curio_task *t)
{
    long r = -12345;
    cr_assert_eq(curio_join(t, &r), 0);
    curio_task_release(t);
    return r;
}

/* Run fn(arg) on a new pthread and return its result: for "another thread" checks. */
typedef struct thread_call {
    long (*fn)(void *);
    void *arg;
    long result;
} thread_call;

static void *thread_call_main(void *p)
{
    thread_call *c = p;
    c->result = c->fn(c->arg);
    return NULL;
}

static inline long on_other_thread(long (*fn)(void *), void *arg)
{
    thread_call c = {fn, arg, -12345};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, thread_call_main, &c), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    return c.result;
}

/* Run fn(arg) as the main task of a kernel on a new pthread; returns fn's result. */
typedef struct kernel_call {
    long (*fn)(void *);
    void *arg;
} kernel_call;

static long kernel_call_main(void *p)
{
    kernel_call *c = p;
    long r = -12345;
    int rc = curio_run(c->fn, c->arg, NULL, &r);
    return rc < 0 ? rc : r;
}

static inline long on_other_kernel(long (*fn)(void *), void *arg)
{
    kernel_call c = {fn, arg};
    return on_other_thread(kernel_call_main, &c);
}

#endif
