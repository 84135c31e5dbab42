/*
 * Host names and addresses checked against the server's certificate (tls/tls_name.c):
 * the matching rules on strings, then a matrix of certificates made by openssl
 * (tls_certs.sh, names-*.pem) through real handshakes on loopback, each verdict
 * cross-checked with `openssl verify -verify_hostname/-verify_ip`.
 */
#include "tlstest.h"

#if CURIO_TEST_TLS

#include "../../tls/tls_priv.h"

TestSuite(tls_names, .timeout = 60);

/* ---- the rules, on strings ---- */

static bool dns(const char *pattern, const char *host)
{
    return curio__tls_dns_match(pattern, strlen(pattern), host, strlen(host));
}

Test(tls_names, exact_names_ignore_ascii_case)
{
    cr_assert(dns("localhost", "localhost"));
    cr_assert(dns("LocalHost", "localhost"));
    cr_assert(dns("www.Example.COM", "WWW.example.com"));
    cr_assert(!dns("localhost", "localhost2"));
    cr_assert(!dns("localhost", "localhos"));
    cr_assert(!dns("example.com", "www.example.com"));
    cr_assert(!dns("", "localhost"));
    cr_assert(!dns("localhost", ""));
    /* Only ASCII letters fold: a byte with the top bit set is compared as it is. */
    cr_assert(!dns("\xc3\x89.example.com", "\xc3\xa9.example.com"));
}

Test(tls_names, wildcard_is_the_whole_leftmost_label)
{
    cr_assert(dns("*.example.com", "a.example.com"));
    cr_assert(dns("*.example.com", "WWW.EXAMPLE.COM"));
    cr_assert(dns("*.example.com", "xn--bcher-kva.example.com"));
    cr_assert(!dns("*.example.com", "example.com"), "a star is one label, not none");
    cr_assert(!dns("*.example.com", ".example.com"));
    cr_assert(!dns("*.example.com", "a.b.example.com"), "a star is one label, not two");
    cr_assert(!dns("*.example.com", "a.example.org"));
    cr_assert(!dns("*.example.com", "a_b.example.com"));
    cr_assert(!dns("*.example.com", "*.example.com"));
}

Test(tls_names, other_wildcards_match_nothing)
{
    cr_assert(!dns("*", "localhost"));
    cr_assert(!dns("*", "*"));
    cr_assert(!dns("l*", "localhost"));
    cr_assert(!dns("*t", "localhost"));
    cr_assert(!dns("w*.example.com", "www.example.com"));
    cr_assert(!dns("*w.example.com", "www.example.com"));
    cr_assert(!dns("a.*.localhost", "a.b.localhost"));
    cr_assert(!dns("www.example.*", "www.example.com"));
    cr_assert(!dns("*.*.example.com", "a.b.example.com"));
    /* At least two labels after the star, as OpenSSL asks: not "*.com". */
    cr_assert(!dns("*.localhost", "a.localhost"));
    cr_assert(!dns("*.com", "example.com"));
    cr_assert(!dns("*.", "a."));
    cr_assert(!dns("*.example..com", "a.example..com"));
    cr_assert(!dns("*.example.com.", "a.example.com"));
}

Test(tls_names, embedded_nul_matches_nothing)
{
    cr_assert(!curio__tls_dns_match("localhost\0.evil.com", 19, "localhost", 9));
    cr_assert(!curio__tls_dns_match("localhost", 9, "localhost\0x", 11));
}

Test(tls_names, host_parsing)
{
    struct curio__tls_ref r;
    cr_assert_eq(curio__tls_ref_parse(&r, "127.0.0.1"), 0);
    cr_assert(r.ip);
    cr_assert_eq(r.len, 4);
    cr_assert_eq(memcmp(r.addr, "\x7f\0\0\x01", 4), 0);
    cr_assert_eq(curio__tls_ref_parse(&r, "[::1]"), 0);
    cr_assert(r.ip);
    cr_assert_eq(r.len, 16);
    cr_assert_eq(memcmp(r.addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16), 0);
    cr_assert_eq(curio__tls_ref_parse(&r, "fe80::1%lo"), 0);
    cr_assert(r.ip);
    cr_assert_eq(r.addr[0], 0xfe);
    /* Not dotted quads: names (that no certificate's address matches). */
    cr_assert_eq(curio__tls_ref_parse(&r, "127.1"), 0);
    cr_assert(!r.ip);
    cr_assert_eq(curio__tls_ref_parse(&r, "LocalHost"), 0);
    cr_assert(!r.ip);
    cr_assert_str_eq(r.name, "LocalHost");
    cr_assert_eq(r.len, 9);
    cr_assert_eq(curio__tls_ref_parse(&r, ""), -EINVAL);
    char longest[254];
    memset(longest, 'a', 253);
    longest[253] = 0;
    cr_assert_eq(curio__tls_ref_parse(&r, longest), 0);
    char too_long[255];
    memset(too_long, 'a', 254);
    too_long[254] = 0;
    cr_assert_eq(curio__tls_ref_parse(&r, too_long), -EINVAL);
}

static struct curio__tls_id id(int type, const char *s, size_t len)
{
    return (struct curio__tls_id){.type = type, .data = (const unsigned char *)s, .len = len};
}
#define DNS(s) id(CURIO__TLS_ID_DNS, s, strlen(s))
#define CN(s) id(CURIO__TLS_ID_CN, s, strlen(s))
#define IP(s) id(CURIO__TLS_ID_IP, s, sizeof s - 1)

static bool for_host(const struct curio__tls_id *ids, size_t n, const char *host)
{
    struct curio__tls_ref r;
    cr_assert_eq(curio__tls_ref_parse(&r, host), 0);
    return curio__tls_ids_match(ids, n, &r);
}

Test(tls_names, addresses_match_only_ip_names)
{
    struct curio__tls_id v4[] = {IP("\x7f\0\0\x01"), DNS("127.0.0.2"), DNS("*.0.0.3"),
                                 CN("127.0.0.4")};
    cr_assert(for_host(v4, 4, "127.0.0.1"));
    cr_assert(!for_host(v4, 4, "127.0.0.2"), "an address never matches a DNS name");
    cr_assert(!for_host(v4, 4, "127.0.0.3"), "nor a wildcard");
    cr_assert(!for_host(v4, 4, "127.0.0.4"), "nor the CN");
    cr_assert(!for_host(v4, 4, "::ffff:127.0.0.1"), "16 bytes are not 4");
    struct curio__tls_id v6[] = {IP("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"), DNS("::2")};
    cr_assert(for_host(v6, 2, "::1"));
    cr_assert(for_host(v6, 2, "[0:0::0:1]"));
    cr_assert(!for_host(v6, 2, "::2"));
    cr_assert(!for_host(v6, 2, "0.0.0.1"));
    cr_assert(!for_host(v6, 2, "localhost"));
}

Test(tls_names, cn_only_without_dns_names)
{
    struct curio__tls_id cn_only[] = {CN("localhost")};
    cr_assert(for_host(cn_only, 1, "LOCALHOST"));
    struct curio__tls_id cn_ip[] = {CN("localhost"), IP("\x7f\0\0\x01")};
    cr_assert(for_host(cn_ip, 2, "localhost"), "addresses do not hide the CN");
    struct curio__tls_id cn_dns[] = {CN("localhost"), DNS("other.example")};
    cr_assert(!for_host(cn_dns, 2, "localhost"), "a DNS name hides the CN");
    cr_assert(for_host(cn_dns, 2, "other.example"));
    struct curio__tls_id cn_empty_dns[] = {CN("localhost"), id(CURIO__TLS_ID_DNS, NULL, 0)};
    cr_assert(!for_host(cn_empty_dns, 2, "localhost"), "even an empty one");
    struct curio__tls_id cn_wild[] = {CN("*.curio.test"), id(CURIO__TLS_ID_OTHER, "x", 1)};
    cr_assert(for_host(cn_wild, 2, "a.curio.test"), "the CN follows the same rules");
    cr_assert(!for_host(cn_wild, 2, "curio.test"));
    struct curio__tls_id two_cns[] = {CN("curio test"), CN("localhost")};
    cr_assert(for_host(two_cns, 2, "localhost"), "any CN of the subject");
    cr_assert(!for_host(NULL, 0, "localhost"));
}

/* ---- the matrix: certificates made by openssl, real handshakes ---- */

enum { NO = 0, YES = 1, PYTHON_ONLY = 2 };

static const struct row {
    const char *cert;   /* names-CERT.pem (tls_certs.sh) */
    const char *host;   /* server_hostname */
    int accept;         /* YES or NO; PYTHON_ONLY: NO here and in Python's ssl, which
                           forbids partial wildcards, while `openssl verify` allows them */
} rows[] = {
    /* Issue 11: accepted by curio before, never by Python's ssl. */
    {"star", "localhost", NO},
    {"middle", "a.b.localhost", NO},
    {"partial", "localhost", NO},
    {"ip-star", "127.0.0.1", NO},
    {"dns-ip", "127.0.0.1", NO},
    {"dns-ip", "::1", NO},
    {"cn", "127.0.0.1", NO},
    {"cn-ip", "127.0.0.1", NO},
    /* Wildcards. */
    {"partial-label", "www.curio.test", PYTHON_ONLY},
    {"short-star", "a.localhost", NO},
    {"wild", "a.curio.test", YES},
    {"wild", "A.Curio.Test", YES},
    {"wild", "curio.test", NO},
    {"wild", "a.b.curio.test", NO},
    {"wild", "a.curio.test.evil", NO},
    /* Names and case. */
    {"upper", "localhost", YES},
    {"upper", "LOCALHOST", YES},
    {"upper", "localhost2", NO},
    /* Addresses. */
    {"ip4", "127.0.0.1", YES},
    {"ip4", "127.0.0.2", NO},
    {"ip4", "::ffff:127.0.0.1", NO},
    {"ip4", "localhost", NO},
    {"ip6", "::1", YES},
    {"ip6", "[0:0:0::1]", YES},
    {"ip6", "::2", NO},
    {"ip6", "127.0.0.1", NO},
    /* The CN: only without DNS names. */
    {"cn", "localhost", YES},
    {"cn", "LocalHost", YES},
    {"cn-wild", "a.curio.test", YES},
    {"cn-wild", "curio.test", NO},
    {"cn-dns", "localhost", NO},
    {"cn-dns", "other.example", YES},
    {"cn-ipsan", "localhost", YES},
    {"cn-ipsan", "127.0.0.1", YES},
    {"cn-uri", "localhost", YES},
};
#define NROWS (sizeof rows / sizeof rows[0])

struct matrix {
    int rc[NROWS];
    int nlog[NROWS];
    char why[NROWS][160];
};

static long matrix_main(void *arg)
{
    struct matrix *m = arg;
    curio_tls_context *client = client_ctx("ca.pem");
    for (size_t i = 0; i < NROWS; i++) {
        char name[64];
        snprintf(name, sizeof name, "names-%s.pem", rows[i].cert);
        struct tsrv srv = {.ctx = server_ctx(name), .body = echo_body};
        tsrv_start(&srv);
        curio_socket *s = NULL;
        curio_connect_options o = {.ssl_context = client, .server_hostname = rows[i].host};
        m->rc[i] = curio_open_connection(&s, "127.0.0.1", (uint16_t)srv.port, &o);
        if (m->rc[i] == 0) {
            cr_assert_eq(curio_sendall(s, "ping", 4, 0, NULL), 4);
            char buf[4];
            cr_assert_eq(curio_recv(s, buf, 4, MSG_WAITALL), 4);
            curio_socket_close(s);
            tsrv_wait_ended(&srv, 1);
        } else {
            cr_assert_null(s);
            tsrv_wait_logs(&srv, 1); /* the alert the client sent */
            snprintf(m->why[i], sizeof m->why[i], "%.150s", srv.log);
        }
        m->nlog[i] = srv.nlog;
        tsrv_stop(&srv);
    }
    curio_tls_context_release(client);
    return 0;
}

Test(tls_names, certificate_matrix)
{
    TLS_REQUIRE();
    struct matrix m;
    memset(&m, 0, sizeof m);
    run_main(matrix_main, &m);
    for (size_t i = 0; i < NROWS; i++) {
        const struct row *r = &rows[i];
        if (r->accept == YES) {
            cr_expect_eq(m.rc[i], 0, "names-%s.pem for %s: %s", r->cert, r->host,
                         curio_strerror(m.rc[i]));
            cr_expect_eq(m.nlog[i], 0, "names-%s.pem for %s: %s", r->cert, r->host,
                         m.why[i]);
        } else {
            cr_expect_eq(m.rc[i], CURIO_ETLS_HOSTNAME, "names-%s.pem for %s: %s", r->cert,
                         r->host, curio_strerror(m.rc[i]));
            cr_expect(strstr(m.why[i], "alert from the peer: bad_certificate"),
                      "names-%s.pem for %s: the server hears why: %s", r->cert, r->host,
                      m.why[i]);
        }
    }
}

/* The same verdicts from OpenSSL itself (which, unlike Python, allows partial wildcards). */
Test(tls_names, matrix_agrees_with_openssl)
{
    TLS_REQUIRE();
    for (size_t i = 0; i < NROWS; i++) {
        const struct row *r = &rows[i];
        struct curio__tls_ref ref;
        cr_assert_eq(curio__tls_ref_parse(&ref, r->host), 0);
        char host[64];
        size_t len = strlen(r->host);
        if (r->host[0] == '[') /* openssl takes the address without brackets */
            snprintf(host, sizeof host, "%.*s", (int)(len - 2), r->host + 1);
        else
            snprintf(host, sizeof host, "%s", r->host);
        char cmd[1600];
        snprintf(cmd, sizeof cmd,
                 "openssl verify -CAfile '%s/ca.pem' %s '%s' '%s/names-%s.pem' "
                 ">/dev/null 2>&1",
                 tls_dir, ref.ip ? "-verify_ip" : "-verify_hostname", host, tls_dir, r->cert);
        int st = system(cmd);
        cr_assert(WIFEXITED(st), "%s", cmd);
        bool openssl_accepts = WEXITSTATUS(st) == 0;
        cr_expect_eq(openssl_accepts, r->accept != NO, "names-%s.pem for %s: openssl %s",
                     r->cert, r->host, openssl_accepts ? "accepts" : "rejects");
    }
}

/* A name-checking context says why in wolfSSL's words; without checking, any name goes. */
struct explained {
    int rc[2];
    char why[2][256];
    int unchecked;
};

static long explained_main(void *arg)
{
    struct explained *e = arg;
    struct tsrv srv = {.ctx = server_ctx("names-star.pem"), .body = echo_body};
    tsrv_start(&srv);
    curio_tls_context *ctx = client_ctx("ca.pem");
    const char *hosts[2] = {"localhost", "127.0.0.1"};
    for (int i = 0; i < 2; i++) {
        curio_socket *s;
        cr_assert_eq(curio_open_connection(&s, "127.0.0.1", (uint16_t)srv.port, NULL), 0);
        cr_assert_eq(curio_tls_wrap(s, ctx, hosts[i]), 0);
        e->rc[i] = curio_tls_handshake(s);
        curio_tls_error(s, e->why[i], sizeof e->why[i]);
        curio_socket_close(s);
    }
    curio_tls_context_release(ctx);
    curio_tls_options no = {.ca_file = cert("ca.pem"), .no_check_hostname = true};
    ctx = new_ctx(&no);
    curio_connect_options o = {.ssl_context = ctx, .server_hostname = "localhost"};
    curio_socket *s = NULL;
    e->unchecked = curio_open_connection(&s, "127.0.0.1", (uint16_t)srv.port, &o);
    if (s)
        curio_socket_close(s);
    curio_tls_context_release(ctx);
    tsrv_wait_logs(&srv, 2);
    tsrv_stop(&srv);
    return 0;
}

Test(tls_names, mismatch_is_explained)
{
    TLS_REQUIRE();
    struct explained e = {0};
    run_main(explained_main, &e);
    cr_assert_eq(e.rc[0], CURIO_ETLS_HOSTNAME, "%s", curio_strerror(e.rc[0]));
    cr_assert(strstr(e.why[0], "name mismatch"), "%s", e.why[0]);
    cr_assert_eq(e.rc[1], CURIO_ETLS_HOSTNAME, "%s", curio_strerror(e.rc[1]));
    cr_assert(strstr(e.why[1], "ip address mismatch"), "%s", e.why[1]);
    cr_assert_eq(e.unchecked, 0, "no_check_hostname: %s", curio_strerror(e.unchecked));
}

#else
TLS_SKIPPED(tls_names)
#endif
