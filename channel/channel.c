/*
 * channel/channel.c - Curio's curio.channel: the addresses connections are accepted on and
 * connected to, with Curio's retries and its authentication timeout. The connections are
 * in channel_conn.c, the authentication in channel_auth.c.
 */
#include "channel_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct authenticator {
    curio_channel *ch;
    curio__task *task;           /* alive while the record is on ch->auths */
    curio_connection *conn;
    curio_addr peer;
    curio__list_node node;       /* in ch->auths */
    size_t keylen;
    char key[];                  /* the accept call's key, copied: it outlives the call */
};

struct ready_conn {
    curio_connection *conn;
    struct ready_conn *next;
};

struct curio_channel {
    char *host;                  /* TCP: the host (NULL: any / 127.0.0.1) */
    uint16_t port;
    char *path;                  /* Unix: the path */
    curio_channel_options opts;
    curio_socket *ls;            /* once bound */

    /* Accepting with a key (see curio_channel_accept below). */
    unsigned refs;               /* the caller's handle until close, the accepter, each
                                    authenticator; freed at 0 */
    bool closed;
    curio__task *accepter;       /* the task in accept, or NULL (one at a time: -EBUSY) */
    curio__list auths;           /* clients in authentication, each with its own task */
    unsigned nauth;              /* their number: at most opts.max_authenticating */
    struct ready_conn *ready;    /* admitted, not yet returned by accept; oldest first */
};

static void channel_unref(curio_channel *ch);

static void wake_accepter(curio_channel *ch, int why)
{
    if (ch->accepter)
        curio__interrupt(ch->accepter, why);
}

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
    ch->refs = 1;
    if (opts)
        ch->opts = *opts;
    if (ch->opts.auth_timeout == 0)
        ch->opts.auth_timeout = 1; /* Curio's */
    if (ch->opts.retry_interval <= 0)
        ch->opts.retry_interval = 1;
    if (ch->opts.backlog <= 0)
        ch->opts.backlog = 5;
    if (ch->opts.max_authenticating == 0)
        ch->opts.max_authenticating = 16;
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

void curio_channel_close(curio_channel *ch)
{
    if (!ch)
        return;
    ch->closed = true;
    if (ch->ls)
        curio_socket_close(ch->ls); /* an accepter blocked on it gets -EBADF */
    ch->ls = NULL;
    /* Each authenticator, once it has run, closes its client and drops its reference. */
    curio__list_foreach_entry(a, &ch->auths, struct authenticator, node)
        curio_cancel_nowait(a->task);
    wake_accepter(ch, -EBADF);
    channel_unref(ch);
}

int curio_channel_bind(curio_channel *ch)
{
    int rc = curio__trap_check(curio__self());
    if (rc < 0)
        return rc;
    if (!ch)
        return -EINVAL;
    if (ch->closed)
        return -EBADF;
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

/*
 * Accepting with a key. Each accepted client is authenticated by a task of its own (an
 * "authenticator"), so a client that says nothing, or says it slowly, holds up only
 * itself: accept returns whichever client finishes first. The task in accept (the
 * "accepter") takes clients off the listening socket while fewer than max_authenticating
 * are in authentication; at the bound it waits for one to end. The authenticators belong
 * to the channel, not to the call: one still running when accept returns (or times out)
 * goes on, and a client it admits waits in ch->ready for the next accept. Since the
 * accepter only takes clients while ready is empty, ready never holds more than the bound.
 *
 * Lifetime: the channel is freed when it has been closed and neither an accepter nor an
 * authenticator still uses it (refs). Close cancels the authenticators (each closes its
 * client) and interrupts the accepter with -EBADF.
 */

/* What an authenticator wakes the accepter with: a client finished (admitted or dropped),
 * look at ch->ready and the count again. Never returned to a caller. */
#define WAKE_ACCEPTER (-5099)

static void channel_unref(curio_channel *ch)
{
    if (--ch->refs > 0)
        return;
    if (ch->ls)
        curio_socket_close(ch->ls); /* bound by a call that the close overtook */
    struct ready_conn *r = ch->ready;
    while (r) {
        struct ready_conn *next = r->next;
        curio_connection_close(r->conn);
        free(r);
        r = next;
    }
    free(ch->host);
    free(ch->path);
    free(ch);
}


static void log_dropped(curio_channel *ch, const curio_addr *peer, int why, bool own_timeout)
{
    char who[CURIO_ADDR_STRLEN];
    curio_addr_format(peer, who, sizeof who);
    if (own_timeout)
        chan_log(ch, "channel: client %s: no authentication within %g s; dropped", who,
                 ch->opts.auth_timeout);
    else
        chan_log(ch, "channel: client %s: %s; dropped", who, curio_strerror(why));
}

/* Hand an admitted client to the accept calls, in the order they finished. */
static int admit(curio_channel *ch, curio_connection *c)
{
    struct ready_conn *r = malloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    r->conn = c;
    r->next = NULL;
    struct ready_conn **tail = &ch->ready;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    return 0;
}

static long authenticator_main(void *arg)
{
    struct authenticator *a = arg;
    curio_channel *ch = a->ch;
    bool own_timeout;
    int why = authenticate(ch, a->conn, true, a->key, a->keylen, &own_timeout);
    /* Cancelled: by close (quietly: nobody waits for this client any more) or by the
     * kernel's shutdown. */
    bool stopped = ch->closed || curio_check_cancellation() < 0;
    if (why == 0 && !ch->closed && (why = admit(ch, a->conn)) == 0)
        a->conn = NULL;
    if (a->conn) {
        curio_connection_close(a->conn);
        if (!stopped)
            log_dropped(ch, &a->peer, why, own_timeout);
    }
    curio__list_remove(&ch->auths, &a->node);
    ch->nauth--;
    wake_accepter(ch, WAKE_ACCEPTER);
    free(a);
    channel_unref(ch);
    return 0;
}

/* Start authenticating c (whose peer is at peer) in a task of its own. Owns c. */
static int start_authenticator(curio_channel *ch, curio_connection *c, const curio_addr *peer,
                               const void *key, size_t keylen)
{
    struct authenticator *a = malloc(sizeof *a + keylen);
    if (!a) {
        curio_connection_close(c);
        return -ENOMEM;
    }
    *a = (struct authenticator){.ch = ch, .conn = c, .peer = *peer, .keylen = keylen};
    memcpy(a->key, key, keylen);
    curio_task *t;
    curio_spawn_options so = {.name = "channel-auth", .daemon = true};
    int rc = curio_spawn_ex(&t, authenticator_main, a, &so);
    if (rc < 0) {
        curio_connection_close(c);
        free(a);
        return rc;
    }
    a->task = t;
    curio__task_set_internal(t);
    curio_task_release(t); /* the record lives until the task has left the list */
    curio__list_push_front(&ch->auths, &a->node);
    ch->nauth++;
    ch->refs++;
    return 0;
}

static curio_connection *take_ready(curio_channel *ch)
{
    struct ready_conn *r = ch->ready;
    if (!r)
        return NULL;
    ch->ready = r->next;
    curio_connection *c = r->conn;
    free(r);
    return c;
}

/* Take one client off the listening socket and start its authentication (without a key:
 * hand it out at once), or wait for an authenticator to end when max_authenticating run
 * already. Returns 0 (look at ready again), or the accepter's own error. */
static int accept_step(curio_channel *ch, curio_connection **out, const void *key,
                       size_t keylen)
{
    if (key && ch->nauth >= ch->opts.max_authenticating) {
        int rc = curio__park("CHANNEL_AUTH_WAIT", CURIO__NO_DEADLINE);
        return rc == WAKE_ACCEPTER ? 0 : rc;
    }
    curio_socket *s;
    curio_addr peer;
    int rc = curio_accept(ch->ls, &s, &peer);
    if (rc == WAKE_ACCEPTER)
        return 0;
    if (rc < 0)
        return rc;
    if (ch->closed) { /* while the accepted client waited for us to run */
        curio_socket_close(s);
        return -EBADF;
    }
    curio_connection *c;
    if ((rc = curio_connection_open(&c, s, &ch->opts)) < 0)
        return rc;
    if (!key) {
        *out = c;
        return 0;
    }
    return start_authenticator(ch, c, &peer, key, keylen);
}

int curio_channel_accept(curio_channel *ch, curio_connection **out, const void *authkey,
                         size_t keylen)
{
    if (out)
        *out = NULL;
    if (!ch || !out || (!authkey && keylen))
        return -EINVAL;
    int rc = curio_channel_bind(ch);
    if (rc < 0)
        return rc;
    if (ch->accepter)
        return -EBUSY;
    ch->accepter = curio__self();
    ch->refs++;
    while (rc == 0 && !*out) {
        if (ch->closed)
            rc = -EBADF;
        else if (!(*out = take_ready(ch)))
            rc = accept_step(ch, out, authkey, keylen);
    }
    ch->accepter = NULL;
    channel_unref(ch);
    return *out ? 0 : rc;
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
    while (!ch->closed) {
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

/* A connect holds the channel (refs) so that a close meanwhile cannot free it under the
 * loop; once closed, the attempt in progress ends with -EBADF (the rule of every handle:
 * what it made is closed) at the end of its current step (a connect, an authentication
 * within auth_timeout, a retry_interval sleep). */
int curio_channel_connect(curio_channel *ch, curio_connection **out, const void *authkey,
                          size_t keylen)
{
    if (out)
        *out = NULL;
    int rc = curio__trap_check(curio__self());
    if (rc < 0)
        return rc;
    if (!ch || !out || (!authkey && keylen))
        return -EINVAL;
    if (ch->closed)
        return -EBADF;
    ch->refs++;
    rc = connect_in(ch, out, authkey, keylen);
    if (ch->closed && *out) {
        curio_connection_close(*out);
        *out = NULL;
        rc = -EBADF;
    }
    channel_unref(ch);
    return rc;
}
