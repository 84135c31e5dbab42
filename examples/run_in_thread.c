/*
 * The how-to's "How do you perform a blocking operation?" (and the tutorial's kid who
 * rests with `await curio.run_in_thread(time.sleep, n)`): a call that blocks, here a plain
 * nanosleep of 100 seconds, runs on a worker thread, and the kernel's other tasks go on
 * meanwhile: a ticker keeps ticking.
 *
 *     ./run_in_thread [scale]     (scale multiplies every duration; default 1.0)
 *
 * Curio:
 *     result = await curio.run_in_thread(time.sleep, 100)
 *
 * The function must not call curio's blocking calls (it is not a task). A cancellation or
 * timeout that arrives while it runs waits for it to return (a thread cannot be stopped
 * safely) and is delivered at the task's next blocking call.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double scale = 1.0;
static long ticks;

/* time.sleep: blocks the thread that calls it. */
static long time_sleep(void *arg)
{
    double seconds = *(double *)arg;
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}

static long ticker(void *arg)
{
    (void)arg;
    int64_t rc;
    while ((rc = curio_sleep(1 * scale)) >= 0)
        ticks++;
    return rc;
}

static long main_task(void *arg)
{
    (void)arg;
    curio_task *t = curio_spawn(ticker, NULL);
    if (!t)
        return -ENOMEM;
    double seconds = 100 * scale;
    long result = -1;
    int rc = curio_run_in_thread(time_sleep, &seconds, &result); /* run_in_thread(time.sleep, 100) */
    printf("run_in_thread(time.sleep, 100) returned %d, result %ld\n", rc, result);
    printf("the ticker %s meanwhile\n", ticks > 0 ? "kept ticking" : "did not tick");
    curio_cancel(t);
    curio_task_release(t);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    long result = 0;
    int rc = curio_run(main_task, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "run_in_thread: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
