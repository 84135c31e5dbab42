/*
 * io/fd.c - plain reads and writes on any file descriptor, through io_uring.
 */
#include "../kernel/kernel.h"

/* One read or write at the file position (offset -1, which also works on pipes and
 * sockets), holding the descriptor's direction for the length of the call. */
static ssize_t fd_op(int fd, void *buf, size_t n, int dir)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin_fd(&op, &sqe, fd, dir);
    if (rc < 0)
        return rc;
    unsigned len = n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
    if (dir == CURIO__FD_READ) {
        io_uring_prep_read(sqe, fd, buf, len, (uint64_t)-1);
        return curio__op_wait(&op, sqe, "READ_WAIT");
    }
    io_uring_prep_write(sqe, fd, buf, len, (uint64_t)-1);
    return curio__op_wait(&op, sqe, "WRITE_WAIT");
}

ssize_t curio_read(int fd, void *buf, size_t n) { return fd_op(fd, buf, n, CURIO__FD_READ); }

ssize_t curio_write(int fd, const void *buf, size_t n)
{
    return fd_op(fd, (void *)buf, n, CURIO__FD_WRITE);
}
