/*
 * Out of memory in the net layer: each allocation is made to fail in turn (the binary is
 * linked with --wrap=malloc,calloc,realloc, which reaches the static library's calls).
 * Every failure must come back as -ENOMEM from the call that needed the memory, or, in a
 * server, be logged and survived; nothing may be left behind (descriptors are counted,
 * memory is checked by the sanitizer build) and everything must work again afterwards.
 */
#include "nettest.h"

/* ---- the failing allocator (tests/common/failalloc.h) ---- */

#include "failalloc.h"

/* ---- handles ---- */

Test(net_oom, socket_handles)
{
    int fds = count_fds();
    curio_socket *s, *p[2];
    arm(0);
    cr_assert_eq(curio_socket_open(&s, AF_INET, SOCK_STREAM, 0), -ENOMEM);
    cr_assert_eq(count_fds(), fds, "the new descriptor was closed");
    for (long n = 0; n < 2; n++) {
        arm(n);
        cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), -ENOMEM);
        cr_assert_eq(count_fds(), fds);
    }
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    arm(0);
    cr_assert_eq(curio_socket_wrap(&s, sv[0]), -ENOMEM);
    disarm();
    cr_assert_geq(fcntl(sv[0], F_GETFD), 0, "still the caller's after a failed wrap");
    close(sv[0]);
    close(sv[1]);
}

/* ---- accept: the handle of an accepted connection ---- */

static long accept_handle(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port);
    int cl = plain_connect("127.0.0.1", port);
    curio_socket *c = NULL;
    /* The claim table and the ring already exist: the one allocation is the handle. */
    curio_scope sc;
    curio_timeout_after(&sc, 0.01);
    curio_accept(ls, &c, NULL); /* warm up: claims table for ls's descriptor */
    curio_scope_close(&sc);
    if (c) {
        curio_socket_close(c);
        close(cl);
        cl = plain_connect("127.0.0.1", port);
    }
    arm(0);
    int rc = curio_accept(ls, &c, NULL);
    disarm();
    cr_assert_eq(rc, -ENOMEM);
    struct pollfd pf = {.fd = cl, .events = POLLIN};
    cr_assert_eq(poll(&pf, 1, 5000), 1, "the connection was closed, not leaked");
    char x;
    cr_assert_leq(read(cl, &x, 1), 0);
    close(cl);
    curio_socket_close(ls);
    return 0;
}

Test(net_oom, accept_without_memory_for_the_handle_closes_the_connection)
{
    int fds = count_fds();
    run_main(accept_handle, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- a server survives every allocation failing in turn ---- */

struct srv {
    int port;
    int logged;
};

static long echo(curio_socket *c, const curio_addr *a, void *arg)
{
    (void)a;
    (void)arg;
    char buf[64];
    ssize_t n;
    while ((n = curio_recv(c, buf, sizeof buf, 0)) > 0)
        if ((n = curio_sendall(c, buf, (size_t)n, 0, NULL)) < 0)
            break;
    return n;
}

static void on_listen(const curio_addr *a, void *arg) { ((struct srv *)arg)->port = curio_addr_port(a); }
static void on_log(const char *m, void *arg)
{
    (void)m;
    ((struct srv *)arg)->logged++;
}

static long serve(void *arg)
{
    curio_server_options o = {.on_listen = on_listen, .log = on_log};
    return curio_tcp_server("127.0.0.1", 0, echo, arg, &o);
}

/* One echo through a fresh plain connection, waiting without blocking the kernel. The
 * connection is left open in *keep (its handler task stays alive, so the next one needs
 * a new task record). Returns 1 if echoed, 0 if the server closed the connection. */
static int try_echo(int port, int *keep)
{
    int fd = plain_connect("127.0.0.1", port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write_full(fd, "ping", 4), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    char buf[8];
    ssize_t r;
    int64_t t0 = curio_clock();
    while ((r = read(fd, buf, sizeof buf)) < 0 && errno == EAGAIN) {
        cr_assert_lt(secs_since(t0), 10.0, "no answer");
        curio_sleep(0.002);
    }
    *keep = fd;
    if (r == 4)
        return 1;
    cr_assert(r == 0 || (r < 0 && errno == ECONNRESET), "closed, not garbled");
    return 0;
}

static long server_walk(void *arg)
{
    (void)arg;
    struct srv st = {0};
    int fds = count_fds();
    curio_task *t = curio_spawn(serve, &st);
    while (!st.port)
        curio_yield();
    int open[100], nopen = 0;
    cr_assert_eq(try_echo(st.port, &open[nopen++]), 1);
    int echoed = 0, refused = 0;
    long n;
    for (n = 0; n < 40; n++) {
        arm(n);
        int ok = try_echo(st.port, &open[nopen++]);
        bool hit = injected;
        disarm();
        ok ? echoed++ : refused++;
        cr_assert_eq(try_echo(st.port, &open[nopen++]), 1, "the server works on after allocation %ld", n);
        if (!hit)
            break;
    }
    cr_assert_lt(n, 40, "every allocation of a connection was walked");
    cr_log_info("%ld allocations per connection; %d echoed, %d closed; %d messages", n, echoed,
                refused, st.logged);
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);
    for (int i = 0; i < nopen; i++)
        close(open[i]);
    cr_assert_eq(count_fds(), fds, "the listener and every connection closed");
    return 0;
}

Test(net_oom, server_survives_each_allocation_failing)
{
    int fds = count_fds();
    run_main(server_walk, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- connections and look-ups ---- */

static long connect_walk(void *arg)
{
    (void)arg;
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port);
    int fds = count_fds();
    const char *hosts[] = {"127.0.0.1", "localhost"};
    for (int h = 0; h < 2; h++) {
        long n;
        for (n = 0; n < 32; n++) {
            curio_socket *c = NULL;
            arm(n);
            int rc = curio_open_connection(&c, hosts[h], (uint16_t)port, NULL);
            bool hit = injected;
            disarm();
            curio_socket *s;
            if (rc == 0) {
                cr_assert_eq(curio_accept(ls, &s, NULL), 0);
                curio_socket_close(s);
                curio_socket_close(c);
            } else {
                cr_assert(hit, "%s", curio_strerror(rc));
                cr_assert_eq(rc, -ENOMEM, "allocation %ld: %s", n, curio_strerror(rc));
                /* A connection that was made before the failure is closed: drain it. */
                curio_scope sc;
                curio_timeout_after(&sc, 0.01);
                while (curio_accept(ls, &s, NULL) == 0)
                    curio_socket_close(s);
                curio_scope_close(&sc);
            }
            if (!hit)
                break;
        }
        cr_assert_lt(n, 32);
    }
    curio_socket_close(ls);
    cr_assert_leq(count_fds(), fds - 1);
    return 0;
}

Test(net_oom, open_connection_walk)
{
    int fds = count_fds();
    run_main(connect_walk, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long stream_walk(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    curio_stream *s;
    arm(0);
    cr_assert_eq(curio_socket_as_stream(p[0], &s, NULL), -ENOMEM);
    disarm();
    cr_assert_eq(curio_socket_as_stream(p[0], &s, NULL), 0);
    curio_socket_close(p[0]);
    curio_socket_close(p[1]);
    return 0;
}

Test(net_oom, as_stream) { run_main(stream_walk, NULL); }
