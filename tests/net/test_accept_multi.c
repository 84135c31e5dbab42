/*
 * The server loop's multishot acceptor (net/accept_multi.c): connections taken one by one
 * in order with their peers; descriptors queued in the sink are closed when the acceptor
 * is (and when the server is cancelled): none leaked; timeout and close of the listening
 * socket while blocked; the forced fallback to one-shot accepts.
 */
#include "nettest.h"
#include "../../net/net.h"
#include "../../kernel/bufring.h"

#include <sys/resource.h>

static int local_port(int fd)
{
    curio_addr a;
    a.len = sizeof a.u;
    cr_assert_eq(getsockname(fd, &a.u.sa, &a.len), 0);
    return curio_addr_port(&a);
}

/* ---- in order, with peers ---- */

static long in_order(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port);
    int cl[3];
    for (int i = 0; i < 3; i++)
        cr_assert_geq(cl[i] = plain_connect("127.0.0.1", port), 0);
    struct curio__acceptor *acc = NULL;
    for (int i = 0; i < 3; i++) {
        curio_socket *c;
        curio_addr peer;
        cr_assert_eq(curio__acceptor_next(&acc, ls, &c, &peer), 0);
        cr_assert_eq(curio_addr_port(&peer), local_port(cl[i]), "connection %d", i);
        cr_assert_eq(curio_sendall(c, "hi", 2, 0, NULL), 2);
        char buf[2];
        cr_assert_eq(read_full(cl[i], buf, 2), 2);
        curio_socket_close(c);
    }
    if (!curio__accept_multi_disabled)
        cr_assert_not_null(acc);
    curio__acceptor_close(&acc);
    cr_assert_null(acc);
    for (int i = 0; i < 3; i++)
        close(cl[i]);
    curio_socket_close(ls);
    return 0;
}

Test(accept_multi, connections_in_order_with_their_peers)
{
    int fds = count_fds();
    run_main(in_order, NULL);
    cr_assert_eq(count_fds(), fds);
}

Test(accept_multi, forced_fallback_accepts_one_by_one)
{
    int fds = count_fds();
    curio__accept_multi_disabled = true;
    run_main(in_order, NULL);
    curio__accept_multi_disabled = false;
    cr_assert_eq(count_fds(), fds);
}

/* ---- queued descriptors are closed with the acceptor ---- */

static long queued_closed(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port);
    int first = plain_connect("127.0.0.1", port);
    struct curio__acceptor *acc = NULL;
    curio_socket *c;
    cr_assert_eq(curio__acceptor_next(&acc, ls, &c, NULL), 0); /* arms the multishot */
    curio_socket_close(c);
    int before = count_fds();
    int cl[5];
    for (int i = 0; i < 5; i++)
        cr_assert_geq(cl[i] = plain_connect("127.0.0.1", port), 0);
    /* the multishot accepts them into its queue with nobody taking them */
    while (count_fds() < before + 10)
        cr_assert_geq(curio_sleep(0.002), 0);
    curio__acceptor_close(&acc);
    cr_assert_eq(count_fds(), before + 5);
    for (int i = 0; i < 5; i++) {
        char b;
        ssize_t r = read(cl[i], &b, 1);
        cr_assert(r == 0 || (r < 0 && errno == ECONNRESET), "client %d sees the end", i);
        close(cl[i]);
    }
    close(first);
    curio_socket_close(ls);
    return 0;
}

Test(accept_multi, queued_descriptors_closed_with_the_acceptor)
{
    int fds = count_fds();
    run_main(queued_closed, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- the server cancelled with connections queued ---- */

static long sleeper(curio_socket *c, const curio_addr *a, void *arg)
{
    (void)c, (void)a, (void)arg;
    return curio_sleep(60) < 0 ? -ECANCELED : 0;
}

struct srv {
    int port;
    int rc;
};

static void on_listen(const curio_addr *a, void *arg) { ((struct srv *)arg)->port = curio_addr_port(a); }

static long server_task(void *arg)
{
    struct srv *s = arg;
    curio_server_options o = {.on_listen = on_listen};
    s->rc = curio_tcp_server("127.0.0.1", 0, sleeper, s, &o);
    return s->rc;
}

static long server_cancelled(void *arg)
{
    (void)arg;
    struct srv s = {0};
    int base = count_fds();
    curio_task *t = curio_spawn(server_task, &s);
    while (!s.port)
        cr_assert_eq(curio_yield(), 0);
    while (strcmp(curio_task_state(t), "READ_WAIT") != 0)
        cr_assert_eq(curio_yield(), 0);
    /* Clients connect (the kernel queues them) and the server is cancelled before it
     * has run again: their descriptors arrive in the acceptor's sink during the wind-down
     * or are already queued there. */
    int cl[10];
    for (int i = 0; i < 10; i++)
        cr_assert_geq(cl[i] = plain_connect("127.0.0.1", s.port), 0);
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert_eq(s.rc, -ECANCELED);
    curio_task_release(t);
    cr_assert_geq(curio_sleep(0.02), 0); /* any CQE still due */
    cr_assert_eq(count_fds(), base + 10);
    for (int i = 0; i < 10; i++)
        close(cl[i]);
    cr_assert_eq(count_fds(), base);
    return 0;
}

Test(accept_multi, server_cancelled_with_connections_queued_leaks_nothing)
{
    int fds = count_fds();
    run_main(server_cancelled, NULL);
    cr_assert_eq(count_fds(), fds);
}

Test(accept_multi, server_cancelled_forced_fallback)
{
    int fds = count_fds();
    curio__accept_multi_disabled = true;
    run_main(server_cancelled, NULL);
    curio__accept_multi_disabled = false;
    cr_assert_eq(count_fds(), fds);
}

/* ---- timeout and close while blocked ---- */

struct acc_arg {
    curio_socket *ls;
    struct curio__acceptor *acc;
};

static int next_op(void *arg)
{
    struct acc_arg *a = arg;
    curio_socket *c = NULL;
    int rc = curio__acceptor_next(&a->acc, a->ls, &c, NULL);
    if (rc == 0)
        curio_socket_close(c);
    return rc;
}

static long timeout_blocked(void *arg)
{
    (void)arg;
    int port;
    struct acc_arg a = {.ls = listen_on("127.0.0.1", &port)};
    int closed;
    int64_t t0 = curio_clock();
    cr_assert_eq(timeout_while_waiting(0.05, next_op, &a, &closed), -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.04);
    /* still accepting afterwards */
    int cl = plain_connect("127.0.0.1", port);
    cr_assert_eq(next_op(&a), 0);
    close(cl);
    curio__acceptor_close(&a.acc);
    curio_socket_close(a.ls);
    return 0;
}

Test(accept_multi, timeout_while_blocked)
{
    int fds = count_fds();
    run_main(timeout_blocked, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long blocked_next(void *arg)
{
    int rc = next_op(arg);
    ev("next %d", rc);
    return rc;
}

static long close_blocked(void *arg)
{
    (void)arg;
    int port;
    struct acc_arg a = {.ls = listen_on("127.0.0.1", &port)};
    curio__socket_hold(a.ls); /* as the server does: the handle outlives the close */
    curio_task *t = curio_spawn(blocked_next, &a);
    while (strcmp(curio_task_state(t), "READ_WAIT") != 0)
        cr_assert_eq(curio_yield(), 0);
    ev("close");
    curio_socket_close(a.ls);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    /* the port is no longer listening: the multishot was cancelled */
    cr_assert_lt(plain_connect("127.0.0.1", port), 0);
    curio__acceptor_close(&a.acc);
    curio__socket_drop(a.ls);
    return 0;
}

Test(accept_multi, close_of_the_listening_socket_while_blocked)
{
    int fds = count_fds();
    expect_log(close_blocked, NULL, "close next -9");
    cr_assert_eq(count_fds(), fds);
}

/* ---- out of descriptors: the multishot ends with -EMFILE, and is armed again ----
 * (An armed multishot accept reads RLIMIT_NOFILE when it is armed: the limit is lowered
 * before the first call.) */

static long emfile(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port);
    struct curio__acceptor *acc = NULL;
    curio_socket *c;
    int cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(cl, 0);
    struct rlimit old, low;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)count_fds() + 8;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fill[16], n = 0;
    while (n < 16 && (fill[n] = dup(0)) >= 0)
        n++;
    cr_assert_lt(n, 16);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", (uint16_t)port);
    cr_assert_eq(connect(cl, &a.u.sa, a.len), 0, "queued by the kernel");
    int rc = curio__acceptor_next(&acc, ls, &c, NULL);
    cr_assert_eq(rc, -EMFILE, "%s", curio_strerror(rc));
    while (n > 0)
        close(fill[--n]);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    curio_addr peer;
    cr_assert_eq(curio__acceptor_next(&acc, ls, &c, &peer), 0); /* armed again */
    cr_assert_eq(curio_addr_port(&peer), local_port(cl));
    curio_socket_close(c);
    close(cl);
    curio__acceptor_close(&acc);
    curio_socket_close(ls);
    return 0;
}

Test(accept_multi, emfile_ends_the_multishot_and_the_next_call_arms_it_again)
{
    int fds = count_fds();
    run_main(emfile, NULL);
    cr_assert_eq(count_fds(), fds);
}
