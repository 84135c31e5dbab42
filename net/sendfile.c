/*
 * net/sendfile.c - curio_sendfile: a file's bytes to a stream socket without copying them
 * through user space.
 *
 * Three paths, each taking over where the one before gives up (at offset + the bytes sent
 * so far):
 *
 * The mapping (from curio__sendfile_map_min, 4 MiB, to send): a window of the file
 * (curio__sendfile_window, 4 MiB) is mapped read-only and shared, its pages faulted in by
 * madvise(MADV_POPULATE_READ) in one of io_uring's workers (IORING_OP_MADVISE with
 * IOSQE_ASYNC: a page not in the cache is read there, and the populate's deadline is kept
 * in the timer heap), then sent from the mapping with sendall's rounds (one copy, page
 * cache to socket), then unmapped. The send has completed when its operation has (a plain
 * send's CQE; a zero-copy send's notification), so the kernel no longer refers to the
 * mapping when it goes, on every path. Only what fstat reports is mapped. A file truncated
 * under a pending send makes the kernel's copy fail with -EFAULT inside the kernel (a
 * kernel-mode fault raises no SIGBUS; tests/net/test_sendfile.c checks it), after the
 * bytes before the lost page went: the rest goes by the next path, which reads to the new
 * end. Measured faster than splice and read+send on loopback for large files, slower for
 * small ones (docs/benchmarks.md).
 *
 * Splice: the file is spliced (IORING_OP_SPLICE) into a pipe from the kernel's cache
 * (kernel/pipes.c), then the pipe into the socket, one pipeful per round. The pipe is put
 * back only when it is empty: a round interrupted between the two splices (or in the
 * middle of the second) leaves bytes in it that never reached the socket; they are not
 * counted, and the pipe is closed instead. Splices run in io_uring's workers and block
 * there like splice(2) on a blocking socket; curio__op_wait keeps their deadlines in the
 * timer heap (kernel/trap.c), and cancelling one interrupts it with the count it moved.
 *
 * Read+send: without IORING_OP_SPLICE, for a file splice refuses (-EINVAL at the first
 * round), when no descriptor is left for a pipe (-EMFILE, -ENFILE), and for a socket with
 * a transport (TLS), the bytes are read (pread) into a buffer and sent (send with
 * MSG_WAITALL, or the transport's sendall).
 *
 * The call claims the socket's write direction for its whole length (not once per
 * operation), so another task's send cannot slip between two rounds, and a close by
 * another task interrupts whichever operation the call waits for.
 */
#include "net.h"
#include "../io/io.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

size_t curio__sendfile_chunk = 256u * 1024;
size_t curio__sendfile_window = 4u << 20;
size_t curio__sendfile_map_min = 4u << 20;
int curio__sendfile_first = CURIO__SENDFILE_MAP;
int curio__sendfile_populate = CURIO__POPULATE_WORKER;
unsigned curio__sendfile_splice_flags;

/* Fault the window's pages in (madvise MADV_POPULATE_READ, Linux 5.14) in one of
 * io_uring's workers, which share the address space: a page that is not in the cache is
 * read there, not in the kernel's thread. */
static ssize_t populate(void *addr, size_t len)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin(&op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_madvise(sqe, addr, (off_t)len, MADV_POPULATE_READ);
    sqe->flags |= IOSQE_ASYNC; /* where it runs anyway; its deadline in the timer heap */
    return curio__op_wait(&op, sqe, "READ_WAIT");
}

/* One window's send from a read-only shared mapping of the file: [off, off + n) mapped
 * from the page below off; the mapping is gone when this returns (the send, zero-copy or
 * not, has completed, so the kernel no longer refers to it). 1: no byte of it went, take
 * the next path (mmap refused; the populate refused, as a kernel older than 5.14 does
 * with -EINVAL; the file ends before the window: -EFAULT). */
static int send_window(curio_socket *s, int in_fd, int64_t off, size_t n, bool zc,
                       size_t *done)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t head = (size_t)off & (page - 1);
    int pop = curio__sendfile_populate;
    void *m = mmap(NULL, head + n, PROT_READ,
                   MAP_SHARED | (pop == CURIO__POPULATE_MAP ? MAP_POPULATE : 0), in_fd,
                   (off_t)(off - (int64_t)head));
    if (m == MAP_FAILED)
        return 1;
    ssize_t rc = pop == CURIO__POPULATE_WORKER ? populate(m, head + n) : 0;
    if (rc == -EINVAL)
        curio__op_deny(IORING_OP_MADVISE); /* no MADV_POPULATE_READ: not again */
    if (rc == -EINVAL || rc == -EFAULT || rc == -ENOMEM)
        rc = 1;
    if (rc == 0) {
        const char *p = (const char *)m + head;
        rc = zc ? curio__sendall_zc_entered(s, p, n, 0, done)
                : curio__sendall_entered(s, p, n, 0, done);
    }
    munmap(m, head + n);
    return (int)rc;
}

/* Windows of the file sent from a mapping, up to the end fstat reports (looked at again
 * when reached, for a file that grows). 1: take the next path for the rest, which starts
 * at offset + *done: a kernel without IORING_OP_MADVISE, a file that is not regular, less
 * than curio__sendfile_map_min bytes to send (by count, or by fstat from off: /proc's
 * files show 0), a window send_window gives up on, and a send that faults (-EFAULT: the
 * file was truncated under the mapping; the next path reads to its new end). */
static ssize_t map_loop(curio_socket *s, int fd, int in_fd, int64_t off, size_t left,
                        bool zc, size_t *done)
{
    if (curio__sendfile_populate == CURIO__POPULATE_WORKER &&
        !curio__op_supported(IORING_OP_MADVISE))
        return 1;
    struct stat st;
    if (fstat(in_fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || st.st_size <= off ||
        ((uint64_t)(st.st_size - off) < curio__sendfile_map_min ||
         left < curio__sendfile_map_min))
        return 1;
    int64_t end = st.st_size;
    while (left) {
        if (off >= end) {
            if (fstat(in_fd, &st) < 0)
                return -errno;
            if (st.st_size <= off)
                return 0; /* the end of the file */
            end = st.st_size;
        }
        if (s->fd != fd)
            return -EBADF;
        size_t n = curio__sendfile_window;
        if ((uint64_t)(end - off) < n)
            n = (size_t)(end - off);
        if (left < n)
            n = left;
        int rc = send_window(s, in_fd, off, n, zc, done);
        if (rc == -EFAULT || rc == 1)
            return 1;
        if (rc < 0)
            return rc;
        off += (int64_t)n;
        left -= n;
    }
    return 0;
}

static ssize_t fill(int in_fd, const curio__pipe *p, int64_t off, size_t n)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin(&op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_splice(sqe, in_fd, off, p->wr, -1, curio__op_len(n), 0);
    return curio__op_wait(&op, sqe, "READ_WAIT");
}

static ssize_t drain(int fd, const curio__pipe *p, size_t n)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin_fd2(&op, &sqe, p->rd, CURIO__FD_READ, fd, CURIO__FD_WRITE);
    if (rc < 0)
        return rc;
    io_uring_prep_splice(sqe, p->rd, -1, fd, -1, curio__op_len(n),
                         curio__sendfile_splice_flags);
    return curio__op_wait(&op, sqe, "WRITE_WAIT");
}

/* Rounds of fill and drain; *done counts what reached the socket. 1: use the copy path
 * instead (no descriptor for a pipe, or -EINVAL from the first fill: a file splice
 * refuses). */
static ssize_t splice_loop(curio_socket *s, int fd, int in_fd, int64_t off, size_t left,
                           size_t *done)
{
    curio_kernel *k = curio__tls_kernel;
    curio__pipe p;
    int rc = curio__pipe_get(k, &p);
    if (rc == -EMFILE || rc == -ENFILE)
        return 1; /* at the descriptor limit: the read+send path needs none */
    if (rc < 0)
        return rc;
    bool empty = true, first = true;
    ssize_t res = 0;
    while (left) {
        if (s->fd != fd) {
            res = -EBADF;
            break;
        }
        ssize_t n = fill(in_fd, &p, off, left < p.size ? left : p.size);
        if (n <= 0) {
            res = n == -EINVAL && first ? 1 : n;
            break;
        }
        empty = first = false;
        for (size_t in = (size_t)n; in;) {
            ssize_t m = drain(fd, &p, in);
            if (m <= 0) {
                res = m < 0 ? m : -EPIPE; /* 0 cannot happen for in > 0 */
                break;
            }
            in -= (size_t)m;
            *done += (size_t)m;
        }
        if (res < 0)
            break;
        empty = true;
        off += n;
        left -= (size_t)n;
    }
    curio__pipe_put(k, &p, empty);
    return res;
}

static ssize_t read_at(int in_fd, void *buf, size_t n, int64_t off)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin(&op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_read(sqe, in_fd, buf, curio__op_len(n), (uint64_t)off);
    return curio__op_wait(&op, sqe, "READ_WAIT");
}

static ssize_t send_at(curio_socket *s, int fd, const char *buf, size_t n, size_t *done)
{
    if (s->transport) {
        size_t w = 0;
        ssize_t rc = s->transport->sendall(s, buf, n, 0, &w);
        *done += w;
        return rc;
    }
    if (s->fd != fd)
        return -EBADF;
    return curio__sendall_entered(s, buf, n, 0, done);
}

/* pread and send, chunk by chunk. */
static ssize_t copy_loop(curio_socket *s, int fd, int in_fd, int64_t off, size_t left,
                         size_t *done)
{
    size_t cap = left < curio__sendfile_chunk ? left : curio__sendfile_chunk;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    ssize_t res = 0;
    while (left) {
        ssize_t n = read_at(in_fd, buf, left < cap ? left : cap, off);
        if (n <= 0) {
            res = n;
            break;
        }
        res = send_at(s, fd, buf, (size_t)n, done);
        if (res < 0)
            break;
        off += n;
        left -= (size_t)n;
    }
    free(buf);
    return res;
}

static ssize_t send_fd(curio_socket *s, int in_fd, int64_t offset, size_t count, size_t *sent)
{
    size_t done = 0;
    size_t left = count ? count : SIZE_MAX;
    ssize_t rc;
    if (!s || offset < 0) {
        rc = -EINVAL;
    } else if (in_fd < 0) {
        rc = -EBADF;
    } else if (s->type != SOCK_STREAM) {
        rc = -EINVAL;
    } else if (!curio__self()) {
        rc = -EPERM;
    } else if (s->transport) {
        /* The transport enters s itself. */
        rc = copy_loop(s, -1, in_fd, offset, left, &done);
    } else if ((rc = curio__socket_enter(s)) == 0) {
        int fd = s->fd;
        curio__task *self = curio__self();
        int claim = curio__fd_claim(self, fd, CURIO__FD_WRITE);
        if (claim < 0) {
            rc = claim;
        } else {
            rc = 1;
            if (curio__sendfile_first != CURIO__SENDFILE_SPLICE)
                rc = map_loop(s, fd, in_fd, offset, left,
                              curio__sendfile_first == CURIO__SENDFILE_MAP_ZC, &done);
            if (rc == 1 && curio__op_supported(IORING_OP_SPLICE))
                rc = splice_loop(s, fd, in_fd, offset + (int64_t)done, left - done, &done);
            if (rc == 1)
                rc = copy_loop(s, fd, in_fd, offset + (int64_t)done, left - done, &done);
            if (claim == 0)
                curio__fd_unclaim(self, fd, CURIO__FD_WRITE);
        }
        rc = curio__socket_leave(s, rc);
    }
    if (sent)
        *sent = done;
    return rc < 0 ? rc : (ssize_t)done;
}

ssize_t curio_sendfile_fd(curio_socket *s, int in_fd, int64_t offset, size_t count,
                          size_t *sent)
{
    return send_fd(s, in_fd, offset, count, sent);
}

ssize_t curio_sendfile(curio_socket *s, curio_file *f, int64_t offset, size_t count,
                       size_t *sent)
{
    if (sent)
        *sent = 0;
    if (!f)
        return -EINVAL;
    /* No claim on the file (its position is not used), but counted as a user, so that a
     * close meanwhile waits for the call to leave before freeing f. */
    int rc = curio__stream_enter(&f->s, 0);
    if (rc < 0)
        return rc;
    if (f->accmode == O_WRONLY)
        return curio__stream_leave(&f->s, 0, -EBADF);
    if (!f->seekable)
        return curio__stream_leave(&f->s, 0, -ESPIPE);
    return curio__stream_leave(&f->s, 0, send_fd(s, f->s.fd, offset, count, sent));
}
