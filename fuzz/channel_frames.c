/*
 * fuzz/channel_frames.c - a Channel connection's receiving side against a reference
 * parser of multiprocessing.connection's framing (a 4-byte big-endian signed length, or -1
 * and an 8-byte length, then the bytes).
 *
 * The input is 3 control bytes (max_message, the seeds of the chunk sizes and of the
 * calls) and what the peer sends: a task writes it into one end of a socketpair in
 * chunks and closes, and the connection over the other end receives message after message
 * with curio_connection_recv and recv_into (varied capacities) until an error. Each result
 * must be the model's: the message's bytes; -EOVERFLOW for a message longer than
 * recv_into's buffer (nothing consumed, the next call gets it); CURIO_ECLOSED at the end
 * between messages, CURIO_EINCOMPLETE in the middle of one, -EMSGSIZE over max_message,
 * -EPROTO for a negative length other than -1; these are final: the next call returns the
 * same error.
 */
#include "fuzz.h"

#include <curio.h>

#include <signal.h>
#include <string.h>
#include <unistd.h>

struct run {
    struct fuzz_feed feed;
    const uint8_t *data;
    size_t n;
    size_t max_message;   /* the connection's option; 0: its default */
    fuzz_rng calls;
    int fd[2];
};

#define DEFAULT_MAX (64u << 20) /* curio_channel_options.max_message's default */

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The model: the next message at pos. Returns its length and sets *hdr, or an error of
 * its header. *complete: all its bytes are there. */
static long long model_next(const struct run *r, size_t pos, size_t *hdr, bool *complete)
{
    size_t rest = r->n - pos, max = r->max_message ? r->max_message : DEFAULT_MAX;
    const uint8_t *p = r->data + pos;
    if (rest == 0)
        return CURIO_ECLOSED;
    if (rest < 4)
        return CURIO_EINCOMPLETE;
    uint64_t len;
    uint32_t word = (uint32_t)be(p, 4);
    if (word == 0xffffffffu) {
        if (rest < 12)
            return CURIO_EINCOMPLETE;
        len = be(p + 4, 8);
        *hdr = 12;
    } else if (word & 0x80000000u) {
        return -EPROTO;
    } else {
        len = word;
        *hdr = 4;
    }
    if (len > max)
        return -EMSGSIZE;
    *complete = rest - *hdr >= len;
    return (long long)len;
}

static void receive_all(struct run *r, curio_connection *c)
{
    size_t pos = 0;
    char *buf = malloc(1024);
    CHECK(buf, "malloc");
    for (unsigned step = 0;; step++) {
        CHECK(step < 2 * r->n + 16, "no end after %u calls", step);
        size_t hdr = 0;
        bool complete = false;
        long long want = model_next(r, pos, &hdr, &complete);
        ssize_t got;
        void *msg = NULL;
        size_t len = 99;
        bool into = fuzz_rng_below(&r->calls, 2);
        size_t cap = fuzz_rng_below(&r->calls, 1025);
        if (into) {
            got = curio_connection_recv_into(c, cap ? buf : NULL, cap);
            if (want >= 0 && (size_t)want > cap) {
                CHECK(got == -EOVERFLOW, "recv_into(%zu) of %lld bytes at %zu: %zd", cap, want,
                      pos, got);
                continue;
            }
        } else {
            got = curio_connection_recv(c, &msg, &len);
        }
        if (want >= 0 && !complete)
            want = CURIO_EINCOMPLETE;
        CHECK(got == want, "recv%s at %zu: %zd, model %lld", into ? "_into" : "", pos, got, want);
        if (want < 0) {
            CHECK(into || (msg == NULL && len == 0), "recv's error leaves %p, %zu", msg, len);
            /* Final: the connection says so again. */
            got = curio_connection_recv(c, &msg, &len);
            CHECK(got == want, "recv after %lld: %zd", want, got);
            break;
        }
        const void *bytes = into ? buf : msg;
        CHECK(into || (msg && len == (size_t)want), "recv: %p, %zu", msg, len);
        CHECK(want == 0 || memcmp(bytes, r->data + pos + hdr, (size_t)want) == 0,
              "message at %zu: other bytes", pos);
        free(msg);
        pos += hdr + (size_t)want;
    }
    free(buf);
}

static long main_task(void *arg)
{
    struct run *r = arg;
    curio_socket *sock;
    CHECK(curio_socket_wrap(&sock, r->fd[0]) == 0, "socket_wrap");
    curio_channel_options o = {.max_message = r->max_message};
    curio_connection *c;
    CHECK(curio_connection_open(&c, sock, &o) == 0, "connection_open");
    curio_task *w = curio_spawn(fuzz_feed_task, &r->feed);
    CHECK(w, "spawn");
    receive_all(r, c);
    curio_connection_close(c); /* before the join: a writer blocked on a full socket fails */
    long wr = -1;
    CHECK(curio_join(w, &wr) == 0, "join");
    curio_task_release(w);
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
    uint8_t ctl[3] = {0};
    size_t c = size < 3 ? size : 3;
    memcpy(ctl, data, c);
    struct run r = {.data = data + c, .n = size - c};
    /* 0: the default (64 MiB); 1-127 bytes, so that the fuzzer meets the limit's edge
     * easily; or larger, up to about a megabyte. */
    r.max_message = ctl[0] < 128 ? ctl[0] : (size_t)(ctl[0] - 127) * (ctl[0] - 127) * 64;
    fuzz_rng_seed(&r.feed.rng, &ctl[1], 1);
    fuzz_rng_seed(&r.calls, &ctl[2], 1);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r.fd) == 0, "socketpair");
    r.feed.data = r.data;
    r.feed.n = r.n;
    r.feed.fd = r.fd[1];
    long res = -1;
    int rc = curio_run(main_task, &r, NULL, &res);
    CHECK(rc == 0 && res == 0, "curio_run: %d, %ld", rc, res);
    close(r.fd[1]);
    return 0;
}
