/*
 * net/net.h - the net layer's private interface: the socket handle and its transport
 * table, shared by the files of this folder, by the rooms above it (tls/, channel/) and by
 * the monitor.
 */
#ifndef CURIO_NET_PRIVATE_H
#define CURIO_NET_PRIVATE_H

#include "../kernel/gate.h"

struct curio__stream_transport; /* io/io.h */

/*
 * The socket's transport table: what carries a socket's bytes when the descriptor does not
 * carry them as they are (TLS: records made by wolfSSL, tls/tls_socket.c). NULL is the
 * plain descriptor, and then the calls below are not made: the plain path pays one
 * predictable test of s->transport. A room installs its table with
 * curio__socket_set_transport once the socket becomes its (curio_tls_wrap), and it stays
 * until the handle is freed. The ctx given with it is the room's state for that socket
 * (s->transport_ctx).
 *
 * recv, send and sendall are curio_recv, curio_send and curio_sendall of s, with their
 * arguments as given (s not NULL) and their results (sendall sets *sent, if not NULL,
 * on every path). Each enters s itself (curio__socket_enter or the gate with directions),
 * may block, and leaves nothing in flight when it returns.
 * shutdown is curio_socket_shutdown while the descriptor is open; it never blocks.
 * closing (may be NULL): the descriptor fd is about to be closed (s->fd is -1 already);
 * last words that need no waiting. Never blocks.
 * free releases ctx when the handle is freed (the last user has left).
 * stream is the stream transport (io/io.h) that the socket's as_stream stream goes
 * through, with the socket as its ctx.
 *
 * With a transport, curio_socket_blocking says -EOPNOTSUPP (the descriptor does not carry
 * the socket's bytes), and so do recvmsg, sendmsg, recvfrom and sendto.
 */
typedef struct curio__socket_transport {
    ssize_t (*recv)(curio_socket *s, void *buf, size_t n, int flags);
    ssize_t (*send)(curio_socket *s, const void *buf, size_t n, int flags);
    ssize_t (*sendall)(curio_socket *s, const void *buf, size_t n, int flags, size_t *sent);
    int (*shutdown)(curio_socket *s, int how);
    void (*closing)(curio_socket *s, int fd);
    void (*free)(void *ctx);
    const struct curio__stream_transport *stream;
} curio__socket_transport;

struct curio_socket {
    int fd;                /* -1 once closed (calls then fail with -EBADF) */
    int family;            /* AF_INET, AF_INET6, AF_UNIX ... */
    int type;              /* SOCK_STREAM, SOCK_DGRAM ..., without the SOCK_* flags */
    curio__gate gate;      /* calls in progress, closing, lent (between
                              curio_socket_blocking and curio_socket_unblock): the rule
                              of kernel/gate.h. The plain path leaves its directions
                              unused: it claims them on the descriptor
                              (curio__op_begin_fd), where a stream or raw call on the same
                              number sees them too. A transport's calls hold them (TLS:
                              one task per direction of the session). */
    curio_stream *stream;  /* as_stream's (keep_fd), closed with the descriptor; or NULL */
    const curio__socket_transport *transport; /* NULL: the plain descriptor */
    void *transport_ctx;   /* the transport's state for this socket, freed with the handle */
    struct curio__mshot *mshot; /* a multishot operation's state attached to the socket
                              (net/recvbuf.c, net/accept_multi.c), or NULL */
    unsigned zc_sends;     /* zero-copy sends in progress (net/send_zc.c): a close then
                              resets the connection, so that the kernel lets go of their
                              buffers and they return */
    curio_task *home;      /* NULL: the handle is heap memory, freed with free(). Else it
                              lives in this task's stack room (net/server.c's connections:
                              curio__spawn_on_stack), and freeing it releases the handle
                              on the task that keeps that stack (and so the record and the
                              handle) until then */
};

/*
 * A multishot operation attached to a socket: its CQE sink, and what closing the socket
 * does to it. closing(m, s, fd) runs in close, before the descriptor fd is closed (s->fd
 * is -1 already): it wakes the task waiting on m with -EBADF, cancels the operation (a
 * multishot holds its own reference to the socket: closing the descriptor does not end
 * it) and detaches m from s (s->mshot = NULL); m then lives until its last CQE.
 */
typedef struct curio__mshot {
    curio__sink sink;
    void (*closing)(struct curio__mshot *m, curio_socket *s, int fd);
} curio__mshot;

/* A handle around fd (not closed on failure). 0 or -ENOMEM. */
CURIO__HIDDEN int curio__socket_new(curio_socket **out, int fd, int family, int type);

/* A TCP socket (AF_INET or AF_INET6, SOCK_STREAM)? */
CURIO__HIDDEN bool curio__socket_is_tcp(const curio_socket *s);
/* TCP_NODELAY on or off, if s is TCP and open; best effort (errors ignored). */
CURIO__HIDDEN void curio__socket_nodelay(curio_socket *s, bool on);
/* curio_socket_listen with TCP_NODELAY set to nodelay first (TCP only), so that every
 * accepted connection inherits it. */
CURIO__HIDDEN int curio__socket_listen(curio_socket *s, int backlog, bool nodelay);

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

/* sendall's rounds on the plain descriptor, for a caller already inside s's gate: sends
 * all n bytes (MSG_WAITALL and MSG_NOSIGNAL added to flags), adding each round's count to
 * *done. 0, or the failed round's error (-EBADF once s is closed: s->fd is read each
 * round). */
CURIO__HIDDEN int curio__sendall_entered(curio_socket *s, const void *buf, size_t n,
                                         int flags, size_t *done);

/* As curio__sendall_entered, with zero-copy sends (net/send_zc.c) where s takes them:
 * returns only once the kernel has released buf (the notification CQE), on every path. */
CURIO__HIDDEN int curio__sendall_zc_entered(curio_socket *s, const void *buf, size_t n,
                                            int flags, size_t *done);

/* Install transport t with its state ctx on s (see curio__socket_transport): from now on
 * s's calls, and its stream if it has one, go through t. The caller has checked that s
 * has no transport yet and that nobody waits on it. */
CURIO__HIDDEN void curio__socket_set_transport(curio_socket *s, const curio__socket_transport *t,
                                               void *ctx);

/*
 * What open_connection's ssl options and tcp_server's ssl_context need from the TLS room
 * (tls/tls_socket.c; tls/tls_none.c without wolfSSL, where they return -ENOTSUP and the
 * last is the identity). Besides these, net/server.c uses only TLS's public calls
 * (curio_tls_error, curio_tls_context_release), and nothing else in net/ calls into tls/.
 */
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

/* curio_recv on a socket in buffer mode (s->mshot set, net/recvbuf.c): the queued bytes
 * first, copied, then the multishot's. flags must be 0 (-EINVAL). */
CURIO__HIDDEN ssize_t curio__recvbuf_copy(curio_socket *s, void *buf, size_t n, int flags);

/* The server loop's acceptor (net/accept_multi.c): a multishot accept on a listening
 * socket. curio__acceptor_next is curio_accept for the server task (same results), with
 * *a, NULL at first, made on the first call; it takes the one-shot path where multishot
 * accept is missing or off. curio__acceptor_close cancels the multishot and closes every
 * descriptor accepted and not yet taken (and those still to come), and sets *a to NULL. */
struct curio__acceptor;
CURIO__HIDDEN int curio__acceptor_next(struct curio__acceptor **a, curio_socket *ls,
                                       curio_socket **client, curio_addr *peer);
CURIO__HIDDEN void curio__acceptor_close(struct curio__acceptor **a);
/* Tests and benchmarks: while true, the server accepts one connection per curio_accept. */
extern bool curio__accept_multi_disabled CURIO__HIDDEN;

/* Copy the first address of a getaddrinfo list that fits a curio_addr into *a: 0, or
 * -ENOENT if none does. */
CURIO__HIDDEN int curio__addr_first(curio_addr *a, const struct addrinfo *list);

/* Connect a stream socket to each address of the list in turn until one connects
 * (open_connection after its look-up). o must not be NULL. */
CURIO__HIDDEN int curio__connect_any(curio_socket **out, const struct addrinfo *ai,
                                     const curio_connect_options *o);

/* curio_sendfile (net/sendfile.c): the buffer size of its read+send path (256 KiB), for
 * benchmarks. Tests force that path with curio__op_deny(IORING_OP_SPLICE). */
extern size_t curio__sendfile_chunk CURIO__HIDDEN;
/* Its mapping path: the window mapped per send (4 MiB), the least it sends (4 MiB), and,
 * for benchmarks and tests, the path tried first (the mapping, the mapping with zero-copy
 * sends, or splice) and how a window's pages are faulted in (MADV_POPULATE_READ in one of
 * io_uring's workers; MAP_POPULATE in the calling thread; by the send's own copy). Tests
 * force the splice path with curio__op_deny(IORING_OP_MADVISE). */
enum { CURIO__SENDFILE_MAP, CURIO__SENDFILE_MAP_ZC, CURIO__SENDFILE_SPLICE };
enum { CURIO__POPULATE_WORKER, CURIO__POPULATE_MAP, CURIO__POPULATE_FAULT };
extern size_t curio__sendfile_window CURIO__HIDDEN;
extern size_t curio__sendfile_map_min CURIO__HIDDEN;
extern int curio__sendfile_first CURIO__HIDDEN;
extern int curio__sendfile_populate CURIO__HIDDEN;
/* The flags of splice's pipe -> socket operation (0; the benchmark tries SPLICE_F_MORE). */
extern unsigned curio__sendfile_splice_flags CURIO__HIDDEN;

#endif
