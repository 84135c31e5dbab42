/*
 * io/lines.c - reading a stream line by line: readline (copying), readline_ref (a view
 * into the buffer, the iteration primitive) and readlines.
 *
 * A line is at most `limit` bytes with its '\n'. The buffer grows up to max_line + 1 to
 * hold one; a longer line is -EMSGSIZE and nothing is consumed, so a peer cannot make the
 * buffer grow without bound and the caller can still read the bytes with read().
 */
#include "io.h"

#include <stdlib.h>
#include <string.h>

/* The next line, left at rbuf + rstart and not consumed. Returns its length (0 only at end
 * of stream with nothing buffered; the last line may lack its '\n'), or negative. */
static ssize_t find_line(curio_stream *s, size_t limit)
{
    for (;;) {
        if (s->rscan < s->rend) {
            char *nl = memchr(s->rbuf + s->rscan, '\n', s->rend - s->rscan);
            if (nl) {
                size_t len = (size_t)(nl - (s->rbuf + s->rstart)) + 1;
                s->rscan = (size_t)(nl - s->rbuf);
                return len <= limit ? (ssize_t)len : -EMSGSIZE;
            }
            s->rscan = s->rend;
        }
        size_t have = curio__buffered(s);
        if (have > limit)
            return -EMSGSIZE;
        ssize_t r = curio__refill(s);
        if (r == 0)
            return (ssize_t)have;
        if (r < 0)
            return r;
    }
}

static void consume(curio_stream *s, size_t len)
{
    s->rstart += len;
    if (s->rscan < s->rstart)
        s->rscan = s->rstart;
}

ssize_t curio__readline_ref_in(curio_stream *s, const char **line)
{
    ssize_t n = find_line(s, s->max_line);
    if (n > 0) {
        *line = s->rbuf + s->rstart;
        consume(s, (size_t)n);
    } else {
        *line = NULL;
    }
    return n;
}

ssize_t curio__readline_in(curio_stream *s, char *buf, size_t cap)
{
    ssize_t n = find_line(s, cap - 1 < s->max_line ? cap - 1 : s->max_line);
    if (n >= 0) {
        memcpy(buf, s->rbuf + s->rstart, (size_t)n);
        buf[n] = 0;
        consume(s, (size_t)n);
    }
    return n;
}

int curio__readlines_in(curio_stream *s, char ***lines, size_t *count)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    for (;;) {
        ssize_t len = find_line(s, s->max_line);
        if (len <= 0) {
            rc = (int)len;
            break;
        }
        if (n == cap && curio__grow(&v, &cap, n, sizeof(*v)) < 0) {
            rc = -ENOMEM;
            break;
        }
        char *l = malloc((size_t)len + 1);
        if (!l) {
            rc = -ENOMEM;
            break;
        }
        memcpy(l, s->rbuf + s->rstart, (size_t)len);
        l[len] = 0;
        consume(s, (size_t)len);
        v[n++] = l;
    }
    *lines = v;
    *count = n;
    return rc;
}

ssize_t curio_stream_readline_ref(curio_stream *s, const char **line)
{
    if (!line)
        return -EINVAL;
    *line = NULL;
    int rc = curio__stream_enter(s, CURIO__GATE_READ);
    if (rc < 0)
        return rc;
    return curio__stream_leave(s, CURIO__GATE_READ, curio__readline_ref_in(s, line));
}

ssize_t curio_stream_readline(curio_stream *s, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return -EINVAL;
    buf[0] = 0;
    int rc = curio__stream_enter(s, CURIO__GATE_READ);
    if (rc < 0)
        return rc;
    return curio__stream_leave(s, CURIO__GATE_READ, curio__readline_in(s, buf, cap));
}

int curio_stream_readlines(curio_stream *s, char ***lines, size_t *count)
{
    if (lines)
        *lines = NULL;
    if (count)
        *count = 0;
    if (!lines || !count)
        return -EINVAL;
    int rc = curio__stream_enter(s, CURIO__GATE_READ);
    if (rc < 0)
        return rc;
    return (int)curio__stream_leave(s, CURIO__GATE_READ, curio__readlines_in(s, lines, count));
}

void curio_lines_free(char **lines, size_t count)
{
    if (!lines)
        return;
    for (size_t i = 0; i < count; i++)
        free(lines[i]);
    free(lines);
}
