/*
 * The tutorial's task synchronisation: the kid waits for the parent's Event before it
 * starts playing; the parent stops waiting after a timeout and cancels it.
 *
 *     ./kid_event [scale]     (scale multiplies every sleep; default 1.0)
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

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

static long kid(void *arg)
{
    (void)arg;
    say("Can I play?");
    int rc = curio_event_wait(&start_evt);        /* await start_evt.wait() */
    if (rc < 0)
        return rc;
    say("Building the Millenium Falcon in Minecraft");
    int64_t s = curio_sleep(1000 * scale);
    if (s == -ECANCELED)
        say("Fine. Saving my work.");             /* except CancelledError: ... raise */
    return s < 0 ? s : 0;
}

static long parent(void *arg)
{
    (void)arg;
    curio_task *kid_task = curio_spawn(kid, NULL);
    curio_sleep(5 * scale);

    say("Yes, go play");
    curio_event_set(&start_evt);                  /* await start_evt.set() */
    curio_sleep(5 * scale);

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
    int rc = curio_run(parent, NULL, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "kid_event: %s\n", curio_strerror(rc));
        return 1;
    }
    return 0;
}
