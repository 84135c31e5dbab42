/*
 * UniversalQueue and UniversalEvent under stress: pthreads and the tasks of two kernels
 * use one queue and one event at once, putting, getting, timing out and being cancelled
 * at random. A plain program (criterion cannot run under ThreadSanitizer, which ./dev test
 * builds this for) that checks:
 *
 *  queue  every item is delivered exactly once, and the counts end right (nothing
 *         queued, nothing unfinished). Producers retry an item whose put failed (timeout,
 *         cancellation); a cancelled producer task leaves its item to the next one.
 *  event  no wake-up is lost: in each of many rounds every participant (threads and
 *         tasks) waits without a timeout for one set, while other threads and tasks wait
 *         on the same event with short timeouts and get cancelled. A lost wake-up stalls a
 *         round, which the coordinator reports after 20 s instead of hanging.
 *
 *     universal_stress [scale]     (scale multiplies the item and round counts; default 1)
 */
#include "curio.h"

#include "../../sync/universal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define KERNELS 2
#define PRODUCER_THREADS 2
#define CONSUMER_THREADS 2
#define PRODUCER_TASKS 3        /* per kernel */
#define CONSUMER_TASKS 3        /* per kernel */
#define QUEUE_MAX 8

static long items_per_producer = 25000; /* per producer thread and per kernel */
static long total;
static atomic_int failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "universal_stress: " __VA_ARGS__);                            \
            fputc('\n', stderr);                                                           \
            atomic_fetch_add(&failures, 1);                                                \
        }                                                                                  \
    } while (0)

/* xorshift, one state per thread */
static __thread uint64_t rng = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void pause_us(unsigned us) { nanosleep(&(struct timespec){0, (long)us * 1000}, NULL); }

/* ==================================================================================== */
/* The queue                                                                            */
/* ==================================================================================== */

static curio_universal_queue *q;
static atomic_uchar *seen;
static atomic_long consumed, produced, duplicates, bad_rc;
static atomic_long interrupted_gets, interrupted_puts, cancels;

static void record(void *item)
{
    long id = (long)(intptr_t)item;
    if (id < 0 || id >= total || atomic_fetch_add(&seen[id], 1) != 0)
        atomic_fetch_add(&duplicates, 1);
    atomic_fetch_add(&consumed, 1);
    if (curio_universal_queue_task_done(q) != 0)
        atomic_fetch_add(&bad_rc, 1);
}

static bool all_consumed(void) { return atomic_load(&consumed) >= total; }

/* ---- pthreads ---- */

static void *producer_thread(void *arg)
{
    long base = (long)(intptr_t)arg;
    rng += (uint64_t)base * 7919 + 1;
    for (long i = 0; i < items_per_producer; i++) {
        void *item = (void *)(intptr_t)(base + i);
        for (;;) {
            int rc = rnd(3) ? curio_universal_queue_put_timeout(q, item, rnd(200) * 1e-6)
                            : curio_universal_queue_put(q, item);
            if (rc == 0)
                break;
            if (rc != -ETIMEDOUT)
                atomic_fetch_add(&bad_rc, 1);
            atomic_fetch_add(&interrupted_puts, 1);
        }
        atomic_fetch_add(&produced, 1);
    }
    return NULL;
}

static void *consumer_thread(void *arg)
{
    rng += (uint64_t)(intptr_t)arg * 104729 + 3;
    while (!all_consumed()) {
        void *item;
        int rc = curio_universal_queue_get_timeout(q, &item, rnd(500) * 1e-6);
        if (rc == 0)
            record(item);
        else if (rc == -ETIMEDOUT)
            atomic_fetch_add(&interrupted_gets, 1);
        else
            atomic_fetch_add(&bad_rc, 1);
    }
    return NULL;
}

/* Joins with short timeouts now and then, to keep the joiners' line busy too. */
static void *joiner_thread(void *arg)
{
    (void)arg;
    while (!all_consumed()) {
        int rc = curio_universal_queue_join_timeout(q, rnd(300) * 1e-6);
        if (rc != 0 && rc != -ETIMEDOUT)
            atomic_fetch_add(&bad_rc, 1);
        pause_us(rnd(200));
    }
    return NULL;
}

/* ---- tasks ---- */

typedef struct kq {
    long next, end;              /* this kernel's ids not handed out yet */
    long retry[PRODUCER_TASKS * 4];
    int nretry;                  /* ids whose put failed in a task that then ended */
    int producers_left;          /* producer tasks that found nothing more to put */
    bool stopping;
    curio_task *prod[PRODUCER_TASKS], *cons[CONSUMER_TASKS];
} kq;

/* One put, in one of three ways: plain, under a scope, with the _timeout form. */
static int task_put(void *item)
{
    switch (rnd(3)) {
    case 0:
        return curio_universal_queue_put(q, item);
    case 1: {
        curio_scope s;
        if (curio_timeout_after(&s, rnd(300) * 1e-6) < 0)
            return -ENOMEM;
        int rc = curio_universal_queue_put(q, item);
        curio_scope_close(&s);
        return rc;
    }
    default:
        return curio_universal_queue_put_timeout(q, item, rnd(300) * 1e-6);
    }
}

static int task_get(void **item)
{
    switch (rnd(3)) {
    case 0:
        return curio_universal_queue_get(q, item);
    case 1: {
        curio_scope s;
        if (curio_timeout_after(&s, rnd(500) * 1e-6) < 0)
            return -ENOMEM;
        int rc = curio_universal_queue_get(q, item);
        curio_scope_close(&s);
        return rc;
    }
    default:
        return curio_universal_queue_get_timeout(q, item, rnd(500) * 1e-6);
    }
}

static long producer_task(void *arg)
{
    kq *k = arg;
    for (;;) {
        long id;
        if (k->nretry)
            id = k->retry[--k->nretry];
        else if (k->next < k->end)
            id = k->next++;
        else
            break;
        int rc = task_put((void *)(intptr_t)id);
        if (rc == 0) {
            atomic_fetch_add(&produced, 1);
            continue;
        }
        k->retry[k->nretry++] = id; /* left for this task's next try, or the next task */
        atomic_fetch_add(&interrupted_puts, 1);
        if (rc == -ECANCELED)
            return rc;
        if (rc != -ETIMEDOUT)
            atomic_fetch_add(&bad_rc, 1);
    }
    k->producers_left++;
    return 0;
}

static long consumer_task(void *arg)
{
    (void)arg;
    while (!all_consumed()) {
        void *item;
        int rc = task_get(&item);
        if (rc == 0) {
            record(item);
            continue;
        }
        atomic_fetch_add(&interrupted_gets, 1);
        if (rc == -ECANCELED)
            return rc;
        if (rc != -ETIMEDOUT)
            atomic_fetch_add(&bad_rc, 1);
    }
    return 0;
}

/* Cancels a random producer or consumer now and then and starts a new one in its place. */
static long chaos_task(void *arg)
{
    kq *k = arg;
    while (!k->stopping) {
        if (curio_sleep(rnd(400) * 1e-6) < 0)
            return 0;
        curio_task **slot = rnd(2) ? &k->prod[rnd(PRODUCER_TASKS)] : &k->cons[rnd(CONSUMER_TASKS)];
        bool is_prod = slot >= k->prod && slot < k->prod + PRODUCER_TASKS;
        if (curio_task_done(*slot))
            continue;
        if (curio_cancel(*slot) < 0)
            return 0;
        atomic_fetch_add(&cancels, 1);
        curio_task_release(*slot);
        *slot = curio_spawn(is_prod ? producer_task : consumer_task, k);
        if (!*slot) {
            atomic_fetch_add(&bad_rc, 1);
            return -ENOMEM;
        }
    }
    return 0;
}

static long queue_kernel_main(void *arg)
{
    kq *k = arg;
    for (int i = 0; i < PRODUCER_TASKS; i++)
        k->prod[i] = curio_spawn(producer_task, k);
    for (int i = 0; i < CONSUMER_TASKS; i++)
        k->cons[i] = curio_spawn(consumer_task, k);
    curio_task *chaos = curio_spawn(chaos_task, k);
    /* Until every item of this kernel is in the queue and every item anywhere is out. */
    while (k->next < k->end || k->nretry || !all_consumed())
        curio_sleep(0.001);
    k->stopping = true;
    curio_cancel(chaos);
    curio_task_release(chaos);
    for (int i = 0; i < PRODUCER_TASKS; i++) {
        curio_cancel(k->prod[i]);
        curio_task_release(k->prod[i]);
    }
    for (int i = 0; i < CONSUMER_TASKS; i++) {
        curio_cancel(k->cons[i]);
        curio_task_release(k->cons[i]);
    }
    return 0;
}

static void *kernel_thread(void *arg)
{
    kq *k = arg;
    rng += (uint64_t)k->next * 31 + 17;
    long r = -1;
    int rc = curio_run(queue_kernel_main, k, NULL, &r);
    CHECK(rc == 0 && r == 0, "queue kernel: run %d, result %ld", rc, r);
    return NULL;
}

static void queue_stress(void)
{
    total = items_per_producer * (PRODUCER_THREADS + KERNELS);
    seen = calloc((size_t)total, 1);
    CHECK(curio_universal_queue_create(&q, QUEUE_MAX) == 0, "create");
    pthread_t pt[PRODUCER_THREADS], ct[CONSUMER_THREADS], jt, kt[KERNELS];
    static kq kqs[KERNELS];
    for (int i = 0; i < PRODUCER_THREADS; i++)
        pthread_create(&pt[i], NULL, producer_thread, (void *)(intptr_t)(i * items_per_producer));
    for (int i = 0; i < CONSUMER_THREADS; i++)
        pthread_create(&ct[i], NULL, consumer_thread, (void *)(intptr_t)i);
    pthread_create(&jt, NULL, joiner_thread, NULL);
    for (int i = 0; i < KERNELS; i++) {
        kqs[i].next = (PRODUCER_THREADS + i) * items_per_producer;
        kqs[i].end = kqs[i].next + items_per_producer;
        pthread_create(&kt[i], NULL, kernel_thread, &kqs[i]);
    }
    for (int i = 0; i < PRODUCER_THREADS; i++)
        pthread_join(pt[i], NULL);
    for (int i = 0; i < CONSUMER_THREADS; i++)
        pthread_join(ct[i], NULL);
    pthread_join(jt, NULL);
    for (int i = 0; i < KERNELS; i++)
        pthread_join(kt[i], NULL);

    long missing = 0;
    for (long i = 0; i < total; i++)
        missing += atomic_load(&seen[i]) == 0;
    CHECK(atomic_load(&produced) == total, "produced %ld of %ld", atomic_load(&produced), total);
    CHECK(atomic_load(&consumed) == total, "consumed %ld of %ld", atomic_load(&consumed), total);
    CHECK(missing == 0, "%ld items never delivered", missing);
    CHECK(atomic_load(&duplicates) == 0, "%ld items delivered twice", atomic_load(&duplicates));
    CHECK(atomic_load(&bad_rc) == 0, "%ld unexpected results", atomic_load(&bad_rc));
    CHECK(curio_universal_queue_size(q) == 0, "left in the queue: %zu",
          curio_universal_queue_size(q));
    CHECK(curio_universal_queue_join_timeout(q, 0) == 0, "unfinished items left");
    CHECK(curio_universal_queue_task_done(q) == -EINVAL, "task_done count off");
    size_t g = 1, p = 1, j = 1;
    curio__universal_queue_waiting(q, &g, &p, &j);
    CHECK(g + p + j == 0, "waiters left: %zu %zu %zu", g, p, j);
    CHECK(curio_universal_queue_destroy(q) == 0, "destroy");
    free(seen);
    printf("queue: %ld items; %ld interrupted gets, %ld interrupted puts, %ld cancellations, "
           "%lu waits granted as they were interrupted\n",
           total, atomic_load(&interrupted_gets), atomic_load(&interrupted_puts),
           atomic_load(&cancels), atomic_load(&curio__uwait_races));
}

/* ==================================================================================== */
/* The event                                                                            */
/* ==================================================================================== */

#define PARTICIPANT_THREADS 2
#define PARTICIPANT_TASKS 2     /* per kernel */
#define PARTICIPANTS (PARTICIPANT_THREADS + KERNELS * PARTICIPANT_TASKS)
#define NOISE_THREADS 2

static long rounds = 3000;
static curio_universal_event *evt;
static atomic_long gen = -1;            /* the round the coordinator has opened */
static atomic_long ready, woken, noise_waits, noise_cancels;
static atomic_bool event_over;

/* A participant's round r: wait for it to open, say ready, wait for the set (no timeout). */
static int participate(long r, bool in_task)
{
    while (atomic_load(&gen) < r) {
        if (in_task) {
            if (curio_sleep(50e-6) < 0)
                return -1;
        } else {
            pause_us(50);
        }
    }
    atomic_fetch_add(&ready, 1);
    int rc = curio_universal_event_wait(evt);
    atomic_fetch_add(&woken, 1);
    return rc;
}

static void *participant_thread(void *arg)
{
    (void)arg;
    for (long r = 0; r < rounds; r++)
        if (participate(r, false) != 0)
            atomic_fetch_add(&bad_rc, 1);
    return NULL;
}

static long participant_task(void *arg)
{
    (void)arg;
    for (long r = 0; r < rounds; r++)
        if (participate(r, true) != 0) {
            atomic_fetch_add(&bad_rc, 1);
            return -1;
        }
    return 0;
}

/* Waits with short timeouts, on a thread or in a task; tasks also get cancelled. */
static void *noise_thread(void *arg)
{
    rng += (uint64_t)(intptr_t)arg * 65537 + 5;
    while (!atomic_load(&event_over)) {
        int rc = curio_universal_event_wait_timeout(evt, rnd(300) * 1e-6);
        if (rc != 0 && rc != -ETIMEDOUT)
            atomic_fetch_add(&bad_rc, 1);
        atomic_fetch_add(&noise_waits, 1);
        if (rc == 0)
            pause_us(rnd(100));
    }
    return NULL;
}

static long noise_task(void *arg)
{
    (void)arg;
    while (!atomic_load(&event_over)) {
        int rc;
        if (rnd(2)) {
            rc = curio_universal_event_wait_timeout(evt, rnd(300) * 1e-6);
        } else {
            curio_scope s;
            if (curio_timeout_after(&s, rnd(300) * 1e-6) < 0)
                return -ENOMEM;
            rc = curio_universal_event_wait(evt);
            curio_scope_close(&s);
        }
        atomic_fetch_add(&noise_waits, 1);
        if (rc == -ECANCELED)
            return rc;
        if (rc != 0 && rc != -ETIMEDOUT)
            atomic_fetch_add(&bad_rc, 1);
        if (rc == 0 && curio_sleep(rnd(100) * 1e-6) < 0)
            return -ECANCELED;
    }
    return 0;
}

static long event_kernel_main(void *arg)
{
    (void)arg;
    curio_task *p[PARTICIPANT_TASKS], *n[2];
    for (int i = 0; i < PARTICIPANT_TASKS; i++)
        p[i] = curio_spawn(participant_task, NULL);
    for (int i = 0; i < 2; i++)
        n[i] = curio_spawn(noise_task, NULL);
    while (!atomic_load(&event_over)) {
        curio_sleep(rnd(500) * 1e-6);
        int i = rnd(2);
        curio_cancel(n[i]); /* a noise task, cancelled wherever it is */
        atomic_fetch_add(&noise_cancels, 1);
        curio_task_release(n[i]);
        n[i] = curio_spawn(noise_task, NULL);
    }
    for (int i = 0; i < 2; i++) {
        curio_cancel(n[i]);
        curio_task_release(n[i]);
    }
    for (int i = 0; i < PARTICIPANT_TASKS; i++) {
        long r = -1;
        if (curio_join(p[i], &r) < 0 || r != 0)
            atomic_fetch_add(&bad_rc, 1);
        curio_task_release(p[i]);
    }
    return 0;
}

static void *event_kernel_thread(void *arg)
{
    rng += (uint64_t)(intptr_t)arg * 7 + 11;
    long r = -1;
    int rc = curio_run(event_kernel_main, NULL, NULL, &r);
    CHECK(rc == 0 && r == 0, "event kernel: run %d, result %ld", rc, r);
    return NULL;
}

/* Spin (politely) until *v reaches want; false after 20 s. */
static bool await_count(atomic_long *v, long want)
{
    int64_t t0 = curio_clock();
    while (atomic_load(v) < want) {
        if (curio_clock() - t0 > 20000000000ll)
            return false;
        pause_us(20);
    }
    return true;
}

static void event_stress(void)
{
    CHECK(curio_universal_event_create(&evt) == 0, "event create");
    pthread_t pt[PARTICIPANT_THREADS], nt[NOISE_THREADS], kt[KERNELS];
    for (int i = 0; i < PARTICIPANT_THREADS; i++)
        pthread_create(&pt[i], NULL, participant_thread, NULL);
    for (int i = 0; i < NOISE_THREADS; i++)
        pthread_create(&nt[i], NULL, noise_thread, (void *)(intptr_t)i);
    for (int i = 0; i < KERNELS; i++)
        pthread_create(&kt[i], NULL, event_kernel_thread, (void *)(intptr_t)i);
    long r;
    for (r = 0; r < rounds; r++) {
        curio_universal_event_clear(evt);
        atomic_store(&gen, r);
        if (!await_count(&ready, PARTICIPANTS * (r + 1))) {
            CHECK(false, "round %ld: participants never got ready", r);
            break;
        }
        curio_universal_event_set(evt);
        if (!await_count(&woken, PARTICIPANTS * (r + 1))) {
            CHECK(false, "round %ld: a wake-up was lost (%ld of %d woken)", r,
                  atomic_load(&woken) - PARTICIPANTS * r, PARTICIPANTS);
            break;
        }
    }
    if (r < rounds) { /* stuck: report and leave; the process cannot be wound up */
        printf("0 passed, 1 failed\n");
        fflush(stdout);
        _exit(1);
    }
    atomic_store(&event_over, true);
    curio_universal_event_set(evt);
    for (int i = 0; i < PARTICIPANT_THREADS; i++)
        pthread_join(pt[i], NULL);
    for (int i = 0; i < NOISE_THREADS; i++)
        pthread_join(nt[i], NULL);
    for (int i = 0; i < KERNELS; i++)
        pthread_join(kt[i], NULL);
    CHECK(atomic_load(&bad_rc) == 0, "event: %ld unexpected results", atomic_load(&bad_rc));
    CHECK(curio__universal_event_waiting(evt) == 0, "event: waiters left");
    CHECK(curio_universal_event_destroy(evt) == 0, "event destroy");
    printf("event: %ld rounds x %d participants; %ld noise waits, %ld noise cancellations, "
           "%lu waits granted as they were interrupted (both objects)\n",
           rounds, PARTICIPANTS, atomic_load(&noise_waits), atomic_load(&noise_cancels),
           atomic_load(&curio__uwait_races));
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    if (scale > 0) {
        items_per_producer = (long)(items_per_producer * scale) + 1;
        rounds = (long)(rounds * scale) + 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    queue_stress();
    event_stress();
    printf("%d passed, %d failed\n", failures == 0, failures != 0);
    return failures != 0;
}
