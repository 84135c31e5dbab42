/*
 * net/server.c - Curio's tcp_server / unix_server: listening sockets, and the accept loop
 * that runs each connection's handler in a task of its own.
 *
 * The server keeps its live connections in a list of its own rather than a task group: a
 * group keeps every member's record until it is destroyed, which a server that runs for
 * months cannot afford. Each connection record, with its socket handle, lives at the top
 * of its task's stack, next to the task's own record (curio__spawn_on_stack), and is
 * linked into the list while its task runs; the task unlinks it as it ends, so a linked
 * record's task is alive. The spawn's handle on the task goes to the socket: freeing the
 * socket (after the handler, or later when the last task still inside a call on it
 * leaves) releases it, so that the stack holding the socket stays until then. The server
 * state is heap memory: it normally outlives every client (the server waits for them),
 * and if that wait could not be made safe the last client frees it.
 */
#include "net.h"
#include "../io/io.h"
#include "../kernel/waitq.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conn {
    curio__list_node node;       /* in the server's live connections */
    struct server *srv;
    curio_task *task;            /* alive while linked (its handle is the socket's) */
    curio_socket *sock;          /* server-owned: closed and freed after the handler; in
                                    the same stack room (sock_mem) once the task started */
    curio_addr addr;             /* the peer's, written by accept */
    curio_socket sock_mem;
};

struct server {
    curio_socket *ls;
    curio_client_fn handler;
    void *arg;
    curio_server_options opts;
    curio__list conns;           /* live connections, newest first */
    size_t nconns;
    bool running;                /* the server task is still inside curio_run_server */
    curio__waitq drained;        /* the server task, waiting for nconns to reach 0 */
    char where[CURIO_ADDR_STRLEN]; /* the listening address, for messages */
};

__attribute__((format(printf, 2, 3))) static void srv_log(struct server *srv,
                                                          const char *fmt, ...)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "server %s: ", srv->where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    if (srv->opts.log)
        srv->opts.log(msg, srv->arg);
    else
        fprintf(stderr, "curio: %s\n", msg);
}

/* The server state goes with the last of the server task and its clients. */
static void srv_free(struct server *srv)
{
    curio_tls_context_release(srv->opts.ssl_context);
    free(srv);
}

/* ---- one connection ---- */

static void conn_unlink(struct conn *c)
{
    struct server *srv = c->srv;
    curio__list_remove(&srv->conns, &c->node);
    srv->nconns--;
}

/* ssl_context: the handshake runs in the client's task before its handler (a failure is
 * that connection's only). */
static int tls_start(struct server *srv, struct conn *c)
{
    double timeout = srv->opts.ssl_handshake_timeout;
    int rc = curio__tls_server_start(c->sock, srv->opts.ssl_context, timeout ? timeout : 60);
    if (rc < 0 && rc != -ECANCELED) {
        char peer[CURIO_ADDR_STRLEN], why[256];
        curio_addr_format(&c->addr, peer, sizeof peer);
        if (rc == -ETIMEDOUT)
            snprintf(why, sizeof why, "not completed within %g s", timeout ? timeout : 60);
        else if (curio_tls_error(c->sock, why, sizeof why) == 0)
            snprintf(why, sizeof why, "%s", curio_strerror(rc));
        srv_log(srv, "client %s: TLS handshake failed: %s", peer, why);
    }
    return rc;
}

/* The peer went away: a normal end of a connection, not a handler's failure. -ETIMEDOUT
 * is not among them: it is also the handler's own scope expiring, which is worth a line. */
static bool peer_gone(long r)
{
    return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN || r == -ECONNABORTED;
}

/* What the handler left in the socket's stream goes out before the close, within
 * close_timeout seconds; what cannot go is dropped and logged with its count. The
 * handler's own cancellation (the server winding down) drops at once. A handler that
 * reported its peer gone has nobody to flush to, and its disconnect explains the loss:
 * dropped without a line. */
static void conn_flush(struct server *srv, struct conn *c, long r)
{
    curio_socket *s = c->sock;
    if (s->fd < 0 || !s->stream || !curio_stream_unflushed(s->stream) || peer_gone(r))
        return;
    double t = srv->opts.close_timeout ? srv->opts.close_timeout : 10;
    size_t left = curio_stream_unflushed(s->stream);
    bool closed;
    int rc = -ECANCELED;
    curio_scope sc;
    if (r != -ECANCELED && (t < 0 || (rc = curio_timeout_after(&sc, t)) == 0)) {
        rc = curio__stream_flush_left(s->stream, &left, &closed);
        if (t >= 0) {
            int sr = curio_scope_close(&sc);
            rc = rc < 0 ? rc : sr;
        }
    }
    if (left == 0)
        return;
    char peer[CURIO_ADDR_STRLEN], why[64];
    curio_addr_format(&c->addr, peer, sizeof peer);
    if (rc == -ETIMEDOUT)
        snprintf(why, sizeof why, "not flushed within %g s", t);
    else
        snprintf(why, sizeof why, "%s", curio_strerror(rc));
    srv_log(srv, "client %s: %zu unsent bytes dropped at close: %s", peer, left, why);
}

static long conn_main(void *arg)
{
    struct conn *c = arg;
    struct server *srv = c->srv;
    long r = 0; /* a failed handshake is logged by tls_start, and is no handler's failure */
    if (!srv->opts.ssl_context || tls_start(srv, c) == 0) {
        r = srv->handler(c->sock, &c->addr, srv->arg);
        if (r < 0 && r != -ECANCELED && !peer_gone(r)) {
            char peer[CURIO_ADDR_STRLEN];
            curio_addr_format(&c->addr, peer, sizeof peer);
            srv_log(srv, "client %s: handler failed: %s", peer,
                    curio_strerror(r < INT_MIN ? INT_MIN : (int)r));
        }
        conn_flush(srv, c, r);
    }
    curio__socket_drop(c->sock); /* releases this task's handle once the socket is freed */
    conn_unlink(c); /* c lives in this task's stack: nothing to free */
    if (srv->nconns == 0) {
        if (srv->running)
            curio__waitq_wake_all(&srv->drained);
        else
            srv_free(srv);
    }
    return r;
}

/* Start a task for the connection accepted into `acc` (its socket and peer address), with
 * its records in the task's stack (room of curio__spawn_on_stack: the connection record
 * and the socket handle, moved there from the heap; a parked connection's records then
 * cost no memory beyond the stack's top page), and link it. On failure the socket is
 * closed. acc is left for the next accept either way. */
static bool conn_start(struct server *srv, const struct conn *acc)
{
    curio_spawn_options so = {.stack_size = srv->opts.stack_size};
    curio_task *t;
    void *room;
    int rc = curio__spawn_on_stack(&t, conn_main, sizeof(struct conn), &room, &so);
    if (rc < 0) {
        char peer[CURIO_ADDR_STRLEN];
        curio_addr_format(&acc->addr, peer, sizeof peer);
        srv_log(srv, "client %s: cannot start its task: %s; connection closed", peer,
                curio_strerror(rc));
        curio__socket_hold(acc->sock);
        curio__socket_drop(acc->sock);
        return false;
    }
    struct conn *c = room;
    c->srv = srv;
    c->task = t;
    c->addr = acc->addr;
    /* Accepted a moment ago: nothing refers to the handle but acc, so it moves. Freeing it
     * (the last of the server's drop and its users' leaves) releases the spawn's handle on
     * t, which keeps the stack, and so the handle, until then. */
    c->sock_mem = *acc->sock;
    free(acc->sock);
    c->sock = &c->sock_mem;
    c->sock->home = t;
    curio__socket_hold(c->sock); /* the handler's close leaves the handle to us */
    /* Named after the peer, for the monitor's ps: "client 127.0.0.1:40312". */
    char name[8 + CURIO_ADDR_STRLEN] = "client ";
    curio_addr_format(&c->addr, name + 7, sizeof name - 7);
    curio_task_set_name(t, name);
    curio__list_push_front(&srv->conns, &c->node);
    srv->nconns++;
    return true;
}

/* ---- the accept loop ---- */

/* Out of descriptors or memory: wait for some to be freed, and keep going. */
static bool out_of_resources(int rc)
{
    return rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM;
}

/* A connection that died while queued, or a network error of that one connection
 * (accept(2) asks servers to retry on these). */
static bool transient(int rc)
{
    switch (-rc) {
    case ECONNABORTED: case EPROTO: case EPERM: case EINTR: case EAGAIN:
    case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN: case ENONET: case EHOSTUNREACH:
    case EOPNOTSUPP: case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

static int accept_loop(struct server *srv)
{
    struct conn accepted; /* what accept fills in; copied into each new task's stack */
    struct curio__acceptor *acc = NULL; /* multishot accept (net/accept_multi.c) */
    unsigned failures = 0;
    double backoff = 0;
    int rc;
    for (;;) {
        rc = curio__acceptor_next(&acc, srv->ls, &accepted.sock, &accepted.addr);
        if (rc == -ETIMEDOUT || rc == -ECANCELED)
            break; /* the server's own scope or cancellation (accept's only sources) */
        if (rc < 0 && out_of_resources(rc)) {
            if (failures++ == 0)
                srv_log(srv, "accept failed: %s; retrying with back-off", curio_strerror(rc));
            backoff = backoff == 0 ? 0.01 : (backoff * 2 > 1 ? 1 : backoff * 2);
            int64_t s = curio_sleep(backoff);
            if (s == -ENOMEM) /* the timer heap could not grow: retry after the others ran */
                s = curio_yield();
            if (s < 0) {
                rc = (int)s;
                break;
            }
            continue;
        }
        if (rc < 0 && transient(rc))
            continue;
        if (rc < 0)
            break;
        if (failures) {
            srv_log(srv, "accepting again after %u failed attempts", failures);
            failures = 0;
            backoff = 0;
        }
        conn_start(srv, &accepted);
    }
    curio__acceptor_close(&acc);
    return rc;
}

/* Cancel every client and wait until all have ended (Curio's TaskGroup exit). */
static void wind_down(struct server *srv)
{
    curio__list_foreach_entry(c, &srv->conns, struct conn, node)
        curio_cancel_nowait(c->task);
    curio_scope sc;
    if (srv->nconns && curio_disable_cancellation(&sc) == 0) {
        while (srv->nconns) {
            curio__waiter w;
            curio__waitq_wait(&srv->drained, &w, "TASK_JOIN");
        }
        curio_scope_close(&sc);
    }
    srv->running = false;
    if (srv->nconns == 0)
        srv_free(srv);
}

int curio_run_server(curio_socket *ls, curio_client_fn handler, void *arg,
                     const curio_server_options *opts)
{
    int rc = curio__trap_check(curio__self());
    if (rc == 0 && !handler)
        rc = -EINVAL;
    if (rc == 0 && !ls)
        return -EINVAL;
    struct server *srv = NULL;
    if (rc == 0 && opts && opts->ssl_context)
        rc = curio__tls_context_check_server(opts->ssl_context);
    if (rc == 0 && !(srv = calloc(1, sizeof *srv)))
        rc = -ENOMEM;
    /* The wind-down waits inside a disable_cancellation scope: open one now, so that the
     * task's scope stack has room for it later and it cannot fail then. */
    curio_scope sc;
    if (rc == 0 && (rc = curio_disable_cancellation(&sc)) == 0)
        curio_scope_close(&sc);
    if (rc < 0) {
        free(srv);
        if (ls)
            curio_socket_close(ls);
        return rc;
    }
    curio__socket_hold(ls); /* closing it elsewhere stops the server; the handle stays */
    /* Once here rather than per accept: accepted sockets inherit it from ls. */
    curio__socket_nodelay(ls, !(opts && opts->no_tcp_nodelay));
    srv->ls = ls;
    srv->handler = handler;
    srv->arg = arg;
    if (opts)
        srv->opts = *opts;
    curio__tls_context_retain(srv->opts.ssl_context); /* released by srv_free */
    srv->running = true;
    curio_addr a;
    if (curio_socket_getsockname(ls, &a) < 0)
        a.len = 0;
    curio_addr_format(&a, srv->where, sizeof srv->where);
    if (srv->opts.on_listen)
        srv->opts.on_listen(&a, arg);
    rc = accept_loop(srv);
    wind_down(srv); /* frees srv, or leaves it to the last client */
    curio__socket_drop(ls);
    return rc;
}

/* ---- listening sockets ---- */

static int listen_on(curio_socket **out, const curio_addr *a, const curio_server_options *o,
                     bool inet)
{
    curio_server_options none = {0};
    if (!o)
        o = &none;
    curio_socket *s;
    int rc = curio_socket_open(&s, a->u.sa.sa_family, SOCK_STREAM, 0);
    if (rc < 0)
        return rc;
    int one = 1;
    if (inet && !o->no_reuse_address)
        rc = curio_socket_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rc == 0 && o->reuse_port)
        rc = curio_socket_setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (rc == 0)
        rc = curio_socket_bind(s, a);
    if (rc == 0)
        rc = curio__socket_listen(s, o->backlog, !o->no_tcp_nodelay);
    if (rc < 0) {
        curio_socket_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* The first address a name has for a passive (listening) socket. */
static int resolve_passive(curio_addr *a, const char *host, uint16_t port)
{
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int rc = curio_getaddrinfo(host, service, &hints, &res);
    if (rc < 0)
        return rc;
    rc = curio__addr_first(a, res);
    freeaddrinfo(res);
    return rc;
}

int curio_tcp_server_socket(curio_socket **out, const char *host, uint16_t port,
                            const curio_server_options *opts)
{
    if (!out)
        return -EINVAL;
    curio_addr a;
    int rc = curio_addr_ip(&a, host, port);
    if (rc == -EINVAL)
        rc = resolve_passive(&a, host, port);
    return rc < 0 ? rc : listen_on(out, &a, opts, true);
}

int curio_unix_server_socket(curio_socket **out, const char *path,
                             const curio_server_options *opts)
{
    if (!out)
        return -EINVAL;
    curio_addr a;
    int rc = curio_addr_unix(&a, path);
    return rc < 0 ? rc : listen_on(out, &a, opts, false);
}

int curio_tcp_server(const char *host, uint16_t port, curio_client_fn handler, void *arg,
                     const curio_server_options *opts)
{
    int rc = curio__trap_check(curio__self());
    if (rc == 0 && !handler)
        rc = -EINVAL;
    curio_socket *ls;
    if (rc == 0)
        rc = curio_tcp_server_socket(&ls, host, port, opts);
    return rc < 0 ? rc : curio_run_server(ls, handler, arg, opts);
}

int curio_unix_server(const char *path, curio_client_fn handler, void *arg,
                      const curio_server_options *opts)
{
    int rc = curio__trap_check(curio__self());
    if (rc == 0 && !handler)
        rc = -EINVAL;
    curio_socket *ls;
    if (rc == 0)
        rc = curio_unix_server_socket(&ls, path, opts);
    return rc < 0 ? rc : curio_run_server(ls, handler, arg, opts);
}
