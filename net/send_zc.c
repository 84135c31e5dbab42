/*
 * net/send_zc.c - zero-copy sends (IORING_OP_SEND_ZC, Linux 6.0): curio_send_zc and
 * curio_sendall_zc.
 *
 * The kernel sends from the caller's pages instead of copying them into the socket. The
 * operation completes twice: a first CQE with the count (IORING_CQE_F_MORE), and a
 * notification (IORING_CQE_F_NOTIF) once no queued packet refers to the buffer any more,
 * that is, once the peer has acknowledged every byte queued from it (or the connection is
 * gone). kernel/ring.c's complete() keeps the first CQE's result and lets only the
 * notification complete the operation, so the call returns only after it: the buffer is
 * the caller's again when the call returns (the buffer invariant), on every path,
 * interruptions included.
 *
 * What follows from that:
 *  - A timeout or cancellation that comes while the operation waits for room in the socket
 *    ends it with the count queued so far (exact, as for curio_sendall); the call then
 *    still waits for the notification, so it returns once the peer has acknowledged those
 *    bytes. One that comes after the first CQE cancels nothing: the call returns its full
 *    count and the interruption is delivered at the next blocking call (a result that
 *    raced with a cancel wins, as everywhere).
 *  - A close by another task resets the connection (net/socket.c, s->zc_sends), which
 *    drops the queued packets and so releases the buffer at once; the call returns -EBADF.
 *
 * Only TCP and UDP sockets over IPv4/IPv6 without a transport use the opcode. Other
 * sockets, a kernel without it (curio__op_supported; tests force this path with
 * curio__op_deny), and a socket type the kernel refuses it for (-EOPNOTSUPP before any
 * byte went) take the plain send, which gives the same results.
 */
#include "net.h"

#include <netinet/in.h>

static bool zc_usable(const curio_socket *s)
{
    return (s->family == AF_INET || s->family == AF_INET6) &&
           (s->type == SOCK_STREAM || s->type == SOCK_DGRAM) &&
           curio__op_supported(IORING_OP_SEND_ZC);
}

/* One send on s, which the caller has entered: zero-copy when zc, else plain. Returns the
 * count or a negative code; s->fd is read each time (-EBADF once closed). */
static ssize_t send_one(curio_socket *s, const void *buf, size_t n, int flags, bool zc)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin_fd(&op, &sqe, s->fd, CURIO__FD_WRITE);
    if (rc < 0)
        return rc;
    if (!zc) {
        io_uring_prep_send(sqe, s->fd, buf, curio__op_len(n), flags | MSG_NOSIGNAL);
        return curio__op_wait(&op, sqe, "WRITE_WAIT");
    }
    io_uring_prep_send_zc(sqe, s->fd, buf, curio__op_len(n), flags | MSG_NOSIGNAL, 0);
    s->zc_sends++;
    rc = curio__op_wait(&op, sqe, "WRITE_WAIT");
    s->zc_sends--;
    return rc;
}

/* A zero-copy send, or the plain one where the kernel refuses the opcode for this socket
 * (nothing went then). */
static ssize_t send_zc_or_plain(curio_socket *s, const void *buf, size_t n, int flags,
                                bool *zc)
{
    if (*zc) {
        ssize_t rc = send_one(s, buf, n, flags, true);
        if (rc != -EOPNOTSUPP)
            return rc;
        *zc = false;
    }
    return send_one(s, buf, n, flags, false);
}

ssize_t curio_send_zc(curio_socket *s, const void *buf, size_t n, int flags)
{
    if (!s)
        return -EINVAL;
    if (s->transport)
        return s->transport->send(s, buf, n, flags);
    ssize_t rc = curio__socket_enter(s);
    if (rc < 0)
        return rc;
    bool zc = n > 0 && zc_usable(s);
    rc = send_zc_or_plain(s, buf, n, flags, &zc);
    return curio__socket_leave(s, rc);
}

int curio__sendall_zc_entered(curio_socket *s, const void *buf, size_t n, int flags,
                              size_t *done)
{
    bool zc = zc_usable(s);
    for (size_t k = 0; k < n;) {
        ssize_t rc = send_zc_or_plain(s, (const char *)buf + k, n - k, flags | MSG_WAITALL,
                                      &zc);
        if (rc <= 0)
            return rc < 0 ? (int)rc : -EPIPE; /* 0 cannot happen for n > 0; never loop */
        k += (size_t)rc;
        *done += (size_t)rc;
    }
    return 0;
}

/* As curio_sendall (net/transfer.c): inside the gate once for all rounds, MSG_WAITALL so
 * that one operation usually moves everything, a partial count kept on every path. */
ssize_t curio_sendall_zc(curio_socket *s, const void *buf, size_t n, int flags, size_t *sent)
{
    if (s && s->transport)
        return s->transport->sendall(s, buf, n, flags, sent);
    size_t done = 0;
    ssize_t rc = 0;
    if (!s) {
        rc = -EINVAL;
    } else if (n < CURIO_SEND_ZC_MIN) {
        return curio_sendall(s, buf, n, flags, sent);
    } else if ((rc = curio__socket_enter(s)) == 0) {
        rc = curio__sendall_zc_entered(s, buf, n, flags, &done);
        rc = curio__socket_leave(s, rc);
    }
    if (sent)
        *sent = done;
    return rc < 0 ? rc : (ssize_t)done;
}
