/*
 * Out of memory in TLS: each allocation is made to fail in turn, both curio's own (the
 * binary is linked with --wrap=malloc,calloc,realloc, which reaches the static library's
 * calls) and wolfSSL's (through wolfSSL_SetAllocators). Every failure must end in a clean
 * error, nothing may be left behind (descriptors are counted, memory is checked by the
 * sanitizer build) and everything must work again afterwards.
 */
#include "tlstest.h"

#if CURIO_TEST_TLS
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

/* ---- the failing allocators ---- */

#include "failalloc.h"

static void *wolf_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
static void wolf_free(void *p) { free(p); }
static void *wolf_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }

static void init(void)
{
    cr_assert_eq(wolfSSL_SetAllocators(wolf_malloc, wolf_free, wolf_realloc), 0);
}

TestSuite(tls_oom, .init = init, .timeout = 60);

/* ---- contexts ---- */

Test(tls_oom, contexts)
{
    TLS_REQUIRE();
    curio_tls_options so = {.server = true, .cert_file = cert("chain.pem"),
                            .key_file = cert("server.key"), .alpn = "h2,http/1.1"};
    curio_tls_options co = {.ca_file = cert("ca.pem"), .alpn = "h2"};
    const curio_tls_options *opts[] = {&so, &co};
    for (int k = 0; k < 2; k++) {
        int failures = 0;
        for (long n = 0;; n++) {
            curio_tls_context *ctx;
            arm(n);
            int rc = curio_tls_context_new(&ctx, opts[k]);
            bool hit = injected;
            disarm();
            if (rc == 0) {
                curio_tls_context_release(ctx);
                if (!hit)
                    break; /* every allocation has been failed once */
                continue;  /* wolfSSL got over that one (a cache it did without) */
            }
            /* wolfSSL reports a certificate it could not allocate for as "bad". */
            cr_assert(rc == -ENOMEM || rc == -EINVAL, "allocation %ld: %s", n,
                      curio_strerror(rc));
            cr_assert(hit, "allocation %ld: %s without a failure", n, curio_strerror(rc));
            failures++;
            cr_assert_lt(n, 100000);
        }
        cr_assert_gt(failures, 3);
    }
}

/* ---- a connection, from wrap to the first bytes back ---- */

curio_tls_context *curio__tls_context_retain(curio_tls_context *ctx); /* net/net.h */

struct oom {
    struct tsrv srv;
    curio_tls_context *cctx;
    long n;
    bool hit;
    int rc;
};

static long exchange(struct oom *o)
{
    curio_socket *s;
    int rc = curio_open_connection(&s, "127.0.0.1", (uint16_t)o->srv.port, NULL);
    cr_assert_eq(rc, 0);
    arm(o->n);
    rc = curio_tls_wrap(s, o->cctx, "localhost");
    if (rc == 0)
        rc = curio_tls_handshake(s);
    char buf[64];
    static char big[100000];
    if (rc == 0 && (rc = (int)curio_sendall(s, big, sizeof big, 0, NULL)) > 0) {
        size_t got = 0;
        ssize_t r;
        while (got < sizeof big && (r = curio_recv(s, buf, sizeof buf, 0)) > 0)
            got += (size_t)r;
        rc = got == sizeof big ? 0 : (int)r;
    }
    o->hit = injected;
    disarm();
    curio_socket_close(s);
    return rc;
}

static long oom_main(void *arg)
{
    struct oom *o = arg;
    tsrv_start(&o->srv);
    curio_scope sc;
    curio_timeout_after(&sc, 10); /* a failure must never leave a side waiting */
    o->rc = (int)exchange(o);
    bool hit = o->hit;
    cr_assert_eq(curio_scope_close(&sc), 0, "allocation %ld: stuck", o->n);
    disarm();
    o->n = -1;
    cr_assert_eq(exchange(o), 0, "and then it works again");
    o->hit = hit;
    tsrv_stop(&o->srv);
    return 0;
}

Test(tls_oom, connection)
{
    TLS_REQUIRE();
    int fds = count_fds();
    curio_tls_context *sctx = server_ctx("server.pem"), *cctx = client_ctx("ca.pem");
    int failures = 0;
    for (long n = 0;; n++) {
        struct oom o = {.cctx = cctx, .n = n};
        o.srv.ctx = curio__tls_context_retain(sctx);
        o.srv.body = echo_body;
        run_main(oom_main, &o);
        if (!o.hit) {
            cr_assert_eq(o.rc, 0, "%s", curio_strerror(o.rc));
            break;
        }
        if (o.rc < 0) {
            failures++;
            /* Our own allocation, or the server's failure seen from here; wolfSSL
             * reports a certificate it could not allocate for while verifying it as
             * untrusted (it fails closed). */
            cr_assert(o.rc == -ENOMEM || o.rc == CURIO_ETLS || o.rc == -ECONNRESET ||
                          o.rc == -EPIPE || o.rc == CURIO_ETLS_CERT,
                      "allocation %ld: %s", n, curio_strerror(o.rc));
        }
        cr_assert_eq(count_fds(), fds, "allocation %ld", n);
        cr_assert_lt(n, 100000);
    }
    cr_assert_gt(failures, 10);
    fprintf(stderr, "tls_oom: %d of the allocations failed a connection\n", failures);
    curio_tls_context_release(sctx);
    curio_tls_context_release(cctx);
}

#else
TLS_SKIPPED(tls_oom)
#endif
