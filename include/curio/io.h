/*
 * curio/io.h - descriptors, buffered streams and async files. Included by <curio.h>; do not
 * include it directly.
 *
 * Every operation goes through io_uring: no hidden threads. Calls documented as blocking
 * are blocking calls in the sense of <curio.h>: tasks only (-EPERM elsewhere), cancellation
 * points (-ECANCELED), -ETIMEDOUT inside an expired scope. As for curio_join, a read that
 * finds what it asks for already in a stream's buffer returns it without waiting and is
 * then not a cancellation point. Calls that only release or inspect (close, fd, tell,
 * buffered, unblock) are not cancellation points.
 *
 * Partial transfers. Calls that move a whole count (read_exactly, write, writelines, file
 * write) take an optional `size_t *done`, always set to the bytes that went through before
 * the call returned, error or not (Curio's bytes_read / bytes_written). Reads never lose
 * bytes: whatever arrived but was not handed to the caller stays in the stream's buffer
 * for the next call, also after a timeout or a cancellation. An operation that completed
 * in the same instant as a cancellation or timeout counts as done (its bytes are
 * delivered); the cancellation is then delivered by the next blocking call.
 *
 * One waiter per direction (Curio's ResourceBusy). While a task waits to read (or write)
 * a descriptor, stream or file of this kernel, another task's read (write) on it returns
 * -EBUSY at once instead of interleaving; this includes a stream refilling its buffer in
 * the middle of a readline. A file has one position, so any positioned call on it excludes
 * the others (pread and pwrite do not use the position and are not limited).
 *
 * Offsets are int64_t, whatever _FILE_OFFSET_BITS the caller was compiled with.
 */
#ifndef CURIO_IO_H
#define CURIO_IO_H
#ifndef CURIO_H
#error "include <curio.h>, not <curio/io.h>"
#endif

#include <sys/stat.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Curio's EOFError from read_exactly: the stream ended before the count was read. */
#define CURIO_EINCOMPLETE      (-5005)
/* From close: bytes still in a stream's write buffer were discarded (flush first). */
#define CURIO_EUNFLUSHED       (-5006)

/* ------------------------------------------------------------------------------------ */
/* Descriptors                                                                          */
/* ------------------------------------------------------------------------------------ */

/*
 * read(2)/write(2) at the descriptor's position on any descriptor, through io_uring (task
 * states READ_WAIT/WRITE_WAIT). Blocking. buf must stay valid until the call returns; it
 * does not return while the kernel may still touch buf, even when cancelled or timed out.
 * At most 0x7ffff000 bytes (Linux's own cap) move per call (a short count). Returns the
 * bytes transferred (possibly fewer than n), 0 at end of file, or negative: -EBUSY (another
 * task waits in the same direction), -EBADF, -EPIPE, -ECONNRESET, ... curio does not own
 * fd. Writing to a pipe or socket whose reader is gone raises SIGPIPE as write(2) does
 * (streams on sockets do not: they send with MSG_NOSIGNAL).
 */
CURIO_API ssize_t curio_read(int fd, void *buf, size_t n);
CURIO_API ssize_t curio_write(int fd, const void *buf, size_t n);

/* ------------------------------------------------------------------------------------ */
/* Streams (Curio's FileStream and SocketStream)                                        */
/* ------------------------------------------------------------------------------------ */

/*
 * A buffered stream over one descriptor; owned by the caller until curio_stream_close.
 * Common to the calls below: -EINVAL for a NULL stream or buffer; -EPERM outside a task
 * (except open, fd, buffered, unblock and close, which work anywhere on the kernel's
 * thread); -EBUSY while another task waits in the same direction, or while the stream is
 * handed out by blocking(); -EBADF when the stream is closed while the call is in
 * progress (also if its operation had just completed: every call in progress at the
 * close returns -EBADF, the last of them frees the stream, and a task that got that
 * -EBADF must not use the stream again; the rule of every curio handle). One
 * refill of the read buffer is one operation; reads, lines within buffer_size and writes
 * allocate nothing once the buffers exist.
 */
typedef struct curio_stream curio_stream;

/* Options for curio_stream_open(). Zero-initialise; zero means default. */
typedef struct curio_stream_options {
    size_t buffer_size;  /* read buffer, bytes; default 64 KiB. Allocated at the first read
                            that needs it. Reads of at least this size go straight into
                            the caller's buffer when nothing is buffered. On a socket, a
                            read whose refill brought fewer bytes than it asked for frees
                            the emptied buffer, and the next reads with nothing buffered
                            go straight into the caller's buffer too, until one fills it
                            whole: a connection idle between small messages holds no
                            read buffer */
    size_t max_line;     /* longest line, with its '\n', that readline accepts; the read
                            buffer grows up to it for a long line and shrinks back once
                            empty; default and minimum: buffer_size */
    size_t write_buffer; /* default 0: writes go straight out (Curio's behaviour) and
                            return when every byte was handed to the kernel. If set,
                            writes collect up to this many bytes, and are sent when it
                            would overflow, on flush, and before any read that must wait */
    bool keep_fd;        /* curio_stream_close leaves the descriptor open; default false */
} curio_stream_options;

/*
 * Make a stream over fd: a file, pipe, FIFO, terminal or socket. Sockets are read and
 * written with recv/send (MSG_NOSIGNAL: a peer that went away is -EPIPE, never SIGPIPE; a
 * reset is -ECONNRESET, end of stream is 0), everything else with read/write at the
 * descriptor's position. Never blocks; works anywhere. opts may be NULL (it is copied).
 * Returns 0 and *out, or -EBADF (fd is not open), -ENOMEM.
 */
CURIO_API int curio_stream_open(curio_stream **out, int fd, const curio_stream_options *opts);

/* The stream's descriptor (-1 for NULL). */
CURIO_API int curio_stream_fd(const curio_stream *s);

/* Bytes already in the read buffer, which a read returns without waiting. */
CURIO_API size_t curio_stream_buffered(const curio_stream *s);

/* Bytes in the write buffer not yet handed to the kernel (what a close now would drop):
 * curio_stream_buffered's counterpart for writing. 0 for NULL. Never blocks. */
CURIO_API size_t curio_stream_unflushed(const curio_stream *s);

/* Up to n bytes into buf (the caller's; this is also Curio's readinto): the buffered bytes
 * if there are any (without waiting), else one read. Blocking. Returns the count, 0 at end
 * of stream (or for n == 0), or negative. */
CURIO_API ssize_t curio_stream_read(curio_stream *s, void *buf, size_t n);

/* Exactly n bytes into buf. Blocking. Returns n; CURIO_EINCOMPLETE if the stream ended
 * first; or another error. *done (if non-NULL) = the bytes stored in buf in every case:
 * those are consumed; nothing else is. */
CURIO_API ssize_t curio_stream_read_exactly(curio_stream *s, void *buf, size_t n,
                                            size_t *done);

/* Everything up to end of stream, in a buffer from malloc (*data, NUL-terminated, length
 * *len) that the caller frees, also on error: it then holds what was read before it, which
 * is consumed. Blocking. Returns the length (also in *len) or negative (-ENOMEM, ...). */
CURIO_API ssize_t curio_stream_read_all(curio_stream *s, char **data, size_t *len);

/*
 * One line, with its '\n' (the last line of a stream may lack it), copied into buf and
 * NUL-terminated. Blocking (waits until a whole line, end of stream, or the limit is
 * there). Returns its length, not counting the NUL; 0 at end of stream; or negative:
 * -EMSGSIZE if the line needs more than cap bytes with its NUL, or is longer than
 * max_line. Nothing is consumed on an error: the bytes stay in the stream (read them with
 * curio_stream_read), also after -ETIMEDOUT or -ECANCELED.
 */
CURIO_API ssize_t curio_stream_readline(curio_stream *s, char *buf, size_t cap);

/*
 * The same without copying: *line points into the stream's buffer (not NUL-terminated)
 * and stays valid until the next call on s, by any task. This is how to iterate over
 * lines (Curio's `async for line in stream`):
 *     const char *line;
 *     while ((n = curio_stream_readline_ref(s, &line)) > 0) ...
 * -EMSGSIZE when the line is longer than max_line.
 */
CURIO_API ssize_t curio_stream_readline_ref(curio_stream *s, const char **line);

/* All remaining lines: *lines is an array from malloc of *count NUL-terminated lines, each
 * from malloc; free them with curio_lines_free, also on error (the array then holds the
 * lines read before it; a partial last line stays in the stream). Blocking. Returns 0 or
 * negative. */
CURIO_API int curio_stream_readlines(curio_stream *s, char ***lines, size_t *count);
/* Free what readlines returned. NULL is fine. */
CURIO_API void curio_lines_free(char **lines, size_t count);

/* All n bytes of buf (which must live until the call returns). Blocking when it sends
 * (not when it only fills the write buffer). Returns n or negative (-EPIPE, -ECONNRESET,
 * ...); *done (if non-NULL) = the bytes of buf sent or buffered. */
CURIO_API ssize_t curio_stream_write(curio_stream *s, const void *buf, size_t n,
                                     size_t *done);

/* All the buffers, in order, gathered into as few operations as possible (Curio's
 * writelines; an iovec array needs no copy of the data). Blocking as write. Returns the
 * total or negative (-EINVAL for iovcnt < 0 or a total over SSIZE_MAX); *done as for
 * write. */
CURIO_API ssize_t curio_stream_writelines(curio_stream *s, const struct iovec *iov,
                                          int iovcnt, size_t *done);

/* Send what the write buffer holds. Blocking if there is something. Returns 0 or negative
 * (what was not sent stays buffered). */
CURIO_API int curio_stream_flush(curio_stream *s);

/*
 * The blocking() escape: hand the descriptor to ordinary blocking code. Flushes the write
 * buffer (blocking), clears O_NONBLOCK if it was set, and returns the descriptor, or
 * negative: -EBUSY if unread bytes are buffered (read them first, as Curio refuses too) or
 * another task is using the stream, or a flush error; -EOPNOTSUPP for the stream of a TLS
 * socket (curio/tls.h), whose descriptor carries ciphertext. Until curio_stream_unblock,
 * every other call on s returns -EBUSY. Unblock restores the descriptor's flags; it never
 * blocks.
 */
CURIO_API int curio_stream_blocking(curio_stream *s);
CURIO_API void curio_stream_unblock(curio_stream *s);

/*
 * Free the stream and close its descriptor (unless keep_fd). Not a cancellation point:
 * the descriptor is closed whatever the task's state; inside a task through io_uring (the
 * task waits for that one completion), elsewhere with close(2). Unsent bytes in the write
 * buffer are discarded (flush first, in a disable_cancellation scope if the task may be
 * cancelled). A task blocked on s meanwhile gets -EBADF, and the stream is freed when the
 * last one returns. Returns 0, CURIO_EUNFLUSHED (bytes were discarded: call
 * curio_stream_unflushed just before to learn how many, or use curio_stream_flush_close),
 * or the close error. NULL is fine.
 */
CURIO_API int curio_stream_close(curio_stream *s);

/*
 * Flush, then close: the close that loses nothing unless it must. Blocking while the write
 * buffer holds bytes (state WRITE_WAIT), under the caller's timeouts and cancellation; then
 * s is closed as by curio_stream_close in every case, also when the flush failed, was
 * cancelled or timed out. *dropped (if non-NULL) gets the bytes discarded: 0 when the flush
 * finished, else exactly those the kernel did not take. Returns 0, or why the flush stopped
 * (-ETIMEDOUT, -ECANCELED, -EPIPE, -ECONNRESET, -EBUSY: another task is writing, -EPERM
 * outside a task ...; s is closed all the same), or the close error; -EBADF when another
 * task closed s while this one flushed (*dropped: the bytes not known to have gone, as the
 * close drops the result of the write in flight); -EINVAL for NULL.
 */
CURIO_API int curio_stream_flush_close(curio_stream *s, size_t *dropped);

/* ------------------------------------------------------------------------------------ */
/* Files (Curio's aopen)                                                                */
/* ------------------------------------------------------------------------------------ */

/*
 * A file: reads and writes at the descriptor's own position (shared with any code that
 * uses the descriptor, and with the blocking() escape), and a read buffer behind the line
 * calls. The file's position is the descriptor's minus the bytes buffered; a write, a
 * seek outside the buffer and blocking() first move the descriptor back over them. Writes
 * are not buffered. Owned by the caller until curio_file_close. The common errors are
 * those of streams (-EINVAL, -EPERM, -EBUSY, -EBADF), and -EBADF for reading a file not
 * opened for reading or writing one not opened for writing.
 */
typedef struct curio_file curio_file;

/*
 * Open through io_uring (state OPEN_WAIT). flags and mode as for open(2); O_CLOEXEC is
 * always added. Blocking. path must live until the call returns. Opening a FIFO waits for
 * its other end, as open(2) does, unless flags has O_NONBLOCK. Returns 0 and *out, or
 * negative (-ENOENT, -EACCES, -EEXIST, -EINVAL for a NULL argument, -ENOMEM, ...). An
 * open that completed as a cancellation arrived returns the file (the cancellation comes
 * at the next blocking call), so no descriptor is ever lost.
 */
CURIO_API int curio_file_open(curio_file **out, const char *path, int flags, mode_t mode);

/* Open with a Python mode string: one of "r", "w", "a", "x", then optionally "+" and
 * either "b" or "t", in any order ("rb", "r+b", "wb+", ...). "b" and "t" change nothing:
 * files are bytes. "a" files start at their end. New files get mode 0666 less the umask.
 * -EINVAL for any other mode; otherwise as curio_file_open. */
CURIO_API int curio_aopen(curio_file **out, const char *path, const char *mode);

/* Read up to n bytes at the position, which advances: buffered bytes first (without
 * waiting), else one read (straight into buf when n is at least 64 KiB). Blocking. 0 at
 * end of file; -EBADF if not opened for reading. */
CURIO_API ssize_t curio_file_read(curio_file *f, void *buf, size_t n);

/* Write all n bytes at the position, which advances (in append mode: at the end of the
 * file, and the position follows). Blocking. Returns n or negative; *done (if non-NULL)
 * = the bytes written, in every case. -EBADF if not opened for writing. */
CURIO_API ssize_t curio_file_write(curio_file *f, const void *buf, size_t n, size_t *done);
/* The same for several buffers, gathered into as few operations as possible (Curio's
 * writelines); -EINVAL as for curio_stream_writelines. */
CURIO_API ssize_t curio_file_writelines(curio_file *f, const struct iovec *iov, int iovcnt,
                                        size_t *done);

/* The rest of the file, as curio_stream_read_all. */
CURIO_API ssize_t curio_file_read_all(curio_file *f, char **data, size_t *len);

/* Lines, as the stream calls of the same names, with max_line 1 MiB (a longer line is
 * -EMSGSIZE; read it with curio_file_read). The position advances past the lines
 * returned only. */
CURIO_API ssize_t curio_file_readline(curio_file *f, char *buf, size_t cap);
CURIO_API ssize_t curio_file_readline_ref(curio_file *f, const char **line);
CURIO_API int curio_file_readlines(curio_file *f, char ***lines, size_t *count);

/* pread(2)/pwrite(2) at offset: one operation (the count may be short), the position is
 * neither used nor moved, and any number of tasks may have them in flight on one file
 * (a close meanwhile lets them finish). Blocking. -EINVAL for a negative offset, -ESPIPE
 * on a descriptor that cannot seek. pwrite does not update bytes already in the read
 * buffer; on a file opened for appending it writes at the end (Linux, see pwrite(2)). */
CURIO_API ssize_t curio_file_pread(curio_file *f, void *buf, size_t n, int64_t offset);
CURIO_API ssize_t curio_file_pwrite(curio_file *f, const void *buf, size_t n,
                                    int64_t offset);

/* Move the position as lseek(2) does with SEEK_SET, SEEK_CUR (from the file's position)
 * or SEEK_END. A target within the read buffer keeps it. Never blocks (lseek has no
 * io_uring operation and does not wait), but takes the position, so it needs a task
 * (-EPERM) and is -EBUSY while another task reads or writes f. Returns the new position,
 * or -EINVAL (bad whence, a negative result), -ESPIPE. */
CURIO_API int64_t curio_file_seek(curio_file *f, int64_t offset, int whence);
/* The position, or -ESPIPE, -EBADF. Never blocks; works anywhere. */
CURIO_API int64_t curio_file_tell(const curio_file *f);

/* Writes are not buffered, so flush only checks that f is usable (0, or -EBUSY in
 * blocking mode); it is there for code written against Curio's API. Never blocks. */
CURIO_API int curio_file_flush(curio_file *f);
/* fsync(2) / fdatasync(2) through io_uring (state FSYNC_WAIT). Blocking. */
CURIO_API int curio_file_fsync(curio_file *f);
CURIO_API int curio_file_datasync(curio_file *f);

/* fstat(2), through io_uring's statx (state STAT_WAIT). Blocking. -EINVAL for NULL. */
CURIO_API int curio_file_stat(curio_file *f, struct stat *st);

/* Set the file's length (ftruncate(2)): through io_uring where the running kernel has
 * IORING_OP_FTRUNCATE (Linux 6.9), else with ftruncate(2) on the calling thread.
 * Blocking. The position does not move. -EINVAL for a negative length or a FIFO. */
CURIO_API int curio_file_truncate(curio_file *f, int64_t length);

/* The blocking() escape: the descriptor, positioned at the file's position (buffered
 * bytes are given back, so blocking code reads them), for ordinary blocking code. Needs
 * a task; never blocks. Returns it, or -EBUSY (another task is using f, or unread bytes
 * of a FIFO are buffered). Until curio_file_unblock, other calls on f return -EBUSY;
 * afterwards the file goes on from wherever the blocking code left the descriptor.
 * Unblock works anywhere. */
CURIO_API int curio_file_blocking(curio_file *f);
CURIO_API void curio_file_unblock(curio_file *f);

/* The descriptor (-1 for NULL). */
CURIO_API int curio_file_fd(const curio_file *f);

/* Close the descriptor and free f, as curio_stream_close: not a cancellation point; tasks
 * blocked on f get -EBADF. Returns 0 or the close error. NULL is fine. */
CURIO_API int curio_file_close(curio_file *f);

/*
 * Safe opens under a root: open path relative to the directory dir (a curio_file opened
 * with O_RDONLY | O_DIRECTORY, or O_PATH) with openat2(2)'s resolve rules, so that a file
 * server cannot be walked out of its root. resolve is 0 or CURIO_RESOLVE_* or'ed:
 *   BENEATH      every step stays under dir: "..", an absolute path, or a symbolic link
 *                leading out give -EXDEV (also while passing through);
 *   IN_ROOT      dir is the root: "..", absolute paths and links resolve as if chrooted;
 *   NO_SYMLINKS  no symbolic link anywhere in the path (-ELOOP);
 *   NO_MAGICLINKS no /proc/self/fd-style links (-ELOOP); NO_XDEV no mount point crossed
 *   (-EXDEV); CACHED only what the dentry cache answers (-EAGAIN otherwise).
 * flags and mode as for curio_file_open (mode is used only with O_CREAT or O_TMPFILE);
 * O_CLOEXEC is always added; FIFOs wait for their other end unless O_NONBLOCK.
 *
 * Through io_uring (IORING_OP_OPENAT2) where the kernel has it, else the openat2 system
 * call on a pool thread (state OPEN_WAIT either way); never plain openat: on a kernel
 * without openat2 (before 5.6) the call fails with -ENOSYS rather than ignore resolve.
 * Returns 0 and *out, or negative: -EXDEV, -ELOOP (as above), -ENOENT, -EACCES, -ENOTDIR,
 * -EEXIST, -EAGAIN (CACHED), -EINVAL (out, dir or path NULL; unknown resolve bits or
 * flags), -EBADF (dir closed, also by another task while this one waited),
 * -ENOSYS, -ECANCELED, -ETIMEDOUT, -EPERM (outside a task), -ENOMEM. As curio_file_open,
 * an open that completed as a cancellation arrived returns the file. dir stays the
 * caller's, and may be used by any number of opens at once.
 */
#define CURIO_RESOLVE_NO_XDEV 0x01u
#define CURIO_RESOLVE_NO_MAGICLINKS 0x02u
#define CURIO_RESOLVE_NO_SYMLINKS 0x04u
#define CURIO_RESOLVE_BENEATH 0x08u
#define CURIO_RESOLVE_IN_ROOT 0x10u
#define CURIO_RESOLVE_CACHED 0x20u
CURIO_API int curio_file_openat(curio_file **out, curio_file *dir, const char *path, int flags,
                                mode_t mode, uint64_t resolve);
/* The same relative to a raw directory descriptor dirfd (AT_FDCWD: the working
 * directory), which stays the caller's. -EBADF for a negative dirfd other than AT_FDCWD;
 * otherwise as curio_file_openat. */
CURIO_API int curio_file_openat_fd(curio_file **out, int dirfd, const char *path, int flags,
                                   mode_t mode, uint64_t resolve);

#ifdef __cplusplus
}
#endif
#endif /* CURIO_IO_H */
