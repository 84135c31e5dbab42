/*
 * kernel/uring.h - the io_uring details every layer shares: how many bytes one operation
 * may move, which opcodes the running kernel has (one cached probe), the preparation of
 * opcodes newer than liburing 2.3's headers, and the begin that claims two descriptors.
 * Included at the end of kernel.h; nothing here is exported from the library.
 *
 * A layer prepares its SQEs with liburing's io_uring_prep_* where liburing 2.3 has them
 * (splice, tee, openat2, send_zc and sendmsg_zc are there) and with the curio__prep_*
 * below otherwise; it never sets an opcode by hand.
 */
#ifndef CURIO_URING_H
#define CURIO_URING_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The most bytes one operation (read, write, send, recv, splice...) is asked to move:
 * INT_MAX rounded down to a 4096-byte page, 0x7ffff000. It is Linux's own cap on a single
 * read or write (MAX_RW_COUNT, INT_MAX & PAGE_MASK, the same value with 4 KiB pages), and
 * so also fits the SQE's 32-bit len and, as a count, the CQE's int res. Where pages are
 * larger Linux stops a little shorter, which is an ordinary short transfer. Callers pass
 * the rest in their next round.
 */
#define CURIO__OP_MAX_BYTES ((unsigned)(INT_MAX & ~4095))

/* n clamped to what one operation may move, as the SQE's len. */
static inline unsigned curio__op_len(size_t n)
{
    return n < CURIO__OP_MAX_BYTES ? (unsigned)n : CURIO__OP_MAX_BYTES;
}

/*
 * Whether the running kernel has an opcode. The kernel is probed once per process
 * (IORING_REGISTER_PROBE, on the calling thread's ring if it has one) and the answer kept
 * for every thread; a probe that fails (out of memory) answers false and is tried again at
 * the next call. Thread-safe.
 */
CURIO__HIDDEN bool curio__op_supported(int opcode);
/* From now on curio__op_supported(opcode) answers false, for every thread: for a kernel
 * that lists an opcode but refuses it at run time (the caller falls back). */
CURIO__HIDDEN void curio__op_deny(int opcode);
/* For tests: forget the probe and every curio__op_deny. */
CURIO__HIDDEN void curio__op_probe_reset(void);

/* --- opcodes newer than liburing 2.3 (enum io_uring_op in Linux's uapi header) --- */
#define CURIO__OP_WAITID 50    /* Linux 6.7 */
#define CURIO__OP_FTRUNCATE 55 /* Linux 6.9 */

/* waitid(idtype, id, infop, options) (IORING_OP_WAITID). The kernel writes *infop before
 * the completion; it must live until then. */
static inline void curio__prep_waitid(struct io_uring_sqe *sqe, int idtype, int id,
                                      siginfo_t *infop, int options)
{
    /* fd = id, len = idtype, file_index = options, addr2 = infop; the others zero. */
    io_uring_prep_rw(CURIO__OP_WAITID, sqe, id, NULL, (unsigned)idtype, 0);
    sqe->file_index = (uint32_t)options;
    sqe->addr2 = (uint64_t)(uintptr_t)infop;
}

/* ftruncate(fd, length) (IORING_OP_FTRUNCATE): the length in off, every other field zero,
 * which the kernel checks. */
static inline void curio__prep_ftruncate(struct io_uring_sqe *sqe, int fd, uint64_t length)
{
    io_uring_prep_rw(CURIO__OP_FTRUNCATE, sqe, fd, NULL, 0, length);
}

/*
 * Whether the operation an SQE describes waits in one of io_uring's worker threads rather
 * than on a wake-up: one forced there (IOSQE_ASYNC), and splice and tee, which always run
 * there and block as splice(2) does. curio__op_wait keeps the deadline of such an
 * operation in the timer heap (kernel/trap.c).
 */
static inline bool curio__op_blocks_in_worker(const struct io_uring_sqe *sqe)
{
    return (sqe->flags & IOSQE_ASYNC) || sqe->opcode == IORING_OP_SPLICE ||
           sqe->opcode == IORING_OP_TEE;
}

/*
 * An operation on two descriptors (splice, tee, a copy): curio__op_begin plus a claim on
 * direction dir_in of fd_in and direction dir_out of fd_out, both held until curio__op_wait
 * returns. -EBUSY if another task waits on either (nothing is then claimed or queued),
 * -EBADF for a negative descriptor. Claims the task already holds (the same descriptor
 * and direction twice, or a claim around a loop) are used and left to their holder.
 */
CURIO__HIDDEN int curio__op_begin_fd2(curio__op *op, struct io_uring_sqe **sqe, int fd_in,
                                      int dir_in, int fd_out, int dir_out);

#endif
