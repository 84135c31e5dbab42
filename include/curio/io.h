/*
 * curio/io.h - descriptors, buffered streams and async files. Included by <curio.h>; do not
 * include it directly.
 *
 * Every operation goes through io_uring: no hidden threads. All calls here that wait are
 * blocking calls in the sense of <curio.h> (tasks only, -EPERM elsewhere; cancellation
 * points; -ETIMEDOUT inside an expired scope). Calls that only release or inspect (close,
 * fd, tell, buffered) never block and work anywhere.
 *
 * Partial transfers. Calls that move a whole count (read_exactly, write, writelines, file
 * write) take an optional `size_t *done` that is always set to the bytes that went through
 * before the call returned, error or not (Curio's bytes_read / bytes_written). Reads never
 * lose bytes: whatever arrived but was not handed to the caller stays in the stream's
 * buffer for the next call, also after a timeout or a cancellation.
 *
 * One waiter per direction: if a task is already waiting to read (or write) on a descriptor
 * or stream of this kernel, another task's read (write) on it returns -EBUSY at once
 * (Curio's ResourceBusy) instead of interleaving.
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

/* Curio's EOFError for read_exactly: the stream ended before the count was read. */
#define CURIO_EINCOMPLETE      (-5005)

/* ------------------------------------------------------------------------------------ */
/* Descriptors                                                                          */
/* ------------------------------------------------------------------------------------ */

/*
 * read(2)/write(2) on any descriptor through io_uring (states READ_WAIT/WRITE_WAIT).
 * buf must stay valid until the call returns; it does not return while the kernel may
 * still touch buf, even when cancelled or timed out. If the operation completed in the same
 * instant as a cancellation, its result is returned (no byte is lost) and the cancellation
 * is delivered at the next blocking call; the same holds for a timeout. At most
 * UINT32_MAX bytes move per call (a short count). Returns bytes transferred, 0 at EOF, or
 * negative (-EBADF, -EPIPE, -EBUSY: another task is waiting in the same direction, ...).
 */
CURIO_API ssize_t curio_read(int fd, void *buf, size_t n);
CURIO_API ssize_t curio_write(int fd, const void *buf, size_t n);

/* ------------------------------------------------------------------------------------ */
/* Streams (Curio's FileStream and SocketStream)                                        */
/* ------------------------------------------------------------------------------------ */

typedef struct curio_stream curio_stream;

/* Options for curio_stream_open(). Zero-initialise; zero means default. */
typedef struct curio_stream_options {
    size_t buffer_size;  /* read buffer, bytes; default 64 KiB */
    size_t max_line;     /* longest line (with its '\n') readline accepts; the read buffer
                            grows up to it; default 64 KiB, never below buffer_size */
    size_t write_buffer; /* default 0: writes go straight out (Curio's behaviour) and
                            return when every byte was handed to the kernel. If set,
                            writes collect up to this many bytes, and are sent when it
                            fills, on flush or close, and before any read that must wait */
    bool keep_fd;        /* curio_stream_close leaves the descriptor open; default false */
} curio_stream_options;

/* Make a stream over fd (file, pipe, terminal, socket; sockets use recv/send). Never
 * blocks; works outside tasks. 0, -EINVAL (fd < 0 or max_line < 2), -ENOMEM. */
CURIO_API int curio_stream_open(curio_stream **out, int fd, const curio_stream_options *opts);

/* The stream's descriptor. */
CURIO_API int curio_stream_fd(const curio_stream *s);

/* Bytes already in the read buffer (what a read can return without waiting). */
CURIO_API size_t curio_stream_buffered(const curio_stream *s);

/* Up to n bytes: buffered bytes if there are any (without waiting), else one read.
 * Returns the count, 0 at end of stream (or n == 0), or negative. This is also Curio's
 * readinto: buf is the caller's. */
CURIO_API ssize_t curio_stream_read(curio_stream *s, void *buf, size_t n);

/* Exactly n bytes into buf. Returns n; CURIO_EINCOMPLETE if the stream ended first; or
 * another error. *done (if non-NULL) = bytes stored in buf in every case. */
CURIO_API ssize_t curio_stream_read_exactly(curio_stream *s, void *buf, size_t n,
                                            size_t *done);

/* Everything up to end of stream, in a malloc'd buffer (*data, NUL-terminated, length
 * *len) that the caller frees, also on error (it then holds what was read). Returns the
 * length or negative (-ENOMEM, ...). */
CURIO_API ssize_t curio_stream_read_all(curio_stream *s, char **data, size_t *len);

/*
 * One line, with its '\n' (the last line of a stream may lack it), copied into buf and
 * NUL-terminated. Returns its length (not counting the NUL), 0 at end of stream, or
 * negative: -EMSGSIZE if the line does not fit in cap bytes or is longer than max_line
 * (nothing is consumed: the bytes stay in the stream for curio_stream_read).
 */
CURIO_API ssize_t curio_stream_readline(curio_stream *s, char *buf, size_t cap);

/* The same without copying: *line points into the stream's buffer (not NUL-terminated)
 * and stays valid until the next call on s. This is how to iterate over lines:
 *     while ((n = curio_stream_readline_ref(s, &line)) > 0) ...           */
CURIO_API ssize_t curio_stream_readline_ref(curio_stream *s, const char **line);

/* All remaining lines: *lines is a malloc'd array of *count malloc'd NUL-terminated
 * lines; free it with curio_lines_free, also on error (it then holds the lines read
 * before it). Returns 0 or negative. */
CURIO_API int curio_stream_readlines(curio_stream *s, char ***lines, size_t *count);
CURIO_API void curio_lines_free(char **lines, size_t count);

/* All n bytes. Returns n or negative (-EPIPE, -ECONNRESET, ...); *done as above. */
CURIO_API ssize_t curio_stream_write(curio_stream *s, const void *buf, size_t n,
                                     size_t *done);

/* All the buffers, in order, gathered into as few system calls as possible (Curio's
 * writelines). Returns the total or negative; *done as above. */
CURIO_API ssize_t curio_stream_writelines(curio_stream *s, const struct iovec *iov,
                                          int iovcnt, size_t *done);

/* Send what the write buffer holds (0 if nothing). Returns 0 or negative. */
CURIO_API int curio_stream_flush(curio_stream *s);

/*
 * The blocking() escape: hand the descriptor to ordinary blocking code. Sends the write
 * buffer first (a blocking call), then returns the descriptor; -EBUSY if unread bytes are
 * buffered (read them first) or another task is using the stream. Until
 * curio_stream_unblock, every other call on s returns -EBUSY.
 */
CURIO_API int curio_stream_blocking(curio_stream *s);
CURIO_API void curio_stream_unblock(curio_stream *s);

/* Free the stream and close its descriptor (unless keep_fd). Never blocks: unsent
 * buffered writes are dropped (flush first) and counted in the return value as
 * -EPIPE; returns 0 otherwise. Must not be called while a task waits on s. */
CURIO_API int curio_stream_close(curio_stream *s);

/* ------------------------------------------------------------------------------------ */
/* Files (Curio's aopen)                                                                */
/* ------------------------------------------------------------------------------------ */

typedef struct curio_file curio_file;

/* Open through io_uring (OPEN_WAIT). flags and mode as for open(2); O_CLOEXEC is always
 * added. Returns 0 and *out, or negative (-ENOENT, -EACCES, ...). */
CURIO_API int curio_file_open(curio_file **out, const char *path, int flags, mode_t mode);

/* Open with a Python mode string: "r", "w", "a", "x", each optionally with "+", and "b" or
 * "t" (ignored: files are bytes). New files get mode 0666 less the umask. -EINVAL for an
 * unknown mode. */
CURIO_API int curio_aopen(curio_file **out, const char *path, const char *mode);

/* Read or write at the file position, which advances (a file opened for appending writes
 * at its end). read: up to n bytes, 0 at end of file. write: all n bytes, *done as above. */
CURIO_API ssize_t curio_file_read(curio_file *f, void *buf, size_t n);
CURIO_API ssize_t curio_file_write(curio_file *f, const void *buf, size_t n, size_t *done);

/* The rest of the file, as curio_stream_read_all. */
CURIO_API ssize_t curio_file_read_all(curio_file *f, char **data, size_t *len);

/* Lines, as the stream calls of the same names. */
CURIO_API ssize_t curio_file_readline(curio_file *f, char *buf, size_t cap);
CURIO_API ssize_t curio_file_readline_ref(curio_file *f, const char **line);
CURIO_API int curio_file_readlines(curio_file *f, char ***lines, size_t *count);

/* pread(2)/pwrite(2): at offset, not touching the file position; one operation, so the
 * count may be short. */
CURIO_API ssize_t curio_file_pread(curio_file *f, void *buf, size_t n, off_t offset);
CURIO_API ssize_t curio_file_pwrite(curio_file *f, const void *buf, size_t n, off_t offset);

/* Move the position as lseek(2) (SEEK_END asks the kernel for the size: a blocking
 * call). Returns the new position or negative (-EINVAL). Tell: the position. */
CURIO_API off_t curio_file_seek(curio_file *f, off_t offset, int whence);
CURIO_API off_t curio_file_tell(const curio_file *f);

/* Writes are not buffered: flush returns 0 (after checking the file is open), for code
 * written against Curio's API. fsync: data and metadata to the device (FSYNC_WAIT). */
CURIO_API int curio_file_flush(curio_file *f);
CURIO_API int curio_file_fsync(curio_file *f);

/* statx through io_uring, filling a struct stat. */
CURIO_API int curio_file_stat(curio_file *f, struct stat *st);

/* Set the file's length (through io_uring where the kernel has it, else ftruncate(2)).
 * The position is not moved. */
CURIO_API int curio_file_truncate(curio_file *f, off_t length);

/* The blocking() escape: the descriptor, positioned at the file position, for ordinary
 * blocking code; unblock takes the position back from the descriptor. */
CURIO_API int curio_file_blocking(curio_file *f);
CURIO_API void curio_file_unblock(curio_file *f);

/* The descriptor. */
CURIO_API int curio_file_fd(const curio_file *f);

/* Close the descriptor and free f. Never blocks. Returns 0 or the close error. */
CURIO_API int curio_file_close(curio_file *f);

#ifdef __cplusplus
}
#endif
#endif /* CURIO_IO_H */
