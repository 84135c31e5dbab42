/*
 * kernel/uring.c - the process's one cache of which io_uring opcodes the running kernel has.
 *
 * The probe's answer is a bitmap of 256 opcodes in atomics: written by whichever thread
 * probes first (two threads probing at once write the same answer), then published by the
 * release store of `probed`. Opcodes denied at run time are kept in a second bitmap, so
 * that a denial never races with a probe's store.
 */
#include "core.h"

#define WORDS 4 /* 256 opcodes: sqe->opcode is a byte */

static _Atomic uint64_t have[WORDS];
static _Atomic uint64_t denied[WORDS];
static _Atomic bool probed;

static bool probe(void)
{
    curio_kernel *k = curio__tls_kernel;
    struct io_uring_probe *p = k ? io_uring_get_probe_ring(&k->ring) : io_uring_get_probe();
    if (!p)
        return false;
    for (int w = 0; w < WORDS; w++) {
        uint64_t bits = 0;
        for (int b = 0; b < 64; b++)
            if (io_uring_opcode_supported(p, w * 64 + b))
                bits |= (uint64_t)1 << b;
        atomic_store_explicit(&have[w], bits, memory_order_relaxed);
    }
    io_uring_free_probe(p);
    atomic_store_explicit(&probed, true, memory_order_release);
    return true;
}

bool curio__op_supported(int opcode)
{
    if (opcode < 0 || opcode >= WORDS * 64)
        return false;
    if (!atomic_load_explicit(&probed, memory_order_acquire) && !probe())
        return false;
    uint64_t bit = (uint64_t)1 << (opcode % 64);
    uint64_t h = atomic_load_explicit(&have[opcode / 64], memory_order_relaxed);
    uint64_t d = atomic_load_explicit(&denied[opcode / 64], memory_order_relaxed);
    return (h & ~d & bit) != 0;
}

void curio__op_deny(int opcode)
{
    if (opcode >= 0 && opcode < WORDS * 64)
        atomic_fetch_or_explicit(&denied[opcode / 64], (uint64_t)1 << (opcode % 64),
                                 memory_order_relaxed);
}

void curio__op_probe_reset(void)
{
    atomic_store_explicit(&probed, false, memory_order_relaxed);
    for (int w = 0; w < WORDS; w++)
        atomic_store_explicit(&denied[w], 0, memory_order_relaxed);
}
