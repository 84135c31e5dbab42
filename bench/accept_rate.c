/*
 * curio-accept-rate: connections per second through curio_run_server with the server
 * loop's multishot accept (net/accept_multi.c) against one-shot accepts (the test hook
 * curio__accept_multi_disabled), in interleaved rounds in one process; prints each round
 * and the median ratios: connections per second (above 1: multishot accepts faster) and
 * the server thread's CPU time per connection (below 1: multishot is cheaper; the less
 * noisy figure on a shared machine).
 *
 *   curio-accept-rate [--conns N] [--clients C] [--rounds R]
 *
 * Defaults: 20000 connections per round, 4 client threads, 5 rounds of each mode. Each
 * client thread connects (plain blocking sockets), waits for the server's close (the
 * handler returns at once: the connection is closed after the handler) and closes, in a
 * loop. Loopback only.
 */
#include <curio.h>

#include "../net/net.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int conns = 20000, clients = 4, rounds = 5;

static long handler(curio_socket *c, const curio_addr *a, void *arg)
{
    (void)c, (void)a, (void)arg;
    return 0;
}

struct srv {
    curio_socket *ls;
    int port;
};

static long server(void *arg)
{
    struct srv *s = arg;
    int rc = curio_run_server(s->ls, handler, NULL, NULL);
    return rc == -ECANCELED ? 0 : rc;
}

struct client {
    int port, n;
};

static void *client(void *arg)
{
    struct client *c = arg;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < c->n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
            perror("connect");
            exit(2);
        }
        char b;
        while (read(fd, &b, 1) > 0)
            ;
        close(fd);
    }
    return NULL;
}

static long load(void *arg)
{
    int port = *(int *)arg;
    pthread_t th[64];
    struct client c[64];
    for (int i = 0; i < clients; i++) {
        c[i] = (struct client){port, conns / clients};
        pthread_create(&th[i], NULL, client, &c[i]);
    }
    for (int i = 0; i < clients; i++)
        pthread_join(th[i], NULL);
    return 0;
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One round: seconds for `conns` connections; *cpu: the server thread's CPU seconds. */
static double round_once(bool multi, double *cpu)
{
    curio__accept_multi_disabled = !multi;
    struct srv s;
    curio_server_options o = {.backlog = 1024};
    if (curio_tcp_server_socket(&s.ls, "127.0.0.1", 0, &o) < 0)
        exit(2);
    curio_addr a;
    curio_socket_getsockname(s.ls, &a);
    s.port = curio_addr_port(&a);
    curio_task *t = curio_spawn(server, &s);
    int64_t t0 = curio_clock();
    double c0 = thread_cpu();
    curio_run_in_thread(load, &s.port, NULL);
    double secs = (double)(curio_clock() - t0) / 1e9;
    curio_cancel(t);
    *cpu = thread_cpu() - c0;
    curio_task_release(t);
    return secs;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static long main_task(void *arg)
{
    (void)arg;
    double ratio[64], cratio[64], c1, c2;
    round_once(true, &c1); /* warm-up */
    for (int r = 0; r < rounds; r++) {
        double one = round_once(false, &c1), multi = round_once(true, &c2);
        ratio[r] = one / multi;
        cratio[r] = c2 / c1;
        printf("round %d: one-shot %.0f conn/s %.2f us cpu/conn, multishot %.0f conn/s "
               "%.2f us cpu/conn; ratios %.3f %.3f\n",
               r, conns / one, c1 * 1e6 / conns, conns / multi, c2 * 1e6 / conns, ratio[r],
               cratio[r]);
        fflush(stdout);
    }
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp);
    qsort(cratio, (size_t)rounds, sizeof *cratio, cmp);
    printf("median ratio multishot/one-shot, connections per second: %.3f "
           "(above 1: multishot faster)\n", ratio[rounds / 2]);
    printf("median ratio multishot/one-shot, server thread CPU per connection: %.3f "
           "(below 1: multishot cheaper)\n", cratio[rounds / 2]);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--conns"))
            conns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--clients"))
            clients = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
    }
    if (clients < 1 || clients > 64 || rounds < 1 || rounds > 64 || conns < clients) {
        fprintf(stderr, "usage: curio-accept-rate [--conns N] [--clients 1..64] "
                        "[--rounds 1..64]\n");
        return 64;
    }
    long r = 1;
    curio_run(main_task, NULL, NULL, &r);
    return (int)r;
}
