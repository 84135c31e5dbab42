/*
 * io/io.h - the io layer's private interface: the stream's layout and the internal calls
 * the files of io/ (and the layers above: net/) share. Nothing here is exported.
 *
 * Locking model: the gate (kernel/gate.h). Every public call on a stream that may suspend
 * first enters it for one or both directions: the entering task becomes the gate's reader
 * and/or writer, and another task that wants the same direction gets -EBUSY (Curio's
 * ResourceBusy) instead of interleaving with it. A file enters both directions for
 * positioned calls, because reads and writes share its position. Closing a stream that
 * has users only marks it closing and interrupts the reader and writer with -EBADF; every
 * call in progress returns -EBADF and the last to leave frees it. So no call ever touches
 * a freed stream, and a close never has to wait for, or fail because of, another task.
 */
#ifndef CURIO_IO_PRIVATE_H
#define CURIO_IO_PRIVATE_H

#include "../kernel/gate.h"

#include <sys/uio.h>

/*
 * A transport under a stream, for the layers above (net/'s TLS: wolfSSL_read/write over
 * the socket): the stream's buffering, lines, claims, partial counts and close then work
 * unchanged over it. Each call is one blocking operation of the calling task, made with
 * the stream entered in that direction; it must leave nothing in flight when it returns
 * (curio_read/curio_write on the descriptor do that) and return like them: a count, 0
 * at end of stream, or a negative code. close (may be NULL) releases ctx when the stream
 * is freed, before the descriptor is closed (unless keep_fd); it must not block.
 */
typedef struct curio__stream_transport {
    ssize_t (*recv)(void *ctx, void *buf, size_t n);
    ssize_t (*sendv)(void *ctx, const struct iovec *iov, int cnt);
    void (*close)(void *ctx);
} curio__stream_transport;

struct curio_stream {
    int fd;
    bool socket;            /* recv/send (MSG_NOSIGNAL) instead of read/write */
    bool keep_fd;           /* close leaves fd open */
    curio__gate gate;       /* calls in progress, the reader and writer, closing, and lent
                               (handed out by the blocking() escape: every call -EBUSY) */
    const curio__stream_transport *transport; /* NULL: the descriptor itself */
    void *transport_ctx;

    /* Read buffer. Bytes [rstart, rend) of rbuf are unread; [rstart, rscan) is known to
     * hold no '\n' (so a long line is scanned once, not once per refill). rbuf is NULL
     * until the first read that needs it; rcap is rsize, or more while a long line is
     * being collected (at most max_line + 1: one byte past the limit tells a line of
     * exactly max_line bytes from a longer one). */
    char *rbuf;
    size_t rcap, rstart, rend, rscan;
    bool rdirect;           /* sockets: the last refill brought less than read(n) asked
                               for and the buffer was freed; read(n) with nothing buffered
                               receives straight into the caller's memory (io/read.c) */
    size_t rsize;           /* the buffer's normal size (options.buffer_size) */
    size_t max_line;

    /* Write buffer: bytes [wstart, wlen) of wbuf are accepted and not yet sent.
     * wcap == 0: unbuffered. */
    char *wbuf;
    size_t wcap, wstart, wlen;
};

struct curio_file {
    curio_stream s;         /* first member: a file is freed as its stream */
    int accmode;            /* O_RDONLY, O_WRONLY or O_RDWR */
    bool seekable;          /* lseek works: false for FIFOs, sockets, terminals, where
                               io_uring would ignore a pread's offset */
};

/* ---- entering and leaving (the claims described above) ---- */

/* Enter s for the directions in dirs (CURIO__GATE_*). -EINVAL (NULL), -EPERM (outside a
 * task), -EBUSY (another task holds one of them, or s is in blocking mode), -EBADF (s is
 * being closed). Never a cancellation point by itself. */
static inline int curio__stream_enter(curio_stream *s, unsigned dirs)
{
    if (!s)
        return -EINVAL;
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    return curio__gate_enter(&s->gate, self, dirs);
}

CURIO__HIDDEN void curio__stream_destroy(curio_stream *s);

/* Flush s (blocking, under the caller's scopes) and say what stayed in its write buffer:
 * *left, read before leaving, so exact also when s was closed meanwhile (then *closed is
 * set, s may be freed, and the result is -EBADF). Returns 0 or the flush's error. */
CURIO__HIDDEN int curio__stream_flush_left(curio_stream *s, size_t *left, bool *closed);

/* Leave what curio__stream_enter entered and return rc, or -EBADF if s was closed
 * meanwhile (then it may be freed: do not touch s afterwards). */
static inline ssize_t curio__stream_leave(curio_stream *s, unsigned dirs, ssize_t rc)
{
    if (__builtin_expect(curio__gate_leave(&s->gate, dirs, &rc), 0))
        curio__stream_destroy(s);
    return rc;
}

/* Set up a stream in place (s zeroed by the caller). */
CURIO__HIDDEN void curio__stream_init(curio_stream *s, int fd, bool socket,
                                      const curio_stream_options *o);

/* curio_stream_open over a transport (t and ctx must outlive the stream; t->close
 * releases ctx). fd is what curio_stream_fd reports and close closes (unless keep_fd). */
CURIO__HIDDEN int curio__stream_open_transport(curio_stream **out, int fd,
                                               const curio_stream_options *opts,
                                               const curio__stream_transport *t, void *ctx);

/* ---- the stream's operations (stream.c): one io_uring operation each ---- */

/* One read (recv on sockets) of up to n bytes into buf. Returns the count, 0 at end, or
 * negative; -EBADF once the stream is closing (the result is then dropped). */
CURIO__HIDDEN ssize_t curio__stream_recv(curio_stream *s, void *buf, size_t n);
/* One gathering write (send/sendmsg on sockets) of iov[0..cnt), cnt >= 1. */
CURIO__HIDDEN ssize_t curio__stream_sendv(curio_stream *s, const struct iovec *iov, int cnt);

/* ---- reading (read.c, lines.c); the caller has entered for reading ---- */

static inline size_t curio__buffered(const curio_stream *s) { return s->rend - s->rstart; }

/* Drop the buffered bytes (files rewind their descriptor over them first). */
static inline void curio__rbuf_drop(curio_stream *s) { s->rstart = s->rend = s->rscan = 0; }

/* One read into the buffer's free space, making room first (compacting, or growing up to
 * max_line + 1), and sending the write buffer first if this task can. Returns the bytes
 * added, 0 at end of stream, or negative (-ENOMEM). */
CURIO__HIDDEN ssize_t curio__refill(curio_stream *s);
CURIO__HIDDEN ssize_t curio__read_in(curio_stream *s, void *buf, size_t n);
CURIO__HIDDEN ssize_t curio__read_all_in(curio_stream *s, char **data, size_t *len);
CURIO__HIDDEN ssize_t curio__readline_in(curio_stream *s, char *buf, size_t cap);
CURIO__HIDDEN ssize_t curio__readline_ref_in(curio_stream *s, const char **line);
CURIO__HIDDEN int curio__readlines_in(curio_stream *s, char ***lines, size_t *count);

/* ---- writing (write.c); the caller has entered for writing ---- */

/* Send the write buffer's unsent bytes, then all of iov[0..cnt). *done = the bytes of iov
 * that went out. Returns 0 or negative. */
CURIO__HIDDEN int curio__send_all(curio_stream *s, const struct iovec *iov, int cnt,
                                  size_t *done);
CURIO__HIDDEN ssize_t curio__write_in(curio_stream *s, const struct iovec *iov, int cnt,
                                      size_t *done);

/* ---- files (file.c) ---- */

/* Set up f (zeroed) as the file of descriptor fd, opened with the open(2) flags. */
CURIO__HIDDEN void curio__file_init(curio_file *f, int fd, int flags);
/* Enter f for a positioned call (both directions), and leave it, as for streams. */
CURIO__HIDDEN int curio__file_enter(curio_file *f);
CURIO__HIDDEN ssize_t curio__file_leave(curio_file *f, ssize_t rc);
/* Move the descriptor back over the buffered bytes and drop them; -ESPIPE (they stay) on
 * a descriptor that cannot seek. */
CURIO__HIDDEN int curio__file_unread(curio_file *f);

/* ---- descriptors (fd.c) ---- */

/* Close fd and return 0 or the error. Inside a task through io_uring inside a
 * disable_cancellation scope (so it always happens); elsewhere with close(2). */
CURIO__HIDDEN int curio__fd_close(int fd);

#endif
