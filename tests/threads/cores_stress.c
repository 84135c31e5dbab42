/*
 * Kernels of one curio_cores_run reaching each other, for ThreadSanitizer (./dev test runs
 * the threads suite under it; criterion cannot run there, so this is a plain program
 * printing "N passed, N failed"). With the MSG_RING wake-up and with the eventfd one
 * (CURIO_MSG_RING=0): a ping-pong of posts that ready parked tasks, a UniversalQueue whose
 * producers and consumers are tasks of different kernels, tasks spawned on the other
 * kernel and joined, and the shutdown of a run whose kernels still have tasks blocked in a
 * cross-kernel queue, in a pipe read and in the thread pool.
 */
#include "kernel.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ROUNDS 20000
#define ITEMS 20000
#define SPAWNS 500

static curio_task *_Atomic task_of[2];
static curio_universal_queue *q01, *q10, *stuck;
static _Atomic long failures;

static void fail(const char *what)
{
    fprintf(stderr, "cores_stress: %s\n", what);
    atomic_fetch_add(&failures, 1);
}

static void wake(void *arg)
{
    curio_task *t = arg;
    if (curio__task_parked(t))
        curio__ready_with(t, 1);
}

static long add_index(void *arg) { return (long)(intptr_t)arg + curio_core_index(); }

static long blocked_get(void *arg)
{
    (void)arg;
    void *item;
    return curio_universal_queue_get(stuck, &item);
}

static long blocked_read(void *arg)
{
    char b;
    return curio_read((int)(intptr_t)arg, &b, 1);
}

static long slow(void *arg)
{
    (void)arg;
    usleep(5000);
    return 0;
}

static long blocked_thread(void *arg)
{
    (void)arg;
    long r;
    return curio_run_in_thread(slow, NULL, &r);
}

static int pipes[2][2];

static long producer(void *arg)
{
    curio_universal_queue *out = arg;
    for (uintptr_t i = 1; i <= ITEMS; i++)
        if (curio_universal_queue_put(out, (void *)i) < 0)
            fail("put");
    return 0;
}

static long core_main(unsigned index, void *arg)
{
    (void)arg;
    unsigned other = 1 - index;
    /* ping-pong */
    if (index == 0) {
        atomic_store(&task_of[0], curio_current());
        while (!atomic_load(&task_of[1]))
            curio_sleep(0.0005);
        curio_core_post(1, wake, task_of[1]);
    } else {
        atomic_store(&task_of[1], curio_current());
    }
    for (unsigned i = 0; i < ROUNDS; i++) {
        if (curio__park("PING", CURIO__NO_DEADLINE) != 1)
            fail("ping-pong: woken wrongly");
        if (index == 1 || i < ROUNDS - 1)
            curio_core_post(other, wake, task_of[other]);
    }
    /* queues: each kernel sends ITEMS to the other and receives as many */
    curio_universal_queue *out = index ? q10 : q01, *in = index ? q01 : q10;
    long sum = 0;
    curio_task *prod;
    curio_spawn_ex(&prod, producer, out, NULL);
    while (sum < (long)ITEMS * (ITEMS + 1) / 2) {
        void *item;
        if (curio_universal_queue_get(in, &item) < 0) {
            fail("get");
            break;
        }
        sum += (long)(uintptr_t)item;
    }
    if (sum != (long)ITEMS * (ITEMS + 1) / 2)
        fail("queue: wrong sum");
    curio_join(prod, NULL);
    curio_task_release(prod);
    /* spawns on the other kernel */
    for (intptr_t i = 0; i < SPAWNS; i++) {
        curio_core_task *t;
        long r = -1;
        if (curio_core_spawn(&t, other, add_index, (void *)i) < 0 ||
            curio_core_join(t, &r) != 0 || r != i + (long)other)
            fail("spawn/join");
        curio_core_release(t);
    }
    /* left blocked at the end of the run */
    curio_task *t;
    curio_spawn_ex(&t, blocked_get, NULL, NULL);
    curio_task_release(t);
    curio_spawn_ex(&t, blocked_read, (void *)(intptr_t)pipes[index][0], NULL);
    curio_task_release(t);
    curio_spawn_ex(&t, blocked_thread, NULL, NULL);
    curio_task_release(t);
    curio_sleep(0.001);
    return 0;
}

static bool one_run(bool msg_ring)
{
    if (msg_ring)
        unsetenv("CURIO_MSG_RING");
    else
        setenv("CURIO_MSG_RING", "0", 1);
    task_of[0] = task_of[1] = NULL;
    atomic_store(&failures, 0);
    curio_universal_queue_create(&q01, 64);
    curio_universal_queue_create(&q10, 64);
    curio_universal_queue_create(&stuck, 0);
    for (int i = 0; i < 2; i++)
        if (pipe(pipes[i]) < 0)
            return false;
    curio_cores_options o = {.kernels = 2, .no_signals = true};
    int rc = curio_cores_run(core_main, NULL, &o);
    curio_universal_queue_destroy(q01);
    curio_universal_queue_destroy(q10);
    curio_universal_queue_destroy(stuck);
    for (int i = 0; i < 2; i++) {
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    while (curio__pool_busy())
        usleep(1000);
    if (rc != 0 || atomic_load(&failures))
        fprintf(stderr, "cores_stress (%s): rc=%d failures=%ld\n",
                msg_ring ? "msg_ring" : "eventfd", rc, atomic_load(&failures));
    return rc == 0 && atomic_load(&failures) == 0;
}

int main(void)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < 2; i++) {
        bool ok = one_run(i == 0 && curio__op_supported(IORING_OP_MSG_RING));
        passed += ok;
        failed += !ok;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
