/*
 * net/net.h - the net layer's private interface: the socket handle, shared by the files of
 * this folder, by TLS (net/tls_*.c) and Channel, and by the monitor.
 */
#ifndef CURIO_NET_PRIVATE_H
#define CURIO_NET_PRIVATE_H

#include "../kernel/gate.h"

struct curio_socket {
    int fd;                /* -1 once closed (calls then fail with -EBADF) */
    int family;            /* AF_INET, AF_INET6, AF_UNIX ... */
    int type;              /* SOCK_STREAM, SOCK_DGRAM ..., without the SOCK_* flags */
    curio__gate gate;      /* calls in progress, closing, lent (between
                              curio_socket_blocking and curio_socket_unblock): the rule
                              of kernel/gate.h. Its directions are unused: a socket's
                              are claimed on the descriptor (curio__op_begin_fd), where
                              a stream or raw call on the same number sees them too. */
    curio_stream *stream;  /* as_stream's (keep_fd), closed with the descriptor; or NULL */
    struct curio__tls *tls; /* the TLS session (net/tls_*.c) once curio_tls_wrap was
                              called, freed with the handle; NULL for a plain socket */
};

/* A handle around fd (not closed on failure). 0 or -ENOMEM. */
CURIO__HIDDEN int curio__socket_new(curio_socket **out, int fd, int family, int type);

/* A server keeps the sockets it hands to user code (the listening one, each client's):
 * it holds the gate as one more user, so that the user's close only closes the descriptor
 * and fails the calls in progress, and the handle stays until the server drops it. */
static inline void curio__socket_hold(curio_socket *s) { curio__gate_hold(&s->gate); }

/* The server is done with s: close it (if the user did not) and leave; the last one out
 * frees it. */
CURIO__HIDDEN void curio__socket_drop(curio_socket *s);

/* Free the handle (the last one out of a closed socket, or the close itself). */
CURIO__HIDDEN void curio__socket_free(curio_socket *s);

/* Enter a call on s (the gate, kernel/gate.h): 0, or -EBADF (closed), -EBUSY (lent), or
 * the trap check's -ECANCELED/-ETIMEDOUT before either of those. */
static inline int curio__socket_enter(curio_socket *s)
{
    int rc = curio__gate_enter(&s->gate, NULL, 0);
    if (__builtin_expect(rc < 0, 0)) {
        int t = curio__trap_check(curio__self());
        return t < 0 ? t : rc;
    }
    return 0;
}

/* Leave it: rc, or -EBADF if s was closed meanwhile; then s may be freed by this. */
static inline ssize_t curio__socket_leave(curio_socket *s, ssize_t rc)
{
    if (__builtin_expect(curio__gate_leave(&s->gate, 0, &rc), 0))
        curio__socket_free(s);
    return rc;
}

/* Enter s and begin an operation on direction dir of its descriptor (the trap check, the
 * claim, an SQE). On failure s was left again and nothing is queued. */
static inline int curio__socket_begin(curio_socket *s, int dir, curio__op *op,
                                      struct io_uring_sqe **sqe)
{
    int rc = curio__socket_enter(s);
    if (__builtin_expect(rc < 0, 0))
        return rc;
    rc = curio__op_begin_fd(op, sqe, s->fd, dir);
    if (__builtin_expect(rc < 0, 0))
        return (int)curio__socket_leave(s, rc);
    return 0;
}

/*
 * The TLS hooks (net/tls_socket.c; net/tls_none.c when built without wolfSSL, where
 * s->tls is never set). The socket calls branch to them when s->tls is set: one
 * predictable test on the plain path.
 */
CURIO__HIDDEN ssize_t curio__tls_recv(curio_socket *s, void *buf, size_t n, int flags);
CURIO__HIDDEN ssize_t curio__tls_send(curio_socket *s, const void *buf, size_t n, int flags);
CURIO__HIDDEN ssize_t curio__tls_sendall(curio_socket *s, const void *buf, size_t n,
                                         size_t *sent);
/* shutdown(2) of a TLS socket: a close_notify first (never blocks). */
CURIO__HIDDEN int curio__tls_shutdown(curio_socket *s, int how);
/* Descriptor fd of s is about to be closed (s->fd is -1 already): a close_notify
 * without waiting. */
CURIO__HIDDEN void curio__tls_closing(curio_socket *s, int fd);
/* The handle is being freed. */
CURIO__HIDDEN void curio__tls_free(struct curio__tls *t);
/* The socket's stream was just made: route it through TLS. */
CURIO__HIDDEN void curio__tls_stream(curio_socket *s);
/* open_connection's TLS: wrap with o's context (or the default one) and shake hands. */
CURIO__HIDDEN int curio__tls_client_start(curio_socket *s, const curio_connect_options *o,
                                          const char *host);
/* tcp_server's TLS, in the client's task: wrap, and shake hands within timeout seconds
 * (negative: no limit). */
CURIO__HIDDEN int curio__tls_server_start(curio_socket *s, curio_tls_context *ctx,
                                          double timeout);
/* 0 if ctx may serve (a server context), -EINVAL if not, -ENOTSUP without TLS. */
CURIO__HIDDEN int curio__tls_context_check_server(const curio_tls_context *ctx);
CURIO__HIDDEN curio_tls_context *curio__tls_context_retain(curio_tls_context *ctx);

/* Copy the first address of a getaddrinfo list that fits a curio_addr into *a: 0, or
 * -ENOENT if none does. */
CURIO__HIDDEN int curio__addr_first(curio_addr *a, const struct addrinfo *list);

/* Connect a stream socket to each address of the list in turn until one connects
 * (open_connection after its look-up). o must not be NULL. */
CURIO__HIDDEN int curio__connect_any(curio_socket **out, const struct addrinfo *ai,
                                     const curio_connect_options *o);

#endif
