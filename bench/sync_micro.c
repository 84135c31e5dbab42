/*
 * bench/sync_micro.c - the sync layer's micro-benchmarks (see docs/benchmarks.md).
 *
 *     curio-sync-micro [--rounds N] [--items N] [--maxsize N] [--repeat R]
 *                      [--only queue|event|bridge|pthreads]
 *
 * Prints one JSON object per line, {"impl": ..., "metric": ..., "value": ...}, for
 * bench/run-sync to put beside bench/asyncio_sync.py's. Figures:
 *   queue_pingpong_ns   two tasks, two queues: put on one, get from the other; per round
 *                       trip (two puts, two gets, two switches)
 *   event_roundtrip_ns  two tasks, two events: set one, wait for the other, clear it; per
 *                       round trip
 *   bridge_items_per_s  a pthread puts N items into a UniversalQueue of maxsize M, a task
 *                       gets them: items per second from the first put to the last get
 *   pthread_items_per_s the same between two pthreads through a plain mutex + condition
 *                       variable queue of the same maxsize (the peer of the line above)
 *
 * Timed loops keep the best of R runs, because on a shared machine noise only ever adds
 * time.
 */
#include <curio.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long opt_rounds = 1000000;
static long opt_items = 2000000;
static long opt_maxsize = 1024;
static int opt_repeat = 3;

static void emit(const char *metric, double value)
{
    printf("{\"impl\": \"curio\", \"metric\": \"%s\", \"value\": %.9g}\n", metric, value);
    fflush(stdout);
}

static int run(curio_task_fn fn)
{
    long result = -1;
    int rc = curio_run(fn, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "curio-sync-micro: run failed: %s / result %ld\n", curio_strerror(rc),
                result);
        return 1;
    }
    return 0;
}

/* ---- queue ping-pong ---------------------------------------------------------------- */

static curio_queue *q_ab, *q_ba;

static long pinger(void *arg)
{
    (void)arg;
    for (long i = 0; i < opt_rounds; i++) {
        void *item;
        if (curio_queue_put(q_ab, (void *)(intptr_t)i) < 0 || curio_queue_get(q_ba, &item) < 0)
            return -1;
    }
    return 0;
}

static long ponger(void *arg)
{
    (void)arg;
    for (long i = 0; i < opt_rounds; i++) {
        void *item;
        if (curio_queue_get(q_ab, &item) < 0 || curio_queue_put(q_ba, item) < 0)
            return -1;
    }
    return 0;
}

static long queue_main(void *arg)
{
    (void)arg;
    if (curio_queue_create(&q_ab, 0) < 0 || curio_queue_create(&q_ba, 0) < 0)
        return -1;
    double best = 1e30;
    for (int r = 0; r < opt_repeat; r++) {
        int64_t t0 = curio_clock();
        curio_task *a = curio_spawn(pinger, NULL), *b = curio_spawn(ponger, NULL);
        long ra = -1, rb = -1;
        if (!a || !b || curio_join(a, &ra) < 0 || curio_join(b, &rb) < 0 || ra || rb)
            return -1;
        double ns = (double)(curio_clock() - t0) / (double)opt_rounds;
        best = ns < best ? ns : best;
        curio_task_release(a);
        curio_task_release(b);
    }
    emit("queue_pingpong_ns", best);
    curio_queue_destroy(q_ab);
    curio_queue_destroy(q_ba);
    return 0;
}

/* ---- event round trip --------------------------------------------------------------- */

static curio_event e_ab, e_ba;

static long setter(void *arg)
{
    (void)arg;
    for (long i = 0; i < opt_rounds; i++) {
        if (curio_event_set(&e_ab) < 0 || curio_event_wait(&e_ba) < 0)
            return -1;
        curio_event_clear(&e_ba);
    }
    return 0;
}

static long waiter(void *arg)
{
    (void)arg;
    for (long i = 0; i < opt_rounds; i++) {
        if (curio_event_wait(&e_ab) < 0)
            return -1;
        curio_event_clear(&e_ab);
        if (curio_event_set(&e_ba) < 0)
            return -1;
    }
    return 0;
}

static long event_main(void *arg)
{
    (void)arg;
    double best = 1e30;
    for (int r = 0; r < opt_repeat; r++) {
        e_ab = (curio_event)CURIO_EVENT_INIT;
        e_ba = (curio_event)CURIO_EVENT_INIT;
        int64_t t0 = curio_clock();
        curio_task *a = curio_spawn(setter, NULL), *b = curio_spawn(waiter, NULL);
        long ra = -1, rb = -1;
        if (!a || !b || curio_join(a, &ra) < 0 || curio_join(b, &rb) < 0 || ra || rb)
            return -1;
        double ns = (double)(curio_clock() - t0) / (double)opt_rounds;
        best = ns < best ? ns : best;
        curio_task_release(a);
        curio_task_release(b);
    }
    emit("event_roundtrip_ns", best);
    return 0;
}

/* ---- a pthread producer, a task consumer, through a UniversalQueue ------------------ */

static curio_universal_queue *uq;
static int64_t bridge_t0;

static void *bridge_producer(void *arg)
{
    (void)arg;
    bridge_t0 = curio_clock();
    for (long i = 0; i < opt_items; i++)
        if (curio_universal_queue_put(uq, (void *)(intptr_t)i) < 0)
            return (void *)1;
    return NULL;
}

static long join_thread(void *arg)
{
    void *ret = NULL;
    pthread_join(*(pthread_t *)arg, &ret);
    return ret ? -1 : 0;
}

static long bridge_main(void *arg)
{
    (void)arg;
    double best = 0;
    for (int r = 0; r < opt_repeat; r++) {
        if (curio_universal_queue_create(&uq, (size_t)opt_maxsize) < 0)
            return -1;
        pthread_t th;
        if (pthread_create(&th, NULL, bridge_producer, NULL) != 0)
            return -1;
        for (long i = 0; i < opt_items; i++) {
            void *item;
            if (curio_universal_queue_get(uq, &item) < 0 || (long)(intptr_t)item != i)
                return -1;
        }
        int64_t t1 = curio_clock();
        long joined = -1;
        if (curio_run_in_thread(join_thread, &th, &joined) < 0 || joined < 0)
            return -1;
        double per_s = (double)opt_items / ((double)(t1 - bridge_t0) / 1e9);
        best = per_s > best ? per_s : best;
        curio_universal_queue_destroy(uq);
    }
    emit("bridge_items_per_s", best);
    return 0;
}

/* ---- the peer: two pthreads, a mutex and two condition variables -------------------- */

/* A textbook bounded queue: producers wait on not_full, consumers on not_empty, and
 * each side signals the other only when someone waits. */
typedef struct plainq {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **ring;
    size_t cap, head, count;
    unsigned getters, putters;   /* waiting */
} plainq;

static void plainq_put(plainq *p, void *item)
{
    pthread_mutex_lock(&p->mu);
    while (p->count == p->cap) {
        p->putters++;
        pthread_cond_wait(&p->not_full, &p->mu);
        p->putters--;
    }
    p->ring[(p->head + p->count++) % p->cap] = item;
    if (p->getters)
        pthread_cond_signal(&p->not_empty);
    pthread_mutex_unlock(&p->mu);
}

static void *plainq_get(plainq *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->count == 0) {
        p->getters++;
        pthread_cond_wait(&p->not_empty, &p->mu);
        p->getters--;
    }
    void *item = p->ring[p->head];
    p->head = (p->head + 1) % p->cap;
    p->count--;
    if (p->putters)
        pthread_cond_signal(&p->not_full);
    pthread_mutex_unlock(&p->mu);
    return item;
}

static plainq pq;
static int64_t plain_t0;

static void *plain_producer(void *arg)
{
    (void)arg;
    plain_t0 = curio_clock();
    for (long i = 0; i < opt_items; i++)
        plainq_put(&pq, (void *)(intptr_t)i);
    return NULL;
}

static int pthreads_bench(void)
{
    double best = 0;
    for (int r = 0; r < opt_repeat; r++) {
        memset(&pq, 0, sizeof pq);
        pthread_mutex_init(&pq.mu, NULL);
        pthread_cond_init(&pq.not_empty, NULL);
        pthread_cond_init(&pq.not_full, NULL);
        pq.cap = (size_t)opt_maxsize;
        pq.ring = malloc(pq.cap * sizeof *pq.ring);
        pthread_t th;
        if (!pq.ring || pthread_create(&th, NULL, plain_producer, NULL) != 0)
            return 1;
        for (long i = 0; i < opt_items; i++)
            if ((long)(intptr_t)plainq_get(&pq) != i)
                return 1;
        int64_t t1 = curio_clock();
        pthread_join(th, NULL);
        double per_s = (double)opt_items / ((double)(t1 - plain_t0) / 1e9);
        best = per_s > best ? per_s : best;
        free(pq.ring);
        pthread_mutex_destroy(&pq.mu);
        pthread_cond_destroy(&pq.not_empty);
        pthread_cond_destroy(&pq.not_full);
    }
    emit("pthread_items_per_s", best);
    return 0;
}

/* ---- main ---------------------------------------------------------------------------- */

static int queue_bench(void) { return run(queue_main); }
static int event_bench(void) { return run(event_main); }
static int bridge_bench(void) { return run(bridge_main); }

static const struct {
    const char *name;
    int (*fn)(void);
} benches[] = {
    {"queue", queue_bench},
    {"event", event_bench},
    {"bridge", bridge_bench},
    {"pthreads", pthreads_bench},
};

static void usage(void)
{
    fprintf(stderr, "usage: curio-sync-micro [--rounds N] [--items N] [--maxsize N] "
                    "[--repeat R] [--only queue|event|bridge|pthreads]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        const char *o = argv[i], *v = argv[++i];
        if (!strcmp(o, "--rounds"))
            opt_rounds = atol(v);
        else if (!strcmp(o, "--items"))
            opt_items = atol(v);
        else if (!strcmp(o, "--maxsize"))
            opt_maxsize = atol(v);
        else if (!strcmp(o, "--repeat"))
            opt_repeat = atoi(v);
        else if (!strcmp(o, "--only"))
            only = v;
        else
            usage();
    }
    if (opt_rounds < 1 || opt_items < 1 || opt_maxsize < 1 || opt_repeat < 1)
        usage();
    int failed = 0;
    for (size_t i = 0; i < sizeof benches / sizeof *benches; i++) {
        if (only && strcmp(only, benches[i].name))
            continue;
        if (benches[i].fn()) {
            fprintf(stderr, "curio-sync-micro: benchmark %s failed\n", benches[i].name);
            failed = 1;
        }
    }
    return failed;
}
