/*
 * fuzz/fuzz.h - what the libFuzzer targets share: a check that stops the run with a
 * message (libFuzzer then saves the input), and a small deterministic generator that
 * turns a few control bytes of the input into chunk sizes and call choices.
 */
#ifndef CURIO_FUZZ_H
#define CURIO_FUZZ_H

#include <curio.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* xorshift64*: the same input always gives the same sequence. */
typedef struct fuzz_rng {
    uint64_t s;
} fuzz_rng;

static inline void fuzz_rng_seed(fuzz_rng *r, const uint8_t *p, size_t n)
{
    r->s = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < n; i++)
        r->s = (r->s ^ p[i]) * 0x100000001b3u;
    if (!r->s)
        r->s = 1;
}

static inline uint64_t fuzz_rng_next(fuzz_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1du;
}

/* A value in [0, n) (n > 0). */
static inline size_t fuzz_rng_below(fuzz_rng *r, size_t n) { return fuzz_rng_next(r) % n; }

/* A task that writes data into fd (a socket) in chunks of the generator's sizes (mostly
 * small, sometimes larger than the socket's buffer: another task must be reading), then
 * shuts down its sending side, so that the reader sees the end after the data. Returns
 * 0, or the error of a write (the reader closed its end). */
struct fuzz_feed {
    const uint8_t *data;
    size_t n;
    fuzz_rng rng;
    int fd;
};

static inline long fuzz_feed_task(void *arg)
{
    struct fuzz_feed *f = arg;
    size_t off = 0;
    while (off < f->n) {
        size_t k = fuzz_rng_below(&f->rng, 8) == 0 ? 1 + fuzz_rng_below(&f->rng, 300000)
                                                   : 1 + fuzz_rng_below(&f->rng, 64);
        if (k > f->n - off)
            k = f->n - off;
        ssize_t w = curio_write(f->fd, f->data + off, k);
        if (w <= 0)
            return w < 0 ? w : -EIO; /* the reader went away: its caller decides */
        off += (size_t)w;
    }
    return shutdown(f->fd, SHUT_WR) == 0 ? 0 : -errno;
}

#endif
