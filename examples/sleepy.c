/*
 * "Developing with Curio", System Calls: a task that sleeps makes a request to the kernel
 * (a trap) and is suspended until the kernel has satisfied it.
 *
 *     ./sleepy [scale]     (scale multiplies the sleep of 10 seconds; default 1.0)
 *
 * Curio:
 *     async def main():
 *         print('Yawn. Getting sleepy.')
 *         await sleep(10)                    # yields ('sleep', 10) to the kernel
 *         print('Awake at last!')
 *
 * In C, curio_sleep is such a trap: it records the request (state TIME_SLEEP, a
 * deadline), switches to the kernel, and returns the kernel's answer when the task is
 * resumed (the clock at wake-up, or an error). A second task looks at the sleeper while
 * it is suspended, as the document does by hand with send().
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static double scale = 1.0;

/* Runs while the main task is suspended in its trap. */
static long onlooker(void *arg)
{
    curio_task *sleeper = arg;
    printf("The kernel holds '%s' in %s\n", curio_task_name(sleeper), curio_task_state(sleeper));
    fflush(stdout);
    return 0;
}

static long main_task(void *arg)
{
    (void)arg;
    curio_task_set_name(curio_current(), "main");
    printf("Yawn. Getting sleepy.\n");
    fflush(stdout);
    curio_task *look = curio_spawn(onlooker, curio_current()); /* runs once main traps */
    if (!look)
        return -ENOMEM;
    int64_t woke = curio_sleep(10 * scale);                   /* await sleep(10) */
    curio_task_release(look);
    if (woke < 0)
        return woke;
    printf("Awake at last!\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    long result = 0;
    int rc = curio_run(main_task, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "sleepy: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
