/*
 * io/fd.c - plain reads and writes on any file descriptor, through io_uring.
 */
#include "../kernel/kernel.h"

/* An offset of -1 means "the file position" (and works on pipes and sockets). */
ssize_t curio_read(int fd, void *buf, size_t n)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin(&op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_read(sqe, fd, buf, n > UINT32_MAX ? UINT32_MAX : (unsigned)n, (uint64_t)-1);
    return curio__op_wait(&op, sqe, "READ_WAIT");
}

ssize_t curio_write(int fd, const void *buf, size_t n)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin(&op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_write(sqe, fd, buf, n > UINT32_MAX ? UINT32_MAX : (unsigned)n,
                        (uint64_t)-1);
    return curio__op_wait(&op, sqe, "WRITE_WAIT");
}
