/*
 * io/read.c - reading a stream: the buffer and its refill, read(n), read_exactly(n) and
 * read_all. Large reads skip the buffer and land in the caller's memory directly, so
 * bulk transfers are one operation and no copy per chunk.
 */
#include "io.h"

#include <stdlib.h>
#include <string.h>

/* Move the unread bytes to the front of the buffer. */
static void compact(curio_stream *s)
{
    size_t d = s->rstart;
    memmove(s->rbuf, s->rbuf + d, s->rend - d);
    s->rstart = 0;
    s->rend -= d;
    s->rscan -= d;
}

/* Room for at least one more byte at rend. -ENOMEM, or -EMSGSIZE when the buffer is at
 * its largest and full (the line calls never let it get there). */
static int make_room(curio_stream *s)
{
    if (!s->rbuf) {
        s->rbuf = malloc(s->rsize);
        if (!s->rbuf)
            return -ENOMEM;
        s->rcap = s->rsize;
        s->rstart = s->rend = s->rscan = 0;
        return 0;
    }
    if (s->rstart == s->rend) {
        s->rstart = s->rend = s->rscan = 0;
        if (s->rcap > s->rsize) {
            /* A long line made it grow; give the memory back once it is empty. */
            char *b = realloc(s->rbuf, s->rsize);
            if (b) {
                s->rbuf = b;
                s->rcap = s->rsize;
            }
        }
        return 0;
    }
    /* Compact when less than half the buffer is free at the end: the bytes moved are a
     * partial line or a read_exactly remainder, short next to what the read brings. */
    if (s->rstart && s->rcap - s->rend < s->rcap / 2)
        compact(s);
    if (s->rend < s->rcap)
        return 0;
    size_t most = s->max_line + 1;
    if (s->rcap >= most)
        return -EMSGSIZE;
    size_t cap = s->rcap * 2 < most ? s->rcap * 2 : most;
    char *b = realloc(s->rbuf, cap);
    if (!b)
        return -ENOMEM;
    s->rbuf = b;
    s->rcap = cap;
    return 0;
}

/* Before waiting for input, send what the write buffer holds, as stdio does for an
 * interactive stream: a request left in the buffer would never be answered. Skipped if
 * another task is writing; its errors are left for the next write or flush to report
 * (the bytes stay buffered), except that a closing stream stops the read too. */
static int flush_before_wait(curio_stream *s)
{
    curio__task *self = curio__self();
    if (s->gate.writer && s->gate.writer != self)
        return 0;
    curio__task *had = s->gate.writer;
    s->gate.writer = self;
    size_t done;
    curio__send_all(s, NULL, 0, &done);
    s->gate.writer = had;
    return s->gate.closing ? -EBADF : 0;
}

ssize_t curio__refill(curio_stream *s)
{
    int rc = make_room(s);
    if (rc < 0)
        return rc;
    if (__builtin_expect(s->wlen > s->wstart, 0) && (rc = flush_before_wait(s)) < 0)
        return rc;
    ssize_t n = curio__stream_recv(s, s->rbuf + s->rend, s->rcap - s->rend);
    if (n > 0)
        s->rend += (size_t)n;
    return n;
}

/* Hand over up to n buffered bytes. */
static size_t take(curio_stream *s, void *buf, size_t n)
{
    size_t k = curio__buffered(s);
    if (k > n)
        k = n;
    if (k == 0)
        return 0; /* rbuf may still be NULL */
    memcpy(buf, s->rbuf + s->rstart, k);
    s->rstart += k;
    if (s->rscan < s->rstart)
        s->rscan = s->rstart;
    return k;
}

/*
 * An idle connection should not pin a read buffer: a socket stream parked in read(n) with
 * its buffer empty would hold the buffer's first page (written by the last message) for
 * as long as the peer is silent. So a socket stream whose last refill brought fewer bytes
 * than read(n) asked for (a small message, all handed over) frees its buffer and receives
 * the next read(n) straight into the caller's memory, as a large read does. Once such a
 * read fills all n bytes (more may be waiting), reads go through the buffer again.
 */
static ssize_t read_direct(curio_stream *s, void *buf, size_t n)
{
    if (__builtin_expect(s->wlen > s->wstart, 0)) {
        int rc = flush_before_wait(s);
        if (rc < 0)
            return rc;
    }
    ssize_t r = curio__stream_recv(s, buf, n);
    if (r > 0 && (size_t)r == n)
        s->rdirect = false;
    return r;
}

ssize_t curio__read_in(curio_stream *s, void *buf, size_t n)
{
    if (n == 0)
        return 0;
    if (curio__buffered(s))
        return (ssize_t)take(s, buf, n);
    if (n >= s->rsize)
        return curio__stream_recv(s, buf, n);
    if (s->rdirect)
        return read_direct(s, buf, n);
    ssize_t r = curio__refill(s);
    if (r <= 0)
        return r;
    size_t k = take(s, buf, n);
    if (s->socket && (size_t)r < n && !curio__buffered(s)) {
        free(s->rbuf);
        s->rbuf = NULL;
        s->rcap = s->rstart = s->rend = s->rscan = 0;
        s->rdirect = true;
    }
    return (ssize_t)k;
}

ssize_t curio_stream_read(curio_stream *s, void *buf, size_t n)
{
    int rc = curio__stream_enter(s, CURIO__GATE_READ);
    if (rc < 0)
        return rc;
    if (!buf && n)
        return curio__stream_leave(s, CURIO__GATE_READ, -EINVAL);
    return curio__stream_leave(s, CURIO__GATE_READ, curio__read_in(s, buf, n));
}

ssize_t curio_stream_read_exactly(curio_stream *s, void *buf, size_t n, size_t *done)
{
    size_t got = 0;
    ssize_t rc = curio__stream_enter(s, CURIO__GATE_READ);
    if (rc == 0 && !buf && n)
        rc = curio__stream_leave(s, CURIO__GATE_READ, -EINVAL);
    if (rc < 0) {
        if (done)
            *done = 0;
        return rc;
    }
    char *p = buf;
    while (got < n) {
        ssize_t r;
        if (curio__buffered(s) || n - got < s->rsize) {
            r = curio__buffered(s) ? 1 : curio__refill(s);
            if (r > 0)
                got += take(s, p + got, n - got);
        } else {
            r = curio__stream_recv(s, p + got, n - got);
            if (r > 0)
                got += (size_t)r;
        }
        if (r == 0)
            rc = CURIO_EINCOMPLETE;
        if (r <= 0) {
            if (r < 0)
                rc = r;
            break;
        }
    }
    if (done)
        *done = got;
    return curio__stream_leave(s, CURIO__GATE_READ, rc < 0 ? rc : (ssize_t)n);
}

ssize_t curio__read_all_in(curio_stream *s, char **data, size_t *len)
{
    size_t cap = curio__buffered(s) + 1, n = 0;
    if (cap < s->rsize)
        cap = s->rsize;
    char *out = malloc(cap);
    if (!out)
        return -ENOMEM;
    n = take(s, out, curio__buffered(s));
    ssize_t rc = 0;
    for (;;) {
        if (cap - n < s->rsize / 2 + 1) {
            if (cap > SIZE_MAX / 2) {
                rc = -ENOMEM;
                break;
            }
            char *b = realloc(out, cap * 2);
            if (!b) {
                rc = -ENOMEM;
                break;
            }
            out = b;
            cap *= 2;
        }
        ssize_t r = curio__stream_recv(s, out + n, cap - n - 1);
        if (r <= 0) {
            rc = r;
            break;
        }
        n += (size_t)r;
    }
    out[n] = 0;
    *data = out;
    *len = n;
    return rc < 0 ? rc : (ssize_t)n;
}

ssize_t curio_stream_read_all(curio_stream *s, char **data, size_t *len)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!data || !len)
        return -EINVAL;
    int rc = curio__stream_enter(s, CURIO__GATE_READ);
    if (rc < 0)
        return rc;
    return curio__stream_leave(s, CURIO__GATE_READ, curio__read_all_in(s, data, len));
}
