/*
 * net/recvbuf.c - curio_recv_buf: receiving into the kernel's provided-buffer ring
 * (kernel/bufring.h) through a multishot receive, and curio_buf_release.
 *
 * Buffer mode. The first curio_recv_buf on a socket attaches a receive queue to it
 * (s->mshot) and arms one multishot receive (IORING_RECV_MULTISHOT with
 * IOSQE_BUFFER_SELECT from the kernel's ring), whose CQEs go to the queue's sink. Each CQE
 * with data names the buffer the kernel filled; the sink links it at the tail of the
 * socket's queue (through the ring's per-buffer next/len arrays: queueing allocates
 * nothing and cannot fail) and wakes the waiting task if there is one. The multishot
 * stays armed between calls, so a reader that keeps up pays one SQE per burst, not per
 * call; it ends (a CQE without IORING_CQE_F_MORE) at end of stream or an error, which are
 * queued as the queue's end after the data before them; at -ENOBUFS (the ring is empty:
 * the data stays in the socket), after which the next call reads through a heap buffer;
 * when the sink cancels it because the queue holds QUEUE_CAP buffers with nobody reading;
 * and when a call waiting on it is cancelled or times out (whatever completed meanwhile
 * stays queued for the next call). A call that finds the queue empty and nothing armed
 * arms it again.
 *
 * Close: the queue's closing hook (run by close before the descriptor goes) gives every
 * queued buffer back, wakes a waiting task with -EBADF, cancels the multishot and detaches
 * the queue, which frees itself at its last CQE (giving back any buffer that CQE brought).
 *
 * The fallback (no buffer ring, no multishot receive, the test hook, or -ENOBUFS): wait for
 * POLLIN through io_uring, then recv(MSG_DONTWAIT) into a heap buffer allocated only then,
 * so that a waiting socket still holds no buffer.
 */
#include "net.h"
#include "../kernel/bufring.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define HEAP_ID UINT32_MAX /* curio_buf.id of a heap buffer; ring buffers are bid + 1 */

/* Buffers queued with nobody reading after which the sink stops the receive. */
#define QUEUE_CAP 16u

struct recvq {
    curio__mshot m;          /* first: s->mshot points here */
    curio_kernel *k;
    curio__bufring *r;
    curio_socket *s;         /* NULL once detached by close */
    curio__task *waiter;     /* the task parked in rq_wait, or NULL */
    uint32_t head, tail;     /* queued buffers (bids), linked through r->next; NONE */
    unsigned count;
    uint32_t off;            /* bytes of the head buffer already consumed (curio_recv) */
    int end;                 /* the multishot's last result: 0 (EOF) or an error */
    bool has_end;            /* end is queued after the data */
    bool armed;              /* the multishot's last CQE is still due */
    bool cancelling;         /* an ASYNC_CANCEL for it was queued */
    bool nobufs;             /* it ended with -ENOBUFS: the next read goes through the heap */
    bool got_data;           /* some CQE brought data (a later -EINVAL is the socket's) */
};

static void rq_closing(curio__mshot *m, curio_socket *s, int fd);

static inline struct recvq *rq_of(curio_socket *s)
{
    return s->mshot && s->mshot->closing == rq_closing ? (struct recvq *)s->mshot : NULL;
}

static void rq_push(struct recvq *q, unsigned bid, uint32_t len)
{
    q->r->len[bid] = len;
    if (q->head == NONE)
        q->head = bid;
    else
        q->r->next[q->tail] = (uint16_t)bid;
    q->tail = bid;
    q->count++;
}

static void rq_pop(struct recvq *q)
{
    uint32_t bid = q->head;
    q->head = --q->count ? q->r->next[bid] : NONE;
    q->off = 0;
}

static void rq_cancel_sqe(struct recvq *q, struct io_uring_sqe *sqe)
{
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&q->m.sink | 1u, 0);
    io_uring_sqe_set_data64(sqe, CURIO__UD_IGNORE);
    q->cancelling = true;
}

/* Cancel the multishot (from a task, or from close: curio__sqe may submit to make room). */
static void rq_cancel(struct recvq *q)
{
    if (q->armed && !q->cancelling)
        rq_cancel_sqe(q, curio__sqe(q->k));
}

static void rq_cqe(curio__sink *sink, const struct io_uring_cqe *cqe)
{
    struct recvq *q = (struct recvq *)sink;
    int res = cqe->res;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        q->r->out++;
        if (res > 0 && q->s)
            rq_push(q, bid, (uint32_t)res);
        else
            curio__bufring_put(q->r, bid);
    }
    if (res > 0) {
        q->got_data = true;
    } else if (res == -ENOBUFS) {
        q->nobufs = true;
    } else if (res == -ECANCELED && q->cancelling) {
        /* ours: the socket's data stays in the socket */
    } else if (res == -EINVAL && !q->got_data) {
        /* a kernel with buffer rings but without IORING_RECV_MULTISHOT (5.19) */
        atomic_store(&curio__recv_multishot_refused, true);
        q->nobufs = true;
    } else {
        q->end = res; /* 0: end of stream; else the socket's error */
        q->has_end = true;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        q->armed = false;
        q->cancelling = false;
        curio__sink_done(q->k);
        if (!q->s) {
            free(q);
            return;
        }
    } else if ((q->nobufs || (!q->waiter && q->count >= QUEUE_CAP)) && !q->cancelling) {
        struct io_uring_sqe *sqe = curio__sqe_try(q->k);
        if (sqe)
            rq_cancel_sqe(q, sqe); /* else tried again at the next CQE */
    }
    if (q->waiter)
        curio__ready_with(q->waiter, 0);
}

static void rq_arm(struct recvq *q, int fd)
{
    struct io_uring_sqe *sqe = curio__sqe(q->k);
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = q->r->bgid;
    curio__sink_data(sqe, &q->m.sink);
    curio__sink_armed(q->k);
    q->armed = true;
    q->cancelling = false;
    q->nobufs = false;
}

static void rq_closing(curio__mshot *m, curio_socket *s, int fd)
{
    struct recvq *q = (struct recvq *)m;
    s->mshot = NULL;
    q->s = NULL;
    if (curio__tls_kernel != q->k) {
        free(q); /* closed after its kernel was destroyed: the ring and its CQEs are gone */
        return;
    }
    while (q->head != NONE) {
        uint32_t bid = q->head;
        rq_pop(q);
        curio__bufring_put(q->r, bid);
    }
    q->has_end = false;
    if (q->waiter) {
        curio__fd_unclaim(q->waiter, fd, CURIO__FD_READ);
        curio__ready_with(q->waiter, -EBADF);
        q->waiter = NULL;
    }
    if (!q->armed) {
        free(q);
        return;
    }
    rq_cancel(q);
    /* Submit now, before the descriptor is closed: a multishot SQE not yet submitted would
     * find the number closed or reused. q may be freed by the reaping: not touched again. */
    curio__ring_poll(q->k, false, CURIO__NO_DEADLINE);
}

enum { HAVE_DATA = 1, HAVE_END = 2, FALLBACK = 3 };

/* Wait until q has something for a reader: HAVE_DATA (q->head), HAVE_END (*end taken from
 * the queue), FALLBACK (read through the heap path once), or an error (-EBADF: q is gone). */
static int rq_wait(curio_socket *s, struct recvq *q, curio__task *self, int fd, int *end)
{
    for (;;) {
        if (q->head != NONE)
            return HAVE_DATA;
        if (q->has_end) {
            q->has_end = false;
            *end = q->end;
            return HAVE_END;
        }
        if (!q->armed && (q->nobufs || atomic_load(&curio__recv_multishot_refused) ||
                          curio__bufring_disabled)) {
            q->nobufs = false;
            return FALLBACK;
        }
        if (!q->armed)
            rq_arm(q, fd);
        q->waiter = self;
        int rc = curio__park("READ_WAIT", CURIO__NO_DEADLINE);
        if (rq_of(s) != q)
            return -EBADF; /* closed meanwhile: q was detached (and may be freed) */
        q->waiter = NULL;
        if (rc < 0) {
            rq_cancel(q);
            return rc;
        }
    }
}

/* Wait for fd to be readable, then receive up to n bytes without waiting: into buf, or,
 * if buf is NULL, into a heap buffer of n bytes allocated only then (*heap). */
static ssize_t poll_recv(int fd, char *buf, size_t n, char **heap)
{
    for (;;) {
        curio__op op;
        struct io_uring_sqe *sqe;
        int rc = curio__op_begin(&op, &sqe);
        if (rc < 0)
            return rc;
        io_uring_prep_poll_add(sqe, fd, POLLIN);
        rc = curio__op_wait(&op, sqe, "READ_WAIT");
        if (rc < 0)
            return rc;
        char *p = buf;
        if (!p && !(p = malloc(n)))
            return -ENOMEM;
        ssize_t got = recv(fd, p, n, MSG_DONTWAIT);
        if (got < 0)
            got = -errno;
        if (got > 0 && !buf)
            *heap = p;
        else if (!buf)
            free(p);
        if (got != -EAGAIN && got != -EWOULDBLOCK)
            return got;
    }
}

/* The read side of both calls, inside the gate with fd's read direction claimed:
 * into *out (buf NULL) or a copy of at most n bytes into buf. */
static ssize_t recv_in(curio_socket *s, curio__task *self, int fd, curio_buf *out,
                       char *buf, size_t n)
{
    curio_kernel *k = curio__task_kernel(self);
    struct recvq *q = rq_of(s);
    if (!q && s->mshot)
        return -ENOTCONN; /* a listening socket with the server's acceptor */
    if (!q) {
        curio__bufring *r = atomic_load(&curio__recv_multishot_refused)
                                ? NULL
                                : curio__bufring_get(k);
        if (!r)
            goto fallback;
        if (!(q = calloc(1, sizeof *q)))
            return -ENOMEM;
        q->m.sink.fn = rq_cqe;
        q->m.closing = rq_closing;
        q->k = k;
        q->r = r;
        q->s = s;
        q->head = q->tail = NONE;
        s->mshot = &q->m;
    }
    int end = 0;
    int rc = rq_wait(s, q, self, fd, &end);
    if (rc == HAVE_END)
        return end;
    if (rc == HAVE_DATA) {
        uint32_t bid = q->head;
        uint32_t avail = q->r->len[bid] - q->off;
        char *p = curio__bufring_addr(q->r, bid) + q->off;
        if (!buf) {
            rq_pop(q);
            *out = (curio_buf){.data = p, .len = avail, .id = bid + 1};
            return avail;
        }
        size_t c = n < avail ? n : avail;
        memcpy(buf, p, c);
        q->off += (uint32_t)c;
        if (q->off == q->r->len[bid]) {
            rq_pop(q);
            curio__bufring_put(q->r, bid);
        }
        return (ssize_t)c;
    }
    if (rc != FALLBACK)
        return rc;
fallback:
    if (buf)
        return poll_recv(fd, buf, curio__op_len(n), NULL);
    char *heap = NULL;
    ssize_t got = poll_recv(fd, NULL, curio__bufring_size(k), &heap);
    if (got > 0)
        *out = (curio_buf){.data = heap, .len = (size_t)got, .id = HEAP_ID};
    return got;
}

/* Enter s, claim its read direction, run recv_in, leave. */
static ssize_t recv_call(curio_socket *s, curio_buf *out, char *buf, size_t n)
{
    int rc = curio__socket_enter(s);
    if (rc < 0)
        return rc;
    curio__task *self = curio__self();
    int fd = s->fd;
    ssize_t got = curio__trap_check(self);
    int claim = -1;
    if (got == 0 && s->stream)
        got = -EBUSY; /* as_stream's reads go through the stream's buffer */
    if (got == 0)
        got = claim = curio__fd_claim(self, fd, CURIO__FD_READ);
    if (got >= 0)
        got = recv_in(s, self, fd, out, buf, n);
    if (claim == 0)
        curio__fd_unclaim(self, fd, CURIO__FD_READ);
    got = curio__socket_leave(s, got);
    if (got <= 0 && out)
        curio_buf_release(out); /* -EBADF from a close that raced with the data */
    return got;
}

ssize_t curio_recv_buf(curio_socket *s, curio_buf *out)
{
    if (!out)
        return -EINVAL;
    *out = (curio_buf){0};
    if (!s)
        return -EINVAL;
    if (s->transport || s->type != SOCK_STREAM)
        return -EOPNOTSUPP;
    return recv_call(s, out, NULL, 0);
}

ssize_t curio__recvbuf_copy(curio_socket *s, void *buf, size_t n, int flags)
{
    if (flags)
        return -EINVAL;
    if (n == 0)
        return 0;
    return recv_call(s, NULL, buf, n);
}

void curio_buf_release(curio_buf *b)
{
    if (!b || !b->id)
        return;
    if (b->id == HEAP_ID) {
        free(b->data);
    } else {
        curio__bufring *r = curio__bufring_of(curio__tls_kernel);
        if (r && b->id <= r->nbufs)
            curio__bufring_put(r, b->id - 1);
    }
    *b = (curio_buf){0};
}
