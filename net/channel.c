/*
 * net/channel.c - Curio's curio.channel: the addresses connections are accepted on and
 * connected to, with Curio's retries and its authentication timeout. The connections are
 * in channel_conn.c, the authentication in channel_auth.c.
 */
#include "channel_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct curio_channel {
    char *host;                  /* TCP: the host (NULL: any / 127.0.0.1) */
    uint16_t port;
    char *path;                  /* Unix: the path */
    curio_channel_options opts;
    curio_socket *ls;            /* once bound; NULL again once closed */
    curio__gate gate;            /* tasks in accept and connect: the channel is freed when
                                    the last of them leaves after close (kernel/gate.h) */
};

static int channel_new(curio_channel **out, const char *host, const char *path,
                       uint16_t port, const curio_channel_options *opts)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    curio_channel *ch = calloc(1, sizeof *ch);
    if (!ch)
        return -ENOMEM;
    if ((host && *host && !(ch->host = strdup(host))) || (path && !(ch->path = strdup(path)))) {
        free(ch->host);
        free(ch);
        return -ENOMEM;
    }
    ch->port = port;
    if (opts)
        ch->opts = *opts;
    if (ch->opts.auth_timeout == 0)
        ch->opts.auth_timeout = 1; /* Curio's */
    if (ch->opts.retry_interval <= 0)
        ch->opts.retry_interval = 1;
    if (ch->opts.backlog <= 0)
        ch->opts.backlog = 5;
    *out = ch;
    return 0;
}

int curio_channel_tcp(curio_channel **out, const char *host, uint16_t port,
                      const curio_channel_options *opts)
{
    return channel_new(out, host, NULL, port, opts);
}

int curio_channel_unix(curio_channel **out, const char *path, const curio_channel_options *opts)
{
    curio_addr a;
    int rc = curio_addr_unix(&a, path); /* the checks, now rather than at bind */
    return rc < 0 ? (out ? (*out = NULL, rc) : rc) : channel_new(out, NULL, path, 0, opts);
}

static void channel_free(curio_channel *ch)
{
    if (ch->ls)
        curio_socket_close(ch->ls); /* bound by an accept that the close overtook */
    free(ch->host);
    free(ch->path);
    free(ch);
}

/* A task blocked in accept's wait for a client is woken by the socket's close; one inside
 * an authentication or a connect attempt finishes that step, sees the gate closing and
 * returns -EBADF; the last of them frees the channel. */
void curio_channel_close(curio_channel *ch)
{
    if (!ch || ch->gate.closing)
        return;
    if (ch->ls)
        curio_socket_close(ch->ls);
    ch->ls = NULL;
    if (curio__gate_close(&ch->gate))
        channel_free(ch);
}

/* Enter ch for an accept or a connect: -EINVAL, -EPERM, -EBADF (closed). */
static int chan_enter(curio_channel *ch)
{
    if (!ch)
        return -EINVAL;
    curio__task *self = curio__self();
    return self ? curio__gate_enter(&ch->gate, self, 0) : -EPERM;
}

/* Leave it: rc, or -EBADF if ch was closed meanwhile (then *out, if made, is closed). */
static int chan_leave(curio_channel *ch, int rc, curio_connection **out)
{
    if (curio__gate_leave_rc(&ch->gate, 0, &rc))
        channel_free(ch);
    if (rc < 0 && *out) {
        curio_connection_close(*out);
        *out = NULL;
    }
    return rc;
}

int curio_channel_bind(curio_channel *ch)
{
    int rc = curio__trap_check(curio__self());
    if (rc < 0)
        return rc;
    if (!ch)
        return -EINVAL;
    if (ch->ls)
        return 0;
    curio_server_options o = {.backlog = ch->opts.backlog};
    if (ch->path)
        return curio_unix_server_socket(&ch->ls, ch->path, &o);
    return curio_tcp_server_socket(&ch->ls, ch->host, ch->port, &o);
}

int curio_channel_address(const curio_channel *ch, curio_addr *a)
{
    if (!ch || !a)
        return -EINVAL;
    if (!ch->ls)
        return -ENOTCONN;
    return curio_socket_getsockname(ch->ls, a);
}

__attribute__((format(printf, 2, 3))) static void chan_log(const curio_channel *ch,
                                                           const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ch->opts.log)
        ch->opts.log(msg, ch->opts.log_arg);
    else
        fprintf(stderr, "curio: %s\n", msg);
}

/* Run one side of the authentication under auth_timeout. *own_timeout: it was that
 * timeout (not the caller's) that expired. */
static int authenticate(curio_channel *ch, curio_connection *c, bool server,
                        const void *key, size_t keylen, bool *own_timeout)
{
    *own_timeout = false;
    curio_scope sc;
    bool scoped = ch->opts.auth_timeout >= 0;
    int rc = scoped ? curio_timeout_after(&sc, ch->opts.auth_timeout) : 0;
    if (rc < 0)
        return rc;
    rc = server ? curio_connection_authenticate_server(c, key, keylen)
                : curio_connection_authenticate_client(c, key, keylen);
    if (scoped && curio_scope_close(&sc) == -ETIMEDOUT)
        *own_timeout = true;
    return rc;
}

static int accept_in(curio_channel *ch, curio_connection **out, const void *authkey,
                     size_t keylen)
{
    int rc = curio_channel_bind(ch);
    while (rc == 0 && !ch->gate.closing) {
        curio_socket *s;
        curio_addr peer;
        if ((rc = curio_accept(ch->ls, &s, &peer)) < 0)
            break;
        curio_connection *c;
        if ((rc = curio_connection_open(&c, s, &ch->opts)) < 0)
            break;
        if (!authkey) {
            *out = c;
            return 0;
        }
        bool own_timeout;
        int why = authenticate(ch, c, true, authkey, keylen, &own_timeout);
        if (why == 0) {
            *out = c;
            return 0;
        }
        curio_connection_close(c);
        if ((rc = curio_check_cancellation()) < 0)
            break; /* the caller's own cancellation or timeout */
        char who[CURIO_ADDR_STRLEN];
        curio_addr_format(&peer, who, sizeof who);
        if (own_timeout)
            chan_log(ch, "channel: client %s: no authentication within %g s; dropped", who,
                     ch->opts.auth_timeout);
        else
            chan_log(ch, "channel: client %s: %s; dropped", who, curio_strerror(why));
    }
    return rc;
}

int curio_channel_accept(curio_channel *ch, curio_connection **out, const void *authkey,
                         size_t keylen)
{
    if (out)
        *out = NULL;
    if (!out || (!authkey && keylen))
        return -EINVAL;
    int rc = chan_enter(ch);
    return rc < 0 ? rc : chan_leave(ch, accept_in(ch, out, authkey, keylen), out);
}

/* Worth another attempt: nobody listens yet, or the connection broke on the way. */
static bool retry_later(int rc, bool unix_path)
{
    return rc == -ECONNREFUSED || (unix_path && rc == -ENOENT) || rc == -ECONNRESET ||
           rc == -EPIPE || rc == CURIO_ECLOSED || rc == CURIO_EINCOMPLETE;
}

static int connect_in(curio_channel *ch, curio_connection **out, const void *authkey,
                      size_t keylen)
{
    int rc;
    while (!ch->gate.closing) {
        curio_socket *s;
        rc = ch->path ? curio_open_unix_connection(&s, ch->path)
                      : curio_open_connection(&s, ch->host ? ch->host : "127.0.0.1", ch->port,
                                              NULL);
        bool own_timeout = false;
        if (rc == 0) {
            curio_connection *c;
            if ((rc = curio_connection_open(&c, s, &ch->opts)) < 0)
                return rc;
            if (authkey)
                rc = authenticate(ch, c, false, authkey, keylen, &own_timeout);
            if (rc == 0) {
                *out = c;
                return 0;
            }
            curio_connection_close(c);
        }
        int own = curio_check_cancellation();
        if (own < 0)
            return own;
        if (own_timeout)
            continue; /* Curio tries again at once */
        if (!retry_later(rc, ch->path != NULL))
            return rc;
        int64_t t = curio_sleep(ch->opts.retry_interval);
        if (t < 0)
            return (int)t;
    }
    return -EBADF;
}

int curio_channel_connect(curio_channel *ch, curio_connection **out, const void *authkey,
                          size_t keylen)
{
    if (out)
        *out = NULL;
    int rc = curio__trap_check(curio__self());
    if (rc < 0)
        return rc;
    if (!out || (!authkey && keylen))
        return -EINVAL;
    if ((rc = chan_enter(ch)) < 0)
        return rc;
    return chan_leave(ch, connect_in(ch, out, authkey, keylen), out);
}
