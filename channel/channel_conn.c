/*
 * channel/channel_conn.c - Curio's channel Connection: length-prefixed messages over a
 * socket's stream in multiprocessing.connection's framing; receives that survive an
 * interruption in the middle of a message, and sends that commit theirs.
 */
#include "channel_priv.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_MESSAGE (64u << 20)
#define SHORT_MAX 0x7fffffffu /* the longest message with a 4-byte header */

int curio_connection_open(curio_connection **out, curio_socket *sock,
                          const curio_channel_options *opts)
{
    if (!out || !sock) {
        if (sock)
            curio_socket_close(sock);
        return -EINVAL;
    }
    *out = NULL;
    curio_connection *c = calloc(1, sizeof *c);
    int rc = c ? curio_socket_as_stream(sock, &c->stream, NULL) : -ENOMEM;
    if (rc < 0) {
        free(c);
        curio_socket_close(sock);
        return rc;
    }
    c->sock = sock;
    c->max_message = opts && opts->max_message ? opts->max_message : DEFAULT_MAX_MESSAGE;
    if (c->max_message > SSIZE_MAX)
        c->max_message = SSIZE_MAX;
    c->legacy_md5 = opts && opts->legacy_md5;
    *out = c;
    return 0;
}

curio_socket *curio_connection_socket(const curio_connection *c) { return c ? c->sock : NULL; }

static void conn_free(curio_connection *c)
{
    free(c->msg);
    free(c->pending);
    free(c);
}

int curio_connection_close(curio_connection *c)
{
    if (!c || c->gate.closing)
        return 0;
    curio_socket_close(c->sock); /* wakes a task blocked on it: -EBADF */
    c->sock = NULL;
    c->stream = NULL;
    if (curio__gate_close(&c->gate))
        conn_free(c);
    return 0;
}

static const unsigned gate_dir[] = {[CURIO__FD_READ] = CURIO__GATE_READ,
                                    [CURIO__FD_WRITE] = CURIO__GATE_WRITE};

/* Enter c for one direction (CURIO__FD_READ or CURIO__FD_WRITE): the trap check, the
 * gate (-EBADF, -EBUSY for a second task in that direction), the sticky failure. */
static int enter(curio_connection *c, unsigned dir)
{
    if (!c)
        return -EINVAL;
    curio__task *self = curio__self();
    int rc = curio__trap_check(self);
    if (rc < 0)
        return rc;
    if ((rc = curio__gate_enter(&c->gate, self, gate_dir[dir])) < 0)
        return rc;
    if (c->broken) {
        rc = c->broken;
        curio__gate_leave_rc(&c->gate, gate_dir[dir], &rc); /* not closing: no free */
    }
    return rc;
}

static ssize_t leave(curio_connection *c, unsigned dir, ssize_t rc)
{
    if (curio__gate_leave(&c->gate, gate_dir[dir], &rc))
        conn_free(c);
    return rc;
}

int curio__connection_hold(curio_connection *c)
{
    return curio__gate_enter(&c->gate, curio__self(), 0);
}

int curio__connection_release(curio_connection *c, int rc)
{
    if (curio__gate_leave_rc(&c->gate, 0, &rc))
        conn_free(c);
    return rc;
}

/* Interruptions leave the message in progress for the next call; anything else that
 * fails in the middle of a message loses the framing for good. */
static bool interruption(ssize_t rc)
{
    return rc == -ETIMEDOUT || rc == -ECANCELED || rc == -ENOMEM;
}

static ssize_t fail(curio_connection *c, ssize_t rc)
{
    if (rc < 0 && !interruption(rc) && rc != -EBUSY && rc != -EOVERFLOW && !c->broken)
        c->broken = (int)rc;
    return rc;
}

/* ---- receiving ---- */

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The header of the next message, across interruptions. */
static ssize_t read_header(curio_connection *c)
{
    while (!c->have_len) {
        size_t need = c->hdr_got < 4 ? 4 : 12, done;
        ssize_t r = curio_stream_read_exactly(c->stream, c->hdr + c->hdr_got,
                                              need - c->hdr_got, &done);
        c->hdr_got += done;
        if (r == CURIO_EINCOMPLETE)
            r = c->hdr_got == 0 ? CURIO_ECLOSED : CURIO_EINCOMPLETE;
        if (r < 0)
            return fail(c, r);
        if (c->hdr_got == 4) {
            int32_t n = (int32_t)(uint32_t)be(c->hdr, 4);
            if (n == -1)
                continue; /* the long form: an 8-byte length follows */
            if (n < 0)
                return fail(c, -EPROTO);
            c->len = (uint64_t)n;
        } else {
            c->len = be(c->hdr + 4, 8);
        }
        c->have_len = true;
    }
    return c->len > c->max_message ? fail(c, -EMSGSIZE) : 0;
}

static void message_done(curio_connection *c)
{
    c->hdr_got = 0;
    c->have_len = false;
    c->msg = NULL;
    c->msg_got = 0;
}

/* One message: into buf (cap bytes) if buf, else into a buffer from malloc in *out. */
static ssize_t recv_message(curio_connection *c, char *buf, size_t cap, char **out)
{
    ssize_t r = read_header(c);
    if (r < 0)
        return r;
    size_t len = (size_t)c->len, done;
    if (buf && len > cap)
        return -EOVERFLOW; /* nothing consumed but the header, which is kept */
    if (buf && !c->msg) {
        /* Straight into the caller's buffer; if interrupted, what came is kept. */
        r = curio_stream_read_exactly(c->stream, buf, len, &done);
        if (r >= 0) {
            message_done(c);
            return (ssize_t)len;
        }
        if (done && interruption(r)) {
            if (!(c->msg = malloc(len)))
                return fail(c, -ENOMEM); /* those bytes are gone: so is the framing */
            memcpy(c->msg, buf, done);
            c->msg_got = done;
        }
        return fail(c, r);
    }
    if (!c->msg && !(c->msg = malloc(len ? len : 1)))
        return -ENOMEM; /* nothing of it consumed: the next call tries again */
    r = curio_stream_read_exactly(c->stream, c->msg + c->msg_got, len - c->msg_got, &done);
    c->msg_got += done;
    if (r < 0)
        return fail(c, r);
    if (buf) {
        memcpy(buf, c->msg, len);
        free(c->msg);
    } else {
        *out = c->msg;
    }
    message_done(c);
    return (ssize_t)len;
}

ssize_t curio_connection_recv(curio_connection *c, void **msg, size_t *len)
{
    if (msg)
        *msg = NULL;
    if (len)
        *len = 0;
    if (!msg || !len)
        return -EINVAL;
    int rc = enter(c, CURIO__FD_READ);
    if (rc < 0)
        return rc;
    char *m = NULL;
    ssize_t r = leave(c, CURIO__FD_READ, recv_message(c, NULL, 0, &m));
    if (r >= 0) {
        *msg = m;
        *len = (size_t)r;
    } else {
        free(m); /* received as the connection was closed under the caller */
    }
    return r;
}

ssize_t curio_connection_recv_into(curio_connection *c, void *buf, size_t cap)
{
    if (!buf && cap)
        return -EINVAL;
    int rc = enter(c, CURIO__FD_READ);
    if (rc < 0)
        return rc;
    return leave(c, CURIO__FD_READ, recv_message(c, buf ? buf : (char *)"", cap, NULL));
}

/* ---- sending ---- */

/* Send what a committed message left. */
static ssize_t send_pending(curio_connection *c)
{
    size_t done;
    ssize_t r = curio_stream_write(c->stream, c->pending + c->pending_off,
                                   c->pending_len - c->pending_off, &done);
    c->pending_off += done;
    if (r < 0)
        return fail(c, r);
    free(c->pending);
    c->pending = NULL;
    return 0;
}

/* An interrupted send took `done` of the total bytes of iov: keep the rest, so that the
 * message goes out whole before the next one. */
static ssize_t commit(curio_connection *c, const struct iovec *iov, int cnt, size_t done)
{
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    if (!(c->pending = malloc(total - done)))
        return fail(c, -ENOMEM); /* half a message went: the framing is lost */
    size_t at = 0, skip = done;
    for (int i = 0; i < cnt; i++) {
        size_t k = iov[i].iov_len < skip ? iov[i].iov_len : skip;
        skip -= k;
        memcpy(c->pending + at, (const char *)iov[i].iov_base + k, iov[i].iov_len - k);
        at += iov[i].iov_len - k;
    }
    c->pending_off = 0;
    c->pending_len = at;
    return 0;
}

static ssize_t send_message(curio_connection *c, const void *buf, size_t n)
{
    ssize_t r = c->pending ? send_pending(c) : 0;
    if (r < 0)
        return r;
    uint8_t hdr[12];
    size_t hl = 4;
    uint64_t len = n;
    if (n > SHORT_MAX) {
        memset(hdr, 0xff, 4); /* -1, then the length in 8 bytes */
        for (int i = 0; i < 8; i++)
            hdr[4 + i] = (uint8_t)(len >> (56 - 8 * i));
        hl = 12;
    } else {
        for (int i = 0; i < 4; i++)
            hdr[i] = (uint8_t)(len >> (24 - 8 * i));
    }
    struct iovec iov[2] = {{hdr, hl}, {(void *)buf, n}};
    int cnt = n ? 2 : 1;
    size_t done;
    r = curio_stream_writelines(c->stream, iov, cnt, &done);
    if (r >= 0)
        return 0;
    if (done && (r == -ETIMEDOUT || r == -ECANCELED))
        return commit(c, iov, cnt, done);
    return done ? fail(c, r) : r; /* nothing went: the connection is as it was */
}

int curio_connection_send(curio_connection *c, const void *buf, size_t n)
{
    if (!buf && n)
        return -EINVAL;
    int rc = enter(c, CURIO__FD_WRITE);
    if (rc < 0)
        return rc;
    return (int)leave(c, CURIO__FD_WRITE, send_message(c, buf, n));
}
