/*
 * The same parent as kid_timeout.c, written with the function form of timeout_after
 * (Curio's `await curio.timeout_after(10, kid_task.join())`).
 *
 *     ./kid_function_timeout [scale]
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static double scale = 1.0;

static long kid(void *arg)
{
    (void)arg;
    printf("Building the Millenium Falcon in Minecraft\n");
    fflush(stdout);
    int64_t rc = curio_sleep(1000 * scale);
    if (rc == -ECANCELED) {
        printf("Fine. Saving my work.\n");
        fflush(stdout);
    }
    return rc < 0 ? rc : 0;
}

static long join_kid(void *task)
{
    return curio_join(task, NULL);
}

static long parent(void *arg)
{
    (void)arg;
    curio_task *kid_task = curio_spawn(kid, NULL);
    curio_sleep(1 * scale);
    printf("We're leaving!\n");
    fflush(stdout);
    if (curio_timeout_after_call(2 * scale, join_kid, kid_task, NULL) == -ETIMEDOUT) {
        printf("I warned you!\n");
        fflush(stdout);
        curio_cancel(kid_task);
    }
    printf("Leaving!\n");
    curio_task_release(kid_task);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    int rc = curio_run(parent, NULL, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "kid_function_timeout: %s\n", curio_strerror(rc));
        return 1;
    }
    return 0;
}
