/*
 * TLS handshakes: success (names, addresses, SNI, ALPN, versions, a certificate chain,
 * client certificates), every verification failure as its own code, bad contexts and
 * wraps, and the handshake's timeouts and cancellation against peers that never answer,
 * leave half-way or do not speak TLS.
 */
#include "tlstest.h"

#if CURIO_TEST_TLS

TestSuite(tls_handshake, .timeout = 30);

/* ---- success ---- */

struct hs {
    struct tsrv srv;
    const char *ca, *host;       /* the client's trust and server_hostname */
    const char *connect_to;      /* the address open_connection gets; default 127.0.0.1 */
    curio_tls_options copts;     /* the client's context options, when ca is NULL */
    bool use_copts;
    int rc;                      /* the client's open_connection */
    char version[16], cipher[64], alpn[32];
};

static long hs_main(void *arg)
{
    struct hs *h = arg;
    tsrv_start(&h->srv);
    curio_tls_context *ctx = h->use_copts ? new_ctx(&h->copts) : client_ctx(h->ca);
    curio_connect_options o = {.ssl_context = ctx, .server_hostname = h->host};
    curio_socket *s = NULL;
    h->rc = curio_open_connection(&s, h->connect_to ? h->connect_to : "127.0.0.1",
                                  (uint16_t)h->srv.port, &o);
    curio_tls_context_release(ctx);
    if (h->rc == 0) {
        cr_assert(curio_tls_active(s));
        snprintf(h->version, sizeof h->version, "%s", curio_tls_version(s));
        snprintf(h->cipher, sizeof h->cipher, "%s", curio_tls_cipher(s));
        const char *a = curio_tls_alpn(s);
        snprintf(h->alpn, sizeof h->alpn, "%s", a ? a : "(none)");
        cr_assert_eq(curio_sendall(s, "ping\n", 5, 0, NULL), 5);
        char buf[16];
        cr_assert_eq(curio_recv(s, buf, 5, MSG_WAITALL), 5);
        cr_assert_eq(memcmp(buf, "ping\n", 5), 0);
        curio_socket_close(s);
        tsrv_wait_ended(&h->srv, 1);
    } else {
        cr_assert_null(s);
    }
    tsrv_stop(&h->srv);
    return 0;
}

static void run_hs(struct hs *h)
{
    if (!h->srv.body)
        h->srv.body = echo_body;
    run_main(hs_main, h);
}

Test(tls_handshake, echo_by_name)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct hs h = {.ca = "ca.pem", .host = "localhost"};
    h.srv.ctx = server_ctx("server.pem");
    run_hs(&h);
    cr_assert_eq(h.rc, 0, "%s", curio_strerror(h.rc));
    cr_assert_str_eq(h.version, "TLSv1.3");
    cr_assert_str_eq(h.srv.version, "TLSv1.3");
    cr_assert(strstr(h.cipher, "TLS13-") == h.cipher, "cipher %s", h.cipher);
    cr_assert_str_eq(h.srv.sni, "localhost", "the client sends its server_hostname as SNI");
    cr_assert_str_eq(h.alpn, "(none)");
    cr_assert_eq(h.srv.handled, 1);
    cr_assert_eq(h.srv.nlog, 0, "%s", h.srv.log);
    cr_assert_eq(count_fds(), fds);
}


Test(tls_handshake, echo_by_address)
{
    TLS_REQUIRE();
    struct hs h = {.ca = "ca.pem"}; /* server_hostname: the host, 127.0.0.1 */
    h.srv.ctx = server_ctx("server.pem");
    run_hs(&h);
    cr_assert_eq(h.rc, 0, "%s", curio_strerror(h.rc));
    cr_assert_str_eq(h.srv.sni, "(none)", "no SNI for an address");
}

Test(tls_handshake, echo_over_ipv6)
{
    TLS_REQUIRE();
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    curio_addr a;
    curio_addr_ip(&a, "::1", 0);
    bool v6 = fd >= 0 && bind(fd, &a.u.sa, a.len) == 0;
    if (fd >= 0)
        close(fd);
    if (!v6)
        cr_skip_test("no IPv6 loopback here");
    /* The server listens on 127.0.0.1; ask for ::1 by name through server_hostname. */
    struct hs h = {.ca = "ca.pem", .host = "::1"};
    h.srv.ctx = server_ctx("server.pem");
    run_hs(&h);
    cr_assert_eq(h.rc, 0, "the certificate names ::1: %s", curio_strerror(h.rc));
    struct hs w = {.ca = "ca.pem", .host = "[::2]"};
    w.srv.ctx = server_ctx("server.pem");
    run_hs(&w);
    cr_assert_eq(w.rc, CURIO_ETLS_HOSTNAME, "%s", curio_strerror(w.rc));
}

/* The client rejects the server's certificate with code want; the server logs the
 * alert the client sent and goes on. */
static void rejected(const char *server_cert, const char *ca, const char *host, int want)
{
    struct hs h = {.ca = ca, .host = host};
    h.srv.ctx = server_ctx(server_cert);
    run_hs(&h);
    cr_assert_eq(h.rc, want, "%s: %s, not %s", server_cert, curio_strerror(h.rc),
                 curio_strerror(want));
    cr_assert_eq(h.srv.handled, 0, "no handler runs after a failed handshake");
    cr_assert_eq(h.srv.nlog, 1, "%s", h.srv.log);
    cr_assert(strstr(h.srv.log, "TLS handshake failed: "), "%s", h.srv.log);
    cr_assert(strstr(h.srv.log, "alert from the peer"), "%s", h.srv.log);
}

Test(tls_handshake, unknown_ca)
{
    TLS_REQUIRE();
    rejected("server.pem", "other-ca.pem", "localhost", CURIO_ETLS_CERT);
}

Test(tls_handshake, self_signed)
{
    TLS_REQUIRE();
    rejected("selfsigned.pem", "ca.pem", "localhost", CURIO_ETLS_CERT);
}

Test(tls_handshake, expired)
{
    TLS_REQUIRE();
    rejected("expired.pem", "ca.pem", "localhost", CURIO_ETLS_EXPIRED);
}

Test(tls_handshake, certificate_for_another_host)
{
    TLS_REQUIRE();
    rejected("wronghost.pem", "ca.pem", "localhost", CURIO_ETLS_HOSTNAME);
}

Test(tls_handshake, another_name_asked)
{
    TLS_REQUIRE();
    rejected("server.pem", "ca.pem", "www.example.com", CURIO_ETLS_HOSTNAME);
}

Test(tls_handshake, another_address_asked)
{
    TLS_REQUIRE();
    rejected("server.pem", "ca.pem", "10.1.2.3", CURIO_ETLS_HOSTNAME);
}

Test(tls_handshake, chain_with_intermediate)
{
    TLS_REQUIRE();
    struct hs h = {.ca = "ca.pem", .host = "localhost"};
    h.srv.ctx = server_ctx("chain.pem"); /* leaf, then the intermediate CA */
    run_hs(&h);
    cr_assert_eq(h.rc, 0, "%s", curio_strerror(h.rc));
    rejected("leaf-only.pem", "ca.pem", "localhost", CURIO_ETLS_CERT);
}

Test(tls_handshake, no_check_hostname)
{
    TLS_REQUIRE();
    struct hs h = {.host = "localhost", .use_copts = true,
                   .copts = {.ca_file = cert("ca.pem"), .no_check_hostname = true}};
    h.srv.ctx = server_ctx("wronghost.pem");
    run_hs(&h);
    cr_assert_eq(h.rc, 0, "the chain is still verified: %s", curio_strerror(h.rc));
    struct hs u = {.host = "localhost", .use_copts = true,
                   .copts = {.ca_file = cert("other-ca.pem"), .no_check_hostname = true}};
    u.srv.ctx = server_ctx("wronghost.pem");
    run_hs(&u);
    cr_assert_eq(u.rc, CURIO_ETLS_CERT, "%s", curio_strerror(u.rc));
}

Test(tls_handshake, no_verify)
{
    TLS_REQUIRE();
    struct hs h = {.use_copts = true, .copts = {.no_verify = true}};
    h.srv.ctx = server_ctx("selfsigned.pem");
    run_hs(&h);
    cr_assert_eq(h.rc, 0, "%s", curio_strerror(h.rc));
}

struct dflt {
    int port, rc;
    struct tsrv srv;
};

static long default_main(void *arg)
{
    struct dflt *d = arg;
    tsrv_start(&d->srv);
    curio_connect_options o = {.ssl = true, .server_hostname = "localhost"};
    curio_socket *s = NULL;
    d->rc = curio_open_connection(&s, "127.0.0.1", (uint16_t)d->srv.port, &o);
    tsrv_wait_logs(&d->srv, 1);
    tsrv_stop(&d->srv);
    return 0;
}

/* ssl=True: the system's CAs, which do not know the test's private CA. */
Test(tls_handshake, default_context_uses_the_system_store)
{
    TLS_REQUIRE();
    if (access("/etc/ssl/certs", R_OK) < 0)
        cr_skip_test("no system CA store");
    struct dflt d = {0};
    d.srv.ctx = server_ctx("server.pem");
    d.srv.body = echo_body;
    run_main(default_main, &d);
    cr_assert_eq(d.rc, CURIO_ETLS_CERT, "%s", curio_strerror(d.rc));
}

Test(tls_handshake, alpn)
{
    TLS_REQUIRE();
    struct hs h = {.host = "localhost", .use_copts = true,
                   .copts = {.ca_file = cert("ca.pem"), .alpn = "h2,http/1.1"}};
    curio_tls_options so = {.server = true, .cert_file = cert("server.pem"),
                            .key_file = cert("server.key"), .alpn = "http/1.1,spdy/3"};
    h.srv.ctx = new_ctx(&so);
    run_hs(&h);
    cr_assert_eq(h.rc, 0, "%s", curio_strerror(h.rc));
    cr_assert_str_eq(h.alpn, "http/1.1");
    cr_assert_str_eq(h.srv.alpn, "http/1.1");

    struct hs n = {.host = "localhost", .use_copts = true,
                   .copts = {.ca_file = cert("ca.pem"), .alpn = "h2"}};
    n.srv.ctx = new_ctx(&so);
    run_hs(&n);
    cr_assert_eq(n.rc, 0, "no common protocol is not an error: %s", curio_strerror(n.rc));
    cr_assert_str_eq(n.alpn, "(none)");
    cr_assert_str_eq(n.srv.alpn, "(none)");
}

Test(tls_handshake, versions)
{
    TLS_REQUIRE();
    /* A server that speaks TLS 1.2 at most. */
    curio_tls_options so = {.server = true, .cert_file = cert("server.pem"),
                            .key_file = cert("server.key"), .max_version = CURIO_TLS_1_2,
                            .ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"};
    struct hs h = {.ca = "ca.pem", .host = "localhost"};
    h.srv.ctx = new_ctx(&so);
    run_hs(&h);
    cr_assert_eq(h.rc, 0, "%s", curio_strerror(h.rc));
    cr_assert_str_eq(h.version, "TLSv1.2");
    cr_assert_str_eq(h.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
    /* A client that wants 1.3 at least cannot agree with it. */
    struct hs n = {.host = "localhost", .use_copts = true,
                   .copts = {.ca_file = cert("ca.pem"), .min_version = CURIO_TLS_1_3}};
    n.srv.ctx = new_ctx(&so);
    run_hs(&n);
    cr_assert_eq(n.rc, CURIO_ETLS, "%s", curio_strerror(n.rc));
}

/* ---- client certificates ---- */

struct mtls {
    struct tsrv srv;
    bool with_cert;
    int rc, recv_rc;
};

static long mtls_main(void *arg)
{
    struct mtls *m = arg;
    tsrv_start(&m->srv);
    curio_tls_options co = {.ca_file = cert("ca.pem")};
    if (m->with_cert) {
        co.cert_file = cert("client.pem");
        co.key_file = cert("client.key");
    }
    curio_tls_context *ctx = new_ctx(&co);
    curio_connect_options o = {.ssl_context = ctx, .server_hostname = "localhost"};
    curio_socket *s = NULL;
    m->rc = curio_open_connection(&s, "127.0.0.1", (uint16_t)m->srv.port, &o);
    curio_tls_context_release(ctx);
    if (m->rc == 0) {
        /* TLS 1.3: the server checks the client's certificate after the client's
         * handshake is over; a rejection arrives as an alert at the first receive. */
        char buf[8];
        curio_sendall(s, "hi", 2, 0, NULL);
        m->recv_rc = (int)curio_recv(s, buf, 2, MSG_WAITALL);
        curio_socket_close(s);
    }
    if (m->with_cert)
        tsrv_wait_ended(&m->srv, 1);
    else
        tsrv_wait_logs(&m->srv, 1);
    tsrv_stop(&m->srv);
    return 0;
}

Test(tls_handshake, client_certificate)
{
    TLS_REQUIRE();
    curio_tls_options so = {.server = true, .cert_file = cert("server.pem"),
                            .key_file = cert("server.key"), .ca_file = cert("ca.pem"),
                            .verify_client = true};
    struct mtls m = {.with_cert = true};
    m.srv.ctx = new_ctx(&so);
    m.srv.body = echo_body;
    run_main(mtls_main, &m);
    cr_assert_eq(m.rc, 0, "%s", curio_strerror(m.rc));
    cr_assert_eq(m.recv_rc, 2, "%s", curio_strerror(m.recv_rc));
    cr_assert_eq(m.srv.nlog, 0, "%s", m.srv.log);

    struct mtls n = {.with_cert = false};
    n.srv.ctx = new_ctx(&so);
    n.srv.body = echo_body;
    run_main(mtls_main, &n);
    cr_assert(n.rc == CURIO_ETLS || (n.rc == 0 && n.recv_rc == CURIO_ETLS),
              "handshake %s, receive %s", curio_strerror(n.rc), curio_strerror(n.recv_rc));
    cr_assert(strstr(n.srv.log, "TLS handshake failed: peer did not return a certificate"),
              "%s", n.srv.log);
    cr_assert_eq(n.srv.handled, 0);
}

/* ---- bad contexts and wraps ---- */

static int ctx_rc(curio_tls_options o)
{
    curio_tls_context *ctx = (curio_tls_context *)1;
    int rc = curio_tls_context_new(&ctx, &o);
    if (rc == 0)
        curio_tls_context_release(ctx);
    else
        cr_assert_null(ctx);
    return rc;
}

Test(tls_handshake, context_options)
{
    TLS_REQUIRE();
    const char *missing = "/nonexistent/cert.pem";
    cr_assert_eq(ctx_rc((curio_tls_options){.server = true}), -EINVAL, "a server needs one");
    cr_assert_eq(ctx_rc((curio_tls_options){.server = true, .cert_file = missing}), -ENOENT);
    cr_assert_eq(ctx_rc((curio_tls_options){.server = true, .cert_file = cert("server.pem"),
                                            .key_file = missing}),
                 -ENOENT);
    cr_assert_eq(ctx_rc((curio_tls_options){.ca_file = missing}), -ENOENT);
    cr_assert_eq(ctx_rc((curio_tls_options){.ca_path = missing}), -ENOENT);
    cr_assert_eq(ctx_rc((curio_tls_options){.server = true, .cert_file = cert("server.key"),
                                            .key_file = cert("server.key")}),
                 -EINVAL, "a key is no certificate");
    cr_assert_eq(ctx_rc((curio_tls_options){.server = true, .cert_file = cert("server.pem"),
                                            .key_file = cert("server.pem")}),
                 -EINVAL, "a certificate is no key");
    cr_assert_eq(ctx_rc((curio_tls_options){.ca_file = cert("server.key")}), -EINVAL);
    cr_assert_eq(ctx_rc((curio_tls_options){.server = true, .cert_file = cert("combined.pem")}),
                 0, "the key is found in the certificate's file");
    cr_assert_eq(ctx_rc((curio_tls_options){.server = true, .cert_file = cert("server.pem"),
                                            .key_file = cert("server.key"),
                                            .verify_client = true}),
                 -EINVAL, "verify_client needs CAs");
    cr_assert_eq(ctx_rc((curio_tls_options){.key_file = cert("client.key")}), -EINVAL,
                 "a key without its certificate");
    cr_assert_eq(ctx_rc((curio_tls_options){.ciphers = "NO-SUCH-CIPHER"}), -EINVAL);
    cr_assert_eq(ctx_rc((curio_tls_options){.alpn = ""}), -EINVAL);
    cr_assert_eq(ctx_rc((curio_tls_options){.alpn = "h2,,http/1.1"}), -EINVAL);
    cr_assert_eq(ctx_rc((curio_tls_options){.alpn = "h2,"}), -EINVAL);
    cr_assert_eq(ctx_rc((curio_tls_options){.min_version = (enum curio_tls_version)7}),
                 -EINVAL);
    cr_assert_eq(ctx_rc((curio_tls_options){.max_version = (enum curio_tls_version)0x0302}),
                 -EINVAL, "TLS 1.1 is not offered");
    cr_assert_eq(ctx_rc((curio_tls_options){.min_version = CURIO_TLS_1_3,
                                            .max_version = CURIO_TLS_1_2}),
                 -EINVAL);
    cr_assert_eq(ctx_rc((curio_tls_options){.ca_path = tls_dir}), 0, "a directory of CAs");
    cr_assert_eq(ctx_rc((curio_tls_options){0}), 0, "the default: the system store");
    cr_assert_eq(curio_tls_context_new(NULL, NULL), -EINVAL);
    curio_tls_context_release(NULL);
}

struct wraps {
    curio_tls_context *client, *server, *noname;
};

static long wraps_main(void *arg)
{
    struct wraps *w = arg;
    curio_socket *a, *b, *u;
    tcp_pair(&a, &b);
    cr_assert_eq(curio_tls_wrap(NULL, w->client, "localhost"), -EINVAL);
    cr_assert_eq(curio_tls_wrap(a, NULL, "localhost"), -EINVAL);
    cr_assert_eq(curio_tls_wrap(a, w->client, NULL), -EINVAL, "the name is checked");
    cr_assert_eq(curio_tls_wrap(a, w->client, ""), -EINVAL);
    cr_assert_eq(curio_socket_open(&u, AF_INET, SOCK_DGRAM, 0), 0);
    cr_assert_eq(curio_tls_wrap(u, w->server, NULL), -EINVAL, "not a stream socket");
    curio_socket_close(u);
    cr_assert(!curio_tls_active(a));
    cr_assert_null(curio_tls_version(a));
    cr_assert_eq(curio_tls_handshake(a), -EINVAL, "not a TLS socket");
    cr_assert_eq(curio_tls_flush(a), -EINVAL);
    cr_assert_eq(curio_tls_wrap(a, w->noname, NULL), 0, "no name needed without the check");
    cr_assert(curio_tls_active(a));
    cr_assert_null(curio_tls_version(a), "not before the handshake");
    cr_assert_eq(curio_tls_wrap(a, w->client, "localhost"), -EISCONN);
    char why[64];
    cr_assert_eq(curio_tls_error(a, why, sizeof why), 0);
    cr_assert_str_eq(why, "");
    cr_assert_eq(curio_tls_error(NULL, why, sizeof why), -EINVAL);
    /* The calls that cannot go through TLS. */
    char buf[4];
    curio_addr to;
    curio_addr_ip(&to, "127.0.0.1", 9);
    cr_assert_eq(curio_recvfrom(a, buf, sizeof buf, 0, NULL), -EOPNOTSUPP);
    cr_assert_eq(curio_sendto(a, buf, sizeof buf, 0, &to), -EOPNOTSUPP);
    cr_assert_eq(curio_recv(a, buf, sizeof buf, MSG_DONTWAIT), -EOPNOTSUPP);
    cr_assert_eq(curio_send(a, buf, sizeof buf, MSG_OOB), -EOPNOTSUPP);
    size_t sent = 99;
    cr_assert_eq(curio_sendall(a, buf, sizeof buf, MSG_MORE, &sent), -EOPNOTSUPP);
    cr_assert_eq(sent, 0);
    cr_assert_eq(curio_socket_blocking(a), -EOPNOTSUPP);
    curio_stream *st;
    cr_assert_eq(curio_socket_as_stream(a, &st, NULL), 0);
    cr_assert_eq(curio_stream_blocking(st), -EOPNOTSUPP);
    curio_buf rb;
    cr_assert_eq(curio_recv_buf(a, &rb), -EOPNOTSUPP);
    curio_socket_close(a);
    curio_socket_close(b);
    /* A socket in buffer mode (curio_recv_buf) may hold received bytes: not wrapped. */
    tcp_pair(&a, &b);
    cr_assert_eq(curio_sendall(b, "x", 1, 0, NULL), 1);
    cr_assert_eq(curio_recv_buf(a, &rb), 1);
    curio_buf_release(&rb);
    cr_assert_eq(curio_tls_wrap(a, w->client, "localhost"), -EBUSY);
    curio_socket_close(a);
    /* A client context cannot serve, a server context cannot connect. */
    curio_server_options so = {.ssl_context = w->client};
    curio_socket *ls = listen_on("127.0.0.1", &(int){0});
    cr_assert_eq(curio_run_server(ls, (curio_client_fn)(void (*)(void))abort, NULL, &so),
                 -EINVAL);
    int port;
    ls = listen_on("127.0.0.1", &port);
    curio_connect_options co = {.ssl_context = w->server};
    curio_socket *c = (curio_socket *)1;
    cr_assert_eq(curio_open_connection(&c, "127.0.0.1", (uint16_t)port, &co), -EINVAL);
    curio_socket_close(ls);
    curio_socket_close(b);
    return 0;
}

Test(tls_handshake, wrap_errors)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct wraps w = {.client = client_ctx("ca.pem"), .server = server_ctx("server.pem")};
    curio_tls_options no = {.ca_file = cert("ca.pem"), .no_check_hostname = true};
    w.noname = new_ctx(&no);
    run_main(wraps_main, &w);
    curio_tls_context_release(w.client);
    curio_tls_context_release(w.server);
    curio_tls_context_release(w.noname);
    cr_assert_eq(count_fds(), fds);
}

/* ---- wrapping by hand; failures are sticky and explained ---- */

struct byhand {
    struct tsrv srv;
    int rc[4];
    int code;
    char why[256];
};

static long byhand_main(void *arg)
{
    struct byhand *b = arg;
    tsrv_start(&b->srv);
    curio_socket *s;
    cr_assert_eq(curio_open_connection(&s, "127.0.0.1", (uint16_t)b->srv.port, NULL), 0);
    curio_tls_context *ctx = client_ctx("other-ca.pem");
    cr_assert_eq(curio_tls_wrap(s, ctx, "localhost"), 0);
    curio_tls_context_release(ctx); /* the socket keeps its own reference */
    b->rc[0] = curio_tls_handshake(s);
    b->rc[1] = curio_tls_handshake(s);
    char buf[4];
    b->rc[2] = (int)curio_recv(s, buf, sizeof buf, 0);
    b->rc[3] = (int)curio_send(s, "x", 1, 0);
    b->code = curio_tls_error(s, b->why, sizeof b->why);
    curio_socket_close(s);
    tsrv_wait_logs(&b->srv, 1);
    tsrv_stop(&b->srv);
    return 0;
}

Test(tls_handshake, failures_are_sticky_and_explained)
{
    TLS_REQUIRE();
    struct byhand b = {0};
    b.srv.ctx = server_ctx("server.pem");
    b.srv.body = echo_body;
    run_main(byhand_main, &b);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(b.rc[i], CURIO_ETLS_CERT, "call %d: %s", i, curio_strerror(b.rc[i]));
    cr_assert_lt(b.code, 0);
    cr_assert(strstr(b.why, "verify"), "%s", b.why);
}

/* ---- the handshake run by the first receive or send ---- */

struct implicit {
    curio_socket *server_side;
    char got[8];
    ssize_t rc;
};

static long implicit_server(void *arg)
{
    struct implicit *m = arg;
    m->rc = curio_recv(m->server_side, m->got, 5, MSG_WAITALL); /* runs wolfSSL_accept */
    if (m->rc == 5)
        curio_sendall(m->server_side, "pong!", 5, 0, NULL);
    return 0;
}

static long implicit_main(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    curio_tls_context *sc = server_ctx("server.pem"), *cc = client_ctx("ca.pem");
    cr_assert_eq(curio_tls_wrap(b, sc, NULL), 0);
    cr_assert_eq(curio_tls_wrap(a, cc, "localhost"), 0);
    curio_tls_context_release(sc);
    curio_tls_context_release(cc);
    struct implicit m = {.server_side = b};
    curio_task *t = curio_spawn(implicit_server, &m);
    cr_assert_eq(curio_send(a, "ping!", 5, 0), 5, "runs wolfSSL_connect first");
    char buf[8];
    cr_assert_eq(curio_recv(a, buf, 5, MSG_WAITALL), 5);
    cr_assert_eq(memcmp(buf, "pong!", 5), 0);
    curio_join(t, NULL);
    curio_task_release(t);
    cr_assert_eq(m.rc, 5);
    cr_assert_str_eq(curio_tls_version(a), "TLSv1.3");
    cr_assert_str_eq(curio_tls_server_name(b), "localhost");
    cr_assert_null(curio_tls_server_name(a), "a client has none");
    curio_socket_close(a);
    curio_socket_close(b);
    return 0;
}

Test(tls_handshake, run_by_the_first_send_and_receive)
{
    TLS_REQUIRE();
    int fds = count_fds();
    run_main(implicit_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- timeouts, cancellation, peers that misbehave ---- */

struct silent {
    curio_socket *ls;    /* listens; nobody accepts: the kernel completes the connection */
    int port;
    int rc;
    double elapsed;
    curio_task *client;
};

static long silent_connect(void *arg)
{
    struct silent *s = arg;
    curio_tls_context *ctx = client_ctx("ca.pem");
    curio_connect_options o = {.ssl_context = ctx, .server_hostname = "localhost"};
    curio_socket *c = (curio_socket *)1;
    int64_t t0 = curio_clock();
    s->rc = curio_open_connection(&c, "127.0.0.1", (uint16_t)s->port, &o);
    s->elapsed = secs_since(t0);
    cr_assert_null(c, "nothing is handed out after a failed handshake");
    curio_tls_context_release(ctx);
    return s->rc;
}

static long silent_timeout_main(void *arg)
{
    struct silent *s = arg;
    s->ls = listen_on("127.0.0.1", &s->port);
    curio_scope sc;
    curio_timeout_after(&sc, 0.1);
    silent_connect(s);
    cr_assert_eq(curio_scope_close(&sc), -ETIMEDOUT);
    curio_socket_close(s->ls);
    return 0;
}

Test(tls_handshake, timeout_against_a_silent_peer)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct silent s = {0};
    run_main(silent_timeout_main, &s);
    cr_assert_eq(s.rc, -ETIMEDOUT, "%s", curio_strerror(s.rc));
    cr_assert_geq(s.elapsed, 0.09);
    cr_assert_eq(count_fds(), fds);
}

static long silent_cancel_main(void *arg)
{
    struct silent *s = arg;
    s->ls = listen_on("127.0.0.1", &s->port);
    ev_reset();
    s->client = curio_spawn(silent_connect, s);
    curio_sleep(0.05); /* the client is waiting for the server's answer */
    cr_assert_str_eq(curio_task_state(s->client), "READ_WAIT");
    cr_assert_eq(curio_cancel(s->client), 0);
    cr_assert(curio_task_cancelled(s->client));
    curio_task_release(s->client);
    curio_socket_close(s->ls);
    return 0;
}

Test(tls_handshake, cancelled_while_waiting)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct silent s = {0};
    run_main(silent_cancel_main, &s);
    cr_assert_eq(s.rc, -ECANCELED, "%s", curio_strerror(s.rc));
    cr_assert_eq(count_fds(), fds);
}

/* A handshake interrupted by a timeout continues when called again. */
struct resume {
    struct tsrv srv;
    struct relay relay;
    int first, second;
};

static long resume_main(void *arg)
{
    struct resume *r = arg;
    tsrv_start(&r->srv);
    r->relay.hold_after = 0; /* nothing from the server gets through, until released */
    r->relay.reset_at = -1;
    relay_start(&r->relay, r->srv.port);
    curio_socket *s;
    cr_assert_eq(curio_open_connection(&s, "127.0.0.1", (uint16_t)r->relay.port, NULL), 0);
    curio_tls_context *ctx = client_ctx("ca.pem");
    cr_assert_eq(curio_tls_wrap(s, ctx, "localhost"), 0);
    curio_tls_context_release(ctx);
    /* Until the relay holds the server's answer (a loaded machine may take longer than
     * one timeout to get there): every interrupted handshake goes on at the next call. */
    do {
        curio_scope sc;
        curio_timeout_after(&sc, 0.1);
        r->first = curio_tls_handshake(s);
        curio_scope_close(&sc);
        cr_assert_eq(r->first, -ETIMEDOUT, "%s", curio_strerror(r->first));
    } while (!r->relay.holding);
    curio_event_set(&r->relay.release);
    r->second = curio_tls_handshake(s);
    cr_assert_eq(curio_sendall(s, "again\n", 6, 0, NULL), 6);
    char buf[8];
    cr_assert_eq(curio_recv(s, buf, 6, MSG_WAITALL), 6);
    cr_assert_eq(memcmp(buf, "again\n", 6), 0);
    curio_socket_close(s);
    tsrv_wait_ended(&r->srv, 1);
    relay_stop(&r->relay);
    tsrv_stop(&r->srv);
    return 0;
}

Test(tls_handshake, resumes_after_a_timeout)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct resume r = {0};
    r.srv.ctx = server_ctx("server.pem");
    r.srv.body = echo_body;
    run_main(resume_main, &r);
    cr_assert_eq(r.first, -ETIMEDOUT, "%s", curio_strerror(r.first));
    cr_assert_eq(r.second, 0, "%s", curio_strerror(r.second));
    cr_assert_eq(count_fds(), fds);
}

/* The connection breaks in the middle of the server's first flight. */
static long reset_main(void *arg)
{
    struct resume *r = arg;
    tsrv_start(&r->srv);
    r->relay.hold_after = -1;
    r->relay.reset_at = 60;
    relay_start(&r->relay, r->srv.port);
    curio_socket *s = NULL;
    curio_tls_context *ctx = client_ctx("ca.pem");
    curio_connect_options o = {.ssl_context = ctx, .server_hostname = "localhost"};
    r->first = curio_open_connection(&s, "127.0.0.1", (uint16_t)r->relay.port, &o);
    curio_tls_context_release(ctx);
    relay_stop(&r->relay);
    tsrv_stop(&r->srv);
    return 0;
}

Test(tls_handshake, reset_half_way)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct resume r = {0};
    r.srv.ctx = server_ctx("server.pem");
    r.srv.body = echo_body;
    run_main(reset_main, &r);
    cr_assert_eq(r.first, -ECONNRESET, "%s", curio_strerror(r.first));
    cr_assert_eq(count_fds(), fds);
}

/* A server that is not TLS, and one that closes at once. */
struct plain {
    const char *answer;  /* NULL: close without a word */
    curio_socket *ls;
    int port, rc;
};

static long plain_server(void *arg)
{
    struct plain *p = arg;
    curio_socket *c;
    if (curio_accept(p->ls, &c, NULL) < 0)
        return 0;
    char hello[2048];
    curio_recv(c, hello, sizeof hello, 0); /* the client's hello */
    if (p->answer)
        curio_sendall(c, p->answer, strlen(p->answer), 0, NULL);
    curio_socket_close(c);
    return 0;
}

static long plain_main(void *arg)
{
    struct plain *p = arg;
    p->ls = listen_on("127.0.0.1", &p->port);
    curio_task *t = curio_spawn(plain_server, p);
    curio_tls_context *ctx = client_ctx("ca.pem");
    curio_connect_options o = {.ssl_context = ctx, .server_hostname = "localhost"};
    curio_socket *s = NULL;
    p->rc = curio_open_connection(&s, "127.0.0.1", (uint16_t)p->port, &o);
    curio_tls_context_release(ctx);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    curio_socket_close(p->ls);
    return 0;
}

Test(tls_handshake, server_not_speaking_tls)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct plain p = {.answer = "HTTP/1.0 400 Bad Request\r\n\r\nThis is not TLS.\r\n"};
    run_main(plain_main, &p);
    cr_assert_eq(p.rc, CURIO_ETLS, "%s", curio_strerror(p.rc));
    cr_assert_eq(count_fds(), fds);
}

Test(tls_handshake, server_closing_at_once)
{
    TLS_REQUIRE();
    struct plain p = {.answer = NULL};
    run_main(plain_main, &p);
    cr_assert_eq(p.rc, -ECONNRESET, "%s", curio_strerror(p.rc));
}

#else
TLS_SKIPPED(tls_handshake)
#endif
