/*
 * io/fd.c - plain reads, writes and closes on any file descriptor, through io_uring.
 */
#include "io.h"

#include <unistd.h>

/* One read or write at the file position (offset -1, which also works on pipes and
 * sockets), holding the descriptor's direction for the length of the call. */
static ssize_t fd_op(int fd, void *buf, size_t n, int dir)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin_fd(&op, &sqe, fd, dir);
    if (rc < 0)
        return rc;
    unsigned len = curio__op_len(n);
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

/*
 * Closing is a release: it must happen whatever the task's state (cancelled, timed out),
 * so inside a task it runs in a disable_cancellation scope, which also hides the deadlines
 * of enclosing scopes. IORING_OP_CLOSE (5.6) completes inline at submission; the task
 * waits for that one completion. Outside a task (cleanup after curio_run, a posted
 * function) there is no ring to wait on, and close(2) does the same.
 */
int curio__fd_close(int fd)
{
    curio_scope nocancel;
    if (curio__self() && curio_disable_cancellation(&nocancel) == 0) {
        curio__op op;
        struct io_uring_sqe *sqe;
        int rc = curio__op_begin(&op, &sqe); /* cannot fail inside the scope */
        if (rc == 0) {
            io_uring_prep_close(sqe, fd);
            rc = curio__op_wait(&op, sqe, "CLOSE_WAIT");
        }
        curio_scope_close(&nocancel);
        return rc;
    }
    return close(fd) < 0 ? -errno : 0;
}
