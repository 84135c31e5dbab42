/*
 * tcp_server, unix_server, run_server: each connection in its own task with its socket and
 * address, closed when the handler returns; failing handlers are logged; cancelling or
 * timing out the server cancels its clients and waits for them (no descriptor left);
 * accept running out of descriptors backs off, logs once and recovers; the options.
 */
#include "nettest.h"
#include "child.h"

#include <sys/resource.h>

/* ---- a server in a task of its own, and what the tests observe of it ---- */

struct state {
    int port;                 /* from on_listen */
    char listen_text[CURIO_ADDR_STRLEN];
    char log[4096];           /* the server's messages, one per line */
    int nlog;
    int started, ended;       /* handlers */
    int cancelled;            /* handlers that saw -ECANCELED */
    curio_socket *last_client;
    char peers[8][CURIO_ADDR_STRLEN];
    long (*body)(curio_socket *c, struct state *st);
};

static void on_listen(const curio_addr *a, void *arg)
{
    struct state *st = arg;
    st->port = curio_addr_port(a);
    curio_addr_format(a, st->listen_text, sizeof st->listen_text);
}

static void on_log(const char *msg, void *arg)
{
    struct state *st = arg;
    size_t n = strlen(st->log);
    snprintf(st->log + n, sizeof st->log - n, "%s\n", msg);
    st->nlog++;
}

static long handler(curio_socket *c, const curio_addr *addr, void *arg)
{
    struct state *st = arg;
    if (st->started < 8)
        curio_addr_format(addr, st->peers[st->started], sizeof st->peers[0]);
    st->started++;
    st->last_client = c;
    long r = st->body(c, st);
    if (r == -ECANCELED)
        st->cancelled++;
    st->ended++;
    return r;
}

/* Curio's echo_client. */
static long echo_body(curio_socket *c, struct state *st)
{
    (void)st;
    char buf[1000];
    ssize_t n;
    while ((n = curio_recv(c, buf, sizeof buf, 0)) > 0) {
        ssize_t rc = curio_sendall(c, buf, (size_t)n, 0, NULL);
        if (rc < 0)
            return rc;
    }
    return n;
}

struct server_task {
    const char *host;
    const char *path;         /* unix_server instead */
    curio_socket *ls;         /* run_server instead */
    curio_server_options opts;
    struct state *st;
    int rc;
};

static long serve(void *arg)
{
    struct server_task *s = arg;
    s->opts.on_listen = on_listen;
    s->opts.log = on_log;
    if (s->ls)
        s->rc = curio_run_server(s->ls, handler, s->st, &s->opts);
    else if (s->path)
        s->rc = curio_unix_server(s->path, handler, s->st, &s->opts);
    else
        s->rc = curio_tcp_server(s->host ? s->host : "127.0.0.1", 0, handler, s->st, &s->opts);
    return s->rc;
}

static curio_task *start(struct server_task *s)
{
    curio_task *t = curio_spawn(serve, s);
    while (!s->st->port && !s->st->listen_text[0] && !curio_task_done(t))
        curio_yield();
    cr_assert(!curio_task_done(t), "server failed to start: %s", curio_strerror(s->rc));
    return t;
}

/* ---- plain clients on threads ---- */

struct client {
    int port;
    const char *path;
    int rounds;
    long result;
};

/* Connect, echo `rounds` messages, close; returns rounds or a negative error. */
static long echo_client(void *arg)
{
    struct client *c = arg;
    int fd = c->path ? plain_connect_unix(c->path) : plain_connect("127.0.0.1", c->port);
    if (fd < 0)
        return fd;
    for (int i = 0; i < c->rounds; i++) {
        char msg[32], back[32];
        int n = snprintf(msg, sizeof msg, "message %d\n", i);
        if (write_full(fd, msg, (size_t)n) < 0 || read_full(fd, back, (size_t)n) != n ||
            memcmp(msg, back, (size_t)n) != 0) {
            close(fd);
            return -EIO;
        }
    }
    close(fd);
    return c->rounds;
}

/* Connect, wait for end of stream; returns what was read before it. */
static long waits_for_eof(void *arg)
{
    struct client *c = arg;
    int fd = plain_connect("127.0.0.1", c->port);
    if (fd < 0)
        return fd;
    char buf[256];
    ssize_t n = read_full(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return n;
    buf[n] = 0;
    return n;
}

/* ---- echo with several clients at once ---- */

static long many_clients(void *arg)
{
    (void)arg;
    struct state st = {.body = echo_body};
    struct server_task s = {.st = &st};
    curio_task *t = start(&s);
    cr_assert_str_eq(st.listen_text + strlen("127.0.0.1:"), strchr(st.listen_text, ':') + 1);
    struct client c[4];
    peer p[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (struct client){.port = st.port, .rounds = 50};
        peer_start(&p[i], echo_client, &c[i]);
    }
    for (int i = 0; i < 4; i++)
        cr_assert_eq(peer_join(&p[i]), 50);
    while (st.ended < 4)
        curio_yield();
    cr_assert_eq(st.started, 4);
    for (int i = 0; i < 4; i++)
        cr_assert(strncmp(st.peers[i], "127.0.0.1:", 10) == 0, "peer %s", st.peers[i]);
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert_eq(s.rc, -ECANCELED);
    cr_assert(curio_task_cancelled(t));
    cr_assert_eq(st.nlog, 0, "nothing logged: %s", st.log);
    curio_task_release(t);
    return 0;
}

Test(server, tcp_echo_with_four_clients)
{
    int fds = count_fds();
    run_main(many_clients, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- the socket is closed when the handler returns ---- */

static long hello_body(curio_socket *c, struct state *st)
{
    (void)st;
    return curio_sendall(c, "hello\n", 6, 0, NULL); /* returns without closing */
}

static long handler_closes_too(curio_socket *c, struct state *st)
{
    (void)st;
    curio_sendall(c, "bye\n", 4, 0, NULL);
    curio_socket_close(c); /* as Curio's SSL example does: the server then closes it too */
    char x;
    ssize_t rc = curio_recv(c, &x, 1, 0);
    return rc == -EBADF ? 0 : -EPROTO;
}

static long closed_after_handler(void *arg)
{
    long (*body)(curio_socket *, struct state *) = arg;
    struct state st = {.body = body};
    struct server_task s = {.st = &st};
    curio_task *t = start(&s);
    struct client c = {.port = st.port};
    peer p;
    peer_start(&p, waits_for_eof, &c);
    long n = peer_join(&p);
    cr_assert_eq(n, body == hello_body ? 6 : 4, "the client read its message, then EOF");
    while (st.ended < 1)
        curio_yield();
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert_eq(st.nlog, 0, "%s", st.log);
    curio_task_release(t);
    return 0;
}

Test(server, client_socket_closed_when_the_handler_returns)
{
    int fds = count_fds();
    run_main(closed_after_handler, (void *)hello_body);
    cr_assert_eq(count_fds(), fds);
}

Test(server, handler_may_close_its_socket_itself)
{
    int fds = count_fds();
    run_main(closed_after_handler, (void *)handler_closes_too);
    cr_assert_eq(count_fds(), fds);
}

/* A task the handler left blocked on the client socket is woken when the server closes
 * it, and the handle outlives that call. */
static long lingering_reader(void *arg)
{
    curio_socket *c = arg;
    char x;
    ssize_t rc = curio_recv(c, &x, 1, 0);
    ev("lingerer=%s", rc == -EBADF ? "EBADF" : "other");
    return 0;
}

static curio_task *lingerer;

static long leaves_a_reader(curio_socket *c, struct state *st)
{
    (void)st;
    lingerer = curio_spawn(lingering_reader, c);
    curio_yield();
    return 0;
}

static long server_closes_under_a_reader(void *arg)
{
    (void)arg;
    struct state st = {.body = leaves_a_reader};
    struct server_task s = {.st = &st};
    curio_task *t = start(&s);
    struct client c = {.port = st.port};
    peer p;
    peer_start(&p, waits_for_eof, &c);
    cr_assert_eq(peer_join(&p), 0);
    cr_assert_eq(curio_join(lingerer, NULL), 0);
    curio_task_release(lingerer);
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);
    return 0;
}

Test(server, closing_wakes_a_task_the_handler_left_on_the_socket)
{
    int fds = count_fds();
    expect_log(server_closes_under_a_reader, NULL, "lingerer=EBADF");
    cr_assert_eq(count_fds(), fds);
}

/* ---- a failing handler is logged, the server goes on ---- */

static long failing_body(curio_socket *c, struct state *st)
{
    if (st->started == 1)
        return -ENOTRECOVERABLE;
    return echo_body(c, st);
}

static long failure_logged(void *arg)
{
    (void)arg;
    struct state st = {.body = failing_body};
    struct server_task s = {.st = &st};
    curio_task *t = start(&s);
    struct client c = {.port = st.port};
    peer p;
    peer_start(&p, waits_for_eof, &c);
    cr_assert_eq(peer_join(&p), 0, "the failed handler's client was closed");
    c.rounds = 3;
    peer_start(&p, echo_client, &c);
    cr_assert_eq(peer_join(&p), 3, "the server still serves");
    while (st.ended < 2)
        curio_yield();
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert_eq(st.nlog, 1, "%s", st.log);
    char want[512];
    snprintf(want, sizeof want, "server %s: client %s: handler failed: %s\n", st.listen_text,
             st.peers[0], curio_strerror(-ENOTRECOVERABLE));
    cr_assert_str_eq(st.log, want);
    curio_task_release(t);
    return 0;
}

Test(server, failing_handler_is_logged_and_the_server_goes_on) { run_main(failure_logged, NULL); }

/* Without a log function, messages go to stderr, prefixed with "curio: ". */
static long fails_once(curio_socket *c, const curio_addr *a, void *arg)
{
    (void)c;
    (void)a;
    (void)arg;
    return -ENOTRECOVERABLE;
}

static long serves_plain(void *arg)
{
    curio_socket *ls = arg;
    return curio_run_server(ls, fails_once, NULL, NULL);
}

static long stderr_log(void *arg)
{
    (void)arg;
    curio_socket *ls;
    if (curio_tcp_server_socket(&ls, "127.0.0.1", 0, NULL) < 0)
        return -1;
    curio_addr a;
    curio_socket_getsockname(ls, &a);
    curio_task *t = curio_spawn(serves_plain, ls);
    struct client c = {.port = curio_addr_port(&a)};
    peer p;
    peer_start(&p, waits_for_eof, &c);
    long n = peer_join(&p);
    curio_sleep(0.01);
    curio_cancel(t);
    curio_task_release(t);
    return n;
}

static long stderr_log_child(void *arg)
{
    (void)arg;
    long r = -1;
    return curio_run(stderr_log, NULL, NULL, &r) == 0 ? r : -2;
}

Test(server, default_log_is_stderr)
{
    child_report rep;
    run_in_child(stderr_log_child, NULL, &rep);
    cr_assert_eq(rep.value, 0);
    cr_assert(strstr(rep.err, "curio: server 127.0.0.1:") != NULL, "stderr: %s", rep.err);
    cr_assert(strstr(rep.err, ": handler failed: State not recoverable\n") != NULL, "%s", rep.err);
}

/* ---- cancelling the server cancels its clients and waits for them ---- */

/* The managed echo server's client: echo; when cancelled, say goodbye and end cancelled. */
static long goodbye_body(curio_socket *c, struct state *st)
{
    long r = echo_body(c, st);
    if (r == -ECANCELED) {
        curio_scope nc;
        curio_disable_cancellation(&nc);
        curio_sendall(c, "Server going down\n", 18, 0, NULL);
        curio_scope_close(&nc);
    }
    return r;
}

struct live {
    int port;
    char got[64];
};

/* Connect, send one line, read its echo, then read until end of stream. */
static long live_client(void *arg)
{
    struct live *l = arg;
    int fd = plain_connect("127.0.0.1", l->port);
    if (fd < 0)
        return fd;
    char echo[3];
    if (write_full(fd, "hi\n", 3) < 0 || read_full(fd, echo, 3) != 3) {
        close(fd);
        return -EIO;
    }
    ssize_t n = read_full(fd, l->got, sizeof l->got - 1);
    close(fd);
    if (n < 0)
        return n;
    l->got[n] = 0;
    return 0;
}

static long cancel_with_live_clients(void *arg)
{
    (void)arg;
    struct state st = {.body = goodbye_body};
    struct server_task s = {.st = &st};
    curio_task *t = start(&s);
    struct live l[5];
    peer p[5];
    for (int i = 0; i < 5; i++) {
        l[i] = (struct live){.port = st.port};
        peer_start(&p[i], live_client, &l[i]);
    }
    while (st.started < 5)
        curio_sleep(0.001);
    curio_sleep(0.02); /* every handler is blocked in recv after the first echo */
    int fds_live = count_fds();
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert_eq(s.rc, -ECANCELED);
    cr_assert_eq(st.ended, 5, "the server waited for every client");
    cr_assert_eq(st.cancelled, 5);
    cr_assert_leq(count_fds(), fds_live - 6, "5 clients and the listener closed");
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(peer_join(&p[i]), 0);
        cr_assert_str_eq(l[i].got, "Server going down\n");
    }
    curio_task_release(t);
    return 0;
}

Test(server, cancelled_with_live_clients_closes_them_all)
{
    int fds = count_fds();
    run_main(cancel_with_live_clients, NULL);
    cr_assert_eq(count_fds(), fds);
}

struct timed {
    struct server_task *s;
    double after;
    int close_rc;
};

static long serve_with_timeout(void *arg)
{
    struct timed *tm = arg;
    curio_scope sc;
    curio_timeout_after(&sc, tm->after);
    serve(tm->s);
    tm->close_rc = curio_scope_close(&sc);
    return 0;
}

static long timeout_with_live_client(void *arg)
{
    (void)arg;
    struct state st = {.body = goodbye_body};
    struct server_task s = {.st = &st};
    struct timed tm = {.s = &s, .after = 0.2};
    curio_task *t = curio_spawn(serve_with_timeout, &tm);
    while (!st.port)
        curio_yield();
    struct live l = {.port = st.port};
    peer p;
    peer_start(&p, live_client, &l);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(s.rc, -ETIMEDOUT);
    cr_assert_eq(tm.close_rc, -ETIMEDOUT);
    cr_assert_eq(st.started, 1);
    cr_assert_eq(st.cancelled, 1);
    cr_assert_eq(peer_join(&p), 0);
    cr_assert_str_eq(l.got, "Server going down\n");
    curio_task_release(t);
    return 0;
}

Test(server, timeout_scope_cancels_the_clients_too)
{
    int fds = count_fds();
    run_main(timeout_with_live_client, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* Cancelled at every point of accepting a burst of connections (client tasks spawned
 * but not yet run, running, some connections not yet accepted): every handler that was
 * started ends cancelled, every client sees its connection end, no descriptor is left. */
static long cancel_during_a_burst(void *arg)
{
    (void)arg;
    for (int k = 0; k < 12; k++) {
        int fds = count_fds();
        struct state st = {.body = echo_body};
        curio_socket *ls = listen_on("127.0.0.1", &st.port);
        int cl[3];
        for (int i = 0; i < 3; i++)
            cr_assert_geq(cl[i] = plain_connect("127.0.0.1", st.port), 0);
        struct server_task s = {.st = &st, .ls = ls};
        curio_task *t = curio_spawn(serve, &s);
        for (int y = 0; y < k && k < 6; y++)
            curio_yield();
        if (k >= 6)
            curio_sleep(0.0005 * (k - 5)); /* the ring is entered: more accepts complete */
        cr_assert_eq(curio_cancel(t), 0);
        cr_assert_eq(s.rc, -ECANCELED);
        cr_assert_eq(st.started, st.ended);
        cr_assert_eq(st.cancelled, st.ended);
        cr_log_info("step %d: %d handlers started", k, st.started);
        for (int i = 0; i < 3; i++) {
            char c;
            ssize_t r = read(cl[i], &c, 1);
            cr_assert(r == 0 || (r < 0 && errno == ECONNRESET), "connection %d ended", i);
            close(cl[i]);
        }
        curio_task_release(t);
        cr_assert_eq(count_fds(), fds);
    }
    return 0;
}

Test(server, cancel_at_every_point_of_a_burst) { run_main(cancel_during_a_burst, NULL); }

/* Closing the listening socket from another task stops the server (-EBADF). */
static long ls_closed_elsewhere(void *arg)
{
    (void)arg;
    struct state st = {.body = goodbye_body};
    curio_socket *ls = listen_on("127.0.0.1", &st.port);
    struct server_task s = {.st = &st, .ls = ls};
    curio_task *t = curio_spawn(serve, &s);
    struct live l = {.port = st.port};
    peer p;
    peer_start(&p, live_client, &l);
    while (st.started < 1)
        curio_sleep(0.001);
    cr_assert_eq(curio_socket_close(ls), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(s.rc, -EBADF);
    cr_assert_eq(st.cancelled, 1, "the clients were wound down");
    cr_assert_eq(peer_join(&p), 0);
    curio_task_release(t);
    return 0;
}

Test(server, closing_the_listening_socket_stops_the_server)
{
    int fds = count_fds();
    run_main(ls_closed_elsewhere, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- options ---- */

static long reuse_options(void *arg)
{
    (void)arg;
    curio_server_options o = {0};
    curio_socket *a, *b;
    int v = -1;
    socklen_t len = sizeof v;
    cr_assert_eq(curio_tcp_server_socket(&a, "127.0.0.1", 0, &o), 0);
    cr_assert_eq(curio_socket_getsockopt(a, SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
    cr_assert_eq(v, 1, "reuse_address is on by default");
    curio_addr addr;
    curio_socket_getsockname(a, &addr);
    uint16_t port = (uint16_t)curio_addr_port(&addr);
    cr_assert_eq(curio_tcp_server_socket(&b, "127.0.0.1", port, &o), -EADDRINUSE);
    curio_socket_close(a);
    o.no_reuse_address = true;
    cr_assert_eq(curio_tcp_server_socket(&a, "127.0.0.1", 0, &o), 0);
    len = sizeof v;
    cr_assert_eq(curio_socket_getsockopt(a, SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
    cr_assert_eq(v, 0);
    curio_socket_close(a);
    /* reuse_port: two listeners on one port. */
    o = (curio_server_options){.reuse_port = true};
    cr_assert_eq(curio_tcp_server_socket(&a, "127.0.0.1", 0, &o), 0);
    curio_socket_getsockname(a, &addr);
    port = (uint16_t)curio_addr_port(&addr);
    cr_assert_eq(curio_tcp_server_socket(&b, "127.0.0.1", port, &o), 0);
    curio_socket_close(a);
    curio_socket_close(b);
    /* Every interface, IPv4 and IPv6, and a name. */
    cr_assert_eq(curio_tcp_server_socket(&a, NULL, 0, NULL), 0);
    curio_socket_getsockname(a, &addr);
    char text[CURIO_ADDR_STRLEN];
    curio_addr_format(&addr, text, sizeof text);
    cr_assert(strncmp(text, "0.0.0.0:", 8) == 0, "%s", text);
    curio_socket_close(a);
    cr_assert_eq(curio_tcp_server_socket(&a, "::", 0, NULL), 0);
    curio_socket_getsockname(a, &addr);
    cr_assert_eq(addr.u.sa.sa_family, AF_INET6);
    curio_socket_close(a);
    cr_assert_eq(curio_tcp_server_socket(&a, "localhost", 0, NULL), 0);
    curio_socket_getsockname(a, &addr);
    curio_addr_format(&addr, text, sizeof text);
    cr_assert(strncmp(text, "127.0.0.1:", 10) == 0, "%s", text);
    curio_socket_close(a);
    cr_assert_eq(curio_tcp_server_socket(&a, "192.0.2.99", 0, NULL), -EADDRNOTAVAIL);
    cr_assert_eq(curio_tcp_server_socket(NULL, "127.0.0.1", 0, NULL), -EINVAL);
    return 0;
}

Test(server, reuse_address_reuse_port_and_hosts)
{
    int fds = count_fds();
    run_main(reuse_options, NULL);
    cr_assert_eq(count_fds(), fds);
}

Test(server, numeric_server_socket_outside_a_task)
{
    curio_socket *a;
    cr_assert_eq(curio_tcp_server_socket(&a, "127.0.0.1", 0, NULL), 0);
    curio_socket_close(a);
    cr_assert_eq(curio_tcp_server_socket(&a, "localhost", 0, NULL), -EPERM, "a name needs a task");
    cr_assert_eq(curio_tcp_server(NULL, 0, handler, NULL, NULL), -EPERM);
    cr_assert_eq(curio_tcp_server_socket(&a, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(curio_run_server(a, handler, NULL, NULL), -EPERM);
    /* a was closed by run_server, whose it became */
}

static long misuse(void *arg)
{
    (void)arg;
    curio_socket *a;
    cr_assert_eq(curio_run_server(NULL, handler, NULL, NULL), -EINVAL);
    int fds = count_fds();
    cr_assert_eq(curio_tcp_server_socket(&a, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(curio_run_server(a, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(count_fds(), fds, "the socket was closed");
    cr_assert_eq(curio_tcp_server("127.0.0.1", 0, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(curio_unix_server("/tmp/x", NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(curio_unix_server("", handler, NULL, NULL), -EINVAL);
    return 0;
}

Test(server, misuse) { run_main(misuse, NULL); }

/* ---- unix_server ---- */

static long unix_echo(void *arg)
{
    (void)arg;
    char dir[] = "/tmp/curio-server-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/echo.sock", dir);
    struct state st = {.body = echo_body};
    struct server_task s = {.st = &st, .path = path};
    curio_task *t = start(&s);
    cr_assert_str_eq(st.listen_text, path);
    struct client c = {.path = path, .rounds = 10};
    peer p;
    peer_start(&p, echo_client, &c);
    cr_assert_eq(peer_join(&p), 10);
    cr_assert_str_eq(st.peers[0], "(unnamed)");
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert_eq(s.rc, -ECANCELED);
    curio_task_release(t);
    unlink(path);
    rmdir(dir);
    return 0;
}

Test(server, unix_server_echo)
{
    int fds = count_fds();
    run_main(unix_echo, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- running out of descriptors ---- */

static long emfile(void *arg)
{
    (void)arg;
    struct state st = {.body = echo_body};
    struct server_task s = {.st = &st};
    curio_task *t = start(&s);
    /* Clients made while descriptors are there; connected once they have run out. */
    int cl[3];
    for (int i = 0; i < 3; i++)
        cr_assert_geq(cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
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
    curio_addr_ip(&a, "127.0.0.1", (uint16_t)st.port);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(connect(cl[i], &a.u.sa, a.len), 0, "queued by the kernel");
    while (st.nlog == 0) /* accept fails, then backs off: 10, 20, 40 ms ... */
        curio_sleep(0.001);
    curio_sleep(0.1); /* retries, however many a loaded machine makes: none logs */
    cr_assert_eq(st.started, 0);
    cr_assert_eq(st.nlog, 1, "logged once per burst: %s", st.log);
    char want[512];
    snprintf(want, sizeof want, "server %s: accept failed: %s; retrying with back-off\n",
             st.listen_text, curio_strerror(-EMFILE));
    cr_assert_str_eq(st.log, want);
    while (n > 0)
        close(fill[--n]);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    /* The server recovers: the queued clients are served. */
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(write_full(cl[i], "ok", 2), 0);
        char buf[2];
        int fl = fcntl(cl[i], F_GETFL);
        fcntl(cl[i], F_SETFL, fl | O_NONBLOCK);
        ssize_t r;
        while ((r = read(cl[i], buf, 2)) < 0 && errno == EAGAIN)
            curio_sleep(0.005);
        cr_assert_eq(r, 2);
        close(cl[i]);
    }
    cr_assert_eq(st.nlog, 2, "%s", st.log);
    cr_assert(strstr(st.log, "accepting again after ") != NULL, "%s", st.log);
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);
    return 0;
}

Test(server, emfile_in_accept_backs_off_logs_once_and_recovers)
{
    int fds = count_fds();
    run_main(emfile, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- backlog and stack_size ---- */

/* Connections the kernel completes on ls (nobody accepting) before a SYN is dropped. */
static int queued_before_full(curio_socket *ls, int max, int *fds)
{
    curio_addr a;
    curio_socket_getsockname(ls, &a);
    int n = 0;
    for (; n < max; n++) {
        if (!connect_completes(&a, &fds[n])) {
            close(fds[n]);
            break;
        }
    }
    return n;
}

Test(server, backlog_option_sizes_the_accept_queue)
{
    int fds[16];
    curio_server_options o = {.backlog = 1};
    curio_socket *ls;
    cr_assert_eq(curio_tcp_server_socket(&ls, "127.0.0.1", 0, &o), 0);
    int n = queued_before_full(ls, 16, fds);
    cr_assert_leq(n, 2, "backlog 1 queues at most 2 (Linux allows backlog + 1): %d", n);
    while (n > 0)
        close(fds[--n]);
    curio_socket_close(ls);
    cr_assert_eq(curio_tcp_server_socket(&ls, "127.0.0.1", 0, NULL), 0);
    n = queued_before_full(ls, 16, fds);
    cr_assert_eq(n, 16, "the default (100) takes 16");
    while (n > 0)
        close(fds[--n]);
    curio_socket_close(ls);
}

static long big_frame_body(curio_socket *c, struct state *st)
{
    (void)st;
    volatile char frame[512 * 1024]; /* four times the default stack */
    for (size_t i = 0; i < sizeof frame; i += 4096)
        frame[i] = (char)i;
    char x = frame[4096];
    (void)x;
    return curio_sendall(c, "big\n", 4, 0, NULL) == 4 ? 0 : -EIO;
}

static long stack_size_option(void *arg)
{
    (void)arg;
    struct state st = {.body = big_frame_body};
    struct server_task s = {.st = &st, .opts = {.stack_size = 1 << 20}};
    curio_task *t = start(&s);
    struct client c = {.port = st.port};
    peer p;
    peer_start(&p, waits_for_eof, &c);
    cr_assert_eq(peer_join(&p), 4);
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert_eq(st.nlog, 0, "%s", st.log);
    curio_task_release(t);
    return 0;
}

Test(server, stack_size_option_sizes_the_client_tasks) { run_main(stack_size_option, NULL); }
