/*
 * curio-recvbuf-pingpong: the echo loop with curio_recv_buf (multishot receive into the
 * kernel's buffer ring) against curio_recv into the task's buffer, in one process and
 * one kernel: P connected pairs (Unix stream sockets), each an echo task and a client
 * task sending a message and waiting for its echo, R round trips per pair. Modes run in
 * interleaved rounds; prints each and the median ratios recv_buf / recv of round trips
 * per second (above 1: curio_recv_buf is faster) and of the kernel thread's CPU time
 * per round trip (below 1: it is cheaper; the less noisy figure on a shared machine).
 *
 *   curio-recvbuf-pingpong [--pairs P] [--trips R] [--size B] [--rounds N] [--tcp]
 *
 * Defaults: 50 pairs, 2000 round trips each, 64 bytes, 7 rounds. --tcp: loopback TCP pairs
 * instead of Unix ones.
 */
#include <curio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int pairs = 50, trips = 2000, size = 64, rounds = 7;
static bool tcp;

static long echo_recv(void *arg)
{
    curio_socket *s = arg;
    char buf[16384];
    ssize_t n;
    while ((n = curio_recv(s, buf, sizeof buf, 0)) > 0)
        if (curio_sendall(s, buf, (size_t)n, 0, NULL) < 0)
            break;
    return 0;
}

static long echo_recv_buf(void *arg)
{
    curio_socket *s = arg;
    curio_buf b;
    while (curio_recv_buf(s, &b) > 0) {
        ssize_t n = curio_sendall(s, b.data, b.len, 0, NULL);
        curio_buf_release(&b);
        if (n < 0)
            break;
    }
    return 0;
}

static long client(void *arg)
{
    curio_socket *s = arg;
    char msg[32768], back[32768];
    memset(msg, 'x', (size_t)size);
    for (int i = 0; i < trips; i++) {
        if (curio_sendall(s, msg, (size_t)size, 0, NULL) < 0)
            return -1;
        int got = 0;
        while (got < size) {
            ssize_t n = curio_recv(s, back + got, (size_t)(size - got), 0);
            if (n <= 0)
                return -1;
            got += (int)n;
        }
    }
    return 0;
}

static void make_pair(curio_socket *sv[2])
{
    if (!tcp) {
        if (curio_socketpair(AF_UNIX, SOCK_STREAM, sv) < 0)
            exit(2);
        return;
    }
    curio_socket *ls;
    if (curio_tcp_server_socket(&ls, "127.0.0.1", 0, NULL) < 0)
        exit(2);
    curio_addr a;
    curio_socket_getsockname(ls, &a);
    if (curio_open_connection(&sv[0], "127.0.0.1", curio_addr_port(&a), NULL) < 0 ||
        curio_accept(ls, &sv[1], NULL) < 0)
        exit(2);
    int one = 1;
    curio_socket_setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    curio_socket_setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    curio_socket_close(ls);
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Round trips per second of one round; *cpu: the kernel thread's CPU seconds per trip. */
static double round_once(bool bufring, double *cpu)
{
    curio_socket *(*sv)[2] = calloc((size_t)pairs, sizeof *sv);
    curio_task **echo = calloc((size_t)pairs, sizeof *echo);
    curio_group *g;
    curio_group_create(&g, CURIO_WAIT_ALL);
    for (int i = 0; i < pairs; i++) {
        make_pair(sv[i]);
        echo[i] = curio_spawn(bufring ? echo_recv_buf : echo_recv, sv[i][1]);
    }
    int64_t t0 = curio_clock();
    double c0 = thread_cpu();
    for (int i = 0; i < pairs; i++)
        curio_group_spawn(g, NULL, client, sv[i][0], NULL);
    curio_group_join(g);
    double secs = (double)(curio_clock() - t0) / 1e9;
    *cpu = (thread_cpu() - c0) / ((double)pairs * trips);
    curio_group_destroy(g);
    for (int i = 0; i < pairs; i++) {
        curio_socket_close(sv[i][0]);
        curio_join(echo[i], NULL);
        curio_task_release(echo[i]);
        curio_socket_close(sv[i][1]);
    }
    free(sv);
    free(echo);
    return (double)pairs * trips / secs;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static long main_task(void *arg)
{
    (void)arg;
    double ratio[64], cratio[64], ca, cb;
    round_once(true, &cb);
    round_once(false, &ca);
    for (int r = 0; r < rounds; r++) {
        double a = round_once(false, &ca), b = round_once(true, &cb);
        ratio[r] = b / a;
        cratio[r] = cb / ca;
        printf("round %d: recv %.0f trips/s %.2f us cpu/trip, recv_buf %.0f trips/s %.2f us "
               "cpu/trip; ratios %.3f %.3f\n",
               r, a, ca * 1e6, b, cb * 1e6, ratio[r], cratio[r]);
        fflush(stdout);
    }
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp);
    qsort(cratio, (size_t)rounds, sizeof *cratio, cmp);
    printf("%s, %d pairs x %d B: median ratio recv_buf/recv: round trips per second %.3f "
           "(above 1: recv_buf faster), CPU per round trip %.3f (below 1: recv_buf "
           "cheaper)\n",
           tcp ? "tcp" : "unix", pairs, size, ratio[rounds / 2], cratio[rounds / 2]);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tcp"))
            tcp = true;
        else if (i + 1 < argc && !strcmp(argv[i], "--pairs"))
            pairs = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--trips"))
            trips = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--size"))
            size = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[++i]);
    }
    if (pairs < 1 || trips < 1 || size < 1 || size > 32768 || rounds < 1 || rounds > 64) {
        fprintf(stderr, "usage: curio-recvbuf-pingpong [--pairs P] [--trips R] "
                        "[--size 1..32768] [--rounds 1..64] [--tcp]\n");
        return 64;
    }
    curio_options o = {.ring_entries = 1024};
    long r = 1;
    curio_run(main_task, NULL, &o, &r);
    return (int)r;
}
