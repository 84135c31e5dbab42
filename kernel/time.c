/*
 * kernel/time.c - the monotonic clock, the kernel's deadline heap, and sleep.
 *
 * Waits that are not I/O (sleep, join, events, queues...) keep their deadline in a binary
 * min-heap here; the ring's wait is bounded by the earliest one. That costs no SQE and no
 * system call per sleeper, cancelling a sleeper is synchronous, and a million sleepers are
 * a million heap entries (24 bytes each). I/O waits keep theirs here too (an expiry
 * cancels the operation), except very near deadlines, which get a linked timeout SQE
 * (kernel/trap.c, curio__op_wait).
 */
#include "core.h"

#include <stdlib.h>
#include <time.h>

int64_t (*curio__clock_hook)(int64_t now);

/* Every reading is also kept as the thread's kernel's latest (k->now, fresh for the rest
 * of the pass: see curio__trap_check_slow). The clock is monotonic, so a later reading
 * never moves it back. */
int64_t curio__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (__builtin_expect(curio__clock_hook != NULL, 0))
        now = curio__clock_hook(now);
    curio_kernel *k = curio__tls_kernel;
    if (k) {
        k->now = now;
        k->now_fresh = true;
    }
    return now;
}

int64_t curio_clock(void) { return curio__now(); }

static bool before(const curio__timer *a, const curio__timer *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void place(curio_kernel *k, size_t i, curio__timer e)
{
    k->heap[i] = e;
    e.task->heap_index = i;
}

static void sift_up(curio_kernel *k, size_t i, curio__timer e)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&e, &k->heap[parent]))
            break;
        place(k, i, k->heap[parent]);
        i = parent;
    }
    place(k, i, e);
}

static void sift_down(curio_kernel *k, size_t i, curio__timer e)
{
    size_t n = k->heap_len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&k->heap[c + 1], &k->heap[c]))
            c++;
        if (!before(&k->heap[c], &e))
            break;
        place(k, i, k->heap[c]);
        i = c;
    }
    place(k, i, e);
}

int curio__timer_add(curio_kernel *k, curio__task *t, int64_t when)
{
    if (curio__grow(&k->heap, &k->heap_cap, k->heap_len, sizeof(*k->heap)))
        return -ENOMEM;
    curio__timer e = {.when = when, .seq = k->timer_seq++, .task = t};
    sift_up(k, k->heap_len++, e);
    return 0;
}

int curio__timer_set(curio_kernel *k, curio__task *t, int64_t when)
{
    size_t i = t->heap_index;
    if (i == SIZE_MAX)
        return curio__timer_add(k, t, when);
    curio__timer e = k->heap[i];
    e.when = when;
    e.seq = k->timer_seq++;
    if (i > 0 && before(&e, &k->heap[(i - 1) / 2]))
        sift_up(k, i, e);
    else
        sift_down(k, i, e);
    return 0;
}

void curio__timer_remove(curio_kernel *k, curio__task *t)
{
    size_t i = t->heap_index;
    if (i == SIZE_MAX)
        return;
    t->heap_index = SIZE_MAX;
    curio__timer last = k->heap[--k->heap_len];
    if (i == k->heap_len)
        return;
    if (i > 0 && before(&last, &k->heap[(i - 1) / 2]))
        sift_up(k, i, last);
    else
        sift_down(k, i, last);
}

int64_t curio__timer_next(curio_kernel *k)
{
    return k->heap_len ? k->heap[0].when : CURIO__NO_DEADLINE;
}

/* Fire every entry that is due, earliest first. A parked task's entry is its wait's
 * deadline: a sleeper whose own deadline came first returns 0; otherwise an enclosing
 * scope expired and it gets -ETIMEDOUT. An I/O operation's entry may be one left by an
 * earlier operation of the task, never later than the current one's deadline (trap.c,
 * heap_wait): it interrupts the operation if its deadline has passed, moves on to that
 * deadline if not, and is dropped if no operation waits on the heap any more. */
void curio__timers_fire(curio_kernel *k, int64_t now)
{
    while (k->heap_len && k->heap[0].when <= now) {
        curio__task *t = k->heap[0].task;
        /* The scopes are marked expired where -ETIMEDOUT is delivered (trap.c), not
         * here: an operation interrupted too late still returns its result. */
        if (t->parked) {
            curio__timer_remove(k, t);
            if (t->sleep_until <= now)
                curio__ready_with(t, 0);
            else
                curio__interrupt(t, -ETIMEDOUT);
            continue;
        }
        const curio__op *op = t->op;
        if (op && !op->done && !op->interrupt && !op->linked_timeout &&
            op->deadline != CURIO__NO_DEADLINE) {
            if (op->deadline > now) {
                curio__timer_set(k, t, op->deadline);
                continue;
            }
            curio__timer_remove(k, t);
            curio__interrupt(t, -ETIMEDOUT);
            continue;
        }
        curio__timer_remove(k, t);
    }
}

int64_t curio_sleep(double seconds)
{
    curio__task *self = curio__self();
    int rc = curio__trap_check(self);
    if (rc < 0)
        return rc;
    if (!(seconds >= 0))
        return -EINVAL;
    if (seconds == 0) {
        rc = curio_yield();
        return rc < 0 ? rc : curio__now();
    }
    int64_t ns = seconds >= 9.2e9 ? CURIO__NO_DEADLINE : curio__ns(seconds);
    int64_t until = ns == CURIO__NO_DEADLINE ? ns : curio__now() + ns;
    rc = curio__park("TIME_SLEEP", until);
    return rc < 0 ? rc : curio__now();
}
