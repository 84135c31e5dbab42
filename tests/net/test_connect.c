/*
 * connect and open_connection: success (IPv4, IPv6, a name, Unix), connection refused,
 * timeout and cancellation while blocked and in flight, every address tried in order,
 * the source address and family options.
 */
#include "nettest.h"

#include "../../net/net.h" /* curio__connect_any */

/* A port on 127.0.0.1 where nothing listens (bound, so nobody else takes it meanwhile). */
static curio_socket *dead_port(int *port)
{
    curio_socket *s;
    cr_assert_eq(curio_socket_open(&s, AF_INET, SOCK_STREAM, 0), 0);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", 0);
    cr_assert_eq(curio_socket_bind(s, &a), 0);
    cr_assert_eq(curio_socket_getsockname(s, &a), 0);
    *port = curio_addr_port(&a);
    return s;
}

/* A listener whose accept queue is full, so that a further connect hangs (its SYN is
 * dropped) until it is cancelled or times out. The filler descriptors go into fill[]. */
static curio_socket *full_listener(int *port, int fill[4], int *nfill)
{
    curio_socket *ls;
    cr_assert_eq(curio_socket_open(&ls, AF_INET, SOCK_STREAM, 0), 0);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", 0);
    cr_assert_eq(curio_socket_bind(ls, &a), 0);
    cr_assert_eq(listen(curio_socket_fd(ls), 0), 0);
    cr_assert_eq(curio_socket_getsockname(ls, &a), 0);
    *port = curio_addr_port(&a);
    *nfill = 0;
    for (;;) {
        cr_assert_lt(*nfill, 4);
        if (!connect_completes(&a, &fill[(*nfill)++]))
            return ls; /* this one's SYN went unanswered: the queue is full */
    }
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

static long connect_ok(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port), *s, *c;
    cr_assert_eq(curio_socket_open(&s, AF_INET, SOCK_STREAM, 0), 0);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", (uint16_t)port);
    cr_assert_eq(curio_connect(s, &a), 0);
    cr_assert_eq(curio_accept(ls, &c, NULL), 0);
    curio_addr peer;
    cr_assert_eq(curio_socket_getpeername(s, &peer), 0);
    cr_assert_eq(curio_addr_port(&peer), port);
    cr_assert_eq(curio_connect(s, &a), -EISCONN);
    curio_socket_close(c);
    curio_socket_close(s);
    curio_socket_close(ls);
    return 0;
}

Test(connect, connect_success_and_eisconn)
{
    int fds = count_fds();
    run_main(connect_ok, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long refused(void *arg)
{
    (void)arg;
    int port;
    curio_socket *d = dead_port(&port), *s;
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", (uint16_t)port);
    cr_assert_eq(curio_socket_open(&s, AF_INET, SOCK_STREAM, 0), 0);
    cr_assert_eq(curio_connect(s, &a), -ECONNREFUSED);
    curio_socket_close(s);
    s = NULL;
    cr_assert_eq(curio_open_connection(&s, "127.0.0.1", (uint16_t)port, NULL), -ECONNREFUSED);
    cr_assert_null(s);
    cr_assert_eq(curio_open_connection(&s, "localhost", (uint16_t)port, NULL), -ECONNREFUSED);
    curio_socket_close(d);
    return 0;
}

Test(connect, connection_refused)
{
    int fds = count_fds();
    run_main(refused, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long connect_timeout(void *arg)
{
    (void)arg;
    int port, fill[4], n;
    curio_socket *ls = full_listener(&port, fill, &n), *s = NULL;
    curio_scope sc;
    int64_t t0 = curio_clock();
    curio_timeout_after(&sc, 0.1);
    int rc = curio_open_connection(&s, "127.0.0.1", (uint16_t)port, NULL);
    cr_assert_eq(curio_scope_close(&sc), -ETIMEDOUT);
    cr_assert_eq(rc, -ETIMEDOUT, "%s", curio_strerror(rc));
    cr_assert_geq(secs_since(t0), 0.1);
    cr_assert_null(s);
    close_all(fill, n);
    curio_socket_close(ls);
    return 0;
}

Test(connect, timeout_closes_the_attempt)
{
    int fds = count_fds();
    run_main(connect_timeout, NULL);
    cr_assert_eq(count_fds(), fds);
}

struct connector {
    int port;
    int rc;
    curio_socket *s;
};

static long connects(void *arg)
{
    struct connector *c = arg;
    c->rc = curio_open_connection(&c->s, "127.0.0.1", (uint16_t)c->port, NULL);
    ev("connect=%s", c->rc == -ECANCELED ? "ECANCELED" : curio_strerror(c->rc));
    return c->rc;
}

static long cancel_connect(void *arg)
{
    bool in_flight = *(bool *)arg;
    int fill[4], n;
    struct connector c = {0};
    curio_socket *ls = full_listener(&c.port, fill, &n);
    curio_task *t = curio_spawn(connects, &c);
    if (in_flight)
        curio_sleep(0.02);
    else
        curio_yield();
    cr_assert_str_eq(curio_task_state(t), "WRITE_WAIT");
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert(curio_task_cancelled(t));
    cr_assert_null(c.s);
    curio_task_release(t);
    close_all(fill, n);
    curio_socket_close(ls);
    return 0;
}

Test(connect, cancel_blocked_before_submission)
{
    bool in_flight = false;
    int fds = count_fds();
    expect_log(cancel_connect, &in_flight, "connect=ECANCELED");
    cr_assert_eq(count_fds(), fds);
}

Test(connect, cancel_in_flight)
{
    bool in_flight = true;
    int fds = count_fds();
    expect_log(cancel_connect, &in_flight, "connect=ECANCELED");
    cr_assert_eq(count_fds(), fds);
}

/* ---- open_connection ---- */

static void echo_check(curio_socket *ls, curio_socket *c)
{
    curio_socket *s;
    cr_assert_eq(curio_accept(ls, &s, NULL), 0);
    cr_assert_eq(curio_sendall(c, "ping", 4, 0, NULL), 4);
    char buf[8];
    cr_assert_eq(curio_recv(s, buf, sizeof buf, 0), 4);
    curio_socket_close(s);
    curio_socket_close(c);
}

static long by_name_and_number(void *arg)
{
    (void)arg;
    int port, port6;
    curio_socket *ls = listen_on("127.0.0.1", &port), *ls6 = listen_on("::1", &port6), *c;
    cr_assert_eq(curio_open_connection(&c, "localhost", (uint16_t)port, NULL), 0);
    echo_check(ls, c);
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)port, NULL), 0);
    echo_check(ls, c);
    cr_assert_eq(curio_open_connection(&c, "::1", (uint16_t)port6, NULL), 0);
    echo_check(ls6, c);
    cr_assert_eq(curio_open_connection(&c, "[::1]", (uint16_t)port6, NULL), 0);
    echo_check(ls6, c);
    curio_socket_close(ls);
    curio_socket_close(ls6);
    return 0;
}

Test(connect, open_connection_by_name_ipv4_and_ipv6)
{
    int fds = count_fds();
    run_main(by_name_and_number, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* Every address is tried in order: the first refuses, the second answers. */
static long every_address(void *arg)
{
    (void)arg;
    int port, dead;
    curio_socket *ls = listen_on("127.0.0.1", &port), *d = dead_port(&dead), *c;
    curio_addr first, second;
    curio_addr_ip(&first, "127.0.0.1", (uint16_t)dead);
    curio_addr_ip(&second, "127.0.0.1", (uint16_t)port);
    struct addrinfo ai2 = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                           .ai_addrlen = second.len, .ai_addr = &second.u.sa};
    struct addrinfo ai1 = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                           .ai_addrlen = first.len, .ai_addr = &first.u.sa, .ai_next = &ai2};
    curio_connect_options o = {0};
    cr_assert_eq(curio__connect_any(&c, &ai1, &o), 0);
    curio_addr peer;
    cr_assert_eq(curio_socket_getpeername(c, &peer), 0);
    cr_assert_eq(curio_addr_port(&peer), port);
    echo_check(ls, c);
    /* Only refusals: the last error is returned. */
    ai1.ai_next = NULL;
    cr_assert_eq(curio__connect_any(&c, &ai1, &o), -ECONNREFUSED);
    /* An asked family none of them has. */
    o.family = AF_INET6;
    cr_assert_eq(curio__connect_any(&c, &ai1, &o), -EAFNOSUPPORT);
    curio_socket_close(d);
    curio_socket_close(ls);
    return 0;
}

Test(connect, every_address_is_tried_in_order)
{
    int fds = count_fds();
    run_main(every_address, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long source_address(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port), *c, *s;
    curio_addr src;
    curio_addr_ip(&src, "127.0.0.5", 0);
    curio_connect_options o = {.source = &src};
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)port, &o), 0);
    curio_addr peer;
    cr_assert_eq(curio_accept(ls, &s, &peer), 0);
    char text[CURIO_ADDR_STRLEN];
    curio_addr_format(&peer, text, sizeof text);
    cr_assert(strncmp(text, "127.0.0.5:", 10) == 0, "the server sees %s", text);
    curio_socket_close(s);
    curio_socket_close(c);
    /* A source of another family than the target: nothing to try. */
    curio_addr_ip(&src, "::1", 0);
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)port, &o), -EAFNOSUPPORT);
    cr_assert_eq(curio_open_connection(&c, "localhost", (uint16_t)port, &o), -EAFNOSUPPORT);
    /* A source that cannot be bound. */
    curio_addr_ip(&src, "192.0.2.77", 0);
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)port, &o), -EADDRNOTAVAIL);
    curio_socket_close(ls);
    return 0;
}

Test(connect, source_address_is_bound_first)
{
    int fds = count_fds();
    run_main(source_address, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long unix_connections(void *arg)
{
    (void)arg;
    char dir[] = "/tmp/curio-connect-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/sock", dir);
    curio_socket *c;
    cr_assert_eq(curio_open_unix_connection(&c, path), -ENOENT);
    curio_socket *ls;
    cr_assert_eq(curio_unix_server_socket(&ls, path, NULL), 0);
    cr_assert_eq(curio_open_unix_connection(&c, path), 0);
    echo_check(ls, c);
    curio_socket_close(ls);
    cr_assert_eq(curio_open_unix_connection(&c, path), -ECONNREFUSED, "file left, nobody listens");
    unlink(path);
    rmdir(dir);
    cr_assert_eq(curio_open_unix_connection(&c, "@curio-nobody-here"), -ECONNREFUSED);
    return 0;
}

Test(connect, open_unix_connection)
{
    int fds = count_fds();
    run_main(unix_connections, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long bad_arguments(void *arg)
{
    (void)arg;
    curio_socket *c;
    cr_assert_eq(curio_open_connection(&c, NULL, 80, NULL), -EINVAL);
    cr_assert_eq(curio_open_connection(&c, "", 80, NULL), -EINVAL);
    cr_assert_eq(curio_open_connection(NULL, "127.0.0.1", 80, NULL), -EINVAL);
    curio_connect_options o = {.family = AF_INET6};
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", 80, &o), -EAFNOSUPPORT);
    cr_assert_eq(curio_connect(NULL, NULL), -EINVAL);
    cr_assert_eq(curio_open_unix_connection(&c, ""), -EINVAL);
    return 0;
}

Test(connect, bad_arguments) { run_main(bad_arguments, NULL); }

Test(connect, outside_a_task_is_eperm)
{
    curio_socket *c;
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", 80, NULL), -EPERM);
    cr_assert_eq(curio_open_unix_connection(&c, "/nonexistent"), -EPERM);
    cr_assert_eq(curio_socket_open(&c, AF_INET, SOCK_STREAM, 0), 0);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", 80);
    cr_assert_eq(curio_connect(c, &a), -EPERM);
    curio_socket_close(c);
}
