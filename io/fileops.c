/*
 * io/fileops.c - the calls on a file that do not use its position: pread, pwrite, fsync,
 * fdatasync, stat; and truncate, with its probe for IORING_OP_FTRUNCATE.
 */
#include "io.h"

#include <fcntl.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_OP_BYTES 0x7ffff000u

/* No claim (any number may be in flight), but counted as users so that a close meanwhile
 * waits for them before freeing f. */
static int enter(curio_file *f) { return f ? curio__stream_enter(&f->s, 0) : -EINVAL; }
static ssize_t leave(curio_file *f, ssize_t rc) { return curio__stream_leave(&f->s, 0, rc); }

static ssize_t prw(curio_file *f, void *buf, size_t n, int64_t offset, bool write)
{
    if (offset < 0 || (!buf && n))
        return -EINVAL;
    int rc = enter(f);
    if (rc < 0)
        return rc;
    /* pread(2) says -ESPIPE; io_uring would read the stream and ignore the offset. */
    if (!f->seekable)
        return leave(f, -ESPIPE);
    curio__op op;
    struct io_uring_sqe *sqe;
    rc = curio__op_begin(&op, &sqe);
    if (rc < 0)
        return leave(f, rc);
    unsigned len = n > MAX_OP_BYTES ? MAX_OP_BYTES : (unsigned)n;
    if (write)
        io_uring_prep_write(sqe, f->s.fd, buf, len, (uint64_t)offset);
    else
        io_uring_prep_read(sqe, f->s.fd, buf, len, (uint64_t)offset);
    return leave(f, curio__op_wait(&op, sqe, write ? "WRITE_WAIT" : "READ_WAIT"));
}

ssize_t curio_file_pread(curio_file *f, void *buf, size_t n, int64_t offset)
{
    return prw(f, buf, n, offset, false);
}

ssize_t curio_file_pwrite(curio_file *f, const void *buf, size_t n, int64_t offset)
{
    return prw(f, (void *)buf, n, offset, true);
}

static int sync_file(curio_file *f, unsigned flags)
{
    int rc = enter(f);
    if (rc < 0)
        return rc;
    curio__op op;
    struct io_uring_sqe *sqe;
    rc = curio__op_begin(&op, &sqe);
    if (rc == 0) {
        io_uring_prep_fsync(sqe, f->s.fd, flags);
        rc = curio__op_wait(&op, sqe, "FSYNC_WAIT");
    }
    return (int)leave(f, rc);
}

int curio_file_fsync(curio_file *f) { return sync_file(f, 0); }
int curio_file_datasync(curio_file *f) { return sync_file(f, IORING_FSYNC_DATASYNC); }

static void from_statx(struct stat *st, const struct statx *x)
{
    memset(st, 0, sizeof(*st));
    st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->st_ino = x->stx_ino;
    st->st_mode = x->stx_mode;
    st->st_nlink = x->stx_nlink;
    st->st_uid = x->stx_uid;
    st->st_gid = x->stx_gid;
    st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
    st->st_size = (off_t)x->stx_size;
    st->st_blksize = x->stx_blksize;
    st->st_blocks = (blkcnt_t)x->stx_blocks;
    st->st_atim.tv_sec = x->stx_atime.tv_sec;
    st->st_atim.tv_nsec = x->stx_atime.tv_nsec;
    st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
    st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
    st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
    st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

int curio_file_stat(curio_file *f, struct stat *st)
{
    if (!st)
        return -EINVAL;
    int rc = enter(f);
    if (rc < 0)
        return rc;
    curio__op op;
    struct io_uring_sqe *sqe;
    struct statx x; /* written by the kernel: lives here until the completion */
    rc = curio__op_begin(&op, &sqe);
    if (rc == 0) {
        io_uring_prep_statx(sqe, f->s.fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &x);
        rc = curio__op_wait(&op, sqe, "STAT_WAIT");
    }
    if (rc == 0)
        from_statx(st, &x);
    return (int)leave(f, rc);
}

/*
 * IORING_OP_FTRUNCATE arrived in Linux 6.9, after liburing 2.3, whose headers do not name
 * it: the SQE is prepared by hand (opcode 55; fd; the length in off; every other field
 * zero, which the kernel checks). Whether the running kernel has it is asked once per
 * process with a probe. Without it, ftruncate(2) runs on the calling thread: it may block
 * the kernel's thread on a slow file system, but hides no thread.
 */
#define OP_FTRUNCATE 55

_Atomic int curio__io_have_ftruncate = -1;

static bool ftruncate_supported(curio_kernel *k)
{
    int v = atomic_load_explicit(&curio__io_have_ftruncate, memory_order_relaxed);
    if (v < 0) {
        struct io_uring_probe *p = io_uring_get_probe_ring(curio__kernel_ring(k));
        v = p && io_uring_opcode_supported(p, OP_FTRUNCATE);
        if (p)
            io_uring_free_probe(p);
        atomic_store_explicit(&curio__io_have_ftruncate, v, memory_order_relaxed);
    }
    return v;
}

int curio_file_truncate(curio_file *f, int64_t length)
{
    if (length < 0)
        return -EINVAL;
    int rc = curio__file_enter(f);
    if (rc < 0)
        return rc;
    /* Bytes buffered past the new end would be stale. */
    rc = curio__file_unread(f);
    if (rc == -ESPIPE)
        rc = -EINVAL; /* what ftruncate(2) says for a FIFO */
    curio__task *self = curio__self();
    if (rc == 0 && !ftruncate_supported(curio__task_kernel(self))) {
        rc = curio__trap_check(self);
        if (rc == 0 && ftruncate(f->s.fd, (off_t)length) < 0)
            rc = -errno;
        return (int)curio__file_leave(f, rc);
    }
    curio__op op;
    struct io_uring_sqe *sqe;
    if (rc == 0)
        rc = curio__op_begin(&op, &sqe);
    if (rc == 0) {
        io_uring_prep_rw(OP_FTRUNCATE, sqe, f->s.fd, NULL, 0, (uint64_t)length);
        rc = curio__op_wait(&op, sqe, "TRUNCATE_WAIT");
    }
    return (int)curio__file_leave(f, rc);
}
