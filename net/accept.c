/*
 * net/accept.c - accepting a connection through io_uring.
 */
#include "net.h"

#include <unistd.h>

int curio_accept(curio_socket *ls, curio_socket **client, curio_addr *peer)
{
    if (!ls || !client)
        return -EINVAL;
    if (ls->lent) {
        int rc = curio__trap_check(curio__self());
        return rc < 0 ? rc : -EBUSY;
    }
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin_fd(&op, &sqe, ls->fd, CURIO__FD_READ);
    if (rc < 0)
        return rc;
    /* The kernel writes the address and its length while the operation runs: both live
     * in the caller's curio_addr (or nowhere), which outlives the call. */
    if (peer)
        peer->len = sizeof peer->u;
    io_uring_prep_accept(sqe, ls->fd, peer ? &peer->u.sa : NULL, peer ? &peer->len : NULL,
                         SOCK_CLOEXEC);
    curio__socket_enter(ls);
    int fd = curio__op_wait(&op, sqe, "READ_WAIT");
    int family = ls->family, type = ls->type;
    curio__socket_leave(ls);
    if (fd < 0) {
        if (peer)
            peer->len = 0;
        return fd;
    }
    /* A descriptor the kernel accepted is never leaked: without a handle for it, the
     * connection is closed (the peer sees it reset or ended). */
    rc = curio__socket_new(client, fd, family, type);
    if (rc < 0) {
        close(fd);
        if (peer)
            peer->len = 0;
    }
    return rc;
}
