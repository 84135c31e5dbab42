/*
 * The tutorial's parent who stops waiting: timeout_after around the join, then cancel.
 * The kid catches its cancellation to save its work (the tutorial's second kid).
 *
 *     ./kid_timeout [scale]     (scale multiplies every sleep; default 1.0)
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static double scale = 1.0;

static long countdown(void *arg)
{
    for (long n = (long)(intptr_t)arg; n > 0; n--) {
        printf("T-minus %ld\n", n);
        fflush(stdout);
        int64_t rc = curio_sleep(1 * scale);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static long kid(void *arg)
{
    (void)arg;
    printf("Building the Millenium Falcon in Minecraft\n");
    fflush(stdout);
    int64_t rc = curio_sleep(1000 * scale);
    if (rc == -ECANCELED) {
        /* Curio's `except CancelledError: print(...); raise` */
        printf("Fine. Saving my work.\n");
        fflush(stdout);
    }
    return rc < 0 ? rc : 0;
}

static long parent(void *arg)
{
    (void)arg;
    curio_task *kid_task = curio_spawn(kid, NULL);
    curio_sleep(5 * scale);

    printf("Let's go\n");
    curio_task *count_task = curio_spawn(countdown, (void *)(intptr_t)10);
    curio_join(count_task, NULL);

    printf("We're leaving!\n");
    fflush(stdout);
    curio_scope s;
    curio_timeout_after(&s, 10 * scale);
    curio_join(kid_task, NULL);
    if (curio_scope_close(&s) == -ETIMEDOUT) {
        printf("I warned you!\n");
        fflush(stdout);
        curio_cancel(kid_task);
    }
    printf("Leaving!\n");
    curio_task_release(count_task);
    curio_task_release(kid_task);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    int rc = curio_run(parent, NULL, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "kid_timeout: %s\n", curio_strerror(rc));
        return 1;
    }
    return 0;
}
