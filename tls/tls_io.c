/*
 * tls/tls_io.c - what the TLS calls share: entering a socket for a direction, and moving
 * ciphertext with io_uring between wolfSSL calls: fill (one recv into the input buffer)
 * when wolfSSL wants input, flush (sendmsg of the queue, as one operation while it fits
 * eight chunks) when it produced output, and the non-blocking push of close and shutdown.
 * A TLS call holds its directions in the socket's gate (kernel/gate.h), the one rule of
 * ResourceBusy for every handle.
 */
#include "tls_priv.h"

#include <stdlib.h>
#include <string.h>

/* ---- entering a socket ---- */

int curio__tls_enter(curio_socket *s, unsigned dirs)
{
    curio__task *self = curio__self();
    int rc = curio__trap_check(self);
    if (rc < 0)
        return rc;
    if (s->fd < 0)
        return -EBADF;
    return curio__gate_enter(&s->gate, self, dirs);
}

ssize_t curio__tls_leave(curio_socket *s, unsigned dirs, ssize_t rc)
{
    if (__builtin_expect(curio__gate_leave(&s->gate, dirs, &rc), 0))
        curio__socket_free(s);
    return rc;
}

/* ---- moving ciphertext ---- */

/* One receive into the input buffer, after wolfSSL took everything in it. */
ssize_t curio__tls_fill(struct curio__tls *t, curio_socket *s)
{
    if (!t->in && !(t->in = malloc(CURIO__TLS_IN_CAP)))
        return -ENOMEM;
    size_t have = t->in_end - t->in_start; /* none: wolfSSL said it wants more */
    memmove(t->in, t->in + t->in_start, have);
    t->in_start = 0;
    t->in_end = have;
    if (have == CURIO__TLS_IN_CAP)
        return -ENOBUFS; /* cannot happen (see read_some): never mistake it for the end */
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin_fd(&op, &sqe, s->fd, CURIO__FD_READ);
    if (rc < 0)
        return rc;
    io_uring_prep_recv(sqe, s->fd, t->in + have, CURIO__TLS_IN_CAP - have, 0);
    rc = curio__op_wait(&op, sqe, "READ_WAIT");
    if (rc > 0)
        t->in_end += (size_t)rc;
    return rc;
}

/* The queue's first chunks as an iovec array (at most max entries). */
static int queued(const struct curio__tls *t, struct iovec *iov, int max)
{
    int n = 0;
    for (const curio__tls_chunk *c = t->out_head; c && n < max; c = c->next)
        iov[n++] = (struct iovec){(void *)(c->data + c->start), c->len - c->start};
    return n;
}

void curio__tls_mark(struct curio__tls *t, size_t plain)
{
    uint64_t end = t->out_done + t->out_bytes;
    t->unsent += plain;
    if (t->nmarks == CURIO__TLS_MARKS) {
        struct curio__tls_mark *m =
            &t->marks[(t->mark_first + t->nmarks - 1) % CURIO__TLS_MARKS];
        m->end = end;
        m->plain += plain;
        return;
    }
    t->marks[(t->mark_first + t->nmarks++) % CURIO__TLS_MARKS] =
        (struct curio__tls_mark){end, plain};
}

/* The records wholly handed to the kernel are out: their plaintext is no longer unsent. A
 * record partly handed over still counts as unsent: the peer cannot decrypt any of it. */
static void unmark(struct curio__tls *t)
{
    while (t->nmarks && t->marks[t->mark_first].end <= t->out_done) {
        t->unsent -= t->marks[t->mark_first].plain;
        t->mark_first = (t->mark_first + 1) % CURIO__TLS_MARKS;
        t->nmarks--;
    }
}

/* n bytes of the queue went out: drop them, and the chunks they emptied. */
static void consume(struct curio__tls *t, size_t n)
{
    t->out_done += n;
    unmark(t);
    t->out_bytes -= n;
    while (n) {
        curio__tls_chunk *c = t->out_head;
        size_t k = c->len - c->start < n ? c->len - c->start : n;
        c->start += k;
        n -= k;
        if (c->start == c->len) {
            t->out_head = c->next;
            if (!t->out_head)
                t->out_tail = NULL;
            free(c);
        }
    }
}

void curio__tls_drop_queue(struct curio__tls *t)
{
    while (t->out_head) {
        curio__tls_chunk *c = t->out_head;
        t->out_head = c->next;
        free(c);
    }
    t->out_tail = NULL;
    t->out_bytes = 0;
    t->nmarks = 0; /* unsent stays: those bytes will never go out */
}

/* A shutdown(2) that waited for the queue to empty. */
int curio__tls_apply_shutdown(struct curio__tls *t, curio_socket *s)
{
    if (t->shut_how < 0 || s->fd < 0)
        return 0;
    int how = t->shut_how;
    t->shut_how = -1;
    return shutdown(s->fd, how) < 0 ? -errno : 0;
}

/* Send the whole queue (the caller holds the write direction). Chunks are not moved while an
 * operation reads them, and what a receive appends meanwhile (a key update's answer) is
 * sent by the next round of the loop. */
int curio__tls_flush(struct curio__tls *t, curio_socket *s)
{
    while (t->out_head) {
        if (t->werr)
            return t->werr;
        struct iovec iov[8];
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)queued(t, iov, 8)};
        curio__op op;
        struct io_uring_sqe *sqe;
        int rc = curio__op_begin_fd(&op, &sqe, s->fd, CURIO__FD_WRITE);
        if (rc < 0)
            return rc;
        /* MSG_WAITALL: io_uring (5.18+) retries a short send itself (see curio_sendall). */
        io_uring_prep_sendmsg(sqe, s->fd, &msg, MSG_NOSIGNAL | MSG_WAITALL);
        rc = curio__op_wait(&op, sqe, "WRITE_WAIT");
        if (rc > 0)
            consume(t, (size_t)rc);
        else if (rc == 0)
            rc = -EPIPE; /* no progress: never loop on it */
        if (rc < 0) {
            if (!curio__tls_interruption(rc)) {
                t->werr = rc;
                curio__tls_drop_queue(t);
            }
            return rc;
        }
    }
    return curio__tls_apply_shutdown(t, s);
}

/* Hand the queue to the kernel without waiting, as much as the socket buffer takes (for
 * close, shutdown and the alert after a failure: calls that never block). */
void curio__tls_push_nowait(struct curio__tls *t, int fd)
{
    while (t->out_head && fd >= 0) {
        struct iovec iov[8];
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)queued(t, iov, 8)};
        ssize_t r = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return; /* full, or gone: the rest waits for a flush, or goes with the socket */
        consume(t, (size_t)r);
    }
}

/* Send the queue from a receive, unless another task is sending (it sends the queue). */
int curio__tls_flush_if_free(struct curio__tls *t, curio_socket *s)
{
    curio__task *self = curio__self();
    curio__gate *g = &s->gate;
    if (!t->out_head || t->werr || (g->writer && g->writer != self))
        return 0;
    curio__task *had = g->writer; /* borrowed for the flush, as a stream's read does */
    g->writer = self;
    int rc = curio__tls_flush(t, s);
    g->writer = had;
    return rc;
}
