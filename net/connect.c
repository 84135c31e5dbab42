/*
 * net/connect.c - outgoing connections: connect through io_uring, and Curio's
 * open_connection (resolve, then try each address in turn) and open_unix_connection.
 */
#include "net.h"

#include <stdio.h>
#include <string.h>

int curio_connect(curio_socket *s, const curio_addr *a)
{
    if (!s || !a)
        return -EINVAL;
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__socket_begin(s, CURIO__FD_WRITE, &op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_connect(sqe, s->fd, &a->u.sa, a->len);
    rc = curio__op_wait(&op, sqe, "WRITE_WAIT");
    if (rc == 0)
        curio__socket_nodelay(s, true); /* as asyncio, uvloop and Go: no Nagle delays */
    return (int)curio__socket_leave(s, rc);
}

/* A stream socket of a's family (bound to source first, if given) connected to a
 * (TCP_NODELAY as o says; o may be NULL). */
static int connect_to(curio_socket **out, const curio_addr *a, const curio_connect_options *o)
{
    const curio_addr *source = o ? o->source : NULL;
    curio_socket *s;
    int rc = curio_socket_open(&s, a->u.sa.sa_family, SOCK_STREAM, 0);
    if (rc < 0)
        return rc;
    if (source)
        rc = curio_socket_bind(s, source);
    if (rc == 0)
        rc = curio_connect(s, a);
    if (rc < 0) {
        curio_socket_close(s);
        return rc;
    }
    if (o && o->no_tcp_nodelay)
        curio__socket_nodelay(s, false);
    *out = s;
    return 0;
}

static bool wanted(int family, const curio_connect_options *o)
{
    if (o->family && o->family != family)
        return false;
    return !o->source || o->source->u.sa.sa_family == family;
}

/* Try every address in order; stop early only for the caller's own cancellation or
 * timeout (a connect's -ETIMEDOUT may also be the network's, which moves on). */
int curio__connect_any(curio_socket **out, const struct addrinfo *ai,
                       const curio_connect_options *o)
{
    int rc = -EAFNOSUPPORT;
    for (; ai; ai = ai->ai_next) {
        if (!wanted(ai->ai_family, o) || ai->ai_addrlen > sizeof(((curio_addr *)0)->u))
            continue;
        curio_addr a = {.len = ai->ai_addrlen};
        memcpy(&a.u, ai->ai_addr, ai->ai_addrlen);
        rc = connect_to(out, &a, o);
        if (rc == 0)
            return 0;
        int own = curio__trap_check(curio__self());
        if (own < 0)
            return own;
    }
    return rc;
}

/* ssl= / ssl_context=: TLS on the new connection before it is handed out. */
static int tls_on(curio_socket **out, int rc, const curio_connect_options *o,
                  const char *host)
{
    if (rc < 0 || (!o->ssl && !o->ssl_context))
        return rc;
    rc = curio__tls_client_start(*out, o, host);
    if (rc < 0) {
        curio_socket_close(*out);
        *out = NULL;
    }
    return rc;
}

int curio_open_connection(curio_socket **out, const char *host, uint16_t port,
                          const curio_connect_options *opts)
{
    int rc = curio__trap_check(curio__self());
    if (rc < 0)
        return rc;
    if (!out || !host || !*host)
        return -EINVAL;
    curio_connect_options none = {0};
    const curio_connect_options *o = opts ? opts : &none;
    curio_addr a;
    if (curio_addr_ip(&a, host, port) == 0) {
        if (!wanted(a.u.sa.sa_family, o))
            return -EAFNOSUPPORT;
        return tls_on(out, connect_to(out, &a, o), o, host);
    }
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints = {.ai_family = o->family ? o->family : AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res;
    rc = curio_getaddrinfo(host, service, &hints, &res);
    if (rc < 0)
        return rc;
    rc = curio__connect_any(out, res, o);
    freeaddrinfo(res);
    return tls_on(out, rc, o, host);
}

int curio_open_unix_connection(curio_socket **out, const char *path)
{
    int rc = curio__trap_check(curio__self());
    if (rc < 0)
        return rc;
    if (!out)
        return -EINVAL;
    curio_addr a;
    rc = curio_addr_unix(&a, path);
    return rc < 0 ? rc : connect_to(out, &a, NULL);
}
