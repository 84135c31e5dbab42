/*
 * The how-to's "How can a task and a thread communicate?": a UniversalQueue between a
 * plain pthread producer and a task consumer. The task waits for the thread's end with
 * run_in_thread(pthread_join), as the Python version does with run_in_thread(join).
 *
 *     ./universal_queue
 */
#include <curio.h>
#include <pthread.h>
#include <stdio.h>

/* A thread - standard C */
static void *producer(void *arg)
{
    curio_universal_queue *queue = arg;
    for (long n = 0; n < 10; n++)
        curio_universal_queue_put(queue, (void *)(intptr_t)n);  /* blocks this thread only */
    curio_universal_queue_join(queue);
    printf("Producer done\n");
    fflush(stdout);
    return NULL;
}

/* A task - curio */
static long consumer(void *arg)
{
    curio_universal_queue *queue = arg;
    for (;;) {
        void *item;
        int rc = curio_universal_queue_get(queue, &item);       /* a blocking call */
        if (rc < 0)
            return rc;
        printf("Consumer got %ld\n", (long)(intptr_t)item);
        fflush(stdout);
        curio_universal_queue_task_done(queue);
    }
}

static long join_thread(void *arg)
{
    return pthread_join(*(pthread_t *)arg, NULL);
}

static long main_task(void *arg)
{
    (void)arg;
    curio_universal_queue *q;
    int rc = curio_universal_queue_create(&q, 0);
    if (rc < 0)
        return rc;
    pthread_t prod_thread;
    if (pthread_create(&prod_thread, NULL, producer, q) != 0)
        return -EAGAIN;
    curio_task *cons_task = curio_spawn(consumer, q);
    long joined = -1;
    curio_run_in_thread(join_thread, &prod_thread, &joined);   /* run_in_thread(join) */
    curio_cancel(cons_task);
    curio_task_release(cons_task);
    curio_universal_queue_destroy(q);
    return joined == 0 ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    long r = 0;
    int rc = curio_run(main_task, NULL, NULL, &r);
    if (rc < 0 || r < 0) {
        fprintf(stderr, "universal_queue: %s\n", curio_strerror(rc < 0 ? rc : (int)r));
        return 1;
    }
    return 0;
}
