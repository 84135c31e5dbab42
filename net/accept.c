/*
 * net/accept.c - accepting a connection through io_uring.
 */
#include "net.h"

#include <unistd.h>

int curio_accept(curio_socket *ls, curio_socket **client, curio_addr *peer)
{
    if (!ls || !client)
        return -EINVAL;
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__socket_begin(ls, CURIO__FD_READ, &op, &sqe);
    if (rc < 0)
        return rc;
    /* The kernel writes the address and its length while the operation runs: both live
     * in the caller's curio_addr (or nowhere), which outlives the call. */
    if (peer)
        peer->len = sizeof peer->u;
    io_uring_prep_accept(sqe, ls->fd, peer ? &peer->u.sa : NULL, peer ? &peer->len : NULL,
                         SOCK_CLOEXEC);
    int family = ls->family, type = ls->type; /* ls may be freed by the leave */
    int fd = curio__op_wait(&op, sqe, "READ_WAIT");
    rc = (int)curio__socket_leave(ls, fd);
    /* A descriptor the kernel accepted is never leaked: without a handle for it (the
     * listening socket was closed meanwhile, or no memory), the connection is closed
     * (the peer sees it reset or ended). */
    if (rc >= 0)
        rc = curio__socket_new(client, fd, family, type);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        if (peer)
            peer->len = 0;
    }
    return rc;
}
