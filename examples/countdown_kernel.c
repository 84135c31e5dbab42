/*
 * The early README's first program: the countdown, run on a kernel made by hand (Curio's
 * `kernel = curio.Kernel(); kernel.add_task(countdown(10)); kernel.run()`), where
 * countdown.c uses curio_run, which creates and destroys a kernel around one main task.
 *
 *     ./countdown_kernel [scale]     (scale multiplies every sleep; default 1.0)
 *
 * A kernel made this way outlives its runs: curio_kernel_run may be called again, and
 * tasks left alive by one run stay suspended until the next run or curio_kernel_destroy,
 * which cancels them.
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

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    curio_kernel *kernel;
    int rc = curio_kernel_create(&kernel, NULL);                       /* curio.Kernel() */
    if (rc < 0) {
        fprintf(stderr, "countdown_kernel: %s\n", curio_strerror(rc));
        return 1;
    }
    long result = 0;
    rc = curio_kernel_run(kernel, countdown, (void *)(intptr_t)10, &result); /* add_task, run */
    curio_kernel_destroy(kernel);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "countdown_kernel: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
