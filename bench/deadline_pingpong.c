/*
 * bench/deadline_pingpong.c - what a deadline costs an I/O operation: in the timer heap
 * (the default for deadlines 1 ms or more away) against a linked timeout SQE.
 *
 *     curio-deadline-pingpong [--rounds N] [--pairs P] [--repeat R] [--expiries N]
 *                             [--mode none|heap|link]
 *
 * Ping-pong: P pairs of tasks over socketpairs, 1 byte there and back; the answering side
 * receives each byte under a timeout scope of its own (60 s, never reached), as a server
 * reads a request under its header timeout. Three ways, alternating, best of R runs each,
 * in CPU time (user + system) per round trip:
 * no scope at all, the deadline in the heap (curio__link_below = 0), a linked timeout
 * (curio__link_below = INT64_MAX). Expiry: a receive on a silent socket under a 20 us,
 * 200 us and 2 ms scope, N times each way, the wall time per receive past its deadline.
 * Prints one JSON line per figure and the ratios heap / link. --mode runs only the
 * ping-pong, only that way (for an instruction count under valgrind --tool=cachegrind).
 */
#include "../kernel/kernel.h"

#include <curio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long rounds = 200000;
static int pairs = 1;
static int repeat = 5;
static long expiries = 2000;
static bool scoped;
static int only = -1; /* --mode: 0 none, 1 heap, 2 link */

typedef struct pair {
    curio_socket *s[2];
} pair;
static pair *ps;

static long ponger(void *arg)
{
    pair *p = arg;
    char b;
    long n = rounds / pairs;
    for (long i = 0; i < n; i++) {
        curio_scope sc;
        if (scoped)
            curio_timeout_after(&sc, 60);
        ssize_t r = curio_recv(p->s[1], &b, 1, 0);
        if (scoped)
            curio_scope_close(&sc);
        if (r != 1 || curio_send(p->s[1], &b, 1, 0) != 1)
            return -1;
    }
    return 0;
}

static long pinger(void *arg)
{
    pair *p = arg;
    char b = 'x';
    long n = rounds / pairs;
    for (long i = 0; i < n; i++)
        if (curio_send(p->s[0], &b, 1, 0) != 1 || curio_recv(p->s[0], &b, 1, 0) != 1)
            return -1;
    return 0;
}

/* CPU time of the process (user + system), in ns: unlike the wall clock, it leaves out
 * the time other programs of a shared machine ran instead of this one. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One run: CPU ns per round trip (all pairs together). */
static double run_once(void)
{
    curio_task **t = calloc(2 * (size_t)pairs, sizeof *t);
    int64_t t0 = cpu_ns();
    for (int i = 0; i < pairs; i++) {
        t[2 * i] = curio_spawn(ponger, &ps[i]);
        t[2 * i + 1] = curio_spawn(pinger, &ps[i]);
    }
    for (int i = 0; i < 2 * pairs; i++) {
        long r = 0;
        curio_join(t[i], &r);
        curio_task_release(t[i]);
        if (r != 0) {
            fprintf(stderr, "deadline-pingpong: a task failed\n");
            exit(1);
        }
    }
    free(t);
    return (double)(cpu_ns() - t0) / (double)((rounds / pairs) * pairs);
}

/* ns past the deadline per timed-out receive. */
static double expiry(double seconds)
{
    char b;
    int64_t t0 = curio_clock();
    for (long i = 0; i < expiries; i++) {
        curio_scope sc;
        curio_timeout_after(&sc, seconds);
        ssize_t r = curio_recv(ps[0].s[0], &b, 1, 0);
        curio_scope_close(&sc);
        if (r != -ETIMEDOUT) {
            fprintf(stderr, "deadline-pingpong: expiry got %zd\n", r);
            exit(1);
        }
    }
    return (double)(curio_clock() - t0) / (double)expiries - seconds * 1e9;
}

static long bench(void *arg)
{
    (void)arg;
    ps = calloc((size_t)pairs, sizeof *ps);
    for (int i = 0; i < pairs; i++)
        if (curio_socketpair(AF_UNIX, SOCK_STREAM, ps[i].s) < 0)
            return -1;
    static const char *names[3] = {"none", "heap", "link"};
    double best[3] = {1e30, 1e30, 1e30};
    if (only >= 0) {
        scoped = only != 0;
        curio__link_below = only == 2 ? INT64_MAX : 0;
        for (int r = 0; r < repeat; r++) {
            double ns = run_once();
            best[only] = ns < best[only] ? ns : best[only];
        }
        printf("{\"impl\": \"curio\", \"metric\": \"deadline_pingpong_cpu_ns\", \"deadline\": "
               "\"%s\", \"pairs\": %d, \"value\": %.6g}\n", names[only], pairs, best[only]);
        return 0;
    }
    for (int r = 0; r < repeat; r++) {
        for (int m = 0; m < 3; m++) {
            scoped = m != 0;
            curio__link_below = m == 2 ? INT64_MAX : 0;
            double ns = run_once();
            best[m] = ns < best[m] ? ns : best[m];
        }
    }
    for (int m = 0; m < 3; m++)
        printf("{\"impl\": \"curio\", \"metric\": \"deadline_pingpong_cpu_ns\", \"deadline\": \"%s\", "
               "\"pairs\": %d, \"value\": %.6g}\n", names[m], pairs, best[m]);
    printf("ping-pong, %d pair(s): heap / link %.3f, heap - none %.1f ns, link - none %.1f ns\n",
           pairs, best[1] / best[2], best[1] - best[0], best[2] - best[0]);
    static const double waits[3] = {20e-6, 200e-6, 2e-3};
    for (int w = 0; w < 3; w++) {
        double late[2];
        for (int m = 0; m < 2; m++) {
            curio__link_below = m == 1 ? INT64_MAX : 0;
            late[m] = expiry(waits[w]);
            printf("{\"impl\": \"curio\", \"metric\": \"deadline_expiry_late_ns\", "
                   "\"deadline\": \"%s\", \"after_us\": %g, \"value\": %.6g}\n",
                   m ? "link" : "heap", waits[w] * 1e6, late[m]);
        }
        printf("expiry after %g us: late by %.1f us (heap), %.1f us (link)\n", waits[w] * 1e6,
               late[0] / 1e3, late[1] / 1e3);
    }
    curio__link_below = CURIO__LINK_BELOW_NS;
    for (int i = 0; i < pairs; i++) {
        curio_socket_close(ps[i].s[0]);
        curio_socket_close(ps[i].s[1]);
    }
    free(ps);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rounds"))
            rounds = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--pairs"))
            pairs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--expiries"))
            expiries = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--mode") && !strcmp(argv[i + 1], "none"))
            only = 0;
        else if (!strcmp(argv[i], "--mode") && !strcmp(argv[i + 1], "heap"))
            only = 1;
        else if (!strcmp(argv[i], "--mode") && !strcmp(argv[i + 1], "link"))
            only = 2;
        else {
            fprintf(stderr, "usage: %s [--rounds N] [--pairs P] [--repeat R] [--expiries N] "
                            "[--mode none|heap|link]\n", argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || pairs < 1 || repeat < 1 || expiries < 1 || rounds < pairs) {
        fprintf(stderr, "deadline-pingpong: bad arguments\n");
        return 2;
    }
    long result = -1;
    return curio_run(bench, NULL, NULL, &result) < 0 || result < 0;
}
