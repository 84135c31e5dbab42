/*
 * tests/edges/stress_deadlines.c - every fd-based call, and every timeout form around a
 * queue get, under deadlines of 0 to 3 microseconds, while another thread feeds or drains
 * the other end: nothing crashes, and every byte, line, connection and item arrives
 * exactly once, in order.
 *
 *     stress_deadlines [iterations [case]]   (default 20000 per case; ./dev stress: 1000000;
 *                                             case: recv, read, stream_read, readline,
 *                                             sendall, write, accept or queue)
 *
 * A deadline of a few microseconds lands anywhere in a call: before its first check, while
 * its SQE waits in the ring, while the operation is in flight, or after the completion was
 * reaped but before the task ran. Each case runs twice: with near deadlines as linked
 * timeouts (the default), then with every deadline in the timer heap. Each case checks the
 * data, not the timing. Prints "N passed, N failed" (the line ./dev sums up).
 */
#include "../../kernel/core.h"

#include <curio/io.h>
#include <curio/net.h>
#include <curio/sync.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static long iterations = 20000;
static int failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "stress_deadlines:%d: ", __LINE__);                             \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            failures++;                                                                    \
            return -1;                                                                     \
        }                                                                                  \
    } while (0)

/* 0..3 us: the deadline moves across every point of the call from one iteration to the
 * next. */
static double tiny(long i) { return (double)(i % 3001) / 1e9; }

/* ---- a thread at the other end of a descriptor ---- */

typedef struct peer {
    int fd;
    long count;           /* bytes (or lines, or connections) to produce or consume */
    bool lines;
    curio_addr addr;      /* for connections */
    int failed;
} peer;

/* Writes bytes 0, 1, 2, ... (mod 251) in bursts of varying size, blocking. */
static void *feeder(void *arg)
{
    peer *p = arg;
    unsigned char buf[512];
    long sent = 0;
    while (sent < p->count) {
        size_t n = 1 + (size_t)(sent % 509);
        if ((long)n > p->count - sent)
            n = (size_t)(p->count - sent);
        for (size_t j = 0; j < n; j++)
            buf[j] = (unsigned char)((sent + (long)j) % 251);
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(p->fd, buf + off, n - off);
            if (w <= 0) {
                p->failed = 1;
                return NULL;
            }
            off += (size_t)w;
        }
        sent += (long)n;
        if (sent % 7 == 0)
            usleep(50); /* now and then the reader finds nothing and waits */
    }
    return NULL;
}

/* Writes lines "0\n", "1\n", ... */
static void *line_feeder(void *arg)
{
    peer *p = arg;
    char line[32];
    for (long i = 0; i < p->count; i++) {
        int n = snprintf(line, sizeof line, "%ld\n", i);
        if (write(p->fd, line, (size_t)n) != n) {
            p->failed = 1;
            return NULL;
        }
        if (i % 5 == 0)
            usleep(50);
    }
    return NULL;
}

/* Reads and checks bytes 0, 1, 2, ... (mod 251) until count arrived. */
static void *checker(void *arg)
{
    peer *p = arg;
    unsigned char buf[4096];
    long got = 0;
    while (got < p->count) {
        ssize_t n = read(p->fd, buf, sizeof buf);
        if (n <= 0) {
            p->failed = 2;
            return NULL;
        }
        for (ssize_t j = 0; j < n; j++)
            if (buf[j] != (unsigned char)((got + j) % 251)) {
                p->failed = 3;
                return NULL;
            }
        got += n;
    }
    return NULL;
}

static void *connector(void *arg)
{
    peer *p = arg;
    for (long i = 0; i < p->count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, &p->addr.u.sa, p->addr.len) < 0) {
            p->failed = 4;
            if (fd >= 0)
                close(fd);
            return NULL;
        }
        char c;
        if (read(fd, &c, 1) != 1 || c != 'k') /* the acceptor says it took this one */
            p->failed = 5;
        close(fd);
    }
    return NULL;
}

/* ---- the cases: each returns 0, or -1 after reporting ---- */

/* Read side: readfn reads into buf under a tiny deadline, returning bytes or an error. */
typedef ssize_t (*readfn)(void *h, void *buf, size_t n);

static int read_stream_of_bytes(const char *name, void *h, int feed_fd, readfn rd)
{
    peer p = {.fd = feed_fd, .count = iterations};
    pthread_t th;
    pthread_create(&th, NULL, feeder, &p);
    long got = 0, timeouts = 0;
    unsigned char buf[700];
    /* At least `iterations` calls: once everything arrived, the rest wait on nothing. */
    for (long i = 0; got < iterations || i < iterations; i++) {
        curio_scope sc;
        curio_timeout_after(&sc, tiny(i));
        ssize_t n = rd(h, buf, 1 + (size_t)(i % sizeof buf));
        int rc = curio_scope_close(&sc);
        CHECK(n > 0 || n == -ETIMEDOUT, "%s: %zd (%s)", name, n, curio_strerror((int)n));
        CHECK((n == -ETIMEDOUT) == (rc == -ETIMEDOUT), "%s: call %zd, close %d", name, n, rc);
        if (n < 0) {
            timeouts++;
            continue;
        }
        CHECK(got + n <= iterations, "%s: more bytes than were sent", name);
        for (ssize_t j = 0; j < n; j++)
            CHECK(buf[j] == (unsigned char)((got + j) % 251), "%s: byte %ld is %u", name,
                  got + j, buf[j]);
        got += n;
    }
    pthread_join(th, NULL);
    CHECK(!p.failed, "%s: the feeder failed (%d)", name, p.failed);
    printf("  %-16s %ld bytes in order, %ld timeouts\n", name, got, timeouts);
    return 0;
}

static ssize_t rd_recv(void *h, void *b, size_t n) { return curio_recv(h, b, n, 0); }
static ssize_t rd_fd(void *h, void *b, size_t n) { return curio_read((int)(intptr_t)h, b, n); }
static ssize_t rd_stream(void *h, void *b, size_t n) { return curio_stream_read(h, b, n); }

static int case_recv(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    curio_socket *s;
    curio_socket_wrap(&s, sv[0]);
    int rc = read_stream_of_bytes("recv", s, sv[1], rd_recv);
    curio_socket_close(s);
    close(sv[1]);
    return rc;
}

static int case_read(void)
{
    int pf[2];
    if (pipe2(pf, O_CLOEXEC) < 0)
        return -1;
    int rc = read_stream_of_bytes("read", (void *)(intptr_t)pf[0], pf[1], rd_fd);
    close(pf[0]);
    close(pf[1]);
    return rc;
}

static int case_stream_read(void)
{
    int pf[2];
    if (pipe2(pf, O_CLOEXEC) < 0)
        return -1;
    curio_stream *st;
    curio_stream_open(&st, pf[0], NULL);
    int rc = read_stream_of_bytes("stream_read", st, pf[1], rd_stream);
    curio_stream_close(st);
    close(pf[1]);
    return rc;
}

static int case_readline(void)
{
    int pf[2];
    if (pipe2(pf, O_CLOEXEC) < 0)
        return -1;
    curio_stream *st;
    curio_stream_open(&st, pf[0], NULL);
    long lines = iterations / 4 + 1;
    peer p = {.fd = pf[1], .count = lines};
    pthread_t th;
    pthread_create(&th, NULL, line_feeder, &p);
    long next = 0, timeouts = 0;
    for (long i = 0; next < lines || i < iterations; i++) {
        char line[32];
        curio_scope sc;
        curio_timeout_after(&sc, tiny(i));
        ssize_t n = curio_stream_readline(st, line, sizeof line);
        curio_scope_close(&sc);
        CHECK(n > 0 || n == -ETIMEDOUT, "readline: %zd", n);
        if (n < 0) {
            timeouts++;
            continue;
        }
        line[n] = 0;
        CHECK(next < lines, "readline: a line too many");
        CHECK(atol(line) == next && line[n - 1] == '\n', "readline: got %s, wanted %ld", line,
              next);
        next++;
    }
    pthread_join(th, NULL);
    curio_stream_close(st);
    close(pf[1]);
    CHECK(!p.failed, "readline: the feeder failed");
    printf("  %-16s %ld lines in order, %ld timeouts\n", "stream_readline", next, timeouts);
    return 0;
}

/* The bytes from offset put on of a stream of total, in a chunk whose size varies with i. */
static size_t next_chunk(unsigned char *buf, size_t cap, long i, long put, long total)
{
    size_t n = 1 + (size_t)(i * 7 % (long)cap);
    if ((long)n > total - put)
        n = (size_t)(total - put);
    for (size_t j = 0; j < n; j++)
        buf[j] = (unsigned char)((put + (long)j) % 251);
    return n;
}

/* Write side: sendall reports exactly what went through; the checker sees exactly that. */
static int case_sendall(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    curio_socket *s;
    curio_socket_wrap(&s, sv[0]);
    long total = iterations * 4;
    peer p = {.fd = sv[1], .count = total};
    pthread_t th;
    pthread_create(&th, NULL, checker, &p);
    unsigned char buf[4096];
    long put = 0, timeouts = 0;
    for (long i = 0; put < total; i++) {
        size_t n = next_chunk(buf, sizeof buf, i, put, total);
        curio_scope sc;
        curio_timeout_after(&sc, tiny(i));
        size_t sent = 0;
        ssize_t r = curio_sendall(s, buf, n, 0, &sent);
        curio_scope_close(&sc);
        CHECK(r >= 0 || r == -ETIMEDOUT, "sendall: %zd", r);
        CHECK(sent <= n && (r < 0 || sent == n), "sendall: %zd, sent %zu of %zu", r, sent, n);
        timeouts += r < 0;
        put += (long)sent; /* the rest is sent again from where it stopped */
    }
    pthread_join(th, NULL);
    curio_socket_close(s);
    close(sv[1]);
    CHECK(!p.failed, "sendall: the checker failed (%d): a byte lost or sent twice", p.failed);
    printf("  %-16s %ld bytes in order, %ld timeouts\n", "sendall", put, timeouts);
    return 0;
}

static int case_write(void)
{
    int pf[2];
    if (pipe2(pf, O_CLOEXEC) < 0)
        return -1;
    fcntl(pf[1], F_SETPIPE_SZ, 4096);
    long total = iterations * 4;
    peer p = {.fd = pf[0], .count = total};
    pthread_t th;
    pthread_create(&th, NULL, checker, &p);
    unsigned char buf[4096];
    long put = 0, timeouts = 0;
    for (long i = 0; put < total; i++) {
        size_t n = next_chunk(buf, sizeof buf, i, put, total);
        curio_scope sc;
        curio_timeout_after(&sc, tiny(i));
        ssize_t r = curio_write(pf[1], buf, n);
        curio_scope_close(&sc);
        CHECK(r > 0 || r == -ETIMEDOUT, "write: %zd", r);
        if (r < 0)
            timeouts++;
        else
            put += r;
    }
    pthread_join(th, NULL);
    close(pf[0]);
    close(pf[1]);
    CHECK(!p.failed, "write: the checker failed (%d): a byte lost or written twice", p.failed);
    printf("  %-16s %ld bytes in order, %ld timeouts\n", "write", put, timeouts);
    return 0;
}

static int case_accept(void)
{
    curio_socket *ls;
    curio_socket_open(&ls, AF_INET, SOCK_STREAM, 0);
    peer p = {.count = iterations / 20 + 1};
    curio_addr_ip(&p.addr, "127.0.0.1", 0);
    curio_socket_bind(ls, &p.addr);
    curio_socket_listen(ls, 64);
    curio_socket_getsockname(ls, &p.addr);
    pthread_t th;
    pthread_create(&th, NULL, connector, &p);
    long got = 0, timeouts = 0;
    for (long i = 0; got < p.count; i++) {
        curio_scope sc;
        curio_timeout_after(&sc, tiny(i));
        curio_socket *c = NULL;
        int rc = curio_accept(ls, &c, NULL);
        curio_scope_close(&sc);
        CHECK(rc == 0 || rc == -ETIMEDOUT, "accept: %d", rc);
        if (rc < 0) {
            timeouts++;
            continue;
        }
        CHECK(curio_send(c, "k", 1, 0) == 1, "accept: send");
        curio_socket_close(c);
        got++;
    }
    pthread_join(th, NULL);
    curio_socket_close(ls);
    CHECK(!p.failed, "accept: the connector failed (%d)", p.failed);
    printf("  %-16s %ld connections, %ld timeouts\n", "accept", got, timeouts);
    return 0;
}

/* ---- the queue case: a thread producer, consumers retrying every form ---- */

typedef struct qrun {
    curio_universal_queue *q;
    long items;
    unsigned char *seen;
    long got, timeouts;
    int form;
} qrun;

static void *producer(void *arg)
{
    qrun *r = arg;
    for (long i = 0; i < r->items; i++) {
        curio_universal_queue_put(r->q, (void *)(intptr_t)(i + 1));
        if (i % 4 == 0)
            usleep(100); /* consumers time out in between */
    }
    return NULL;
}

static long get_one(void *arg)
{
    qrun *r = arg;
    void *item = NULL;
    int rc = curio_universal_queue_get(r->q, &item);
    return rc < 0 ? rc : (long)(intptr_t)item;
}

static int take(qrun *r, long v)
{
    CHECK(v >= 1 && v <= r->items, "queue: item %ld", v);
    CHECK(!r->seen[v - 1], "queue: item %ld twice", v);
    r->seen[v - 1] = 1;
    r->got++;
    return 0;
}

static long consumer(void *arg)
{
    qrun *r = arg;
    for (long i = 0; r->got < r->items; i++) {
        double t = (double)(i % 800) / 1e6; /* 0..0.8 ms */
        long v = 0;
        int rc;
        bool expired = false;
        switch ((r->form + i) % 4) {
        case 0:
            rc = curio_timeout_after_call(t, get_one, r, &v);
            break;
        case 1:
            rc = curio_ignore_after_call(t, get_one, r, &v, &expired);
            if (rc == 0 && expired)
                rc = -ETIMEDOUT;
            break;
        case 2: {
            curio_scope sc;
            curio_timeout_after(&sc, t);
            v = get_one(r);
            rc = curio_scope_close(&sc);
            break;
        }
        default: {
            void *item = NULL;
            rc = curio_universal_queue_get_timeout(r->q, &item, t);
            v = (long)(intptr_t)item;
            break;
        }
        }
        if (rc == -ETIMEDOUT) {
            CHECK(v == -ETIMEDOUT || v == 0, "queue: timed out, yet fn returned %ld", v);
            r->timeouts++;
            continue;
        }
        CHECK(rc == 0, "queue: %d", rc);
        if (take(r, v) < 0)
            return -1;
    }
    return 0;
}

static int case_queue(void)
{
    qrun r = {.items = iterations / 10 + 2000};
    r.seen = calloc((size_t)r.items, 1);
    curio_universal_queue_create(&r.q, 0);
    pthread_t th;
    pthread_create(&th, NULL, producer, &r);
    long rc = consumer(&r);
    pthread_join(th, NULL);
    void *left;
    long extra = 0;
    while (curio_universal_queue_size(r.q) && curio_universal_queue_get(r.q, &left) == 0)
        extra++;
    curio_universal_queue_destroy(r.q);
    free(r.seen);
    if (rc < 0)
        return -1;
    CHECK(r.got == r.items && extra == 0, "queue: %ld of %ld items, %ld left over", r.got,
          r.items, extra);
    printf("  %-16s %ld items exactly once, %ld timeouts\n", "queue_forms", r.got, r.timeouts);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(void);
} cases[] = {
    {"recv", case_recv},       {"read", case_read},   {"stream_read", case_stream_read},
    {"readline", case_readline}, {"sendall", case_sendall}, {"write", case_write},
    {"accept", case_accept},   {"queue", case_queue},
};

/* Every case twice: with the deadlines of I/O operations as the kernel places them (these
 * near ones as linked timeouts), then all of them in the timer heap (curio__link_below 0),
 * whose expiry is a cancel racing the operation. */
static long main_task(void *arg)
{
    const char *only = arg;
    int passed = 0;
    for (int heap = 0; heap < 2; heap++) {
        curio__link_below = heap ? 0 : CURIO__LINK_BELOW_NS;
        printf(" I/O deadlines %s:\n", heap ? "all in the timer heap" : "as placed by default");
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            if (!only || strcmp(only, cases[i].name) == 0)
                passed += cases[i].fn() == 0;
    }
    curio__link_below = CURIO__LINK_BELOW_NS;
    return passed;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        iterations = atol(argv[1]);
    if (iterations < 1)
        iterations = 1;
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("stress_deadlines: %ld iterations per case, deadlines of 0-3 us\n", iterations);
    long passed = 0;
    int rc = curio_run(main_task, argc > 2 ? argv[2] : NULL, NULL, &passed);
    if (rc < 0) {
        fprintf(stderr, "curio_run: %s\n", curio_strerror(rc));
        return 1;
    }
    printf("%ld passed, %d failed\n", passed, failures);
    return failures ? 1 : 0;
}
