/*
 * bench/plain_pingpong.c - the plain socket path with the TLS hook in it: two tasks over
 * a socketpair, curio_send and curio_recv of 1 byte there and back. Uses only calls that
 * predate TLS, so that bench/run-tls can run this one binary against two builds of
 * libcurio.so (LD_LIBRARY_PATH) and put the hook's cost on a line (docs/benchmarks.md).
 *
 *     curio-plain-pingpong [--rounds N] [--repeat R]
 *
 * Prints {"impl": "curio", "metric": "plain_pingpong_ns", "value": ...}: the best of R
 * runs, per round trip.
 */
#include <curio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long rounds = 200000;
static int repeat = 5;
static curio_socket *pair[2];

static long ponger(void *arg)
{
    (void)arg;
    char b;
    for (long i = 0; i < rounds; i++)
        if (curio_recv(pair[1], &b, 1, 0) != 1 || curio_send(pair[1], &b, 1, 0) != 1)
            return -1;
    return 0;
}

static long bench(void *arg)
{
    (void)arg;
    if (curio_socketpair(AF_UNIX, SOCK_STREAM, pair) < 0)
        return -1;
    double best = 1e30;
    for (int r = 0; r < repeat; r++) {
        curio_task *t = curio_spawn(ponger, NULL);
        char b = 'x';
        int64_t t0 = curio_clock();
        for (long i = 0; i < rounds; i++)
            if (curio_send(pair[0], &b, 1, 0) != 1 || curio_recv(pair[0], &b, 1, 0) != 1)
                return -1;
        double ns = (double)(curio_clock() - t0) / (double)rounds;
        best = ns < best ? ns : best;
        curio_join(t, NULL);
        curio_task_release(t);
    }
    printf("{\"impl\": \"curio\", \"metric\": \"plain_pingpong_ns\", \"value\": %.9g}\n", best);
    curio_socket_close(pair[0]);
    curio_socket_close(pair[1]);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rounds"))
            rounds = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
    }
    long result = -1;
    return curio_run(bench, NULL, NULL, &result) < 0 || result < 0;
}
