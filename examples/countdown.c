/*
 * The tutorial's first program: a task that prints a countdown.
 *
 *     ./countdown [scale]     (scale multiplies every sleep; default 1.0)
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static double scale = 1.0;

static long countdown(void *arg)
{
    long n = (long)(intptr_t)arg;
    while (n > 0) {
        printf("T-minus %ld\n", n);
        fflush(stdout);
        int64_t rc = curio_sleep(1 * scale);
        if (rc < 0)
            return rc;
        n--;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    int rc = curio_run(countdown, (void *)(intptr_t)10, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "countdown: %s\n", curio_strerror(rc));
        return 1;
    }
    return 0;
}
