/*
 * bench/zc_bench.c - zero-copy send (curio_sendall_zc, IORING_OP_SEND_ZC) against the
 * plain curio_sendall over TCP on 127.0.0.1, for buffer sizes from 4 KiB to 4 MiB.
 *
 *     curio-zc-bench [--mib M] [--rounds R] [--sizes K1,K2,...] [--sndbuf K]
 *
 * A plain thread on the other end of the connection reads everything into one 1 MiB
 * buffer and, after each round's M MiB, writes one byte back. A round is M MiB sent in
 * buffers of one size by one curio task, timed until that byte came back (so that both
 * ways count only bytes the receiver has read). Per size, R rounds of each way alternate
 * (plain, zc, plain, zc ...); the medians are printed with the ratio zc / plain of the
 * throughput (above 1: zero-copy is faster) and of the sending thread's CPU time per byte
 * (below 1: zero-copy is cheaper), one line per size, then one JSON line per size.
 *
 * The zc way is forced to zero-copy for every size (the threshold CURIO_SEND_ZC_MIN is
 * bypassed by calling curio_send_zc in a loop with MSG_WAITALL), so that the table shows
 * where the threshold belongs. --sndbuf sets the sender's SO_SNDBUF to K KiB (Linux
 * doubles it, up to net.core.wmem_max) for both ways, to see how much of a difference
 * comes from the bytes a plain send leaves in flight rather than from the copy.
 *
 * Last, outside curio, it asks the kernel itself whether it copied: 20 sends of 1 MiB
 * with IORING_SEND_ZC_REPORT_USAGE (Linux 6.2) on a fresh loopback connection, counting
 * the notifications flagged IORING_NOTIF_USAGE_ZC_COPIED.
 */
#include <curio.h>

#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static size_t mib = 64;
static int rounds = 5;
static size_t sizes[16] = {4096, 16384, 65536, 262144, 1048576, 4194304};
static int nsizes = 6;
static int sndbuf_kib;

struct recv_ctx {
    int fd;
    size_t round_bytes;
    int nrounds;
};

static void *receiver(void *arg)
{
    struct recv_ctx *c = arg;
    char *buf = malloc(1 << 20);
    for (int r = 0; r < c->nrounds; r++) {
        size_t got = 0;
        while (got < c->round_bytes) {
            ssize_t n = read(c->fd, buf, 1 << 20);
            if (n <= 0)
                goto out;
            got += (size_t)n;
        }
        if (write(c->fd, "k", 1) != 1)
            break;
    }
out:
    free(buf);
    return NULL;
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int zc_all(curio_socket *s, const char *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t rc = curio_send_zc(s, buf + done, n - done, MSG_WAITALL);
        if (rc <= 0)
            return -1;
        done += (size_t)rc;
    }
    return 0;
}

/* One round: total bytes in buffers of size bs; seconds of wall time, *cpu the thread's. */
static double one_round(curio_socket *s, char *buf, size_t bs, size_t total, bool zc,
                        double *cpu)
{
    double c0 = thread_cpu();
    int64_t t0 = curio_clock();
    for (size_t done = 0; done < total; done += bs) {
        int rc = zc ? zc_all(s, buf, bs) : (curio_sendall(s, buf, bs, 0, NULL) == (ssize_t)bs
                                                ? 0 : -1);
        if (rc < 0) {
            fprintf(stderr, "send failed\n");
            exit(1);
        }
    }
    char k;
    if (curio_recv(s, &k, 1, MSG_WAITALL) != 1) {
        fprintf(stderr, "no ack\n");
        exit(1);
    }
    double wall = (double)(curio_clock() - t0) / 1e9;
    *cpu = thread_cpu() - c0;
    return wall;
}

#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

static void *drain_fd(void *arg)
{
    int fd = *(int *)arg;
    char *b = malloc(1 << 20);
    while (read(fd, b, 1 << 20) > 0)
        ;
    free(b);
    return NULL;
}

/* How many of `sends` zero-copy sends of 1 MiB over a fresh loopback TCP connection the
 * kernel reports as copied; -1 if it cannot say (no ring, no opcode, no usage report). */
static int copied_on_loopback(int sends)
{
    int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), r = -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int copied = -1;
    struct io_uring ring;
    size_t n = 1 << 20;
    char *buf = calloc(1, n);
    if (l < 0 || c < 0 || !buf || bind(l, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) < 0 || listen(l, 1) < 0 ||
        connect(c, (struct sockaddr *)&a, sizeof a) < 0 || (r = accept(l, NULL, NULL)) < 0 ||
        io_uring_queue_init(8, &ring, 0) < 0)
        goto out;
    pthread_t th;
    pthread_create(&th, NULL, drain_fd, &r);
    int notifs = 0;
    copied = 0;
    for (int i = 0; i < sends && copied >= 0; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        io_uring_prep_send_zc(sqe, c, buf, (unsigned)n, MSG_WAITALL, 0);
        sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
        io_uring_submit(&ring);
        for (bool more = true; more;) {
            struct io_uring_cqe *cqe;
            if (io_uring_wait_cqe(&ring, &cqe) < 0) {
                copied = -1;
                break;
            }
            if (cqe->res < 0 && !(cqe->flags & IORING_CQE_F_NOTIF))
                copied = -1; /* no opcode, or no usage report (before 6.2: -EINVAL) */
            if (cqe->flags & IORING_CQE_F_NOTIF) {
                notifs++;
                if ((unsigned)cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
                    copied++;
            }
            more = (cqe->flags & IORING_CQE_F_MORE) != 0;
            io_uring_cqe_seen(&ring, cqe);
        }
    }
    if (notifs != sends)
        copied = -1;
    shutdown(c, SHUT_WR);
    pthread_join(th, NULL);
    io_uring_queue_exit(&ring);
out:
    if (r >= 0)
        close(r);
    close(c);
    close(l);
    free(buf);
    return copied;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long bench(void *arg)
{
    (void)arg;
    size_t total = mib << 20;
    size_t cap = total;
    for (int i = 0; i < nsizes; i++)
        cap = sizes[i] > cap ? sizes[i] : cap;
    char *buf = malloc(cap);
    if (!buf)
        return -1;
    memset(buf, 'z', cap);
    double out[16][4];
    for (int i = 0; i < nsizes; i++) {
        curio_socket *ls, *s;
        if (curio_tcp_server_socket(&ls, "127.0.0.1", 0, NULL) < 0)
            return -1;
        curio_addr a;
        curio_socket_getsockname(ls, &a);
        if (curio_open_connection(&s, "127.0.0.1", curio_addr_port(&a), NULL) < 0)
            return -1;
        curio_socket *peer;
        if (curio_accept(ls, &peer, NULL) < 0)
            return -1;
        if (sndbuf_kib > 0) {
            int sz = sndbuf_kib * 1024;
            curio_socket_setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        }
        /* The receiver is a plain thread on its own descriptor. */
        int pfd = dup(curio_socket_fd(peer));
        curio_socket_close(peer);
        curio_socket_close(ls);
        size_t bs = sizes[i];
        size_t per = total / bs * bs;
        if (per == 0)
            per = bs;
        struct recv_ctx rc = {.fd = pfd, .round_bytes = per, .nrounds = 2 * rounds + 2};
        pthread_t th;
        pthread_create(&th, NULL, receiver, &rc);
        double cpu, wall[2][64], cpub[2][64];
        one_round(s, buf, bs, per, false, &cpu); /* warm-up, one each way */
        one_round(s, buf, bs, per, true, &cpu);
        for (int r = 0; r < rounds; r++) {
            for (int z = 0; z < 2; z++) {
                bool zc = (r + z) % 2; /* alternate which goes first */
                double w = one_round(s, buf, bs, per, zc, &cpu);
                wall[zc][r] = (double)per / w / 1e9;
                cpub[zc][r] = cpu / (double)per * 1e9; /* ns per byte */
            }
        }
        curio_socket_close(s);
        pthread_join(th, NULL);
        close(pfd);
        out[i][0] = median(wall[0], rounds);
        out[i][1] = median(wall[1], rounds);
        out[i][2] = median(cpub[0], rounds);
        out[i][3] = median(cpub[1], rounds);
    }
    printf("TCP 127.0.0.1, %zu MiB per round, medians of %d alternating rounds", mib, rounds);
    if (sndbuf_kib > 0)
        printf(", SO_SNDBUF %d KiB", sndbuf_kib);
    printf("\n");
    printf("%10s %12s %12s %8s %14s %14s %8s\n", "buffer", "plain GB/s", "zc GB/s",
           "zc/plain", "plain cpu ns/B", "zc cpu ns/B", "zc/plain");
    for (int i = 0; i < nsizes; i++)
        printf("%10zu %12.3f %12.3f %8.2f %14.4f %14.4f %8.2f\n", sizes[i], out[i][0],
               out[i][1], out[i][1] / out[i][0], out[i][2], out[i][3], out[i][3] / out[i][2]);
    for (int i = 0; i < nsizes; i++)
        printf("{\"metric\": \"zc_send\", \"size\": %zu, \"plain_gbps\": %.4f, \"zc_gbps\": %.4f, "
               "\"ratio\": %.3f, \"cpu_ratio\": %.3f}\n",
               sizes[i], out[i][0], out[i][1], out[i][1] / out[i][0], out[i][3] / out[i][2]);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--mib"))
            mib = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--sndbuf"))
            sndbuf_kib = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sizes")) {
            nsizes = 0;
            for (char *p = argv[i + 1]; *p && nsizes < 16;) {
                sizes[nsizes++] = (size_t)strtoul(p, &p, 10) * 1024;
                if (*p == ',')
                    p++;
            }
        }
    }
    if (rounds < 1 || rounds > 64 || nsizes < 1 || mib < 1)
        return 2;
    long result = -1;
    if (curio_run(bench, NULL, NULL, &result) < 0 || result < 0)
        return 1;
    int copied = copied_on_loopback(20);
    if (copied < 0)
        printf("the kernel does not report whether it copied (IORING_SEND_ZC_REPORT_USAGE)\n");
    else
        printf("kernel's own report: %d of 20 zero-copy sends of 1 MiB on loopback were "
               "copied\n", copied);
    return 0;
}
