/*
 * The tutorial's hello.py that hangs, run with the monitor on (Curio's
 * `curio.run(parent(), with_monitor=True)`): the parent joins a kid who sleeps for 1000
 * seconds. Look inside from another terminal:
 *
 *     bash % curio-monitor
 *     Curio Monitor: 5 tasks running
 *     Type help for commands
 *     curio > ps
 *     curio > where 3
 *     curio > cancel 3
 *
 * Cancelling the kid (task 3) lets the parent leave. (CURIO_MONITOR=1 turns the monitor on
 * for any program, without a line of code.)
 *
 *     ./kid_monitor [scale] [host:port]   (scale multiplies every sleep; default 1.0; the
 *                                          monitor's address, default 127.0.0.1:48802)
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

static curio_task *spawn(curio_task_fn fn, void *arg, const char *name)
{
    curio_task *t = NULL;
    curio_spawn_options o = {.name = name};
    int rc = curio_spawn_ex(&t, fn, arg, &o);
    if (rc < 0)
        fprintf(stderr, "kid_monitor: spawn %s: %s\n", name, curio_strerror(rc));
    return t;
}

static long parent(void *arg)
{
    (void)arg;
    curio_task_set_name(curio_current(), "parent");
    curio_addr a;
    char where[CURIO_ADDR_STRLEN] = "(none)";
    if (curio_monitor_address(curio_kernel_current(), &a) == 0)
        curio_addr_format(&a, where, sizeof where);
    printf("Monitor at %s\n", where);
    fflush(stdout);

    curio_task *kid_task = spawn(kid, NULL, "kid");
    if (!kid_task)
        return -1;
    curio_sleep(5 * scale);

    printf("Let's go\n");
    fflush(stdout);
    curio_task *count_task = spawn(countdown, (void *)(intptr_t)10, "countdown");
    if (count_task) {
        curio_join(count_task, NULL);
        curio_task_release(count_task);
    }

    printf("We're leaving!\n");
    fflush(stdout);
    int rc = curio_join(kid_task, NULL);   /* ... hangs, until the kid is cancelled */
    curio_task_release(kid_task);
    printf("Leaving!%s\n", rc == CURIO_ETASKCANCELLED ? " (the kid was cancelled)" : "");
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    curio_options opts = {.monitor = true, .monitor_address = argc > 2 ? argv[2] : NULL};
    int rc = curio_run(parent, NULL, &opts, NULL);
    if (rc < 0) {
        fprintf(stderr, "kid_monitor: %s\n", curio_strerror(rc));
        return 1;
    }
    return 0;
}
