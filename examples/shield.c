/*
 * The how-to's "How do you shield operations from timeouts or cancellation?": inside a
 * disable_cancellation block, coro1 and coro2 run to their end although the task was
 * cancelled meanwhile (or its timeout passed); the cancellation, or the timeout, is
 * delivered at the first blocking call after the block.
 *
 *     ./shield [scale]     (scale multiplies every duration; default 1.0)
 *
 * Curio:
 *     async def func():
 *         async with disable_cancellation():
 *             await coro1()
 *             await coro2()
 *         await blocking_op()      # Cancellation delivered here
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static double scale = 1.0;
static curio_event shielded = CURIO_EVENT_INIT; /* set once func is inside the block */

static void say(const char *s)
{
    printf("%s\n", s);
    fflush(stdout);
}

/* coro1 and coro2: work that takes 2 seconds each and must not be cut short. */
static int coro(const char *name)
{
    int64_t rc = curio_sleep(2 * scale);
    printf("  %s: %s\n", name, rc < 0 ? curio_strerror((int)rc) : "done");
    fflush(stdout);
    return rc < 0 ? (int)rc : 0;
}

static int blocking_op(void)
{
    int64_t rc = curio_sleep(1000 * scale);
    printf("  blocking_op: %s\n", rc == -ECANCELED   ? "-ECANCELED (delivered here)"
                                  : rc == -ETIMEDOUT ? "-ETIMEDOUT (delivered here)"
                                  : rc < 0           ? curio_strerror((int)rc)
                                                     : "done");
    fflush(stdout);
    return rc < 0 ? (int)rc : 0;
}

static long func(void *arg)
{
    (void)arg;
    curio_scope nc;
    curio_disable_cancellation(&nc);           /* async with disable_cancellation(): */
    curio_event_set(&shielded);
    coro("coro1");
    coro("coro2");
    curio_scope_close(&nc);
    return blocking_op();
}

static long main_task(void *arg)
{
    (void)arg;
    say("Cancelling func while it is in coro1:");
    curio_task *t = curio_spawn(func, NULL);
    if (!t)
        return -ENOMEM;
    curio_event_wait(&shielded);
    say("  (cancel requested)");
    curio_cancel(t);                           /* waits until func has ended */
    int rc = curio_join(t, NULL);
    say(rc == CURIO_ETASKCANCELLED ? "  func ended cancelled" : "  func ended otherwise?!");
    curio_task_release(t);

    say("A timeout of 1 second passing while func is in coro1:");
    curio_scope s;
    curio_timeout_after(&s, 1 * scale);
    func(NULL);
    if (curio_scope_close(&s) == -ETIMEDOUT)
        say("Timed out");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    long result = 0;
    int rc = curio_run(main_task, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "shield: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
