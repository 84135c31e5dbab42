/*
 * bench/proc_micro.c - the proc layer's micro-benchmarks (see docs/benchmarks.md).
 *
 *     curio-proc-micro [--spawns N] [--parallel P] [--calls N] [--repeat R]
 *
 * Prints one JSON object per line, {"impl": ..., "metric": ..., "value": ...}, for
 * bench/run-proc to put beside bench/asyncio_proc.py's. Figures:
 *   spawn_wait_us       start /bin/true and wait for it, one after the other; per process
 *   spawn_wait_plain_us the floor: posix_spawn and waitpid in a plain loop, no kernel
 *   spawn_wait_par_us   the same with P children at a time (P tasks); per process
 *   communicate_us      cat with 256 KiB in and out through communicate; per call
 *   run_in_process_us   a call that returns at once, on a warm pool of one worker; per call
 * Timed loops keep the best of R runs, because on a shared machine noise only adds time.
 */
#include <curio.h>

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

static long opt_spawns = 500;
static long opt_parallel = 8;
static long opt_calls = 5000;
static int opt_repeat = 3;

#define PAYLOAD (256 * 1024)

static void emit(const char *metric, double value)
{
    printf("{\"impl\": \"curio\", \"metric\": \"%s\", \"value\": %.9g}\n", metric, value);
    fflush(stdout);
}

static long spawn_wait(long n)
{
    const char *argv[] = {"/bin/true", NULL};
    for (long i = 0; i < n; i++) {
        curio_process *p;
        int code = -1;
        if (curio_popen(&p, argv, NULL) < 0)
            return -1;
        int rc = curio_process_wait(p, &code);
        curio_process_destroy(p);
        if (rc < 0 || code != 0)
            return -1;
    }
    return 0;
}

static long spawner(void *arg) { return spawn_wait((long)(intptr_t)arg); }

/* Best time per process over R runs of `tasks` tasks spawning n/tasks children each. */
static double spawns(long tasks)
{
    double best = 1e30;
    for (int r = 0; r < opt_repeat; r++) {
        int64_t t0 = curio_clock();
        curio_task *t[64];
        for (long i = 0; i < tasks; i++)
            t[i] = curio_spawn(spawner, (void *)(intptr_t)(opt_spawns / tasks));
        for (long i = 0; i < tasks; i++) {
            long rc = -1;
            if (!t[i] || curio_join(t[i], &rc) < 0 || rc < 0)
                return -1;
            curio_task_release(t[i]);
        }
        double us = (double)(curio_clock() - t0) / 1e3 / (double)(opt_spawns / tasks * tasks);
        best = us < best ? us : best;
    }
    return best;
}

static double communicates(long n)
{
    static char input[PAYLOAD];
    memset(input, 'x', sizeof input);
    const char *argv[] = {"cat", NULL};
    curio_process_options o = {.stdin_mode = CURIO_STDIO_PIPE, .stdout_mode = CURIO_STDIO_PIPE};
    double best = 1e30;
    for (int r = 0; r < opt_repeat; r++) {
        int64_t t0 = curio_clock();
        for (long i = 0; i < n; i++) {
            curio_process *p;
            if (curio_popen(&p, argv, &o) < 0)
                return -1;
            curio_completed res;
            int rc = curio_process_communicate(p, input, sizeof input, &res);
            bool ok = rc == 0 && res.out_len == sizeof input && res.returncode == 0;
            curio_completed_free(&res);
            curio_process_destroy(p);
            if (!ok)
                return -1;
        }
        double us = (double)(curio_clock() - t0) / 1e3 / (double)n;
        best = us < best ? us : best;
    }
    return best;
}

static long nothing(const void *arg, size_t len, void **out, size_t *out_len)
{
    (void)arg, (void)len, (void)out, (void)out_len;
    return 1;
}

static double calls(long n)
{
    long r = 0;
    curio_process_pool_set_max(1);
    if (curio_run_in_process(nothing, NULL, 0, &r, NULL, NULL) < 0) /* the fork, untimed */
        return -1;
    double best = 1e30;
    for (int rep = 0; rep < opt_repeat; rep++) {
        int64_t t0 = curio_clock();
        for (long i = 0; i < n; i++)
            if (curio_run_in_process(nothing, NULL, 0, &r, NULL, NULL) < 0 || r != 1)
                return -1;
        double us = (double)(curio_clock() - t0) / 1e3 / (double)n;
        best = us < best ? us : best;
    }
    curio_process_pool_shutdown();
    return best;
}

static long bench_main(void *arg)
{
    (void)arg;
    double v;
    if ((v = spawns(1)) < 0)
        return -1;
    emit("spawn_wait_us", v);
    if ((v = spawns(opt_parallel)) < 0)
        return -1;
    emit("spawn_wait_par_us", v);
    if ((v = communicates(opt_spawns / 5 > 0 ? opt_spawns / 5 : 1)) < 0)
        return -1;
    emit("communicate_us", v);
    if ((v = calls(opt_calls)) < 0)
        return -1;
    emit("run_in_process_us", v);
    return 0;
}

/* The same children without curio: what exec and exit cost on this machine. */
static double plain_spawns(void)
{
    char *argv[] = {"/bin/true", NULL};
    double best = 1e30;
    for (int r = 0; r < opt_repeat; r++) {
        int64_t t0 = curio_clock();
        for (long i = 0; i < opt_spawns; i++) {
            pid_t pid;
            int status;
            if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0 ||
                waitpid(pid, &status, 0) != pid || status != 0)
                return -1;
        }
        double us = (double)(curio_clock() - t0) / 1e3 / (double)opt_spawns;
        best = us < best ? us : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (!strcmp(o, "--spawns"))
            opt_spawns = atol(v);
        else if (!strcmp(o, "--parallel"))
            opt_parallel = atol(v);
        else if (!strcmp(o, "--calls"))
            opt_calls = atol(v);
        else if (!strcmp(o, "--repeat"))
            opt_repeat = atoi(v);
    }
    if (opt_spawns < 1 || opt_parallel < 1 || opt_parallel > 64 || opt_calls < 1 ||
        opt_repeat < 1) {
        fprintf(stderr, "curio-proc-micro: bad option\n");
        return 2;
    }
    double plain = plain_spawns();
    if (plain < 0)
        return 1;
    emit("spawn_wait_plain_us", plain);
    long result = -1;
    int rc = curio_run(bench_main, NULL, NULL, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "curio-proc-micro: failed: %s / %ld\n", curio_strerror(rc), result);
        return 1;
    }
    return 0;
}
