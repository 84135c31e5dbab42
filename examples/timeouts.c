/*
 * The how-to's "How do you apply a timeout?" and "How can a timeout be applied to a block
 * of statements?": timeout_after and ignore_after, as functions around one call and as
 * scopes around a block.
 *
 *     ./timeouts [scale]     (scale multiplies every duration; default 1.0)
 *
 * Curio:
 *     try:
 *         result = await timeout_after(5, coro, args)
 *     except TaskTimeout:
 *         print('Timed out')
 *
 *     result = await ignore_after(5, coro, args)
 *     if result is None:
 *         print('Timed out')
 *
 *     try:
 *         async with timeout_after(5):
 *             statement1
 *             statement2
 *     except TaskTimeout:
 *         print('Timed out')
 *
 * In C an exception is a return code: the call blocked when the deadline passes returns
 * -ETIMEDOUT, so does every later blocking call in the scope, and closing the scope says
 * whether it was this scope that expired. ignore_after's scope closes with 0 whether or
 * not it expired; curio_scope_expired (or the function form's `expired`) tells. The
 * function forms always hand back what the function returned (here coro's own
 * -ETIMEDOUT when it was cut short): a value completed in time is never dropped.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static double scale = 1.0;

/* coro(args): sleeps for *args seconds, then returns 42. */
static long coro(void *arg)
{
    double seconds = *(double *)arg;
    int64_t rc = curio_sleep(seconds * scale);
    return rc < 0 ? rc : 42;
}

static void function_forms(double seconds)
{
    long result = 0;
    int rc = curio_timeout_after_call(5 * scale, coro, &seconds, &result);
    if (rc == -ETIMEDOUT)                      /* except TaskTimeout: */
        printf("timeout_after(5, coro(%g)): Timed out\n", seconds);
    else
        printf("timeout_after(5, coro(%g)): result %ld\n", seconds, result);

    bool expired;
    rc = curio_ignore_after_call(5 * scale, coro, &seconds, &result, &expired);
    if (rc == 0 && expired)                    /* if result is None: */
        printf("ignore_after(5, coro(%g)): Timed out, coro returned %s\n", seconds,
               curio_strerror((int)result));
    else
        printf("ignore_after(5, coro(%g)): result %ld\n", seconds, result);
}

/* statement1 takes 2 seconds and statement2 4: each alone fits in 5, both do not. */
static int statement(int which, double seconds)
{
    int64_t rc = curio_sleep(seconds * scale);
    if (rc == -ETIMEDOUT)
        printf("  statement%d: -ETIMEDOUT\n", which);
    else if (rc < 0)
        printf("  statement%d: %s\n", which, curio_strerror((int)rc));
    else
        printf("  statement%d done\n", which);
    return rc < 0 ? (int)rc : 0;
}

static long main_task(void *arg)
{
    (void)arg;
    function_forms(0.1);                       /* a quick call: its result comes back */
    function_forms(1000);                      /* a slow one: cut short after 5 seconds */

    printf("async with timeout_after(5):\n");
    curio_scope s;
    curio_timeout_after(&s, 5 * scale);
    if (statement(1, 2) == 0)
        statement(2, 4);                       /* the deadline is the block's, cumulative */
    if (curio_scope_close(&s) == -ETIMEDOUT)   /* except TaskTimeout: */
        printf("Timed out\n");

    printf("async with ignore_after(5):\n");
    curio_ignore_after(&s, 5 * scale);
    if (statement(1, 2) == 0)
        statement(2, 4);
    int rc = curio_scope_close(&s);            /* 0: nothing to catch */
    printf("closed with %d; %s\n", rc, curio_scope_expired(&s) ? "Timed out" : "in time");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    long result = 0;
    int rc = curio_run(main_task, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "timeouts: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
