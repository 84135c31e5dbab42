/*
 * The how-to's "How does a coroutine get its enclosing Task instance?": a task takes a
 * handle on itself with current_task() and passes it around (here through a Queue), and
 * another task uses it to cancel it.
 *
 *     ./current_task [scale]     (scale multiplies every duration; default 1.0)
 *
 * Curio:
 *     async def func():
 *         myself = await current_task()
 *         ...
 *
 * curio_current() is valid while the task runs; a handle that others keep is taken with
 * curio_task_retain and released by whoever holds it last.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static double scale = 1.0;

static long worker(void *arg)
{
    curio_queue *handles = arg;
    curio_task *myself = curio_task_retain(curio_current());   /* await current_task() */
    printf("worker: I am task %llu, '%s'\n", (unsigned long long)curio_task_id(myself),
           curio_task_name(myself));
    fflush(stdout);
    int rc = curio_queue_put(handles, myself);                  /* pass it around */
    if (rc < 0) {
        curio_task_release(myself);
        return rc;
    }
    int64_t s = curio_sleep(1000 * scale);                      /* busy for a long time */
    printf("worker: %s\n", s == -ECANCELED ? "cancelled by another task" : "done");
    return s < 0 ? s : 0;
}

static long supervisor(void *arg)
{
    curio_queue *handles = arg;
    void *item;
    int rc = curio_queue_get(handles, &item);
    if (rc < 0)
        return rc;
    curio_task *t = item;
    printf("supervisor: got task %llu, cancelling it\n", (unsigned long long)curio_task_id(t));
    fflush(stdout);
    curio_cancel(t);                                            /* await task.cancel() */
    printf("supervisor: task %llu %s\n", (unsigned long long)curio_task_id(t),
           curio_task_cancelled(t) ? "was cancelled" : "ended by itself");
    curio_task_release(t);
    return 0;
}

static long main_task(void *arg)
{
    (void)arg;
    curio_queue *handles;
    int rc = curio_queue_create(&handles, 0);
    if (rc < 0)
        return rc;
    curio_task *w = NULL, *s = NULL;
    curio_spawn_options o = {.name = "worker"};
    rc = curio_spawn_ex(&w, worker, handles, &o);
    if (rc == 0)
        rc = curio_spawn_ex(&s, supervisor, handles, NULL);
    if (rc < 0 && w)
        curio_cancel(w);                                        /* nobody would cancel it */
    if (s)
        curio_join(s, NULL);
    if (w)
        curio_join(w, NULL);
    curio_task_release(s);
    curio_task_release(w);
    curio_queue_destroy(handles);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    long result = 0;
    int rc = curio_run(main_task, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "current_task: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
