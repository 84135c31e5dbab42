/*
 * The how-to's CPU-bound work in another process (Python:
 * `result = await curio.run_in_process(fib, 40)`): several Fibonacci numbers computed at
 * once in the pool's worker processes, while a task of the kernel keeps ticking.
 *
 * In C, run_in_process takes bytes and gives back a long (and bytes if wanted): the
 * argument n travels as the bytes of a long. fib must not touch curio or shared state.
 *
 *     ./fib_process [scale]     (the scale is accepted and unused)
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exponential on purpose, like the tutorial's; noinline keeps the compiler from cloning
 * and folding the recursion into something much faster. */
__attribute__((noinline)) static long fib(long n)
{
    return n <= 2 ? 1 : fib(n - 1) + fib(n - 2);
}

/* Runs in a worker process: the argument is a long, the result fib of it. */
static long fib_worker(const void *arg, size_t len, void **out, size_t *out_len)
{
    (void)out;
    (void)out_len;
    long n;
    if (len != sizeof n)
        return -1;
    memcpy(&n, arg, sizeof n);
    return fib(n);
}

static long compute(void *arg)
{
    long n = (long)(intptr_t)arg, result = 0;
    int rc = curio_run_in_process(fib_worker, &n, sizeof n, &result, NULL, NULL);
    return rc < 0 ? rc : result;                      /* result = await run_in_process(fib, n) */
}

static long ticks;

static long ticker(void *arg)
{
    (void)arg;
    while (curio_sleep(0.001) >= 0)
        ticks++;
    return 0;
}

static long main_task(void *arg)
{
    (void)arg;
    enum { FIRST = 30, COUNT = 6 };
    curio_task *tick = curio_spawn(ticker, NULL);
    curio_task *t[COUNT];
    for (int i = 0; i < COUNT; i++)
        t[i] = curio_spawn(compute, (void *)(intptr_t)(FIRST + i));
    long rc = 0;
    for (int i = 0; i < COUNT; i++) {
        long r = 0;
        curio_join(t[i], &r);
        curio_task_release(t[i]);
        if (r < 0)
            rc = r;
        else
            printf("fib(%d) = %ld\n", FIRST + i, r);
    }
    curio_cancel(tick);
    curio_task_release(tick);
    printf("the kernel %s while the workers computed\n", ticks > 0 ? "kept running" : "stalled");
    curio_process_pool_shutdown();
    return rc;
}

int main(void)
{
    long result = 0;
    int rc = curio_run(main_task, NULL, NULL, &result);
    if (rc < 0 || result != 0) {
        fprintf(stderr, "fib_process: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
