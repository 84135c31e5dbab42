/*
 * tls/tls_socket.c - TLS sessions on sockets: wrapping, the handshake, receiving and
 * sending plaintext, shutdown and close, the stream transport, and what a session tells
 * about itself.
 *
 * Every call here follows one pattern: enter the socket's gate for the direction(s) it
 * needs (the trap check, ResourceBusy, a user count that keeps the handle alive), call
 * wolfSSL (which never waits: see tls_priv.h), and in between move ciphertext
 * (tls/tls_io.c). The socket calls reach this file through its transport table
 * (curio__tls_transport, net/net.h).
 */
#include "tls_priv.h"
#include "../io/io.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { R = CURIO__GATE_READ, W = CURIO__GATE_WRITE };

/* ---- the handshake ---- */

static void note_details(struct curio__tls *t)
{
    char *proto;
    unsigned short len;
    if (wolfSSL_ALPN_GetProtocol(t->ssl, &proto, &len) == WOLFSSL_SUCCESS && len)
        t->alpn = strndup(proto, len); /* NULL without memory: then none is reported */
    if (t->server) {
        void *name = NULL;
        unsigned short n = wolfSSL_SNI_GetRequest(t->ssl, WOLFSSL_SNI_HOST_NAME, &name);
        if (n && name)
            t->sni = strndup(name, n);
    }
}

/* The handshake; the caller holds both directions. */
static int shake(struct curio__tls *t, curio_socket *s)
{
    if (!t->handshaken)
        curio__tls_thread_used(); /* the handshake's ECC fills this thread's cache */
    while (!t->handshaken) {
        if (t->fatal)
            return t->fatal;
        int r = t->server ? wolfSSL_accept(t->ssl) : wolfSSL_connect(t->ssl);
        if (r == WOLFSSL_SUCCESS) {
            t->handshaken = true;
            note_details(t);
            break;
        }
        int err = wolfSSL_get_error(t->ssl, r);
        if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE) {
            int code = curio__tls_fail(t, err);
            curio__tls_push_nowait(t, s->fd); /* the alert that tells the peer why */
            return code;
        }
        int rc = curio__tls_flush(t, s);
        if (rc < 0)
            return rc;
        if (t->rerr)
            return t->rerr;
        if (t->eof)
            return -ECONNRESET; /* the peer left in the middle of it */
        ssize_t f = curio__tls_fill(t, s);
        if (f == 0) {
            t->eof = true;
            return -ECONNRESET;
        }
        if (f < 0) {
            if (!curio__tls_interruption(f))
                t->rerr = (int)f;
            return (int)f;
        }
    }
    return curio__tls_flush(t, s); /* the last flight (and a server's session tickets) */
}

/* The handshake from a receive or a send, which holds one direction: it borrows the
 * other, or says -EBUSY if another task holds it. */
static int ensure_handshake(curio_socket *s)
{
    struct curio__tls *t = s->transport_ctx;
    if (t->handshaken)
        return 0;
    curio__task *self = curio__self();
    curio__gate *g = &s->gate;
    if ((g->reader && g->reader != self) || (g->writer && g->writer != self))
        return -EBUSY;
    curio__task *had_r = g->reader, *had_w = g->writer;
    g->reader = g->writer = self;
    int rc = shake(t, s);
    g->reader = had_r;
    g->writer = had_w;
    return rc;
}

/* ---- receiving ---- */

static ssize_t read_some(curio_socket *s, char *buf, size_t n, bool peek)
{
    struct curio__tls *t = s->transport_ctx;
    int len = n > INT_MAX ? INT_MAX : (int)n;
    for (;;) {
        if (t->fatal)
            return t->fatal;
        if (t->peer_closed)
            return 0;
        size_t before = t->in_start;
        int r = peek ? wolfSSL_peek(t->ssl, buf, len) : wolfSSL_read(t->ssl, buf, len);
        if (r > 0)
            return r;
        int err = wolfSSL_get_error(t->ssl, r);
        if (err == WOLFSSL_ERROR_ZERO_RETURN) {
            t->peer_closed = true; /* its close_notify: end of stream */
            return 0;
        }
        if (err != WOLFSSL_ERROR_WANT_READ) {
            int code = curio__tls_fail(t, err);
            curio__tls_push_nowait(t, s->fd);
            return code;
        }
        if (t->in_start != before && t->in_end > t->in_start)
            continue; /* it stopped after a handshake message with more input at hand */
        if (t->rerr)
            return t->rerr;
        if (t->eof)
            return 0; /* closed without a close_notify: end of stream all the same */
        /* Before waiting for input, send what is queued: a peer waiting for our answer
         * (a key update, the rest of an interrupted send) would never send more. */
        int rc = curio__tls_flush_if_free(t, s);
        if (rc < 0 && curio__tls_interruption(rc))
            return rc;
        ssize_t f = curio__tls_fill(t, s);
        if (f == 0)
            t->eof = true;
        else if (f < 0 && curio__tls_interruption(f))
            return f;
        else if (f < 0)
            t->rerr = (int)f;
    }
}

static ssize_t tls_recv(curio_socket *s, void *buf, size_t n, int flags)
{
    int rc = curio__tls_enter(s, R);
    if (rc < 0)
        return rc;
    ssize_t r;
    if (flags & ~(MSG_PEEK | MSG_WAITALL))
        r = -EOPNOTSUPP;
    else if (!buf && n)
        r = -EFAULT; /* as the plain call's kernel says; wolfSSL would fail the session */
    else if ((r = ensure_handshake(s)) == 0 && n) {
        size_t got = 0;
        do {
            r = read_some(s, (char *)buf + got, n - got, flags & MSG_PEEK);
            if (r > 0)
                got += (size_t)r;
        } while (r > 0 && got < n && (flags & MSG_WAITALL) && !(flags & MSG_PEEK));
        if (got)
            r = (ssize_t)got; /* an interruption after some bytes: at the next call */
    }
    return curio__tls_leave(s, R, r);
}

/* ---- sending ---- */

static int writable(const struct curio__tls *t)
{
    if (t->fatal)
        return t->fatal;
    if (t->werr)
        return t->werr;
    return t->wshut ? -EPIPE : 0;
}

/* A position in an iovec array. */
typedef struct cursor {
    const struct iovec *iov;
    int cnt, i;
    size_t off;
} cursor;

static void skip_empty(cursor *c)
{
    while (c->i < c->cnt && c->iov[c->i].iov_len == c->off) {
        c->i++;
        c->off = 0;
    }
}

/* Copy up to max bytes from the cursor into dst, moving it on. */
static size_t gather(cursor *c, char *dst, size_t max)
{
    size_t n = 0;
    for (skip_empty(c); n < max && c->i < c->cnt; skip_empty(c)) {
        size_t left = c->iov[c->i].iov_len - c->off;
        size_t k = left < max - n ? left : max - n;
        memcpy(dst + n, (const char *)c->iov[c->i].iov_base + c->off, k);
        c->off += k;
        n += k;
    }
    return n;
}

/* Encrypt up to limit bytes from the cursor into records, one wolfSSL_write each (no
 * I/O: the records go to the queue). Pieces shorter than a record that are followed by
 * more (a stream's writelines) are gathered into one record. *done = bytes encrypted. */
static int encrypt(struct curio__tls *t, cursor *c, size_t limit, size_t *done)
{
    *done = 0;
    for (skip_empty(c); *done < limit && c->i < c->cnt; skip_empty(c)) {
        size_t room = limit - *done < CURIO__TLS_RECORD ? limit - *done : CURIO__TLS_RECORD;
        size_t here = c->iov[c->i].iov_len - c->off;
        const char *p = (const char *)c->iov[c->i].iov_base + c->off;
        size_t len;
        if (here >= room || c->i + 1 == c->cnt) {
            len = here < room ? here : room;
            c->off += len;
        } else {
            if (!t->stage && !(t->stage = malloc(CURIO__TLS_RECORD)))
                return -ENOMEM; /* nothing of this record was taken */
            len = gather(c, t->stage, room);
            p = t->stage;
        }
        int r = wolfSSL_write(t->ssl, p, (int)len);
        if (r <= 0)
            return curio__tls_fail(t, wolfSSL_get_error(t->ssl, r));
        *done += len; /* our send callback takes whole records: r == len */
        curio__tls_mark(t, len);
    }
    return 0;
}

/* Encrypt up to limit bytes at the cursor and send them after what was queued. *done =
 * the bytes encrypted, which are the connection's from then on (curio/tls.h). */
static int put(curio_socket *s, cursor *c, size_t limit, size_t *done)
{
    struct curio__tls *t = s->transport_ctx;
    *done = 0;
    int rc = writable(t);
    if (rc == 0)
        rc = ensure_handshake(s);
    if (rc == 0 && t->out_head)
        rc = curio__tls_flush(t, s); /* what an interrupted call left goes first */
    if (rc == 0)
        rc = writable(t); /* a shutdown may have queued its close_notify meanwhile */
    if (rc == 0)
        rc = encrypt(t, c, limit, done);
    if (rc == 0)
        rc = curio__tls_flush(t, s);
    return rc;
}

/* A send's result: bytes encrypted count as sent when only an interruption kept their
 * ciphertext from going out at once. */
static ssize_t committed(int rc, size_t done)
{
    if (rc == 0 || (done && (rc == -ETIMEDOUT || rc == -ECANCELED)))
        return (ssize_t)done;
    return rc;
}

static ssize_t tls_send(curio_socket *s, const void *buf, size_t n, int flags)
{
    int rc = curio__tls_enter(s, W);
    if (rc < 0)
        return rc;
    ssize_t r = -EOPNOTSUPP;
    if (!buf && n) {
        r = -EFAULT;
    } else if (!(flags & ~(MSG_NOSIGNAL | MSG_WAITALL))) { /* all of it goes anyway */
        struct iovec v = {(void *)buf, n};
        cursor c = {&v, 1, 0, 0};
        size_t done;
        rc = put(s, &c, CURIO__TLS_BATCH, &done);
        r = committed(rc, done);
    }
    return curio__tls_leave(s, W, r);
}

static ssize_t tls_sendall(curio_socket *s, const void *buf, size_t n, int flags,
                           size_t *sent)
{
    size_t total = 0;
    ssize_t rc = flags & ~(MSG_NOSIGNAL | MSG_WAITALL) ? -EOPNOTSUPP
                 : !buf && n                            ? -EFAULT
                                                        : curio__tls_enter(s, W);
    if (rc == 0) {
        struct iovec v = {(void *)buf, n};
        cursor c = {&v, 1, 0, 0};
        do {
            size_t done;
            rc = put(s, &c, CURIO__TLS_BATCH, &done);
            total += done;
        } while (rc == 0 && total < n);
        rc = curio__tls_leave(s, W, rc);
    }
    if (sent)
        *sent = total;
    return rc < 0 ? rc : (ssize_t)total;
}

/* ---- the stream transport ---- */

static ssize_t xrecv(void *arg, void *buf, size_t n) { return tls_recv(arg, buf, n, 0); }

static ssize_t xsendv(void *arg, const struct iovec *iov, int cnt)
{
    curio_socket *s = arg;
    int rc = curio__tls_enter(s, W);
    if (rc < 0)
        return rc;
    cursor c = {iov, cnt, 0, 0};
    size_t done;
    rc = put(s, &c, CURIO__TLS_BATCH, &done);
    return curio__tls_leave(s, W, committed(rc, done));
}

/* No close: the session belongs to the socket, which outlives its stream. */
static const curio__stream_transport tls_stream_transport = {xrecv, xsendv, NULL};

/* ---- wrapping ---- */

static bool waited_on(const curio_socket *s)
{
    curio_kernel *k = curio__tls_kernel;
    return k && (curio__fd_claimant(k, s->fd, CURIO__FD_READ) ||
                 curio__fd_claimant(k, s->fd, CURIO__FD_WRITE));
}

static int setup(struct curio__tls *t, const curio_tls_context *ctx, const char *host)
{
    wolfSSL_SetIOReadCtx(t->ssl, t);
    wolfSSL_SetIOWriteCtx(t->ssl, t);
    if (!ctx->server && host && *host) {
        int rc = curio__tls_ref_parse(&t->peer, host);
        if (rc < 0)
            return rc;
        /* The verify callback (curio__tls_verify_name) finds the session here. */
        t->check_name = ctx->check_hostname;
        wolfSSL_SetCertCbCtx(t->ssl, t);
        if (!t->peer.ip && wolfSSL_UseSNI(t->ssl, WOLFSSL_SNI_HOST_NAME, t->peer.name,
                                          (unsigned short)t->peer.len) != WOLFSSL_SUCCESS)
            return -ENOMEM;
    }
    if (ctx->alpn) {
        /* wolfSSL takes the list as char *: give it a copy of its own. */
        char *list = strdup(ctx->alpn);
        int rc = list && wolfSSL_UseALPN(t->ssl, list, (unsigned)strlen(list),
                                         WOLFSSL_ALPN_CONTINUE_ON_MISMATCH) == WOLFSSL_SUCCESS
                     ? 0
                     : -ENOMEM;
        free(list);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int curio_tls_wrap(curio_socket *s, curio_tls_context *ctx, const char *server_hostname)
{
    if (!s || !ctx)
        return -EINVAL;
    if (s->fd < 0)
        return -EBADF;
    if (s->transport)
        return -EISCONN; /* TLS already, or another transport */
    if (s->type != SOCK_STREAM)
        return -EINVAL;
    if (s->gate.lent || waited_on(s) || (s->stream && curio_stream_buffered(s->stream)) ||
        s->mshot) /* buffer mode (curio_recv_buf): its queue may hold plaintext bytes */
        return -EBUSY;
    if (!ctx->server && ctx->check_hostname && (!server_hostname || !*server_hostname))
        return -EINVAL;
    struct curio__tls *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->shut_how = -1;
    t->alert = -1;
    t->server = ctx->server;
    t->sock = s;
    int rc = (t->ssl = wolfSSL_new(ctx->wctx)) ? setup(t, ctx, server_hostname) : -ENOMEM;
    if (rc < 0) {
        if (t->ssl)
            wolfSSL_free(t->ssl);
        free(t);
        wolfSSL_ERR_clear_error();
        return rc;
    }
    t->ctx = curio__tls_context_retain(ctx);
    curio__socket_set_transport(s, &curio__tls_transport, t);
    /* Records are gathered into one send per call already; Nagle's algorithm would only
     * hold a small flight sent right after another back until the peer's delayed ACK
     * (tests/net/test_tls_io.c's key updates: 60-70 ms for three rounds with it, 10-30
     * without). Unix sockets are left alone. */
    int one = 1;
    if (s->family == AF_INET || s->family == AF_INET6)
        setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

int curio_tls_handshake(curio_socket *s)
{
    struct curio__tls *t = curio__tls_of(s);
    if (!t)
        return -EINVAL;
    int rc = curio__tls_enter(s, R | W);
    if (rc < 0)
        return rc;
    return (int)curio__tls_leave(s, R | W, shake(t, s));
}

int curio_tls_flush(curio_socket *s)
{
    struct curio__tls *t = curio__tls_of(s);
    if (!t)
        return -EINVAL;
    int rc = curio__tls_enter(s, W);
    if (rc < 0)
        return rc;
    rc = t->fatal ? t->fatal : curio__tls_flush(t, s);
    return (int)curio__tls_leave(s, W, rc);
}

int curio__tls_client_start(curio_socket *s, const curio_connect_options *o, const char *host)
{
    curio_tls_context *ctx = o->ssl_context;
    int rc = 0;
    if (!ctx)
        rc = curio__tls_default_client(&ctx);
    else if (ctx->server)
        rc = -EINVAL;
    if (rc == 0)
        rc = curio_tls_wrap(s, ctx, o->server_hostname ? o->server_hostname : host);
    return rc < 0 ? rc : curio_tls_handshake(s);
}

int curio__tls_server_start(curio_socket *s, curio_tls_context *ctx, double timeout)
{
    int rc = curio_tls_wrap(s, ctx, NULL);
    if (rc < 0)
        return rc;
    curio_scope sc;
    if (timeout >= 0 && (rc = curio_timeout_after(&sc, timeout)) < 0)
        return rc;
    rc = curio_tls_handshake(s);
    if (timeout >= 0)
        curio_scope_close(&sc); /* an expiry is the handshake's -ETIMEDOUT already */
    return rc;
}

/* ---- shutdown, close, free ---- */

/* Queue our close_notify, once, if the session is in a state to send one. */
static void queue_close_notify(struct curio__tls *t)
{
    if (t->wshut)
        return;
    t->wshut = true;
    if (t->handshaken && !t->fatal && !t->werr) {
        wolfSSL_shutdown(t->ssl); /* queues the alert; says "not done" until the peer's */
        wolfSSL_ERR_clear_error();
    }
}

static int tls_shutdown(curio_socket *s, int how)
{
    struct curio__tls *t = s->transport_ctx;
    if (how != SHUT_WR && how != SHUT_RDWR)
        return shutdown(s->fd, how) < 0 ? -errno : 0;
    queue_close_notify(t);
    if (t->shut_how != SHUT_RDWR)
        t->shut_how = how;
    if (s->gate.writer)
        return 0; /* the task sending sends the queue, and then shuts down */
    curio__tls_push_nowait(t, s->fd);
    return t->out_head && !t->werr ? 0 : curio__tls_apply_shutdown(t, s);
}

static void tls_closing(curio_socket *s, int fd)
{
    struct curio__tls *t = s->transport_ctx;
    if (s->gate.writer)
        return; /* its operation may be reading the queue: not ours to send */
    queue_close_notify(t);
    if (!t->werr)
        curio__tls_push_nowait(t, fd);
}

static void tls_free(void *ctx)
{
    struct curio__tls *t = ctx;
    wolfSSL_free(t->ssl);
    curio__tls_drop_queue(t);
    free(t->in);
    free(t->stage);
    free(t->alpn);
    free(t->sni);
    curio_tls_context_release(t->ctx);
    free(t);
}

/* The socket calls of a TLS socket (net/net.h). */
const curio__socket_transport curio__tls_transport = {
    .recv = tls_recv,
    .send = tls_send,
    .sendall = tls_sendall,
    .shutdown = tls_shutdown,
    .closing = tls_closing,
    .free = tls_free,
    .stream = &tls_stream_transport,
};

/* ---- what a session tells ---- */

bool curio_tls_active(const curio_socket *s) { return curio__tls_of(s); }

size_t curio_tls_unsent(const curio_socket *s)
{
    const struct curio__tls *t = curio__tls_of(s);
    return t ? t->unsent : 0;
}

static const struct curio__tls *done_tls(const curio_socket *s)
{
    const struct curio__tls *t = curio__tls_of(s);
    return t && t->handshaken ? t : NULL;
}

const char *curio_tls_version(const curio_socket *s)
{
    const struct curio__tls *t = done_tls(s);
    return t ? wolfSSL_get_version(t->ssl) : NULL;
}

const char *curio_tls_cipher(const curio_socket *s)
{
    const struct curio__tls *t = done_tls(s);
    return t ? wolfSSL_get_cipher(t->ssl) : NULL;
}

const char *curio_tls_alpn(const curio_socket *s)
{
    const struct curio__tls *t = done_tls(s);
    return t ? t->alpn : NULL;
}

const char *curio_tls_server_name(const curio_socket *s)
{
    const struct curio__tls *t = done_tls(s);
    return t ? t->sni : NULL;
}

int curio_tls_error(const curio_socket *s, char *buf, size_t cap)
{
    if (!s || (!buf && cap))
        return -EINVAL;
    if (cap)
        buf[0] = 0;
    const struct curio__tls *t = curio__tls_of(s);
    if (!t || !t->fatal)
        return 0;
    char reason[WOLFSSL_MAX_ERROR_SZ];
    wolfSSL_ERR_error_string_n((unsigned long)t->wolf_error, reason, sizeof reason);
    if (cap && t->alert >= 0)
        snprintf(buf, cap, "%s (alert from the peer: %s)", reason,
                 wolfSSL_alert_desc_string_long(t->alert));
    else if (cap)
        snprintf(buf, cap, "%s", reason);
    return t->wolf_error;
}
