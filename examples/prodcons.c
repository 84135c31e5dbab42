/*
 * The tutorial's producer and consumer (prodcons.py): a Queue between two tasks, and
 * join/task_done to know when every item has been dealt with.
 *
 *     ./prodcons
 *
 * Items are plain integers carried in the pointer; a queue never owns what its items
 * point to.
 */
#include <curio.h>
#include <stdio.h>

static long producer(void *arg)
{
    curio_queue *queue = arg;
    for (long n = 0; n < 10; n++) {
        int rc = curio_queue_put(queue, (void *)(intptr_t)n);   /* await queue.put(n) */
        if (rc < 0)
            return rc;
    }
    int rc = curio_queue_join(queue);                           /* await queue.join() */
    printf("Producer done\n");
    return rc;
}

static long consumer(void *arg)
{
    curio_queue *queue = arg;
    for (;;) {
        void *item;
        int rc = curio_queue_get(queue, &item);                 /* await queue.get() */
        if (rc < 0)
            return rc;                                          /* cancelled */
        printf("Consumer got %ld\n", (long)(intptr_t)item);
        curio_queue_task_done(queue);                           /* await queue.task_done() */
    }
}

static long main_task(void *arg)
{
    (void)arg;
    curio_queue *q;
    int rc = curio_queue_create(&q, 0);                         /* curio.Queue() */
    if (rc < 0)
        return rc;
    curio_task *prod_task = curio_spawn(producer, q);
    curio_task *cons_task = curio_spawn(consumer, q);
    curio_join(prod_task, NULL);
    curio_cancel(cons_task);
    curio_task_release(prod_task);
    curio_task_release(cons_task);
    return curio_queue_destroy(q);
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv; /* check.sh passes a time scale; nothing here sleeps */
    long r = 0;
    int rc = curio_run(main_task, NULL, NULL, &r);
    if (rc < 0 || r < 0) {
        fprintf(stderr, "prodcons: %s\n", curio_strerror(rc < 0 ? rc : (int)r));
        return 1;
    }
    return 0;
}
