/*
 * The tutorial's (and the early README's) "Number Crunching", the version that goes
 * wrong: the kid sums Fibonacci numbers right in its task, never making a blocking call,
 * and nothing else runs until it is done. curio does not preempt a task: the parent, who
 * only wanted a nap of 1 second, wakes when the kid's 3 seconds of computing are over.
 *
 *     ./kid_hog [scale]     (scale multiplies every duration; default 1.0)
 *
 * Curio:
 *     async def kid():
 *         print('Building the Millenium Falcon in Minecraft')
 *         total = 0
 *         for n in range(50):
 *             total += fib(n)                # hogs the CPU: the kernel is unresponsive
 *
 * Python's range(50) would take hours; this kid stops after 3 seconds of work. The fix,
 * fib computed in worker processes while the kernel stays responsive, is kid_fib.c.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static double scale = 1.0;
static int64_t kid_started, kid_finished; /* curio_clock() around the kid's computation */

/* Exponential on purpose, like the tutorial's; noinline keeps the compiler from folding
 * the recursion into something much faster. */
__attribute__((noinline)) static long fib(long n)
{
    return n <= 2 ? 1 : fib(n - 1) + fib(n - 2);
}

static long kid(void *arg)
{
    (void)arg;
    printf("Building the Millenium Falcon in Minecraft\n");
    fflush(stdout);
    kid_started = curio_clock();
    int64_t end = kid_started + (int64_t)(3e9 * scale);
    volatile long total = 0;
    for (long n = 1; curio_clock() < end; n++)   /* for n in range(50): total += fib(n) */
        total += fib(n);
    (void)total;                                  /* computed for the time it takes */
    kid_finished = curio_clock();
    printf("Done building (not one blocking call in between)\n");
    fflush(stdout);
    return 0;
}

static long parent(void *arg)
{
    (void)arg;
    curio_task *kid_task = curio_spawn(kid, NULL);     /* runs once the parent blocks */
    if (!kid_task)
        return -ENOMEM;
    printf("Parent: a nap of 1 second\n");
    fflush(stdout);
    int64_t start = curio_clock();
    int64_t woke = curio_sleep(1 * scale);
    if (woke < 0) {
        curio_task_release(kid_task);
        return woke;
    }
    /* The nap began before the kid and cannot have ended while it computed. */
    if (woke - start >= kid_finished - kid_started && woke >= kid_finished)
        printf("Parent: awake only after the kid's whole computation: no preemption\n");
    else
        printf("Parent: awake during the kid's computation?!\n");
    int rc = curio_join(kid_task, NULL);
    curio_task_release(kid_task);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    long result = 0;
    int rc = curio_run(parent, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "kid_hog: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
