/*
 * Out of memory in the sync layer: the allocations it makes (queue creation and growth,
 * the universal queue's ring, abide's pool job) and the kernel's (a scope's deadline
 * when a wait begins) are made to fail (the binary is linked with
 * --wrap=malloc,calloc,realloc, which reaches the static library's calls too). Each
 * failure must come back as -ENOMEM from the call that needed the memory, lose no item,
 * leave nobody in a line, and leave the object usable; the sanitizer build checks for
 * leaks.
 */
#include "synctest.h"

#include "../../sync/universal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define I(n) ((void *)(intptr_t)(n))
#define N(p) ((int)(intptr_t)(p))

/* ---- the failing allocator ---- */

static _Atomic long countdown = -1; /* allocations left before the one that fails */
static atomic_bool injected;
static pthread_t only_thread;       /* fail allocations of this thread only */

static bool fail_now(void)
{
    if (atomic_load(&countdown) < 0 || !pthread_equal(pthread_self(), only_thread))
        return false;
    if (atomic_fetch_sub(&countdown, 1) == 0) {
        atomic_store(&injected, true);
        return true;
    }
    return false;
}

/* Fail the n-th allocation of the calling thread from now (0: the next one), only that. */
static void arm(long n)
{
    only_thread = pthread_self();
    atomic_store(&injected, false);
    atomic_store(&countdown, n);
}

static void disarm(void) { atomic_store(&countdown, -1); }

/* The declarations and the wrappers around fail_now(). */
#define FAILALLOC_OWN
#include "failalloc.h"

/* ---- queues ---- */

static long queue_growth(void *arg)
{
    int (*create)(curio_queue **, size_t) = (int (*)(curio_queue **, size_t))arg;
    curio_queue *q = NULL;
    arm(0);
    cr_assert_eq(create(&q, 0), -ENOMEM);
    disarm();
    cr_assert_eq(create(&q, 0), 0);
    /* Every growth step fails once, then works; nothing half-done is left behind. */
    int stored = 0, failed = 0;
    for (int i = 0; i < 100; i++) {
        arm(0);
        int rc = curio_queue_put(q, I(i));
        disarm();
        if (rc == -ENOMEM) {
            failed++;
            cr_assert(atomic_load(&injected));
            cr_assert_eq(curio_queue_size(q), (size_t)stored, "a failed put stored nothing");
            rc = curio_queue_put(q, I(i));
        }
        cr_assert_eq(rc, 0);
        stored++;
    }
    cr_assert_geq(failed, 5, "growth steps 8, 16, 32, 64, 128 each failed once");
    for (int i = 0; i < 100; i++) {
        void *item;
        cr_assert_eq(curio_queue_get_nowait(q, &item), 0);
        cr_assert_eq(curio_queue_task_done(q), 0);
    }
    cr_assert_eq(curio_queue_task_done(q), -EINVAL, "failed puts were not counted");
    cr_assert_eq(curio_queue_destroy(q), 0);
    return 0;
}

Test(oom, queue_create_and_growth)
{
    run_main(queue_growth, (void *)curio_queue_create);
    run_main(queue_growth, (void *)curio_lifo_queue_create);
    run_main(queue_growth, (void *)curio_priority_queue_create);
}

/* ---- a wait whose scope deadline cannot be registered ---- */

static curio_event evt;

static long deadline_no_memory(void *arg)
{
    (void)arg;
    evt = (curio_event)CURIO_EVENT_INIT;
    curio_universal_event *ue;
    cr_assert_eq(curio_universal_event_create(&ue), 0);
    curio_scope s;
    cr_assert_eq(curio_timeout_after(&s, 10), 0);
    arm(0); /* the kernel's timer heap is empty: the first deadline allocates it */
    cr_assert_eq(curio_event_wait(&evt), -ENOMEM);
    cr_assert(atomic_load(&injected));
    cr_assert_null(evt.waiters.line.head, "not left in the line");
    arm(0);
    cr_assert_eq(curio_universal_event_wait(ue), -ENOMEM);
    disarm();
    cr_assert_eq(curio__universal_event_waiting(ue), 0);
    cr_assert_eq(curio_scope_close(&s), 0);
    cr_assert_eq(curio_event_set(&evt), 0);
    cr_assert_eq(curio_event_wait(&evt), 0);
    cr_assert_eq(curio_universal_event_set(ue), 0);
    cr_assert_eq(curio_universal_event_wait(ue), 0);
    cr_assert_eq(curio_universal_event_destroy(ue), 0);
    return 0;
}

Test(oom, a_wait_whose_deadline_cannot_be_registered)
{
    run_main(deadline_no_memory, NULL);
}

/* ---- the universal queue ---- */

Test(oom, universal_queue_create_and_growth)
{
    curio_universal_queue *q = NULL;
    arm(0);
    cr_assert_eq(curio_universal_queue_create(&q, 0), -ENOMEM);
    disarm();
    cr_assert_eq(curio_universal_queue_create(&q, 0), 0);
    int stored = 0, failed = 0;
    for (int i = 0; i < 100; i++) {
        arm(0);
        int rc = curio_universal_queue_put(q, I(i));
        disarm();
        if (rc == -ENOMEM) {
            failed++;
            cr_assert_eq(curio_universal_queue_size(q), (size_t)stored);
            rc = curio_universal_queue_put(q, I(i));
        }
        cr_assert_eq(rc, 0);
        stored++;
    }
    cr_assert_eq(failed, 4, "growth steps 16, 32, 64, 128 each failed once");
    for (int i = 0; i < 100; i++) {
        void *item;
        cr_assert_eq(curio_universal_queue_get_timeout(q, &item, 0), 0);
        cr_assert_eq(N(item), i);
        cr_assert_eq(curio_universal_queue_task_done(q), 0);
    }
    cr_assert_eq(curio_universal_queue_task_done(q), -EINVAL);
    cr_assert_eq(curio_universal_queue_destroy(q), 0);
}

/* A put that wakes a waiting getter stores the item (it is the queue's until the getter
 * has run), so it needs room: without memory it fails, and the getter keeps waiting. */
static curio_queue *tq;

static long task_queue_getter(void *arg)
{
    (void)arg;
    void *item = I(-1);
    int rc = curio_queue_get(tq, &item);
    ev("g:%s%d", rcname(rc), N(item));
    return rc;
}

static long put_to_getter_no_memory(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_queue_create(&tq, 0), 0);
    curio_task *g = curio_spawn(task_queue_getter, NULL);
    yield_until_state(g, "QUEUE_GET");
    arm(0);
    cr_assert_eq(curio_queue_put(tq, I(6)), -ENOMEM);
    disarm();
    cr_assert(curio_queue_empty(tq));
    cr_assert_eq(curio_queue_task_done(tq), -EINVAL, "the failed put was not counted");
    cr_assert_str_eq(curio_task_state(g), "QUEUE_GET", "g still waits");
    cr_assert_eq(curio_queue_put(tq, I(7)), 0);
    ev("main:put7");
    cr_assert_eq(join_release(g), 0);
    cr_assert_eq(curio_queue_destroy(tq), 0);
    return 0;
}

Test(oom, queue_put_to_a_waiting_getter)
{
    expect_log(put_to_getter_no_memory, NULL, "main:put7 g:ok7");
}

/* The same for the universal queue; and a getter granted at the moment it was cancelled
 * gives its promise up without allocating (the item never left the ring). */
static curio_universal_queue *uq;

static long get_then_yield(void *arg)
{
    const char *name = arg;
    void *item = I(-1);
    int rc = curio_universal_queue_get(uq, &item);
    int next = curio_yield();
    ev("%s:%s%d,%s", name, rcname(rc), N(item), rcname(next));
    return rc < 0 ? rc : next;
}

static long universal_put_to_getter_no_memory(void *arg)
{
    (void)arg;
    cr_assert_eq(curio_universal_queue_create(&uq, 0), 0);
    curio_task *a = curio_spawn(get_then_yield, "a");
    yield_until_state(a, "QUEUE_GET");
    arm(0);
    cr_assert_eq(curio_universal_queue_put(uq, I(6)), -ENOMEM);
    disarm();
    cr_assert(curio_universal_queue_empty(uq));
    cr_assert_str_eq(curio_task_state(a), "QUEUE_GET", "a still waits");
    curio_cancel_nowait(a); /* still in line: the put below grants it anyway */
    cr_assert_eq(curio_universal_queue_put(uq, I(7)), 0);
    arm(0);
    cr_assert_eq(curio_task_wait(a), 0);
    disarm();
    cr_assert(!atomic_load(&injected), "giving the promise up allocated nothing");
    curio_task *b = curio_spawn(get_then_yield, "b");
    cr_assert_eq(curio_task_wait(b), 0);
    cr_assert(curio_universal_queue_empty(uq));
    cr_assert_eq(curio_universal_queue_task_done(uq), 0);
    cr_assert_eq(curio_universal_queue_task_done(uq), -EINVAL, "7 was counted once");
    curio_task_release(a);
    curio_task_release(b);
    cr_assert_eq(curio_universal_queue_destroy(uq), 0);
    return 0;
}

Test(oom, universal_queue_put_to_a_waiting_getter)
{
    expect_log(universal_put_to_getter_no_memory, NULL, "a:ECANCELED-1,ECANCELED b:ok7,ok");
}

/* ---- abide's job ---- */

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool held, release_it;

static void *holder(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    atomic_store(&held, true);
    while (!atomic_load(&release_it))
        nanosleep(&(struct timespec){0, 200000}, NULL);
    pthread_mutex_unlock(&m);
    return NULL;
}

static long abide_no_memory(void *arg)
{
    (void)arg;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, holder, NULL), 0);
    while (!atomic_load(&held))
        cr_assert_gt(curio_sleep(0.0002), 0);
    arm(0);
    cr_assert_eq(curio_abide_lock(&m), -ENOMEM);
    disarm();
    atomic_store(&release_it, true);
    cr_assert_eq(curio_abide_lock(&m), 0);
    cr_assert_eq(curio_abide_unlock(&m), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    return 0;
}

Test(oom, abide_job)
{
    run_main(abide_no_memory, NULL);
}
