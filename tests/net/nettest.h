/*
 * tests/net/nettest.h - what the net tests share: listening sockets on loopback with an
 * ephemeral port, and plain blocking-socket peers that run on a pool thread (through
 * curio_run_in_thread) while the kernel serves, so that curio is tested against code that
 * is not curio.
 */
#ifndef CURIO_NETTEST_H
#define CURIO_NETTEST_H

#include "testutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A listening curio socket on ip (port chosen by the system); *port gets the port. */
static inline curio_socket *listen_on(const char *ip, int *port)
{
    curio_socket *ls;
    int rc = curio_tcp_server_socket(&ls, ip, 0, NULL);
    cr_assert_eq(rc, 0, "tcp_server_socket(%s): %s", ip, curio_strerror(rc));
    curio_addr a;
    cr_assert_eq(curio_socket_getsockname(ls, &a), 0);
    *port = curio_addr_port(&a);
    cr_assert_gt(*port, 0);
    return ls;
}

/* A connected pair of curio sockets over TCP on 127.0.0.1: *a connected, *b accepted. */
static inline void tcp_pair(curio_socket **a, curio_socket **b)
{
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port);
    cr_assert_eq(curio_open_connection(a, "127.0.0.1", (uint16_t)port, NULL), 0);
    cr_assert_eq(curio_accept(ls, b, NULL), 0);
    curio_socket_close(ls);
}

/* ---- plain blocking sockets, for peers running on threads ---- */

static inline int plain_connect(const char *ip, int port)
{
    curio_addr a;
    if (curio_addr_ip(&a, ip, (uint16_t)port) < 0)
        return -EINVAL;
    int fd = socket(a.u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, &a.u.sa, a.len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static inline int plain_connect_unix(const char *path)
{
    curio_addr a;
    if (curio_addr_unix(&a, path) < 0)
        return -EINVAL;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, &a.u.sa, a.len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Read until n bytes or end of stream; returns the count or -errno. */
static inline ssize_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static inline int write_full(int fd, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t w = send(fd, (const char *)buf + put, n - put, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        put += (size_t)w;
    }
    return 0;
}

/* Bytes until end of stream, discarded; returns the count or -errno. */
static inline long drain(int fd)
{
    char buf[65536];
    long total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return total;
        total += r;
    }
}

/* Close with a reset (RST) instead of a FIN. */
static inline void reset_close(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

/* Fill a socket's send path (its buffer and the peer's receive buffer) until it would
 * block; returns the bytes it took. */
static inline size_t fill_socket(int fd)
{
    static char junk[65536];
    size_t total = 0;
    for (;;) {
        ssize_t w = send(fd, junk, sizeof junk, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w <= 0)
            return total;
        total += (size_t)w;
    }
}

/* A non-blocking connect to a: true once established (within 200 ms), false while its SYN
 * goes unanswered (the listener's accept queue is full). *fd gets the socket either way. */
static inline bool connect_completes(const curio_addr *a, int *fd)
{
    *fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (connect(*fd, &a->u.sa, a->len) == 0)
        return true;
    if (errno != EINPROGRESS)
        return false;
    struct pollfd pf = {.fd = *fd, .events = POLLOUT};
    if (poll(&pf, 1, 200) != 1)
        return false;
    int err = -1;
    socklen_t len = sizeof err;
    getsockopt(*fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return err == 0;
}

/* Small socket buffers keep the transfers of the tests short. */
static inline void small_buffers(int fd)
{
    int sz = 16384;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}

/* ---- a peer on a pool thread, alongside the tasks ----
 * peer_start spawns a task that runs fn(arg) through curio_run_in_thread; peer_join waits
 * for it and returns fn's value. fn must not use criterion's asserts (they are not
 * thread-safe): it returns a negative value for a failure instead. */
typedef struct peer {
    curio_task_fn fn;
    void *arg;
    long result;
    curio_task *task;
} peer;

static long peer_task(void *arg)
{
    peer *p = arg;
    int rc = curio_run_in_thread(p->fn, p->arg, &p->result);
    return rc < 0 ? rc : 0;
}

static inline void peer_start(peer *p, curio_task_fn fn, void *arg)
{
    p->fn = fn;
    p->arg = arg;
    p->result = -12345;
    p->task = curio_spawn(peer_task, p);
    cr_assert_not_null(p->task);
}

static inline long peer_join(peer *p)
{
    long r = -1;
    cr_assert_eq(curio_join(p->task, &r), 0);
    cr_assert_eq(r, 0, "curio_run_in_thread: %s", curio_strerror((int)r));
    curio_task_release(p->task);
    return p->result;
}

#endif
