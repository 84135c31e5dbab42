/*
 * io/openat.c - opening relative to a directory with openat2(2)'s resolve rules
 * (curio_file_openat): RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS ... keep a file server inside
 * its root whatever the path says.
 *
 * Through IORING_OP_OPENAT2 (Linux 5.6) where the kernel has it, with the FIFO handling of
 * curio_file_open (io/file.c: io_uring first tries an open inline with O_NONBLOCK, so a
 * FIFO is opened again in io_uring's worker, where the open waits as open(2) does).
 * Without the opcode, the openat2 system call runs on a pool thread; never plain openat:
 * a kernel without openat2 makes the call fail with -ENOSYS, so the resolve rules hold or
 * nothing is opened. The pool's job is orphanable (a FIFO's open may block until its
 * other end comes): an interrupted call returns at once, and the job closes what it opened
 * late and frees itself.
 */
#include "io.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(CURIO_RESOLVE_NO_XDEV == RESOLVE_NO_XDEV &&
                   CURIO_RESOLVE_NO_MAGICLINKS == RESOLVE_NO_MAGICLINKS &&
                   CURIO_RESOLVE_NO_SYMLINKS == RESOLVE_NO_SYMLINKS &&
                   CURIO_RESOLVE_BENEATH == RESOLVE_BENEATH &&
                   CURIO_RESOLVE_IN_ROOT == RESOLVE_IN_ROOT &&
                   CURIO_RESOLVE_CACHED == RESOLVE_CACHED,
               "curio's RESOLVE_* are Linux's");

#define RESOLVE_ALL                                                                         \
    (CURIO_RESOLVE_NO_XDEV | CURIO_RESOLVE_NO_MAGICLINKS | CURIO_RESOLVE_NO_SYMLINKS |      \
     CURIO_RESOLVE_BENEATH | CURIO_RESOLVE_IN_ROOT | CURIO_RESOLVE_CACHED)

static int open2_op(int dirfd, const char *path, const struct open_how *how, bool async)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin(&op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_openat2(sqe, dirfd, path, (struct open_how *)how);
    if (async)
        sqe->flags |= IOSQE_ASYNC;
    return curio__op_wait(&op, sqe, "OPEN_WAIT");
}

static bool is_fifo(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* io/file.c's open_fd, with openat2. */
static int open2_ring(int dirfd, const char *path, const struct open_how *how)
{
    int fd = open2_op(dirfd, path, how, false);
    if (how->flags & O_NONBLOCK)
        return fd;
    int acc = (int)(how->flags & O_ACCMODE);
    if (fd == -ENXIO && acc == O_WRONLY)
        return open2_op(dirfd, path, how, true);
    if (fd >= 0 && acc == O_RDONLY && lseek(fd, 0, SEEK_CUR) < 0 && is_fifo(fd)) {
        int again = open2_op(dirfd, path, how, true);
        curio__fd_close(fd);
        return again;
    }
    return fd;
}

typedef struct open_job {
    curio__job j;
    int dirfd;          /* a duplicate (or AT_FDCWD), the job's own */
    char *path;         /* a copy */
    struct open_how how;
    int res;            /* the descriptor or -errno */
} open_job;

static void job_free(open_job *o)
{
    if (o->dirfd >= 0)
        close(o->dirfd);
    free(o->path);
    free(o);
}

static void job_work(curio__job *j)
{
    open_job *o = (open_job *)j;
    long r = syscall(SYS_openat2, o->dirfd, o->path, &o->how, sizeof o->how);
    o->res = r < 0 ? -errno : (int)r;
}

static void job_orphan(curio__job *j)
{
    open_job *o = (open_job *)j;
    if (o->res >= 0)
        close(o->res);
    job_free(o);
}

static int open2_thread(int dirfd, const char *path, const struct open_how *how)
{
    open_job *o = calloc(1, sizeof *o);
    if (!o)
        return -ENOMEM;
    o->dirfd = -1;
    o->res = -EAGAIN;
    o->path = strdup(path);
    if (!o->path) {
        job_free(o);
        return -ENOMEM;
    }
    if (dirfd == AT_FDCWD) {
        o->dirfd = AT_FDCWD;
    } else if ((o->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0) {
        int e = -errno;
        job_free(o);
        return e;
    }
    o->how = *how;
    o->j.work = job_work;
    o->j.orphan = job_orphan;
    int rc = curio__job_run(&o->j, "OPEN_WAIT");
    if (rc < 0)
        return rc; /* the job is no longer ours: orphan frees it */
    rc = o->res;
    job_free(o);
    return rc;
}

/* The descriptor, or negative. */
static int open2(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
    if (resolve & ~(uint64_t)RESOLVE_ALL)
        return -EINVAL;
    struct open_how how = {
        .flags = (uint64_t)(unsigned)(flags | O_CLOEXEC),
        /* openat2 refuses a mode without O_CREAT or O_TMPFILE; open(2) ignores it. */
        .mode = (flags & (O_CREAT | __O_TMPFILE)) ? (uint64_t)(mode & 07777) : 0,
        .resolve = resolve,
    };
    if (curio__op_supported(IORING_OP_OPENAT2))
        return open2_ring(dirfd, path, &how);
    return open2_thread(dirfd, path, &how);
}

static int make_file(curio_file **out, int fd, int flags)
{
    curio_file *f = calloc(1, sizeof(*f));
    if (!f) {
        curio__fd_close(fd);
        return -ENOMEM;
    }
    curio__file_init(f, fd, flags);
    *out = f;
    return 0;
}

int curio_file_openat_fd(curio_file **out, int dirfd, const char *path, int flags,
                         mode_t mode, uint64_t resolve)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!path)
        return -EINVAL;
    if (dirfd < 0 && dirfd != AT_FDCWD)
        return -EBADF;
    int fd = open2(dirfd, path, flags, mode, resolve);
    return fd < 0 ? fd : make_file(out, fd, flags);
}

int curio_file_openat(curio_file **out, curio_file *dir, const char *path, int flags,
                      mode_t mode, uint64_t resolve)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!dir || !path)
        return -EINVAL;
    /* Counted as a user of dir, so that a close meanwhile waits for this call to leave. */
    int rc = curio__stream_enter(&dir->s, 0);
    if (rc < 0)
        return rc;
    int fd = open2(dir->s.fd, path, flags, mode, resolve);
    rc = (int)curio__stream_leave(&dir->s, 0, fd < 0 ? fd : 0);
    if (rc < 0) {
        if (fd >= 0)
            curio__fd_close(fd); /* dir was closed meanwhile */
        return rc;
    }
    return make_file(out, fd, flags);
}
