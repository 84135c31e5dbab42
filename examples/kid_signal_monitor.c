/*
 * The tutorial's "Signals" with the monitor on: while the parent waits for SIGHUP, the
 * monitor's ps shows it in SIGNAL_WAIT and the kid in TIME_SLEEP, and the signal can come
 * from the monitor itself instead of `kill -HUP`:
 *
 *     bash % curio-monitor
 *     curio > ps
 *     curio > signal SIGHUP
 *
 * The parent then wakes up, counts down, and cancels the kid when it does not come along.
 *
 *     ./kid_signal_monitor [scale] [host:port]   (scale multiplies every sleep, default
 *                                                 1.0; the monitor's address, default
 *                                                 127.0.0.1:48802)
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static double scale = 1.0;
static curio_event start_evt = CURIO_EVENT_INIT;

static void say(const char *s)
{
    printf("%s\n", s);
    fflush(stdout);
}

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

/* The nagging kid: asks every second until the parent says yes. */
static long kid(void *arg)
{
    (void)arg;
    for (;;) {
        say("Can I play?");
        curio_scope s;
        curio_timeout_after(&s, 1 * scale);
        curio_event_wait(&start_evt);             /* await timeout_after(1, start_evt.wait()) */
        if (curio_scope_close(&s) != -ETIMEDOUT)
            break;
        say("Wha!?!");
    }
    say("Building the Millenium Falcon in Minecraft");
    int64_t s = curio_sleep(1000 * scale);
    if (s == -ECANCELED)
        say("Fine. Saving my work.");
    return s < 0 ? s : 0;
}

static curio_task *spawn(curio_task_fn fn, void *arg, const char *name)
{
    curio_task *t = NULL;
    curio_spawn_options o = {.name = name};
    int rc = curio_spawn_ex(&t, fn, arg, &o);
    if (rc < 0)
        fprintf(stderr, "kid_signal_monitor: spawn %s: %s\n", name, curio_strerror(rc));
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
    printf("Parent PID %d\n", (int)getpid());
    fflush(stdout);

    curio_task *kid_task = spawn(kid, NULL, "kid");
    if (!kid_task)
        return -ENOMEM;
    curio_sleep(5 * scale);

    say("Yes, go play");
    curio_event_set(&start_evt);
    int sigs[] = {SIGHUP};
    curio_signal_event *goodbye;
    int rc = curio_signal_event_create(&goodbye, sigs, 1); /* SignalEvent(signal.SIGHUP) */
    if (rc == 0) {
        rc = curio_signal_event_wait(goodbye);    /* .wait(); a SIGHUP that came earlier */
        curio_signal_event_destroy(goodbye);      /* is pending (blocked): it counts */
    }
    if (rc < 0) {
        curio_cancel(kid_task);
        curio_task_release(kid_task);
        return rc;
    }

    say("Let's go");
    curio_task *count_task = spawn(countdown, (void *)(intptr_t)10, "countdown");
    if (count_task) {
        curio_join(count_task, NULL);
        curio_task_release(count_task);
    }
    say("We're leaving!");
    curio_scope s;
    curio_timeout_after(&s, 10 * scale);
    curio_join(kid_task, NULL);
    if (curio_scope_close(&s) == -ETIMEDOUT) {
        say("I warned you!");
        curio_cancel(kid_task);
    }
    say("Leaving!");
    curio_task_release(kid_task);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    /* Before any thread exists: SIGHUP, from kill or from the monitor, is read by curio
     * from a signalfd instead of ending the program. */
    int sigs[] = {SIGHUP};
    curio_enable_signals(sigs, 1);
    curio_options opts = {.monitor = true, .monitor_address = argc > 2 ? argv[2] : NULL};
    long result = 0;
    int rc = curio_run(parent, NULL, &opts, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "kid_signal_monitor: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
