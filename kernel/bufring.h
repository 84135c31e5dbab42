/*
 * kernel/bufring.h - the kernel's provided-buffer ring (IORING_REGISTER_PBUF_RING, Linux
 * 5.19): one per kernel, registered on first use, from which multishot receives
 * (IOSQE_BUFFER_SELECT) take a buffer only when data arrives, so that a socket waiting for
 * data holds none. Nothing here is exported from the library.
 *
 * The ring is an array of struct io_uring_buf (addr, len, bid) shared with the kernel,
 * whose 16-bit tail overlays the reserved field of its first entry (Linux's uapi
 * io_uring.h, struct io_uring_buf_ring). Userspace writes entries at tail and publishes
 * them with a release store of tail; the kernel consumes from its own head. liburing 2.3
 * has the registration call but not the helpers that fill the ring: they are the static
 * functions of kernel/bufring.c.
 *
 * Ownership: buffer bid belongs to the kernel (io_uring) from curio__bufring_put until a
 * CQE with IORING_CQE_F_BUFFER names it; then to whoever reaped that CQE, who gives it back
 * with curio__bufring_put, once, on the kernel's thread. Buffers not given back before the
 * kernel is destroyed are freed with it.
 */
#ifndef CURIO_BUFRING_H
#define CURIO_BUFRING_H

#include "kernel.h"

typedef struct curio__bufring {
    struct io_uring_buf_ring *br; /* nbufs entries, page-aligned, shared with the kernel */
    char *mem;                    /* nbufs buffers of size bytes each */
    unsigned nbufs;               /* a power of two, <= 32768 */
    unsigned size;
    uint16_t bgid;                /* the buffer group id SQEs select (buf_group) */
    uint16_t tail;                /* our copy of br's tail */
    unsigned out;                 /* buffers handed out by CQEs and not yet put back */
    uint32_t *len;                /* per buffer: for its holder (the bytes it holds) */
    uint16_t *next;               /* per buffer: for its holder (a queue's link) */
} curio__bufring;

/* The buffer group id of the kernel's ring. */
#define CURIO__BGID 0x6375u

/* The calling kernel's ring, registered on first call with curio_options.recv_buffers
 * buffers of recv_buffer_size bytes. NULL if the running kernel has no buffer rings
 * (-EINVAL from the registration: remembered for the process), if registration or memory
 * failed (tried again at the next call), outside a kernel, or when forced off by
 * curio__bufring_disabled. */
CURIO__HIDDEN curio__bufring *curio__bufring_get(curio_kernel *k);
/* The buffer size the kernel's ring has or would have (curio_options.recv_buffer_size,
 * default 4096): also the size of the heap buffers of the fallback. */
CURIO__HIDDEN unsigned curio__bufring_size(curio_kernel *k);
/* The kernel's ring if it is registered, else NULL (never registers). */
CURIO__HIDDEN curio__bufring *curio__bufring_of(curio_kernel *k);
/* A free SQE now, or NULL: for a sink, which must not wait for room (its caller is the
 * ring's reaping loop). */
CURIO__HIDDEN struct io_uring_sqe *curio__sqe_try(curio_kernel *k);
/* Give buffer bid back to the ring (see Ownership). */
CURIO__HIDDEN void curio__bufring_put(curio__bufring *r, unsigned bid);
static inline char *curio__bufring_addr(const curio__bufring *r, unsigned bid)
{
    return r->mem + (size_t)bid * r->size;
}
/* Called by curio_kernel_destroy after the io_uring is gone: frees the ring's memory. */
CURIO__HIDDEN void curio__bufring_free(curio_kernel *k);

/* Tests only: while true, curio__bufring_get answers NULL (the path of a kernel without
 * buffer rings). */
extern bool curio__bufring_disabled CURIO__HIDDEN;

/* Whether the running kernel refused multishot receive or accept (IORING_RECV_MULTISHOT
 * 6.0, IORING_ACCEPT_MULTISHOT 5.19: a kernel that has the opcode but not the flag fails
 * its first CQE with -EINVAL). Set by the net layer when it sees that; read by both. */
extern _Atomic bool curio__recv_multishot_refused CURIO__HIDDEN;
extern _Atomic bool curio__accept_multishot_refused CURIO__HIDDEN;

#endif
