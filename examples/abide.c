/*
 * The how-to's "How can coroutines and threads share a common lock?": a pthread mutex
 * guards a counter that a plain thread and two tasks update; the tasks take it with
 * curio_abide_lock (Curio's `async with abide(lock)`), which never blocks the kernel.
 *
 *     ./abide [scale]     (scale multiplies how long each side holds the lock)
 */
#include <curio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double scale = 1.0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;   /* must be a thread lock */
static long counter;                                       /* guarded by lock */

#define ROUNDS 20

/* Function running in a thread */
static void *func(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&lock);                         /* with lock: */
        long c = counter;
        struct timespec ts = {0, (long)(10e6 * scale)};    /* critical section */
        nanosleep(&ts, NULL);
        counter = c + 1;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

/* Coroutine running in curio */
static long coro(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        int rc = curio_abide_lock(&lock);                  /* async with abide(lock): */
        if (rc < 0)
            return rc;
        long c = counter;
        curio_sleep(0.01 * scale);                         /* other tasks run meanwhile */
        counter = c + 1;
        curio_abide_unlock(&lock);
    }
    return 0;
}

static long join_thread(void *arg)
{
    return pthread_join(*(pthread_t *)arg, NULL);
}

static long main_task(void *arg)
{
    (void)arg;
    pthread_t th;
    if (pthread_create(&th, NULL, func, NULL) != 0)
        return -EAGAIN;
    curio_task *a = curio_spawn(coro, NULL);
    curio_task *b = curio_spawn(coro, NULL);
    long ra = -1, rb = -1;
    curio_join(a, &ra);
    curio_join(b, &rb);
    curio_run_in_thread(join_thread, &th, NULL);   /* without blocking the kernel */
    printf("counter: %ld (the thread and the tasks each added %d)\n", counter, ROUNDS);
    curio_task_release(a);
    curio_task_release(b);
    return ra < 0 ? ra : rb;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    long r = 0;
    int rc = curio_run(main_task, NULL, NULL, &r);
    if (rc < 0 || r < 0) {
        fprintf(stderr, "abide: %s\n", curio_strerror(rc < 0 ? rc : (int)r));
        return 1;
    }
    return 0;
}
