/*
 * The tutorial's "Number Crunching": the kid sums larger and larger Fibonacci numbers,
 * each computed in a worker process (Python: `total += await curio.run_in_process(fib,
 * n)`), so the kernel stays responsive: the parent still gets its SIGHUP, counts down,
 * and cancels the kid, which kills the worker busy with the current fib.
 *
 *     ./kid_fib [scale]     (scale multiplies every sleep; default 1.0)
 *
 * Then, from another terminal: kill -HUP <the pid it prints>
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double scale = 1.0;
static curio_event start_evt = CURIO_EVENT_INIT;

static void say(const char *s)
{
    printf("%s\n", s);
    fflush(stdout);
}

/* Exponential on purpose, like the tutorial's; noinline keeps the compiler from cloning
 * and folding the recursion into something much faster. */
__attribute__((noinline)) static long fib(long n)
{
    return n <= 2 ? 1 : fib(n - 1) + fib(n - 2);
}

/* Runs in a worker process: n arrives as the bytes of a long. */
static long fib_worker(const void *arg, size_t len, void **out, size_t *out_len)
{
    (void)out;
    (void)out_len;
    long n = 0;
    if (len == sizeof n)
        memcpy(&n, arg, sizeof n);
    return fib(n);
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
    int rc = curio_event_wait(&start_evt);
    if (rc < 0)
        return rc;
    say("Building the Millenium Falcon in Minecraft");
    long total = 0;
    for (long n = 0; n < 50 && rc == 0; n++) {
        long r = 0;
        rc = curio_run_in_process(fib_worker, &n, sizeof n, &r, NULL, NULL);
        total += r;
    }
    if (rc == -ECANCELED)
        say("Fine. Saving my work.");             /* the worker was killed meanwhile */
    return rc < 0 ? rc : total;
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
        rc = curio_signal_event_wait(goodbye);
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
    curio_process_pool_shutdown();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]);
    int sigs[] = {SIGHUP};
    curio_enable_signals(sigs, 1);                /* before any thread exists */
    long result = 0;
    int rc = curio_run(parent, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "kid_fib: %s\n", curio_strerror(rc < 0 ? rc : (int)result));
        return 1;
    }
    return 0;
}
