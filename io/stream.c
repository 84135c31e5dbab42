/*
 * io/stream.c - a buffered stream's life (open, close, the blocking() escape) and its two
 * io_uring operations, one read and one gathering write, on which everything else is built.
 */
#include "io.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define DEFAULT_BUFFER (64 * 1024)

void curio__stream_init(curio_stream *s, int fd, bool socket, const curio_stream_options *o)
{
    curio_stream_options d = {0};
    if (!o)
        o = &d;
    s->fd = fd;
    s->socket = socket;
    s->keep_fd = o->keep_fd;
    /* Capped so that max_line + 1, the largest buffer, cannot overflow. */
    size_t most = SIZE_MAX / 2;
    s->rsize = o->buffer_size ? (o->buffer_size < most ? o->buffer_size : most) : DEFAULT_BUFFER;
    s->max_line = o->max_line > s->rsize ? (o->max_line < most ? o->max_line : most) : s->rsize;
    s->wcap = o->write_buffer;
}

int curio_stream_open(curio_stream **out, int fd, const curio_stream_options *opts)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -EBADF;
    curio_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    curio__stream_init(s, fd, S_ISSOCK(st.st_mode), opts);
    *out = s;
    return 0;
}

int curio__stream_open_transport(curio_stream **out, int fd, const curio_stream_options *opts,
                                 const curio__stream_transport *t, void *ctx)
{
    if (!t || !t->recv || !t->sendv)
        return -EINVAL;
    int rc = curio_stream_open(out, fd, opts);
    if (rc == 0) {
        (*out)->transport = t;
        (*out)->transport_ctx = ctx;
    }
    return rc;
}

int curio_stream_fd(const curio_stream *s) { return s ? s->fd : -1; }

size_t curio_stream_buffered(const curio_stream *s) { return s ? curio__buffered(s) : 0; }

size_t curio_stream_unflushed(const curio_stream *s) { return s ? s->wlen - s->wstart : 0; }

/* Free s now; nobody is inside a call on it. Returns what close should report. */
static int destroy(curio_stream *s)
{
    int rc = s->wlen > s->wstart ? CURIO_EUNFLUSHED : 0;
    if (s->transport && s->transport->close)
        s->transport->close(s->transport_ctx);
    if (!s->keep_fd) {
        int c = curio__fd_close(s->fd);
        if (c < 0 && rc == 0)
            rc = c;
    }
    free(s->rbuf);
    free(s->wbuf);
    free(s); /* a curio_file's stream is its first member: this frees the file */
    return rc;
}

void curio__stream_destroy(curio_stream *s) { destroy(s); }

int curio_stream_close(curio_stream *s)
{
    if (!s)
        return 0;
    if (s->gate.closing)
        return -EBADF;
    int rc = s->wlen > s->wstart ? CURIO_EUNFLUSHED : 0;
    /* Tasks inside calls on s are woken (the reader and writer: their operation is
     * cancelled and its own completion still awaited, so no buffer is left in flight);
     * every user returns -EBADF and the last one out frees s. Other users (a pread, an
     * fsync) finish on their own. */
    return curio__gate_close(&s->gate) ? destroy(s) : rc;
}

int curio__stream_flush_left(curio_stream *s, size_t *left, bool *closed)
{
    *closed = false;
    int rc = curio__stream_enter(s, CURIO__GATE_WRITE);
    if (rc < 0) {
        /* -EBADF: closed already, and the close has reported its loss. */
        *left = rc == -EBADF ? 0 : s->wlen - s->wstart;
        *closed = rc == -EBADF;
        return rc;
    }
    size_t d;
    if (s->wlen > s->wstart)
        rc = curio__send_all(s, NULL, 0, &d);
    /* Read inside: the buffer is valid until the last user leaves, even after a close. */
    *left = s->wlen - s->wstart;
    *closed = s->gate.closing;
    return (int)curio__stream_leave(s, CURIO__GATE_WRITE, rc);
}

int curio_stream_flush_close(curio_stream *s, size_t *dropped)
{
    size_t left = 0;
    bool closed = false;
    int rc = s ? curio__stream_flush_left(s, &left, &closed) : -EINVAL;
    if (dropped)
        *dropped = left;
    if (!s || closed)
        return rc; /* another task closed s meanwhile: it is not ours to close */
    int c = curio_stream_close(s); /* CURIO_EUNFLUSHED only when the flush failed */
    return rc < 0 ? rc : c;
}

/* ---- the blocking() escape ---- */

int curio_stream_blocking(curio_stream *s)
{
    if (s && s->transport)
        return -EOPNOTSUPP; /* the descriptor does not carry the stream's bytes (TLS) */
    int rc = curio__stream_enter(s, CURIO__GATE_BOTH);
    if (rc < 0)
        return rc;
    if (curio__buffered(s))
        return (int)curio__stream_leave(s, CURIO__GATE_BOTH, -EBUSY);
    if (s->wlen > s->wstart) {
        size_t done;
        rc = curio__send_all(s, NULL, 0, &done);
        if (rc < 0)
            return (int)curio__stream_leave(s, CURIO__GATE_BOTH, rc);
    }
    /* Lent while still inside: if s was closed meanwhile, the leave says -EBADF. */
    rc = curio__gate_lend(&s->gate, s->fd);
    return (int)curio__stream_leave(s, CURIO__GATE_BOTH, rc);
}

void curio_stream_unblock(curio_stream *s)
{
    if (!s || !s->gate.lent)
        return;
    curio__gate_unlend(&s->gate, s->fd);
}

/* ---- the two operations ---- */

ssize_t curio__stream_recv(curio_stream *s, void *buf, size_t n)
{
    if (s->transport) {
        ssize_t r = s->transport->recv(s->transport_ctx, buf, n);
        return __builtin_expect(s->gate.closing, 0) ? -EBADF : r;
    }
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin_fd(&op, &sqe, s->fd, CURIO__FD_READ);
    if (rc < 0)
        return rc;
    unsigned len = curio__op_len(n);
    if (s->socket)
        io_uring_prep_recv(sqe, s->fd, buf, len, 0);
    else
        io_uring_prep_read(sqe, s->fd, buf, len, (uint64_t)-1);
    ssize_t r = curio__op_wait(&op, sqe, "READ_WAIT");
    return __builtin_expect(s->gate.closing, 0) ? -EBADF : r;
}

ssize_t curio__stream_sendv(curio_stream *s, const struct iovec *iov, int cnt)
{
    if (s->transport) {
        ssize_t r = s->transport->sendv(s->transport_ctx, iov, cnt);
        return __builtin_expect(s->gate.closing, 0) ? -EBADF : r;
    }
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin_fd(&op, &sqe, s->fd, CURIO__FD_WRITE);
    if (rc < 0)
        return rc;
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};
    if (cnt == 1) {
        unsigned len = curio__op_len(iov->iov_len);
        if (s->socket)
            io_uring_prep_send(sqe, s->fd, iov->iov_base, len, MSG_NOSIGNAL);
        else
            io_uring_prep_write(sqe, s->fd, iov->iov_base, len, (uint64_t)-1);
    } else if (s->socket) {
        io_uring_prep_sendmsg(sqe, s->fd, &msg, MSG_NOSIGNAL);
    } else {
        io_uring_prep_writev(sqe, s->fd, iov, (unsigned)cnt, (uint64_t)-1);
    }
    /* msg and the iovecs live in this frame and the caller's until the completion. */
    ssize_t r = curio__op_wait(&op, sqe, "WRITE_WAIT");
    return __builtin_expect(s->gate.closing, 0) ? -EBADF : r;
}
