/*
 * io/write.c - writing a stream: write, writelines and flush, with the optional write
 * buffer. Whatever does not fit the buffer goes out in one gathering operation together
 * with what the buffer holds (no copy), continued until every byte is out.
 */
#include "io.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* iovecs handed to one operation; a longer array is sent in windows of this size. */
#define WINDOW 64

int curio__send_all(curio_stream *s, const struct iovec *iov, int cnt, size_t *done)
{
    struct iovec w[WINDOW];
    size_t sent = 0;       /* bytes of iov that went out */
    int i = 0;             /* iov[i] is the first entry not completely sent... */
    size_t off = 0;        /* ...of which off bytes went out */
    *done = 0;
    for (;;) {
        int nw = 0;
        size_t pending = s->wlen - s->wstart;
        if (pending)
            w[nw++] = (struct iovec){s->wbuf + s->wstart, pending};
        for (int j = i; j < cnt && nw < WINDOW; j++) {
            size_t skip = j == i ? off : 0;
            if (iov[j].iov_len > skip)
                w[nw++] = (struct iovec){(char *)iov[j].iov_base + skip,
                                         iov[j].iov_len - skip};
        }
        if (nw == 0)
            return 0;
        ssize_t r = curio__stream_sendv(s, w, nw);
        if (r <= 0)
            return r < 0 ? (int)r : -EIO; /* 0 for a non-empty write: no progress */
        size_t n = (size_t)r;
        /* The write buffer's bytes went first. */
        if (pending) {
            size_t k = n < pending ? n : pending;
            s->wstart += k;
            n -= k;
            if (s->wstart == s->wlen)
                s->wstart = s->wlen = 0;
        }
        while (n) {
            size_t left = iov[i].iov_len - off;
            size_t k = n < left ? n : left;
            off += k;
            n -= k;
            sent += k;
            *done = sent;
            if (off == iov[i].iov_len) {
                i++;
                off = 0;
            }
        }
        /* Skip empty entries so that i < cnt means bytes are left. */
        while (i < cnt && iov[i].iov_len == off) {
            i++;
            off = 0;
        }
    }
}

ssize_t curio__write_in(curio_stream *s, const struct iovec *iov, int cnt, size_t *done)
{
    size_t total = 0;
    for (int j = 0; j < cnt; j++) {
        if (iov[j].iov_len > (size_t)SSIZE_MAX - total)
            return -EINVAL;
        total += iov[j].iov_len;
    }
    if (s->wcap && total <= s->wcap - s->wlen) {
        /* It fits the write buffer: no operation. */
        if (!s->wbuf && !(s->wbuf = malloc(s->wcap)))
            return -ENOMEM;
        for (int j = 0; j < cnt; j++) {
            if (iov[j].iov_len == 0)
                continue; /* its base may be NULL */
            memcpy(s->wbuf + s->wlen, iov[j].iov_base, iov[j].iov_len);
            s->wlen += iov[j].iov_len;
        }
        *done = total;
        return (ssize_t)total;
    }
    int rc = curio__send_all(s, iov, cnt, done);
    return rc < 0 ? rc : (ssize_t)total;
}

ssize_t curio_stream_writelines(curio_stream *s, const struct iovec *iov, int iovcnt,
                                size_t *done)
{
    size_t d = 0;
    ssize_t rc = curio__stream_enter(s, CURIO__GATE_WRITE);
    if (rc == 0) {
        if (iovcnt < 0 || (iovcnt && !iov))
            rc = -EINVAL;
        else
            rc = curio__write_in(s, iov, iovcnt, &d);
        rc = curio__stream_leave(s, CURIO__GATE_WRITE, rc);
    }
    if (done)
        *done = d;
    return rc;
}

ssize_t curio_stream_write(curio_stream *s, const void *buf, size_t n, size_t *done)
{
    if (!buf && n) {
        if (done)
            *done = 0;
        return -EINVAL;
    }
    struct iovec v = {(void *)buf, n};
    return curio_stream_writelines(s, &v, 1, done);
}

int curio_stream_flush(curio_stream *s)
{
    int rc = curio__stream_enter(s, CURIO__GATE_WRITE);
    if (rc < 0)
        return rc;
    size_t d;
    if (s->wlen > s->wstart)
        rc = curio__send_all(s, NULL, 0, &d);
    return (int)curio__stream_leave(s, CURIO__GATE_WRITE, rc);
}
