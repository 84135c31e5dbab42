/*
 * io/file.c - async files (Curio's aopen): opening through io_uring, Python mode strings,
 * and the positioned calls (read, write, lines, seek, tell, the blocking() escape).
 *
 * A file is a stream over its descriptor that reads and writes at the descriptor's own
 * position, so code that shares the descriptor, and the blocking() escape, see the same
 * position. Its read buffer (for the line calls) runs ahead of that position: the file's
 * position is the descriptor's minus the buffered bytes, and a write, a seek outside the
 * buffer or the blocking() escape first moves the descriptor back over them with lseek(2).
 * lseek never blocks (there is no io_uring operation for it).
 */
#include "io.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(offsetof(curio_file, s) == 0, "a file is freed as its stream");

#define FILE_MAX_LINE (1024 * 1024)

/*
 * One openat. With async, the open runs in io_uring's worker (IOSQE_ASYNC), where it may
 * block (a FIFO waiting for its other end); curio__op_wait then keeps its deadline in the
 * timer heap rather than in a linked timeout (kernel/trap.c).
 */
static int open_op(const char *path, int flags, mode_t mode, bool async)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin(&op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_openat(sqe, AT_FDCWD, path, flags | O_CLOEXEC, mode);
    if (async)
        sqe->flags |= IOSQE_ASYNC;
    return curio__op_wait(&op, sqe, "OPEN_WAIT");
}

static bool is_fifo(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/*
 * io_uring first tries an open inline with O_NONBLOCK added (and clears it afterwards),
 * which changes what opening a FIFO means: for reading it does not wait for a writer
 * (reads then see end of file until one comes), for writing it fails with ENXIO instead
 * of waiting for a reader. Unless the caller asked for O_NONBLOCK, those two cases are
 * opened again with IOSQE_ASYNC, in io_uring's worker, where the open waits as open(2)
 * does. The first descriptor of a FIFO opened for reading is kept until the second open
 * is done, so that a writer it let through never sees the FIFO without a reader.
 */
static int open_fd(const char *path, int flags, mode_t mode)
{
    int fd = open_op(path, flags, mode, false);
    if (flags & O_NONBLOCK)
        return fd;
    int acc = flags & O_ACCMODE;
    if (fd == -ENXIO && acc == O_WRONLY)
        return open_op(path, flags, mode, true);
    if (fd >= 0 && acc == O_RDONLY && lseek(fd, 0, SEEK_CUR) < 0 && is_fifo(fd)) {
        int again = open_op(path, flags, mode, true);
        curio__fd_close(fd);
        return again;
    }
    return fd;
}

void curio__file_init(curio_file *f, int fd, int flags)
{
    curio_stream_options o = {.max_line = FILE_MAX_LINE};
    curio__stream_init(&f->s, fd, false, &o);
    f->accmode = flags & O_ACCMODE;
    f->seekable = lseek(fd, 0, SEEK_CUR) >= 0;
}

int curio_file_open(curio_file **out, const char *path, int flags, mode_t mode)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!path)
        return -EINVAL;
    /* Allocated first, so that an opened descriptor never has to be given back. */
    curio_file *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    int fd = open_fd(path, flags, mode);
    if (fd < 0) {
        free(f);
        return fd;
    }
    curio__file_init(f, fd, flags);
    *out = f;
    return 0;
}

/* Python's open() modes: exactly one of r w a x, at most one +, at most one of b t, in
 * any order. Returns the open(2) flags or -EINVAL. */
static int mode_flags(const char *m)
{
    int base = 0, plus = 0, bt = 0;
    for (; *m; m++) {
        switch (*m) {
        case 'r': case 'w': case 'a': case 'x':
            if (base)
                return -EINVAL;
            base = *m;
            break;
        case '+':
            if (plus++)
                return -EINVAL;
            break;
        case 'b': case 't':
            if (bt++)
                return -EINVAL;
            break;
        default:
            return -EINVAL;
        }
    }
    int fl;
    switch (base) {
    case 'r': fl = 0; break;
    case 'w': fl = O_CREAT | O_TRUNC; break;
    case 'a': fl = O_CREAT | O_APPEND; break;
    case 'x': fl = O_CREAT | O_EXCL; break;
    default: return -EINVAL;
    }
    if (plus)
        return fl | O_RDWR;
    return fl | (base == 'r' ? O_RDONLY : O_WRONLY);
}

int curio_aopen(curio_file **out, const char *path, const char *mode)
{
    if (out)
        *out = NULL;
    int fl = mode ? mode_flags(mode) : -EINVAL;
    if (fl < 0)
        return fl;
    int rc = curio_file_open(out, path, fl, 0666);
    /* As Python does: an appending file starts out positioned at its end. */
    if (rc == 0 && (fl & O_APPEND))
        lseek((*out)->s.fd, 0, SEEK_END);
    return rc;
}

int curio_file_fd(const curio_file *f) { return f ? f->s.fd : -1; }

int curio_file_close(curio_file *f) { return f ? curio_stream_close(&f->s) : 0; }

/* Enter f for a positioned call (both directions: they share the position). */
static int enter(curio_file *f, int need)
{
    if (!f)
        return -EINVAL;
    int rc = curio__stream_enter(&f->s, CURIO__GATE_BOTH);
    if (rc == 0 && need >= 0 && f->accmode != O_RDWR && f->accmode != need)
        rc = (int)curio__stream_leave(&f->s, CURIO__GATE_BOTH, -EBADF);
    return rc;
}

static ssize_t leave(curio_file *f, ssize_t rc)
{
    return curio__stream_leave(&f->s, CURIO__GATE_BOTH, rc);
}

/* Give the buffered bytes back to the descriptor (its position moves back over them) and
 * empty the buffer. On a descriptor that cannot seek they cannot be given back: -ESPIPE,
 * and they stay. */
static int unread(curio_file *f)
{
    curio_stream *s = &f->s;
    size_t b = curio__buffered(s);
    if (b && lseek(s->fd, -(off_t)b, SEEK_CUR) < 0)
        return -errno;
    curio__rbuf_drop(s);
    return 0;
}

ssize_t curio_file_read(curio_file *f, void *buf, size_t n)
{
    int rc = enter(f, O_RDONLY);
    if (rc < 0)
        return rc;
    if (!buf && n)
        return leave(f, -EINVAL);
    return leave(f, curio__read_in(&f->s, buf, n));
}

ssize_t curio_file_writelines(curio_file *f, const struct iovec *iov, int iovcnt,
                              size_t *done)
{
    size_t d = 0;
    ssize_t rc = enter(f, O_WRONLY);
    if (rc == 0) {
        /* On a FIFO or terminal (-ESPIPE) reads and writes are separate: the buffer stays. */
        int u = unread(f);
        if (iovcnt < 0 || (iovcnt && !iov))
            rc = -EINVAL;
        else if (u < 0 && u != -ESPIPE)
            rc = u;
        else
            rc = curio__write_in(&f->s, iov, iovcnt, &d);
        rc = leave(f, rc);
    }
    if (done)
        *done = d;
    return rc;
}

ssize_t curio_file_write(curio_file *f, const void *buf, size_t n, size_t *done)
{
    if (!buf && n) {
        if (done)
            *done = 0;
        return -EINVAL;
    }
    struct iovec v = {(void *)buf, n};
    return curio_file_writelines(f, &v, 1, done);
}

ssize_t curio_file_read_all(curio_file *f, char **data, size_t *len)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!data || !len)
        return -EINVAL;
    int rc = enter(f, O_RDONLY);
    if (rc < 0)
        return rc;
    return leave(f, curio__read_all_in(&f->s, data, len));
}

ssize_t curio_file_readline(curio_file *f, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return -EINVAL;
    buf[0] = 0;
    int rc = enter(f, O_RDONLY);
    if (rc < 0)
        return rc;
    return leave(f, curio__readline_in(&f->s, buf, cap));
}

ssize_t curio_file_readline_ref(curio_file *f, const char **line)
{
    if (!line)
        return -EINVAL;
    *line = NULL;
    int rc = enter(f, O_RDONLY);
    if (rc < 0)
        return rc;
    return leave(f, curio__readline_ref_in(&f->s, line));
}

int curio_file_readlines(curio_file *f, char ***lines, size_t *count)
{
    if (lines)
        *lines = NULL;
    if (count)
        *count = 0;
    if (!lines || !count)
        return -EINVAL;
    int rc = enter(f, O_RDONLY);
    if (rc < 0)
        return rc;
    return (int)leave(f, curio__readlines_in(&f->s, lines, count));
}

int64_t curio_file_tell(const curio_file *f)
{
    if (!f)
        return -EINVAL;
    off_t p = lseek(f->s.fd, 0, SEEK_CUR);
    if (p < 0)
        return -errno;
    return (int64_t)p - (int64_t)curio__buffered(&f->s);
}

/* A target inside the buffer moves within it; anything else moves the descriptor and
 * drops the buffer. */
static int64_t seek_in(curio_file *f, int64_t offset, int whence)
{
    curio_stream *s = &f->s;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END)
        return -EINVAL;
    if (whence != SEEK_END && s->rend) {
        off_t kpos = lseek(s->fd, 0, SEEK_CUR);
        if (kpos < 0)
            return -errno;
        int64_t pos = (int64_t)kpos - (int64_t)curio__buffered(s);
        int64_t base = (int64_t)kpos - (int64_t)s->rend; /* file offset of rbuf[0] */
        int64_t target;
        if (whence == SEEK_SET)
            target = offset;
        else if (__builtin_add_overflow(pos, offset, &target))
            return -EINVAL;
        if (target >= base && target <= (int64_t)kpos) {
            s->rstart = s->rscan = (size_t)(target - base);
            return target;
        }
        if (target < 0)
            return -EINVAL;
        offset = target;
        whence = SEEK_SET;
    }
    off_t r = lseek(s->fd, (off_t)offset, whence);
    if (r < 0)
        return -errno;
    curio__rbuf_drop(s);
    return (int64_t)r;
}

int64_t curio_file_seek(curio_file *f, int64_t offset, int whence)
{
    int rc = enter(f, -1);
    if (rc < 0)
        return rc;
    return leave(f, seek_in(f, offset, whence));
}

int curio_file_flush(curio_file *f)
{
    if (!f)
        return -EINVAL;
    if (f->s.gate.closing)
        return -EBADF;
    return f->s.gate.lent ? -EBUSY : 0;
}

int curio_file_blocking(curio_file *f)
{
    int rc = enter(f, -1);
    if (rc < 0)
        return rc;
    rc = unread(f);
    if (rc == -ESPIPE)
        rc = -EBUSY; /* unread bytes that cannot be given back: read them first */
    rc = (int)leave(f, rc < 0 ? rc : f->s.fd);
    if (rc >= 0)
        f->s.gate.lent = true;
    return rc;
}

void curio_file_unblock(curio_file *f)
{
    if (f)
        f->s.gate.lent = false;
}

int curio__file_enter(curio_file *f) { return enter(f, -1); }
ssize_t curio__file_leave(curio_file *f, ssize_t rc) { return leave(f, rc); }
int curio__file_unread(curio_file *f) { return unread(f); }
