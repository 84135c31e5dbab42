/*
 * net/transfer.c - moving data: recv, send, sendall, recvfrom, sendto, recvmsg, sendmsg.
 *
 * Each call is one io_uring operation prepared on the caller's stack, holding the socket's
 * direction for its length (curio__op_begin_fd). The handle's gate keeps it alive while a
 * task is inside: another task may close the socket meanwhile (net/socket.c), and then
 * the call returns -EBADF, whatever its operation did (kernel/gate.h).
 */
#include "net.h"

static inline int begin(curio_socket *s, int dir, curio__op *op, struct io_uring_sqe **sqe)
{
    if (__builtin_expect(!s, 0))
        return -EINVAL;
    return curio__socket_begin(s, dir, op, sqe);
}

/* The result, or -EBADF if the socket was closed meanwhile (kernel/gate.h). */
static inline ssize_t finish(curio_socket *s, curio__op *op, struct io_uring_sqe *sqe,
                             const char *state)
{
    return curio__socket_leave(s, curio__op_wait(op, sqe, state));
}

/* A socket with a transport (net/net.h: TLS) moves its bytes through the transport's
 * table instead: the one branch the plain path pays. */
#define TRANSPORT(s) __builtin_expect((s) && (s)->transport, 0)

ssize_t curio_recv(curio_socket *s, void *buf, size_t n, int flags)
{
    if (TRANSPORT(s))
        return s->transport->recv(s, buf, n, flags);
    if (__builtin_expect(s && s->mshot, 0))
        return curio__recvbuf_copy(s, buf, n, flags); /* buffer mode (net/recvbuf.c) */
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = begin(s, CURIO__FD_READ, &op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_recv(sqe, s->fd, buf, curio__op_len(n), flags);
    return finish(s, &op, sqe, "READ_WAIT");
}

ssize_t curio_send(curio_socket *s, const void *buf, size_t n, int flags)
{
    if (TRANSPORT(s))
        return s->transport->send(s, buf, n, flags);
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = begin(s, CURIO__FD_WRITE, &op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_send(sqe, s->fd, buf, curio__op_len(n), flags | MSG_NOSIGNAL);
    return finish(s, &op, sqe, "WRITE_WAIT");
}

/* One send of a round of sendall, which is inside the gate already (s->fd is read again
 * each round: -EBADF once closed). */
static ssize_t send_once(curio_socket *s, const void *buf, size_t n, int flags)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin_fd(&op, &sqe, s->fd, CURIO__FD_WRITE);
    if (rc < 0)
        return rc;
    io_uring_prep_send(sqe, s->fd, buf, curio__op_len(n), flags | MSG_NOSIGNAL);
    return curio__op_wait(&op, sqe, "WRITE_WAIT");
}

/*
 * MSG_WAITALL makes io_uring (5.18+) retry a short send on a stream socket itself, so a
 * large buffer still costs one operation; if the operation is cancelled or times out
 * after some bytes went, its result is that partial count, and the next round's trap
 * check reports the interruption. Older kernels ignore the flag on sends and the loop
 * does the retrying.
 */
int curio__sendall_entered(curio_socket *s, const void *buf, size_t n, int flags,
                           size_t *done)
{
    for (size_t k = 0; k < n;) {
        ssize_t rc = send_once(s, (const char *)buf + k, n - k, flags | MSG_WAITALL);
        if (rc <= 0)
            return rc < 0 ? (int)rc : -EPIPE; /* 0 cannot happen for n > 0; never loop */
        k += (size_t)rc;
        *done += (size_t)rc;
    }
    return 0;
}

ssize_t curio_sendall(curio_socket *s, const void *buf, size_t n, int flags, size_t *sent)
{
    if (TRANSPORT(s))
        return s->transport->sendall(s, buf, n, flags, sent);
    size_t done = 0;
    ssize_t rc = 0;
    if (!s) {
        rc = -EINVAL;
    } else if (n == 0) {
        rc = curio__trap_check(curio__self()); /* still a cancellation point */
    } else if ((rc = curio__socket_enter(s)) == 0) {
        /* Inside the gate once for all rounds: a partial count still adds up when the
         * socket is closed in the middle, and the leave turns the result into -EBADF. */
        rc = curio__sendall_entered(s, buf, n, flags, &done);
        rc = curio__socket_leave(s, rc);
    }
    if (sent)
        *sent = done;
    return rc < 0 ? rc : (ssize_t)done;
}

ssize_t curio_recvmsg(curio_socket *s, struct msghdr *msg, int flags)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    if (!msg)
        return -EINVAL;
    if (TRANSPORT(s))
        return -EOPNOTSUPP; /* no datagrams, no ancillary data through a transport */
    if (s && s->mshot)
        return -EBUSY; /* buffer mode: curio_recv or curio_recv_buf only */
    int rc = begin(s, CURIO__FD_READ, &op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_recvmsg(sqe, s->fd, msg, (unsigned)flags);
    return finish(s, &op, sqe, "READ_WAIT");
}

ssize_t curio_sendmsg(curio_socket *s, const struct msghdr *msg, int flags)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    if (!msg)
        return -EINVAL;
    if (TRANSPORT(s))
        return -EOPNOTSUPP;
    int rc = begin(s, CURIO__FD_WRITE, &op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_sendmsg(sqe, s->fd, msg, (unsigned)(flags | MSG_NOSIGNAL));
    return finish(s, &op, sqe, "WRITE_WAIT");
}

ssize_t curio_recvfrom(curio_socket *s, void *buf, size_t n, int flags, curio_addr *from)
{
    struct iovec iov = {.iov_base = buf, .iov_len = curio__op_len(n)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (from) {
        msg.msg_name = &from->u;
        msg.msg_namelen = sizeof from->u;
    }
    ssize_t rc = curio_recvmsg(s, &msg, flags);
    if (from)
        from->len = rc >= 0 ? msg.msg_namelen : 0;
    return rc;
}

ssize_t curio_sendto(curio_socket *s, const void *buf, size_t n, int flags,
                     const curio_addr *to)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = curio__op_len(n)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (to) {
        msg.msg_name = (void *)&to->u;
        msg.msg_namelen = to->len;
    }
    return curio_sendmsg(s, &msg, flags);
}
