/*
 * tcp_server / unix_server / run_server with an ssl_context: the handshake runs in each
 * client's task before its handler; many clients at once; failed handshakes (untrusted,
 * not TLS, gone, too slow) are logged and stop nothing; cancelling the server in the
 * middle of handshakes leaves nothing behind.
 */
#include "tlstest.h"
#include "core.h" /* the kernel's list of tasks: to see the clients wait for a hello */

#if CURIO_TEST_TLS

TestSuite(tls_server, .timeout = 30);

/* The tutorial's SSL server: read the request's lines up to an empty one, answer. */
static long http_body(curio_socket *c, struct tsrv *t)
{
    (void)t;
    curio_stream *st;
    cr_assert_eq(curio_socket_as_stream(c, &st, NULL), 0);
    const char *line;
    ssize_t n;
    int lines = 0;
    while ((n = curio_stream_readline_ref(st, &line)) > 0 && line[0] != '\r' &&
           line[0] != '\n')
        lines++;
    char out[128];
    int len = snprintf(out, sizeof out,
                       "HTTP/1.0 200 OK\r\nContent-type: text/plain\r\n\r\n%d lines\n", lines);
    return curio_stream_write(st, out, (size_t)len, NULL) < 0 ? -1 : 0;
}

struct client {
    int port, id;
    char got[256];
    int rc;
};

static long http_client(void *arg)
{
    struct client *c = arg;
    curio_socket *s;
    c->rc = tls_connect(&s, c->port, "ca.pem", "localhost");
    if (c->rc < 0)
        return c->rc;
    char req[128];
    int len = snprintf(req, sizeof req, "GET /%d HTTP/1.0\r\nHost: localhost\r\n\r\n", c->id);
    if ((c->rc = (int)curio_sendall(s, req, (size_t)len, 0, NULL)) < 0)
        goto out;
    size_t got = 0;
    ssize_t n;
    while ((n = curio_recv(s, c->got + got, sizeof c->got - 1 - got, 0)) > 0)
        got += (size_t)n;
    c->rc = (int)n;
out:
    curio_socket_close(s);
    return 0;
}

struct many {
    struct tsrv srv;
    struct client clients[8];
};

static long many_main(void *arg)
{
    struct many *m = arg;
    tsrv_start(&m->srv);
    curio_task *t[8];
    for (int i = 0; i < 8; i++) {
        m->clients[i] = (struct client){.port = m->srv.port, .id = i};
        t[i] = curio_spawn(http_client, &m->clients[i]);
    }
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(curio_join(t[i], NULL), 0);
        curio_task_release(t[i]);
    }
    tsrv_wait_ended(&m->srv, 8);
    tsrv_stop(&m->srv);
    return 0;
}

Test(tls_server, several_clients_at_once)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct many m = {0};
    m.srv.ctx = server_ctx("server.pem");
    m.srv.body = http_body;
    run_main(many_main, &m);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(m.clients[i].rc, 0, "client %d: %s", i, curio_strerror(m.clients[i].rc));
        cr_assert(strstr(m.clients[i].got, "HTTP/1.0 200 OK\r\n"), "%s", m.clients[i].got);
        cr_assert(strstr(m.clients[i].got, "\r\n\r\n2 lines\n"), "%s", m.clients[i].got);
    }
    cr_assert_eq(m.srv.handled, 8);
    cr_assert_eq(m.srv.nlog, 0, "%s", m.srv.log);
    cr_assert_eq(count_fds(), fds);
}

/* ---- failed handshakes are one connection's business ---- */

struct bad {
    struct tsrv srv;
    int untrusted, good;
    struct client ok;
};

static long bad_main(void *arg)
{
    struct bad *b = arg;
    tsrv_start(&b->srv);
    /* 1. A client that rejects the server's certificate. */
    curio_socket *s = NULL;
    b->untrusted = tls_connect(&s, b->srv.port, "other-ca.pem", "localhost");
    /* 2. A client that does not speak TLS. */
    cr_assert_eq(curio_open_connection(&s, "127.0.0.1", (uint16_t)b->srv.port, NULL), 0);
    const char junk[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
    cr_assert_eq(curio_sendall(s, junk, sizeof junk - 1, 0, NULL), (ssize_t)sizeof junk - 1);
    char buf[256];
    while (curio_recv(s, buf, sizeof buf, 0) > 0) /* an alert, then the server closes */
        ;
    curio_socket_close(s);
    /* 3. A client that leaves at once. */
    cr_assert_eq(curio_open_connection(&s, "127.0.0.1", (uint16_t)b->srv.port, NULL), 0);
    curio_socket_close(s);
    tsrv_wait_logs(&b->srv, 3);
    /* 4. And the server still serves. */
    b->ok = (struct client){.port = b->srv.port, .id = 4};
    http_client(&b->ok);
    tsrv_wait_ended(&b->srv, 1);
    tsrv_stop(&b->srv);
    return 0;
}

Test(tls_server, failed_handshakes_do_not_stop_it)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct bad b = {0};
    b.srv.ctx = server_ctx("server.pem");
    b.srv.body = http_body;
    run_main(bad_main, &b);
    cr_assert_eq(b.untrusted, CURIO_ETLS_CERT, "%s", curio_strerror(b.untrusted));
    cr_assert_eq(b.ok.rc, 0, "%s", curio_strerror(b.ok.rc));
    cr_assert(strstr(b.ok.got, "200 OK"), "%s", b.ok.got);
    cr_assert_eq(b.srv.handled, 1, "only the good client reached the handler");
    cr_assert_eq(b.srv.nlog, 3, "%s", b.srv.log);
    cr_assert(strstr(b.srv.log, "TLS handshake failed: received alert fatal error "
                                "(alert from the peer: unknown_ca)\n"),
              "%s", b.srv.log);
    cr_assert(strstr(b.srv.log, ": TLS handshake failed: parse error on header\n"), "%s",
              b.srv.log);
    cr_assert(strstr(b.srv.log, "TLS handshake failed: Connection reset by peer"), "%s",
              b.srv.log);
    cr_assert_eq(count_fds(), fds);
}

/* ---- a client that never speaks ---- */

struct slow {
    struct tsrv srv;
    struct client ok;
    double logged_after;
};

static long slow_main(void *arg)
{
    struct slow *w = arg;
    /* The limit applies to the client that is served too: its handshake, under the
     * sanitizers on a loaded machine, must fit well inside (0.1 s did not always). */
    w->srv.opts.ssl_handshake_timeout = 2;
    tsrv_start(&w->srv);
    int64_t t0 = curio_clock();
    curio_socket *mute;
    cr_assert_eq(curio_open_connection(&mute, "127.0.0.1", (uint16_t)w->srv.port, NULL), 0);
    /* Meanwhile another client is served. */
    w->ok = (struct client){.port = w->srv.port, .id = 1};
    http_client(&w->ok);
    tsrv_wait_logs(&w->srv, 1);
    w->logged_after = secs_since(t0);
    char b;
    cr_assert_eq(curio_recv(mute, &b, 1, 0), 0, "the server hung up");
    curio_socket_close(mute);
    tsrv_stop(&w->srv);
    return 0;
}

Test(tls_server, handshake_timeout)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct slow w = {0};
    w.srv.ctx = server_ctx("server.pem");
    w.srv.body = http_body;
    run_main(slow_main, &w);
    cr_assert_eq(w.ok.rc, 0, "%s", curio_strerror(w.ok.rc));
    cr_assert(strstr(w.srv.log, "TLS handshake failed: not completed within 2 s"), "%s",
              w.srv.log);
    cr_assert_geq(w.logged_after, 1.99);
    cr_assert_eq(count_fds(), fds);
}

/* ---- cancelling the server in the middle of handshakes ---- */

static long cancel_main(void *arg)
{
    struct tsrv *srv = arg;
    tsrv_start(srv);
    curio_socket *mute[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(curio_open_connection(&mute[i], "127.0.0.1", (uint16_t)srv->port, NULL),
                     0);
    /* Until three client tasks wait for a hello (not before: a loaded machine may take its
     * time to accept them). */
    for (;;) {
        int reading = 0;
        curio__list_foreach_entry(t, &curio_kernel_current()->all, curio__task, all_node)
            reading += !strcmp(curio_task_state(t), "READ_WAIT");
        if (reading == 3)
            break;
        cr_assert_gt(curio_sleep(0.001), 0);
    }
    tsrv_stop(srv);
    for (int i = 0; i < 3; i++) {
        char b;
        cr_assert_eq(curio_recv(mute[i], &b, 1, 0), 0);
        curio_socket_close(mute[i]);
    }
    return 0;
}

Test(tls_server, cancelled_during_handshakes)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct tsrv srv = {0};
    srv.ctx = server_ctx("server.pem");
    srv.body = http_body;
    run_main(cancel_main, &srv);
    cr_assert_eq(srv.handled, 0);
    cr_assert_eq(srv.nlog, 0, "a cancellation is not logged: %s", srv.log);
    cr_assert_eq(count_fds(), fds);
}

/* ---- the stack the handshake needs (curio/tls.h: 64 KiB is enough) ---- */

static long small_client(void *arg)
{
    struct client *c = arg;
    return http_client(c);
}

static long small_main(void *arg)
{
    struct tsrv *srv = arg;
    srv->opts.stack_size = 64 * 1024;
    tsrv_start(srv);
    struct client c = {.port = srv->port, .id = 1};
    curio_spawn_options so = {.stack_size = 64 * 1024};
    curio_task *t;
    cr_assert_eq(curio_spawn_ex(&t, small_client, &c, &so), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(c.rc, 0, "%s", curio_strerror(c.rc));
    tsrv_wait_ended(srv, 1);
    tsrv_stop(srv);
    return 0;
}

Test(tls_server, handshakes_on_64_kib_stacks)
{
    TLS_REQUIRE();
#if defined(__SANITIZE_ADDRESS__)
    cr_skip_test("AddressSanitizer's frames are larger; its builds keep 128 KiB stacks");
#endif
    struct tsrv srv = {0};
    srv.ctx = server_ctx("server.pem");
    srv.body = http_body;
    run_main(small_main, &srv);
    cr_assert_eq(srv.handled, 1);
}

/* ---- TLS over a Unix domain socket ---- */

struct unixs {
    char path[64];
    curio_tls_context *sctx;
    curio_task *server;
    int srv_rc;
    char got[8];
};

static long unix_echo(curio_socket *c, const curio_addr *a, void *arg)
{
    (void)a, (void)arg;
    char buf[64];
    ssize_t n;
    while ((n = curio_recv(c, buf, sizeof buf, 0)) > 0)
        curio_sendall(c, buf, (size_t)n, 0, NULL);
    return 0;
}

static long unix_serve(void *arg)
{
    struct unixs *u = arg;
    curio_server_options o = {.ssl_context = u->sctx};
    u->srv_rc = curio_unix_server(u->path, unix_echo, NULL, &o);
    return 0;
}

static long unix_main(void *arg)
{
    struct unixs *u = arg;
    u->server = curio_spawn(unix_serve, u);
    curio_yield(); /* it listens */
    curio_socket *s;
    cr_assert_eq(curio_open_unix_connection(&s, u->path), 0);
    curio_tls_context *ctx = client_ctx("ca.pem");
    cr_assert_eq(curio_tls_wrap(s, ctx, "localhost"), 0);
    curio_tls_context_release(ctx);
    cr_assert_eq(curio_tls_handshake(s), 0);
    cr_assert_eq(curio_sendall(s, "unix", 4, 0, NULL), 4);
    cr_assert_eq(curio_recv(s, u->got, 4, MSG_WAITALL), 4);
    curio_socket_close(s);
    curio_cancel(u->server);
    curio_task_release(u->server);
    return 0;
}

Test(tls_server, over_a_unix_socket)
{
    TLS_REQUIRE();
    struct unixs u = {0};
    snprintf(u.path, sizeof u.path, "@curio-tls-test-%d", getpid());
    u.sctx = server_ctx("server.pem");
    run_main(unix_main, &u);
    curio_tls_context_release(u.sctx);
    cr_assert_eq(u.srv_rc, -ECANCELED);
    cr_assert_eq(memcmp(u.got, "unix", 4), 0);
}

#else
TLS_SKIPPED(tls_server)
#endif
