/*
 * The tutorial's "Signals": the parent lets the kid play until a Unix signal arrives
 * (Python: `await curio.SignalEvent(signal.SIGHUP).wait()`), then counts down and
 * leaves, cancelling the kid if it does not come along.
 *
 *     ./kid_signal [scale]     (scale multiplies every sleep; default 1.0)
 *
 * Then, from another terminal: kill -HUP <the pid it prints>
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

/* The nagging kid of the tutorial: asks every second until the parent says yes. */
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

static long parent(void *arg)
{
    (void)arg;
    printf("Parent PID %d\n", (int)getpid());
    curio_task *kid_task = curio_spawn(kid, NULL);
    curio_sleep(5 * scale);

    say("Yes, go play");
    curio_event_set(&start_evt);

    int sigs[] = {SIGHUP};
    curio_signal_event *goodbye;
    int rc = curio_signal_event_create(&goodbye, sigs, 1);
    if (rc == 0) {
        rc = curio_signal_event_wait(goodbye);    /* await SignalEvent(signal.SIGHUP).wait() */
        curio_signal_event_destroy(goodbye);
    }
    if (rc < 0) {
        curio_cancel(kid_task);
        curio_task_release(kid_task);
        return rc;
    }

    say("Let's go");
    curio_task *count_task = curio_spawn(countdown, (void *)(intptr_t)10);
    curio_join(count_task, NULL);
    say("We're leaving!");
    curio_scope s;
    curio_timeout_after(&s, 10 * scale);
    curio_join(kid_task, NULL);
    if (curio_scope_close(&s) == -ETIMEDOUT) {
        say("I warned you!");
        curio_cancel(kid_task);
    }
    say("Leaving!");
    curio_task_release(count_task);
    curio_task_release(kid_task);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    /* Before any thread exists: from now on no thread takes SIGHUP with its default
     * action (which ends the program); curio reads it from a signalfd while watched. */
    int sigs[] = {SIGHUP};
    curio_enable_signals(sigs, 1);
    long result = 0;
    int rc = curio_run(parent, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "kid_signal: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
