/*
 * The tutorial's parent and kid: spawn, sleep and join.
 *
 *     ./hello [scale]     (scale multiplies every sleep; default 1.0)
 *
 * As in the tutorial, the kid plays for 1000 seconds and the parent waits for it, so this
 * version hangs after "We're leaving!" (scaled: 1000 * scale seconds). kid_timeout.c is
 * the version that stops waiting.
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
    curio_join(kid_task, NULL);
    printf("Leaving\n");
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
        fprintf(stderr, "hello: %s\n", curio_strerror(rc));
        return 1;
    }
    return 0;
}
