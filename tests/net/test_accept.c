/*
 * accept: success with the peer's address (IPv4, IPv6, Unix), timeout, cancellation while
 * blocked and in flight, a connection racing the cancel (no descriptor lost), one
 * acceptor at a time, running out of descriptors.
 */
#include "nettest.h"

#include <sys/resource.h>

static long accept_v4_v6(void *arg)
{
    (void)arg;
    const char *ips[] = {"127.0.0.1", "::1"};
    for (int i = 0; i < 2; i++) {
        int port;
        curio_socket *ls = listen_on(ips[i], &port), *c, *s;
        cr_assert_eq(curio_open_connection(&c, ips[i], (uint16_t)port, NULL), 0);
        curio_addr peer, local;
        cr_assert_eq(curio_accept(ls, &s, &peer), 0);
        cr_assert_eq(curio_socket_getsockname(c, &local), 0);
        char p[CURIO_ADDR_STRLEN], l[CURIO_ADDR_STRLEN];
        curio_addr_format(&peer, p, sizeof p);
        curio_addr_format(&local, l, sizeof l);
        cr_assert_str_eq(p, l, "accept's peer address is the client's local one");
        int fd = curio_socket_fd(s);
        cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        curio_socket_close(s);
        curio_socket_close(c);
        curio_socket_close(ls);
    }
    return 0;
}

Test(accept, ipv4_and_ipv6_with_peer_address)
{
    int fds = count_fds();
    run_main(accept_v4_v6, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long accept_unix(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof path, "@curio-accept-%d", (int)getpid());
    curio_socket *ls, *c, *s;
    cr_assert_eq(curio_unix_server_socket(&ls, path, NULL), 0);
    cr_assert_eq(curio_open_unix_connection(&c, path), 0);
    curio_addr peer;
    cr_assert_eq(curio_accept(ls, &s, &peer), 0);
    char p[CURIO_ADDR_STRLEN];
    curio_addr_format(&peer, p, sizeof p);
    cr_assert_str_eq(p, "(unnamed)");
    curio_addr local;
    cr_assert_eq(curio_socket_getsockname(ls, &local), 0);
    curio_addr_format(&local, p, sizeof p);
    cr_assert_str_eq(p, path);
    curio_socket_close(s);
    curio_socket_close(c);
    curio_socket_close(ls);
    return 0;
}

Test(accept, unix_abstract_with_unnamed_peer)
{
    int fds = count_fds();
    run_main(accept_unix, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long accept_unix_null_peer(void *arg)
{
    (void)arg;
    char dir[] = "/tmp/curio-accept-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/sock", dir);
    curio_socket *ls, *c, *s;
    cr_assert_eq(curio_unix_server_socket(&ls, path, NULL), 0);
    cr_assert_eq(curio_open_unix_connection(&c, path), 0);
    cr_assert_eq(curio_accept(ls, &s, NULL), 0);
    cr_assert_eq(curio_sendall(c, "u", 1, 0, NULL), 1);
    char ch;
    cr_assert_eq(curio_recv(s, &ch, 1, 0), 1);
    curio_socket_close(s);
    curio_socket_close(c);
    curio_socket_close(ls);
    cr_assert_eq(unlink(path), 0, "the socket file stays until its owner removes it");
    rmdir(dir);
    return 0;
}

Test(accept, unix_path_without_peer_address)
{
    int fds = count_fds();
    run_main(accept_unix_null_peer, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- timeout and cancellation ---- */

static long accept_timeout(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port), *c = NULL;
    curio_scope sc;
    int64_t t0 = curio_clock();
    curio_timeout_after(&sc, 0.05);
    cr_assert_eq(curio_accept(ls, &c, NULL), -ETIMEDOUT);
    cr_assert_eq(curio_scope_close(&sc), -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.05);
    cr_assert_null(c);
    /* A connection queued afterwards is still there to accept. */
    curio_socket *cl;
    cr_assert_eq(curio_open_connection(&cl, "127.0.0.1", (uint16_t)port, NULL), 0);
    cr_assert_eq(curio_accept(ls, &c, NULL), 0);
    curio_socket_close(c);
    curio_socket_close(cl);
    curio_socket_close(ls);
    return 0;
}

Test(accept, timeout)
{
    int fds = count_fds();
    run_main(accept_timeout, NULL);
    cr_assert_eq(count_fds(), fds);
}

struct acceptor {
    curio_socket *ls, *got;
    int rc;
};

static long accepts(void *arg)
{
    struct acceptor *a = arg;
    a->rc = curio_accept(a->ls, &a->got, NULL);
    ev("accept=%s", a->rc == 0 ? "ok" : a->rc == -ECANCELED ? "ECANCELED" : "other");
    return a->rc;
}

static long cancel_accept(void *arg)
{
    bool in_flight = *(bool *)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port);
    struct acceptor a = {.ls = ls};
    curio_task *t = curio_spawn(accepts, &a);
    if (in_flight)
        curio_sleep(0.01);
    else
        curio_yield();
    cr_assert_str_eq(curio_task_state(t), "READ_WAIT");
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert(curio_task_cancelled(t));
    cr_assert_eq(a.rc, -ECANCELED);
    curio_task_release(t);
    /* The listener works on, and the acceptor's claim went with its call. */
    curio_socket *cl, *s;
    cr_assert_eq(curio_open_connection(&cl, "127.0.0.1", (uint16_t)port, NULL), 0);
    cr_assert_eq(curio_accept(ls, &s, NULL), 0);
    curio_socket_close(s);
    curio_socket_close(cl);
    curio_socket_close(ls);
    return 0;
}

Test(accept, cancel_blocked_before_submission)
{
    bool in_flight = false;
    int fds = count_fds();
    expect_log(cancel_accept, &in_flight, "accept=ECANCELED");
    cr_assert_eq(count_fds(), fds);
}

Test(accept, cancel_in_flight)
{
    bool in_flight = true;
    int fds = count_fds();
    expect_log(cancel_accept, &in_flight, "accept=ECANCELED");
    cr_assert_eq(count_fds(), fds);
}

/* A connection arriving in the same instant as the cancel: either the accept returns it
 * (and the cancellation comes at the next call) or it stays queued. Never lost. */
static long accept_race(void *arg)
{
    int *outcomes = arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port);
    for (int i = 0; i < 100; i++) {
        struct acceptor a = {.ls = ls};
        curio_task *t = curio_spawn(accepts, &a);
        curio_yield();
        if (i % 3 == 0)
            curio_sleep(0.0005);
        int fd = plain_connect("127.0.0.1", port);
        cr_assert_geq(fd, 0);
        if (i % 2)
            curio_yield();
        curio_cancel(t);
        curio_socket *s = a.got;
        if (a.rc == 0) {
            outcomes[0]++;
        } else {
            outcomes[1]++;
            cr_assert_eq(a.rc, -ECANCELED);
            cr_assert_eq(curio_accept(ls, &s, NULL), 0, "still queued");
        }
        cr_assert_eq(send(fd, "k", 1, 0), 1);
        char c;
        cr_assert_eq(curio_recv(s, &c, 1, 0), 1, "it is this client's connection");
        curio_socket_close(s);
        close(fd);
        curio_task_release(t);
    }
    curio_socket_close(ls);
    return 0;
}

Test(accept, connection_racing_cancel_is_never_lost)
{
    ev_reset();
    int outcomes[2] = {0, 0};
    int fds = count_fds();
    run_main(accept_race, outcomes);
    cr_assert_eq(count_fds(), fds);
    cr_assert_eq(outcomes[0] + outcomes[1], 100);
    cr_log_info("accept won %d, cancel won %d", outcomes[0], outcomes[1]);
}

static long two_acceptors(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port), *s;
    struct acceptor a = {.ls = ls};
    curio_task *t = curio_spawn(accepts, &a);
    curio_yield();
    ev("second=%s", curio_accept(ls, &s, NULL) == -EBUSY ? "EBUSY" : "other");
    int fd = plain_connect("127.0.0.1", port);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_socket_close(a.got);
    close(fd);
    curio_task_release(t);
    curio_socket_close(ls);
    return 0;
}

Test(accept, one_acceptor_at_a_time) { expect_log(two_acceptors, NULL, "second=EBUSY accept=ok"); }

/* ---- out of descriptors ---- */

static long accept_emfile(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port), *s;
    int cl = plain_connect("127.0.0.1", port);
    cr_assert_geq(cl, 0);
    struct rlimit old, low;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)count_fds() + 8;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fill[16], n = 0;
    while (n < 16 && (fill[n] = dup(0)) >= 0)
        n++;
    cr_assert_lt(n, 16, "the limit was reached");
    cr_assert_eq(curio_accept(ls, &s, NULL), -EMFILE);
    close(fill[--n]);
    cr_assert_eq(curio_accept(ls, &s, NULL), 0, "the queued connection waited");
    while (n > 0)
        close(fill[--n]);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    curio_socket_close(s);
    close(cl);
    curio_socket_close(ls);
    return 0;
}

Test(accept, out_of_descriptors_is_emfile_and_the_connection_waits)
{
    int fds = count_fds();
    run_main(accept_emfile, NULL);
    cr_assert_eq(count_fds(), fds);
}

Test(accept, misuse)
{
    curio_socket *s;
    cr_assert_eq(curio_accept(NULL, &s, NULL), -EINVAL);
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    cr_assert_eq(curio_accept(p[0], NULL, NULL), -EINVAL);
    cr_assert_eq(curio_accept(p[0], &s, NULL), -EPERM, "outside a task");
    curio_socket_close(p[0]);
    curio_socket_close(p[1]);
}

static long accept_not_listening(void *arg)
{
    (void)arg;
    curio_socket *s, *c;
    cr_assert_eq(curio_socket_open(&s, AF_INET, SOCK_STREAM, 0), 0);
    cr_assert_eq(curio_accept(s, &c, NULL), -EINVAL);
    curio_socket_close(s);
    return 0;
}

Test(accept, not_listening_is_einval) { run_main(accept_not_listening, NULL); }
