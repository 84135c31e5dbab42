/*
 * tests/net/tlstest.h - what the TLS tests share: the certificates (made at test time by
 * tls_certs.sh with the openssl command, once per build directory and day), contexts, a
 * TLS server in a task of its own that records what happened, and a relay that sits
 * between two peers and can hold bytes back or reset the connection at a chosen byte.
 *
 * Built without wolfSSL (CURIO_TEST_TLS 0), a test file consists of TLS_SKIPPED(suite):
 * one test that checks the calls say -ENOTSUP, then skips with the reason.
 */
#ifndef CURIO_TLSTEST_H
#define CURIO_TLSTEST_H

#include "nettest.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define TLS_SKIPPED(suite)                                                                 \
    Test(suite, skipped)                                                                   \
    {                                                                                      \
        curio_tls_context *ctx = (curio_tls_context *)1;                                   \
        cr_assert_eq(curio_tls_context_new(&ctx, NULL), -ENOTSUP);                         \
        cr_assert_null(ctx);                                                               \
        cr_assert(!curio_tls_available());                                                 \
        cr_skip_test("curio was built without TLS (wolfSSL; meson option tls)");           \
    }

/* ---- certificates ---- */

static char tls_dir[512];

/* Make the certificates if they are missing, a day old, or older than the script (which
 * may have learnt new ones), under a lock: test processes run in parallel. NULL when
 * ready, else why not. */
static inline const char *tls_certs_ready(void)
{
    static char why[2048];
    const char *dir = getenv("CURIO_TLS_CERTS");
    const char *script = getenv("CURIO_TLS_CERTS_SCRIPT");
    if (!dir || !script)
        return "CURIO_TLS_CERTS is not set (run through meson test)";
    if (system("openssl version >/dev/null 2>&1") != 0)
        return "the openssl command is not installed (./dev setup installs it)";
    snprintf(tls_dir, sizeof tls_dir, "%s", dir);
    char lock[600], done[600], cmd[1400];
    snprintf(lock, sizeof lock, "%s.lock", dir);
    snprintf(done, sizeof done, "%s/done", dir);
    int fd = open(lock, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) < 0) {
        snprintf(why, sizeof why, "cannot lock %s: %s", lock, strerror(errno));
        return why;
    }
    struct stat st, made_by;
    const char *failed = NULL;
    if (stat(done, &st) < 0 || st.st_mtime < time(NULL) - 86400 ||
        (stat(script, &made_by) == 0 && made_by.st_mtime >= st.st_mtime)) {
        snprintf(cmd, sizeof cmd, "'%s' '%s'", script, dir);
        if (system(cmd) != 0) {
            snprintf(why, sizeof why, "%s failed", cmd);
            failed = why;
        }
    }
    close(fd); /* and with it the lock */
    cr_assert_null(failed, "%s", failed);
    return NULL;
}

/* No certificates is a failure, not a skip: the openssl command is a dependency that
 * ./dev setup installs, and the rest is a broken test environment. */
#define TLS_REQUIRE()                                                                      \
    do {                                                                                   \
        cr_assert(curio_tls_available());                                                  \
        const char *why_ = tls_certs_ready();                                              \
        cr_assert_null(why_, "%s", why_);                                                  \
    } while (0)

/* The path of a certificate file (valid for the next 15 calls). */
static inline const char *cert(const char *name)
{
    static char paths[16][600];
    static int next;
    char *p = paths[next++ % 16];
    snprintf(p, sizeof paths[0], "%s/%s", tls_dir, name);
    return p;
}

static inline curio_tls_context *new_ctx(const curio_tls_options *o)
{
    curio_tls_context *ctx;
    int rc = curio_tls_context_new(&ctx, o);
    cr_assert_eq(rc, 0, "curio_tls_context_new: %s", curio_strerror(rc));
    return ctx;
}

/* A server context with one of the certificates (its key: server.key). */
static inline curio_tls_context *server_ctx(const char *certname)
{
    curio_tls_options o = {.server = true, .cert_file = cert(certname),
                           .key_file = cert("server.key")};
    return new_ctx(&o);
}

/* A client context trusting one CA file. */
static inline curio_tls_context *client_ctx(const char *caname)
{
    curio_tls_options o = {.ca_file = cert(caname)};
    return new_ctx(&o);
}

/* ---- a TLS server in a task of its own ---- */

struct tsrv {
    curio_tls_context *ctx;
    curio_server_options opts;    /* ssl_context, log, on_listen are filled in */
    long (*body)(curio_socket *c, struct tsrv *t);
    int port;
    curio_task *task;
    int rc;                       /* curio_run_server's */
    char log[8192];
    int nlog;
    int handled;                  /* handlers that ran */
    int ended;                    /* ... and returned */
    long last;                    /* the last handler's result */
    char sni[64], version[16], alpn[32];
    curio_event done_event;       /* set when a handler returns */
    curio_socket *ls;
    void *user;
};

static inline void tsrv_log(const char *msg, void *arg)
{
    struct tsrv *t = arg;
    size_t n = strlen(t->log);
    snprintf(t->log + n, sizeof t->log - n, "%s\n", msg);
    t->nlog++;
}

static inline long tsrv_handler(curio_socket *c, const curio_addr *addr, void *arg)
{
    (void)addr;
    struct tsrv *t = arg;
    t->handled++;
    const char *v = curio_tls_server_name(c);
    snprintf(t->sni, sizeof t->sni, "%s", v ? v : "(none)");
    v = curio_tls_version(c);
    snprintf(t->version, sizeof t->version, "%s", v ? v : "(none)");
    v = curio_tls_alpn(c);
    snprintf(t->alpn, sizeof t->alpn, "%s", v ? v : "(none)");
    long r = t->body(c, t);
    t->last = r;
    t->ended++;
    curio_event_set(&t->done_event);
    return r;
}

static inline long tsrv_main(void *arg)
{
    struct tsrv *t = arg;
    t->rc = curio_run_server(t->ls, tsrv_handler, t, &t->opts);
    return 0;
}

/* Start a server with t->ctx (and t->opts) in a task of its own; t->port is set at once. */
static inline void tsrv_start(struct tsrv *t)
{
    t->opts.ssl_context = t->ctx;
    t->opts.log = tsrv_log;
    curio_event_clear(&t->done_event);
    t->ls = listen_on("127.0.0.1", &t->port);
    t->task = curio_spawn(tsrv_main, t);
    cr_assert_not_null(t->task);
}

/* Cancel the server, wait for it and its clients, and drop its context. */
static inline void tsrv_stop(struct tsrv *t)
{
    cr_assert_eq(curio_cancel(t->task), 0);
    curio_task_release(t->task);
    cr_assert_eq(t->rc, -ECANCELED, "run_server: %s", curio_strerror(t->rc));
    curio_tls_context_release(t->ctx);
    t->ctx = NULL;
}

/* Wait until n handlers have returned. */
static inline void tsrv_wait_ended(struct tsrv *t, int n)
{
    while (t->ended < n) {
        cr_assert_eq(curio_event_wait(&t->done_event), 0);
        curio_event_clear(&t->done_event);
    }
}

/* Wait until the server has logged n messages (they come from client tasks). */
static inline void tsrv_wait_logs(struct tsrv *t, int n)
{
    for (int i = 0; t->nlog < n; i++) {
        cr_assert_lt(i, 2000, "only %d messages: %s", t->nlog, t->log);
        curio_sleep(0.005);
    }
}

/* The usual handler: echo until end of stream. */
static inline long echo_body(curio_socket *c, struct tsrv *t)
{
    (void)t;
    char buf[20000];
    ssize_t n;
    while ((n = curio_recv(c, buf, sizeof buf, 0)) > 0) {
        ssize_t rc = curio_sendall(c, buf, (size_t)n, 0, NULL);
        if (rc < 0)
            return rc;
    }
    return n;
}

/* A TLS connection to the server on port, trusting ca (a client context made here). */
static inline int tls_connect(curio_socket **s, int port, const char *ca, const char *host)
{
    curio_tls_context *ctx = client_ctx(ca);
    curio_connect_options o = {.ssl_context = ctx, .server_hostname = host};
    int rc = curio_open_connection(s, "127.0.0.1", (uint16_t)port, &o);
    curio_tls_context_release(ctx);
    return rc;
}

/* ---- a relay between a client and a server, on loopback ----
 * The client connects to relay.port; the relay connects to the server's port and copies
 * bytes both ways. Towards the client (down), it can stop after `hold_after` bytes until
 * `release` is set, or reset the client's connection at byte `reset_at`. */
struct relay {
    int port, server_port;
    curio_socket *ls, *up, *down;   /* the listening socket; to the server; to the client */
    curio_task *task;
    long hold_after;                /* -1: never hold */
    long reset_at;                  /* -1: never reset */
    long down_bytes, up_bytes;      /* copied so far */
    bool holding;                   /* stopped at hold_after, waiting for release */
    bool up_silent;                 /* forward nothing towards the server */
    curio_event release;
    curio_event holding_event;      /* set when it stops */
};

struct pump {
    struct relay *r;
    bool down;
};

static inline long relay_pump(void *arg)
{
    struct pump *p = arg;
    struct relay *r = p->r;
    curio_socket *from = p->down ? r->up : r->down, *to = p->down ? r->down : r->up;
    char buf[65536];
    ssize_t n;
    while ((n = curio_recv(from, buf, sizeof buf, 0)) > 0) {
        size_t off = 0;
        while (off < (size_t)n) {
            size_t len = (size_t)n - off;
            long *count = p->down ? &r->down_bytes : &r->up_bytes;
            if (p->down && r->reset_at >= 0 && *count + (long)len > r->reset_at)
                len = (size_t)(r->reset_at - *count);
            if (p->down && r->hold_after >= 0 && !r->holding &&
                *count + (long)len > r->hold_after)
                len = (size_t)(r->hold_after - *count);
            if (len && (p->down || !r->up_silent) &&
                curio_sendall(to, buf + off, len, 0, NULL) < 0)
                return 0;
            off += len;
            *count += (long)len;
            if (p->down && r->reset_at >= 0 && *count == r->reset_at)
                return 0; /* relay_main resets the client's connection */
            if (p->down && r->hold_after >= 0 && *count == r->hold_after && !r->holding) {
                r->holding = true;
                curio_event_set(&r->holding_event);
                if (curio_event_wait(&r->release) < 0)
                    return 0;
            }
        }
    }
    curio_socket_shutdown(to, SHUT_WR);
    return 0;
}

static inline long relay_main(void *arg)
{
    struct relay *r = arg;
    int rc = curio_accept(r->ls, &r->down, NULL);
    if (rc < 0)
        return rc;
    rc = curio_open_connection(&r->up, "127.0.0.1", (uint16_t)r->server_port, NULL);
    if (rc < 0)
        return rc;
    struct pump up = {r, false}, down = {r, true};
    curio_task *a = curio_spawn(relay_pump, &up), *b = curio_spawn(relay_pump, &down);
    curio_join(b, NULL);
    curio_scope sc; /* the pumps use this frame: they end before it does */
    curio_disable_cancellation(&sc);
    curio_cancel(a);
    curio_cancel(b);
    curio_scope_close(&sc);
    curio_task_release(a);
    curio_task_release(b);
    if (r->reset_at >= 0 && r->down_bytes == r->reset_at) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        curio_socket_setsockopt(r->down, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        curio_socket_close(r->down); /* a reset (RST) */
        r->down = NULL;
    }
    return 0;
}

static inline void relay_start(struct relay *r, int server_port)
{
    r->server_port = server_port;
    r->ls = listen_on("127.0.0.1", &r->port);
    r->task = curio_spawn(relay_main, r);
    cr_assert_not_null(r->task);
}

static inline void relay_stop(struct relay *r)
{
    curio_cancel(r->task);
    curio_task_release(r->task);
    curio_socket_close(r->ls);
    if (r->up)
        curio_socket_close(r->up);
    if (r->down)
        curio_socket_close(r->down);
}

#endif
