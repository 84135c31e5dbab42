/*
 * curio_cores_tcp_server / curio_cores_unix_server: one server on every kernel of a run.
 * A client thread (plain blocking sockets) makes many connections; each handler answers
 * with the index of the kernel it runs on, which must be the one that accepted it. Some
 * connections ask the handler of kernel 1 to fail: its server logs it and goes on, and
 * every kernel keeps serving. SIGTERM ends the run; nothing is left open.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define KERNELS 3
#define CLIENTS 300

static _Atomic int port;
static _Atomic unsigned listening;
static _Atomic unsigned failed_logged;
static char unix_path[108];

static void on_listen(const curio_addr *a, void *arg)
{
    (void)arg;
    if (a->u.sa.sa_family == AF_INET)
        atomic_store(&port, ntohs(a->u.in.sin_port));
    atomic_fetch_add(&listening, 1);
}

static void log_line(const char *msg, void *arg)
{
    (void)arg;
    if (strstr(msg, "handler failed"))
        atomic_fetch_add(&failed_logged, 1);
}

/* Reads one byte: 'c' asks kernel 1's handler to fail; anything else is answered with
 * the kernel's index. */
static long handler(curio_socket *c, const curio_addr *a, void *arg)
{
    (void)a;
    (void)arg;
    char b;
    ssize_t n = curio_recv(c, &b, 1, 0);
    if (n <= 0)
        return n;
    int k = curio_core_index();
    if (b == 'c' && k == 1)
        return -EIO; /* a failing handler on kernel 1 */
    char out = (char)('0' + k);
    ssize_t w = curio_sendall(c, &out, 1, 0, NULL);
    return w < 0 ? w : 0;
}

static long server_main(unsigned index, void *arg)
{
    (void)index;
    curio_server_options o = {.on_listen = on_listen, .log = log_line};
    if (arg)
        return curio_cores_unix_server(unix_path, handler, NULL, &o);
    return curio_cores_tcp_server("127.0.0.1", 0, handler, NULL, &o);
}

struct client_result {
    unsigned per_kernel[KERNELS];
    unsigned failures_seen, errors;
    bool unix_sock;
};

static int dial(bool unix_sock)
{
    int fd;
    if (unix_sock) {
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", unix_path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            close(fd);
            return -1;
        }
    } else {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atomic_load(&port)),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void *clients(void *arg)
{
    struct client_result *r = arg;
    while (atomic_load(&listening) < KERNELS)
        usleep(1000);
    for (int i = 0; i < CLIENTS; i++) {
        int fd = dial(r->unix_sock);
        if (fd < 0) {
            r->errors++;
            continue;
        }
        char msg = i % 10 == 5 ? 'c' : 'x', b;
        ssize_t n = write(fd, &msg, 1);
        n = n == 1 ? read(fd, &b, 1) : -1;
        if (n == 1 && b >= '0' && b < '0' + KERNELS)
            r->per_kernel[b - '0']++;
        else if (n == 0 && msg == 'c')
            r->failures_seen++; /* kernel 1's handler failed: closed without an answer */
        else
            r->errors++;
        close(fd);
    }
    kill(getpid(), SIGTERM);
    return NULL;
}

static void serve(bool unix_sock)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old); /* the client thread must not take SIGTERM */
    int before = count_fds();
    snprintf(unix_path, sizeof unix_path, "/tmp/curio-cores-%d.sock", (int)getpid());
    unlink(unix_path);
    struct client_result r = {.unix_sock = unix_sock};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, clients, &r), 0);
    long results[KERNELS];
    int signo = 0;
    curio_cores_options o = {.kernels = KERNELS, .results = results, .signo = &signo};
    int rc = curio_cores_run(server_main, unix_sock ? (void *)1 : NULL, &o);
    pthread_join(t, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    unlink(unix_path);
    cr_assert_eq(rc, -EINTR);
    cr_assert_eq(signo, SIGTERM);
    for (int i = 0; i < KERNELS; i++)
        cr_assert_eq(results[i], -ECANCELED);
    cr_assert_eq(r.errors, 0);
    unsigned total = 0, kernels_used = 0;
    for (int i = 0; i < KERNELS; i++) {
        total += r.per_kernel[i];
        kernels_used += r.per_kernel[i] > 0;
    }
    cr_assert_eq(total + r.failures_seen, CLIENTS);
    /* TCP: SO_REUSEPORT spreads connections by their addresses' hash. Unix: every kernel
     * accepts on one socket, and Linux wakes one waiting accept per connection, the same
     * one while it stays armed: no spread is promised (see curio/cores.h). */
    if (!unix_sock)
        cr_assert_geq(kernels_used, 2, "connections on %u kernel(s) only", kernels_used);
    cr_assert_eq(atomic_load(&failed_logged), r.failures_seen);
    cr_assert_eq(count_fds(), before);
}

Test(cores_server, tcp_on_every_kernel) { serve(false); }
Test(cores_server, unix_on_every_kernel) { serve(true); }

static long outside(unsigned index, void *arg)
{
    (void)index;
    (void)arg;
    cr_assert_eq(curio_cores_tcp_server("127.0.0.1", 0, NULL, NULL, NULL), -EINVAL);
    return 0;
}

static long not_in_run(void *arg)
{
    (void)arg;
    return curio_cores_tcp_server("127.0.0.1", 0, handler, NULL, NULL);
}

Test(cores_server, bad_input)
{
    long r;
    cr_assert_eq(curio_run(not_in_run, NULL, NULL, &r), 0);
    cr_assert_eq(r, -EPERM);
    curio_cores_options o = {.kernels = 2};
    cr_assert_eq(curio_cores_run(outside, NULL, &o), 0);
}

/* A socket in use belongs to the kernel that first used it: another kernel's calls on it
 * get -EXDEV. One not used yet may be handed over. */
static curio_universal_queue *pass, *back;

static long xdev_main(unsigned index, void *arg)
{
    (void)arg;
    if (index == 0) {
        curio_socket *pair[2];
        cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, pair), 0);
        cr_assert_eq(curio_sendall(pair[0], "a", 1, 0, NULL), 1);
        char b;
        cr_assert_eq(curio_recv(pair[1], &b, 1, 0), 1); /* pair[1] is kernel 0's now */
        cr_assert_eq(curio_sendall(pair[0], "b", 1, 0, NULL), 1);
        curio_socket *fresh[2];
        cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, fresh), 0);
        cr_assert_eq(curio_universal_queue_put(pass, pair[1]), 0);
        cr_assert_eq(curio_universal_queue_put(pass, fresh[1]), 0);
        void *done;
        cr_assert_eq(curio_universal_queue_get(back, &done), 0);
        cr_assert_eq(curio_sendall(fresh[0], "c", 1, 0, NULL), 1);
        cr_assert_eq(curio_universal_queue_get(back, &done), 0);
        curio_socket_close(pair[0]);
        curio_socket_close(pair[1]);
        curio_socket_close(fresh[0]);
        return 0;
    }
    void *a, *f;
    cr_assert_eq(curio_universal_queue_get(pass, &a), 0);
    cr_assert_eq(curio_universal_queue_get(pass, &f), 0);
    char b;
    cr_assert_eq(curio_recv(a, &b, 1, 0), -EXDEV);
    cr_assert_eq(curio_universal_queue_put(back, NULL), 0);
    cr_assert_eq(curio_recv(f, &b, 1, 0), 1); /* handed over before any use: kernel 1's */
    cr_assert_eq(b, 'c');
    curio_socket_close(f);
    cr_assert_eq(curio_universal_queue_put(back, NULL), 0);
    return 0;
}

Test(cores_server, socket_of_another_kernel)
{
    int before = count_fds();
    cr_assert_eq(curio_universal_queue_create(&pass, 0), 0);
    cr_assert_eq(curio_universal_queue_create(&back, 0), 0);
    curio_cores_options o = {.kernels = 2};
    cr_assert_eq(curio_cores_run(xdev_main, NULL, &o), 0);
    curio_universal_queue_destroy(pass);
    curio_universal_queue_destroy(back);
    cr_assert_eq(count_fds(), before);
}
