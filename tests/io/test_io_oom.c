/*
 * Out of memory in the io layer: every allocation a call makes is made to fail in turn
 * (the binary is linked with --wrap=malloc,calloc,realloc). The call must return -ENOMEM,
 * lose no byte (what it did not hand over is still readable), leak nothing (the sanitizer
 * build checks memory, count_fds descriptors) and leave the stream usable.
 */
#include "iotest.h"

#include "io.h"

#include <stdlib.h>

#include "failalloc.h"

#define WALK_MAX 64

/* ---- opening ---- */

static long open_walk(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    long n;
    for (n = 0; n < WALK_MAX; n++) {
        curio_stream *s = (curio_stream *)1;
        curio_stream_options keep = {.keep_fd = true};
        arm(n);
        int rc = curio_stream_open(&s, p[0], &keep);
        disarm();
        if (!injected) {
            cr_assert_eq(rc, 0);
            curio_stream_close(s);
            break;
        }
        cr_assert_eq(rc, -ENOMEM);
        cr_assert_null(s);
        cr_assert_neq(fcntl(p[0], F_GETFD), -1, "the caller's descriptor is untouched");
    }
    cr_assert_lt(n, WALK_MAX);
    close(p[0]);
    close(p[1]);
    /* curio_file_open: the record is allocated before the open, so a failure never leaves
     * an opened descriptor behind. */
    for (n = 0; n < WALK_MAX; n++) {
        curio_file *f = (curio_file *)1;
        arm(n);
        int rc = curio_aopen(&f, "/dev/null", "r");
        disarm();
        if (!injected) {
            cr_assert_eq(rc, 0);
            curio_file_close(f);
            break;
        }
        cr_assert_eq(rc, -ENOMEM, "allocation %ld: %s", n, ename(rc));
        cr_assert_null(f);
    }
    cr_assert_lt(n, WALK_MAX);
    return 0;
}

Test(io_oom, stream_and_file_open) { run_io(open_walk, NULL); }

/* ---- reading ---- */

static const char text[] = "first line\nsecond line\n"
                           "a third line that is longer than the buffer\nend";

/* Read everything left with plain reads and append it to out. */
static void drain(curio_stream *s, char *out, size_t *len)
{
    char buf[256];
    ssize_t n;
    while ((n = curio_stream_read(s, buf, sizeof buf)) > 0) {
        memcpy(out + *len, buf, (size_t)n);
        *len += (size_t)n;
    }
    cr_assert_eq(n, 0);
}

/* A fresh stream with text in its pipe (the writing end closed). */
static curio_stream *with_text(void)
{
    int p[2];
    mkpipe(p);
    cr_assert_eq(write(p[1], text, sizeof text - 1), (ssize_t)sizeof text - 1);
    close(p[1]);
    curio_stream_options o = {.buffer_size = 16, .max_line = 128};
    return sopen(p[0], &o);
}

enum op { READ, READLINE, READLINE_REF, READLINES, READ_ALL, READ_EXACTLY };

/* Do op once with allocation n failing; what it handed over plus what is left to read
 * must be the text, whatever happened. Returns whether the failure was injected. */
static bool read_once(enum op op, long n)
{
    curio_stream *s = with_text();
    char got[512];
    size_t len = 0;
    arm(n);
    ssize_t rc = -EINVAL;
    switch (op) {
    case READ:
        rc = curio_stream_read(s, got, 5);
        if (rc > 0)
            len = (size_t)rc;
        break;
    case READLINE:
        rc = curio_stream_readline(s, got, sizeof got);
        if (rc > 0)
            len = (size_t)rc;
        break;
    case READLINE_REF: {
        /* Three lines; the third is longer than the buffer, which has to grow. */
        const char *l;
        rc = 1;
        for (int i = 0; i < 3 && rc > 0; i++) {
            rc = curio_stream_readline_ref(s, &l);
            if (rc > 0) {
                memcpy(got + len, l, (size_t)rc);
                len += (size_t)rc;
            }
        }
        break;
    }
    case READLINES: {
        char **v;
        size_t cnt;
        rc = curio_stream_readlines(s, &v, &cnt);
        for (size_t i = 0; i < cnt; i++) {
            memcpy(got + len, v[i], strlen(v[i]));
            len += strlen(v[i]);
        }
        curio_lines_free(v, cnt);
        break;
    }
    case READ_ALL: {
        char *d;
        size_t dl;
        rc = curio_stream_read_all(s, &d, &dl);
        if (d) {
            memcpy(got, d, dl);
            len = dl;
        }
        free(d);
        break;
    }
    case READ_EXACTLY: {
        size_t done;
        rc = curio_stream_read_exactly(s, got, 10, &done);
        len = done;
        break;
    }
    }
    bool inj = injected;
    disarm();
    if (inj && rc == -ENOMEM) {
        /* Nothing lost: the rest is still readable. */
    } else {
        cr_assert_geq(rc, 0, "op %d, allocation %ld: %s", op, n, ename(rc));
    }
    drain(s, got, &len);
    cr_assert_eq(len, sizeof text - 1, "op %d, allocation %ld: %zu bytes", op, n, len);
    cr_assert_eq(memcmp(got, text, len), 0, "op %d, allocation %ld", op, n);
    curio_stream_close(s);
    return inj && rc == -ENOMEM;
}

static long read_walks(void *arg)
{
    (void)arg;
    for (enum op op = READ; op <= READ_EXACTLY; op++) {
        long n, failed = 0;
        for (n = 0; n < WALK_MAX; n++) {
            if (read_once(op, n))
                failed++;
            else if (!injected)
                break;
        }
        cr_assert_lt(n, WALK_MAX);
        cr_assert_gt(failed, 0, "op %d: no allocation was made to fail", op);
    }
    return 0;
}

Test(io_oom, every_read_call_loses_nothing) { run_io(read_walks, NULL); }

/* ---- writing ---- */

static long write_walk(void *arg)
{
    (void)arg;
    int p[2];
    mkpipe(p);
    curio_stream_options o = {.write_buffer = 64};
    curio_stream *s = sopen(p[1], &o);
    size_t done = 9;
    arm(0);
    ssize_t rc = curio_stream_write(s, "abc", 3, &done);
    disarm();
    cr_assert(injected);
    cr_assert_eq(rc, -ENOMEM);
    cr_assert_eq(done, 0);
    cr_assert_eq(curio_stream_write(s, "abc", 3, &done), 3);
    cr_assert_eq(curio_stream_flush(s), 0);
    char buf[8];
    cr_assert_eq(read(p[0], buf, sizeof buf), 3);
    curio_stream_close(s);
    close(p[0]);
    return 0;
}

Test(io_oom, write_buffer_allocation) { run_io(write_walk, NULL); }

/* ---- closing: the disable_cancellation scope may need memory; close(2) then ---- */

static long close_walk(void *arg)
{
    (void)arg;
    for (long n = 0; n < 4; n++) {
        int p[2];
        mkpipe(p);
        curio_stream *s = sopen(p[0], NULL);
        /* Open and close scopes until the task's scope array has to grow on the next. */
        curio__task *self = curio_current();
        curio_scope sc[64];
        size_t k = 0;
        while (self->nscopes < self->cap_scopes && k < 64)
            curio_disable_cancellation(&sc[k++]);
        arm(n);
        cr_assert_eq(curio_stream_close(s), 0);
        disarm();
        while (k)
            curio_scope_close(&sc[--k]);
        cr_assert_eq(fcntl(p[0], F_GETFD), -1, "closed all the same");
        close(p[1]);
    }
    return 0;
}

Test(io_oom, close_without_memory_still_closes) { run_io(close_walk, NULL); }
