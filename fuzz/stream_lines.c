/*
 * fuzz/stream_lines.c - a stream's line splitting against a plain model.
 *
 * The input is 4 control bytes (the stream's buffer size and line limit, the seed of the
 * chunk sizes and of the calls) and the data. A writer task sends the data into one end
 * of a socketpair in chunks, another task reads the other end through a curio stream with
 * a mix of readline (with varied capacities), readline_ref, read_exactly and read, and
 * every result is compared with what the model, which splits the same bytes on '\n' with
 * a position into an array, says it must be: the line or the bytes, -EMSGSIZE (nothing
 * consumed) for a line over the limit, CURIO_EINCOMPLETE at a short end, 0 at the end.
 * Writer and reader are two tasks, so a chunk larger than the socket's buffer does not
 * block the target.
 */
#include "fuzz.h"

#include <curio.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct run {
    struct fuzz_feed feed;
    const uint8_t *data;
    size_t n;
    fuzz_rng calls;
    size_t buffer_size, max_line;
    int fd[2];
};

/* The model's next line at pos: its length with its '\n' (the last may lack it). */
static size_t model_line(const struct run *r, size_t pos)
{
    const uint8_t *nl = memchr(r->data + pos, '\n', r->n - pos);
    return nl ? (size_t)(nl - (r->data + pos)) + 1 : r->n - pos;
}

static void reader(struct run *r, curio_stream *s)
{
    size_t pos = 0;
    size_t big = 2 * r->max_line + 2;
    char *buf = malloc(big + 1);
    CHECK(buf, "malloc");
    bool ended = false, stuck = false;
    for (unsigned step = 0; !ended; step++) {
        CHECK(step < 8 * r->n + 64, "no end after %u calls", step);
        size_t rest = r->n - pos, line = model_line(r, pos);
        /* After a refusal, move on with a read that must make progress. */
        unsigned op = stuck ? 3 : (unsigned)fuzz_rng_below(&r->calls, 4);
        stuck = false;
        if (op == 0) {
            size_t cap = 1 + fuzz_rng_below(&r->calls, big);
            ssize_t got = curio_stream_readline(s, buf, cap);
            if (line + 1 > cap || line > r->max_line) {
                CHECK(got == -EMSGSIZE, "readline(cap %zu) of a %zu-byte line: %zd", cap, line,
                      got);
                stuck = true;
                continue;
            }
            CHECK(got == (ssize_t)line, "readline at %zu: %zd, model %zu", pos, got, line);
            CHECK(memcmp(buf, r->data + pos, line) == 0 && buf[line] == 0,
                  "readline at %zu: other bytes", pos);
            pos += line;
            ended = line == 0;
        } else if (op == 1) {
            const char *ref = NULL;
            ssize_t got = curio_stream_readline_ref(s, &ref);
            if (line > r->max_line) {
                CHECK(got == -EMSGSIZE, "readline_ref of a %zu-byte line: %zd", line, got);
                stuck = true;
                continue;
            }
            CHECK(got == (ssize_t)line, "readline_ref at %zu: %zd, model %zu", pos, got, line);
            CHECK(line == 0 || memcmp(ref, r->data + pos, line) == 0,
                  "readline_ref at %zu: other bytes", pos);
            pos += line;
            ended = line == 0;
        } else if (op == 2) {
            size_t want = fuzz_rng_below(&r->calls, big), done = 12345;
            ssize_t got = curio_stream_read_exactly(s, buf, want, &done);
            if (want <= rest) {
                CHECK(got == (ssize_t)want && done == want, "read_exactly(%zu) at %zu: %zd",
                      want, pos, got);
            } else {
                CHECK(got == CURIO_EINCOMPLETE && done == rest,
                      "read_exactly(%zu) with %zu left: %zd, done %zu", want, rest, got, done);
                ended = true;
            }
            CHECK(memcmp(buf, r->data + pos, done) == 0, "read_exactly at %zu: other bytes", pos);
            pos += done;
        } else {
            size_t want = 1 + fuzz_rng_below(&r->calls, big);
            ssize_t got = curio_stream_read(s, buf, want);
            if (rest == 0) {
                CHECK(got == 0, "read at the end: %zd", got);
                ended = true;
            } else {
                CHECK(got > 0 && (size_t)got <= want && (size_t)got <= rest,
                      "read(%zu) with %zu left: %zd", want, rest, got);
                CHECK(memcmp(buf, r->data + pos, (size_t)got) == 0, "read at %zu: other bytes",
                      pos);
                pos += (size_t)got;
            }
        }
    }
    CHECK(pos == r->n, "ended at %zu of %zu", pos, r->n);
    free(buf);
}

static long main_task(void *arg)
{
    struct run *r = arg;
    curio_stream_options o = {.buffer_size = r->buffer_size, .max_line = r->max_line};
    curio_stream *s;
    CHECK(curio_stream_open(&s, r->fd[0], &o) == 0, "stream_open");
    curio_task *w = curio_spawn(fuzz_feed_task, &r->feed);
    CHECK(w, "spawn");
    reader(r, s);
    long wr = -1;
    CHECK(curio_join(w, &wr) == 0 && wr == 0, "writer: %ld", wr);
    curio_task_release(w);
    CHECK(curio_stream_close(s) == 0, "stream_close");
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ctl[4] = {0};
    size_t c = size < 4 ? size : 4;
    memcpy(ctl, data, c);
    struct run r = {.data = data + c, .n = size - c};
    r.buffer_size = 1 + ctl[0];
    /* max_line below buffer_size means buffer_size (the stream's rule). */
    r.max_line = ctl[1] ? r.buffer_size + 4u * ctl[1] : r.buffer_size;
    fuzz_rng_seed(&r.feed.rng, &ctl[2], 1);
    fuzz_rng_seed(&r.calls, &ctl[3], 1);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r.fd) == 0, "socketpair");
    r.feed = (struct fuzz_feed){.data = r.data, .n = r.n, .rng = r.feed.rng, .fd = r.fd[1]};
    long res = -1;
    int rc = curio_run(main_task, &r, NULL, &res);
    CHECK(rc == 0 && res == 0, "curio_run: %d, %ld", rc, res);
    close(r.fd[1]);
    return 0;
}
