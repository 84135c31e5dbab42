/*
 * kernel/bufring.c - the kernel's provided-buffer ring (see kernel/bufring.h).
 */
#include "core.h"
#include "bufring.h"

#include <stdlib.h>
#include <string.h>

bool curio__bufring_disabled;
_Atomic bool curio__recv_multishot_refused;
_Atomic bool curio__accept_multishot_refused;

/* Set once a registration said -EINVAL: this kernel has no buffer rings. */
static _Atomic bool unsupported;

/* Entry i (counted from the tail) of the ring: buffer bid, len bytes at addr. The entry is
 * the kernel's only once the tail is published past it (ring_publish). */
static inline void ring_fill(curio__bufring *r, unsigned i, unsigned bid)
{
    struct io_uring_buf *b = &r->br->bufs[(uint16_t)(r->tail + i) & (r->nbufs - 1)];
    b->addr = (uint64_t)(uintptr_t)curio__bufring_addr(r, bid);
    b->len = r->size;
    b->bid = (uint16_t)bid;
}

/* Make n filled entries the kernel's: a release store of the new tail, so that the kernel
 * reads the entries only after they are written. */
static inline void ring_publish(curio__bufring *r, unsigned n)
{
    r->tail = (uint16_t)(r->tail + n);
    __atomic_store_n(&r->br->tail, r->tail, __ATOMIC_RELEASE);
}

static unsigned pow2_at_least(unsigned n)
{
    unsigned p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

curio__bufring *curio__bufring_get(curio_kernel *k)
{
    if (k && k->bufring && !curio__bufring_disabled)
        return k->bufring;
    if (!k || curio__bufring_disabled || atomic_load(&unsupported))
        return NULL;
    unsigned n = k->opts.recv_buffers ? k->opts.recv_buffers : 256;
    if (n > 32768)
        n = 32768;
    n = pow2_at_least(n);
    unsigned size = curio__bufring_size(k);
    curio__bufring *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->len = calloc(n, sizeof *r->len);
    r->next = calloc(n, sizeof *r->next);
    r->nbufs = n;
    r->size = size;
    r->bgid = CURIO__BGID;
    void *ring = NULL, *mem = NULL;
    if (!r->len || !r->next ||
        posix_memalign(&ring, 4096, (size_t)n * sizeof(struct io_uring_buf)) != 0 ||
        posix_memalign(&mem, 64, (size_t)n * size) != 0) {
        free(ring);
        free(r->len);
        free(r->next);
        free(r);
        return NULL;
    }
    memset(ring, 0, (size_t)n * sizeof(struct io_uring_buf));
    r->br = ring;
    r->mem = mem;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)ring;
    reg.ring_entries = n;
    reg.bgid = r->bgid;
    int rc = io_uring_register_buf_ring(&k->ring, &reg, 0);
    if (rc < 0) {
        if (rc == -EINVAL)
            atomic_store(&unsupported, true);
        free(mem);
        free(ring);
        free(r->len);
        free(r->next);
        free(r);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++)
        ring_fill(r, i, i);
    ring_publish(r, n);
    k->bufring = r;
    return r;
}

void curio__bufring_put(curio__bufring *r, unsigned bid)
{
    ring_fill(r, 0, bid);
    ring_publish(r, 1);
    r->out--;
}

void curio__bufring_free(curio_kernel *k)
{
    curio__bufring *r = k->bufring;
    if (!r)
        return;
    k->bufring = NULL;
    free(r->mem);
    free(r->br);
    free(r->len);
    free(r->next);
    free(r);
}

curio__bufring *curio__bufring_of(curio_kernel *k) { return k ? k->bufring : NULL; }

struct io_uring_sqe *curio__sqe_try(curio_kernel *k) { return io_uring_get_sqe(&k->ring); }

unsigned curio__bufring_size(curio_kernel *k)
{
    unsigned size = k->opts.recv_buffer_size ? k->opts.recv_buffer_size : 4096;
    return size > (1u << 30) ? 1u << 30 : size;
}
