/*
 * sync/universal.c - how tasks and pthreads wait on the thread-safe objects, and how
 * they are woken (see universal.h for the protocol and its race).
 */
#include "universal.h"

#include <math.h>
#include <time.h>

/* What a task's wake-up readies it with: positive, so that curio__park's 0 (its own
 * deadline passed) and the kernel's negative interruptions stay distinct from it. */
#define GRANTED 1

_Atomic unsigned long curio__uwait_races;

void curio__ulist_push(curio__ulist *l, curio__uwaiter *w)
{
    curio__list_push_back(l, &w->node);
}

void curio__ulist_unlink(curio__ulist *l, curio__uwaiter *w)
{
    curio__list_remove(l, &w->node);
}

size_t curio__ulist_len(const curio__ulist *l)
{
    size_t n = 0;
    curio__list_foreach(node, l)
        n++;
    return n;
}

void curio__ugrant(curio__uwakes *wk, curio__ulist *l, curio__uwaiter *w, void *item)
{
    curio__ulist_unlink(l, w);
    w->item = item;
    w->granted = true;
    if (w->cv) {
        /* Under the mutex: the thread cannot have seen `granted` and left yet, so its
         * condition variable is certainly still there. */
        pthread_cond_signal(w->cv);
    } else {
        w->wake_next = NULL;
        if (wk->tail)
            wk->tail->wake_next = w;
        else
            wk->head = w;
        wk->tail = w;
    }
}

void curio__ugrant_all(curio__uwakes *wk, curio__ulist *l)
{
    curio__uwaiter *w;
    while ((w = curio__ulist_first(l)))
        curio__ugrant(wk, l, w, w->item);
}

/* On the task's kernel thread, outside the task. */
static void wake(void *arg)
{
    curio__uwaiter *w = arg;
    curio__task *t = w->task;
    w->woken = true;
    /* Parked: in curio__uwait's wait, or in the wait for this wake-up. Otherwise it was
     * interrupted and is on the ready queue; it will find `granted` under the mutex. */
    if (curio__task_parked(t))
        curio__ready_with(t, GRANTED);
}

void curio__uwakes_flush(curio__uwakes *wk)
{
    curio__uwaiter *w = wk->head;
    wk->head = wk->tail = NULL;
    curio_kernel *here = curio__tls_kernel;
    while (w) {
        /* Read the link first: once its wake-up has run, the record may be gone. */
        curio__uwaiter *next = w->wake_next;
        if (w->k == here)
            wake(w);
        else
            curio__post_node(w->k, &w->post);
        w = next;
    }
}

int curio__udeadline(double seconds, int64_t *deadline)
{
    if (!(seconds >= 0))
        return -EINVAL;
    if (seconds >= 9.2e9) {
        *deadline = CURIO__NO_DEADLINE;
        return 0;
    }
    *deadline = curio__now() + (int64_t)llround(seconds * 1e9);
    return 0;
}

/* ---- threads ---- */

/* One condition variable per thread (a thread waits on one thing at a time), on the
 * monotonic clock like every deadline in curio. It lives as long as its thread. */
static __thread pthread_cond_t thread_cv;
static __thread bool thread_cv_ready;

static pthread_cond_t *my_cv(void)
{
    if (!thread_cv_ready) {
        pthread_condattr_t a;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&thread_cv, &a);
        pthread_condattr_destroy(&a);
        thread_cv_ready = true;
    }
    return &thread_cv;
}

static int wait_thread(pthread_mutex_t *mu, curio__ulist *l, curio__uwaiter *w,
                       int64_t deadline)
{
    w->cv = my_cv();
    curio__ulist_push(l, w);
    struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
    while (!w->granted) {
        int r = deadline == CURIO__NO_DEADLINE ? pthread_cond_wait(w->cv, mu)
                                               : pthread_cond_timedwait(w->cv, mu, &ts);
        if (r == ETIMEDOUT && !w->granted) {
            curio__ulist_unlink(l, w);
            pthread_mutex_unlock(mu);
            return -ETIMEDOUT;
        }
    }
    pthread_mutex_unlock(mu);
    return 0;
}

/* ---- tasks ---- */

static int wait_task(curio__task *self, pthread_mutex_t *mu, curio__ulist *l,
                     curio__uwaiter *w, const char *state, int64_t deadline,
                     curio__ugive_back give_back, void *obj)
{
    w->cv = NULL;
    w->task = self;
    w->k = curio__task_kernel(self);
    w->woken = false;
    w->post.fn = wake;
    w->post.arg = w;
    w->post.heap = false;
    curio__ulist_push(l, w);
    pthread_mutex_unlock(mu);

    int rc = curio__park(state, deadline);
    if (rc == GRANTED)
        return 0;
    if (rc == 0) /* our own deadline passed (the _timeout forms) */
        rc = -ETIMEDOUT;

    /* Interrupted (or refused before parking). The grant may have raced us. */
    pthread_mutex_lock(mu);
    if (!w->granted) {
        curio__ulist_unlink(l, w);
        pthread_mutex_unlock(mu);
        return rc;
    }
    atomic_fetch_add_explicit(&curio__uwait_races, 1, memory_order_relaxed);
    curio__uwakes wk = {0};
    bool gave_back = give_back && give_back(obj, w, &wk);
    pthread_mutex_unlock(mu);
    curio__uwakes_flush(&wk);
    /* The wake-up for the grant is posted or on its way: our record must outlive it. */
    while (!w->woken)
        curio__park_nointr(self, state);
    return gave_back ? rc : curio__undeliver(self, rc);
}

int curio__uwait(pthread_mutex_t *mu, curio__ulist *l, curio__uwaiter *w, const char *state,
                 int64_t deadline, curio__ugive_back give_back, void *obj)
{
    w->granted = false;
    curio__task *self = curio__self();
    int rc = 0;
    if (self)
        rc = curio__trap_check(self);
    else if (curio__tls_kernel)
        rc = -EPERM; /* blocking this thread would stall its kernel */
    if (rc == 0 && deadline != CURIO__NO_DEADLINE && deadline <= curio__now())
        rc = -ETIMEDOUT;
    if (rc < 0) {
        pthread_mutex_unlock(mu);
        return rc;
    }
    return self ? wait_task(self, mu, l, w, state, deadline, give_back, obj)
                : wait_thread(mu, l, w, deadline);
}
