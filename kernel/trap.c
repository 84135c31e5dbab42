/*
 * kernel/trap.c - what every blocking call goes through: the sticky cancellation and
 * timeout checks, interruption, and I/O operations on the ring (parking is in waitq.c).
 */
#include "core.h"

int64_t curio__effective_deadline(curio__task *self)
{
    int64_t d = CURIO__NO_DEADLINE;
    for (unsigned i = self->nscopes; i-- > 0;) {
        curio__scope_rec *r = &self->scopes[i];
        if (r->kind == CURIO__SCOPE_NOCANCEL)
            break;
        if (r->deadline < d)
            d = r->deadline;
    }
    return d;
}

void curio__expire_scopes(curio__task *self, int64_t when)
{
    uint32_t n = ++self->deliveries;
    for (unsigned i = self->nscopes; i-- > 0;) {
        curio__scope_rec *r = &self->scopes[i];
        if (r->kind == CURIO__SCOPE_NOCANCEL)
            break;
        if (!r->expired && r->deadline <= when)
            r->expired = n;
    }
}

int curio__undeliver(curio__task *self, int rc)
{
    if (rc == -ETIMEDOUT && self->deliveries) {
        for (unsigned i = 0; i < self->nscopes; i++)
            if (self->scopes[i].expired == self->deliveries)
                self->scopes[i].expired = 0;
    }
    return 0;
}

/*
 * Every -ETIMEDOUT a blocking call returns because of a scope is a delivery, and marks the
 * applicable scopes whose deadline had passed at that moment as expired (what close then
 * reports). The time compared is one reading of the clock: the kernel's latest (k->now)
 * when it was taken in this pass or just before it (by the scheduler after its look at the
 * ring, or by anything else that read the clock since), else a new one. Whatever happens
 * to the time after that reading, the caller either was told -ETIMEDOUT or goes on to set
 * its operation up completely; a deadline that passes meanwhile is then caught by the wait
 * itself (a due timer-heap entry fires on the scheduler's next pass, a linked timeout in
 * the past at once). A deadline is so noticed at most one pass late, as a completion is.
 */
int curio__trap_check_slow(curio__task *self)
{
    if (!self)
        return -EPERM;
    if (self->cancel_requested && self->nocancel == 0) {
        self->cancel_delivered = true;
        return -ECANCELED;
    }
    if (self->nscopes) {
        /* Sticky without a flag of its own: an expired scope's deadline has passed, and
         * the clock only moves on, so d <= now holds again until the scope is closed. */
        int64_t d = curio__effective_deadline(self);
        if (d != CURIO__NO_DEADLINE) {
            curio_kernel *k = self->k;
            int64_t now = k->now_fresh ? k->now : curio__now();
            if (d <= now) {
                curio__expire_scopes(self, now);
                return -ETIMEDOUT;
            }
        }
    }
    return 0;
}

void curio__interrupt(curio__task *t, int err)
{
    if (t->parked) {
        /* A waiter record stays in its wait queue until the task runs (kernel/waitq.h). */
        curio__ready_with(t, err);
    } else if (t->op && !t->op->interrupt && !t->op->done) {
        /* The operation's own completion decides when the task resumes: it may still
         * deliver data, which must not be lost. */
        t->op->interrupt = err;
        struct io_uring_sqe *sqe = curio__sqe(t->k);
        io_uring_prep_cancel(sqe, t->op, 0);
        io_uring_sqe_set_data64(sqe, CURIO__UD_IGNORE);
    }
}

struct io_uring_sqe *curio__sqe(curio_kernel *k)
{
    /* Two free slots, so that an operation and its linked timeout are always queued
     * together: a link flag on the last SQE of a submission would be left dangling. */
    while (io_uring_sq_space_left(&k->ring) < 2)
        curio__ring_poll(k, false, CURIO__NO_DEADLINE);
    return io_uring_get_sqe(&k->ring);
}

/* The part of beginning an operation that cannot fail: it runs only after every check has
 * passed, and reads nothing that may have changed since (no clock, no second check). */
static void op_setup(curio__task *self, curio__op *op, struct io_uring_sqe **sqe)
{
    op->deadline = curio__effective_deadline(self);
    op->task = self;
    op->done = false;
    op->interrupt = 0;
    op->linked_timeout = false;
    op->claimed = false;
    op->claimed2 = false;
    *sqe = curio__sqe(self->k);
}

int curio__op_begin(curio__op *op, struct io_uring_sqe **sqe)
{
    curio__task *self = curio__self();
    int rc = curio__trap_check(self);
    if (rc < 0)
        return rc;
    op_setup(self, op, sqe);
    return 0;
}

int curio__op_begin_fd(curio__op *op, struct io_uring_sqe **sqe, int fd, int dir)
{
    curio__task *self = curio__self();
    int rc = curio__trap_check(self);
    if (rc < 0)
        return rc;
    rc = curio__fd_claim(self, fd, dir);
    if (rc < 0)
        return rc;
    op_setup(self, op, sqe);
    op->claimed = rc == 0;
    op->claim_fd = fd;
    op->claim_dir = (uint8_t)dir;
    return 0;
}

int curio__op_begin_fd2(curio__op *op, struct io_uring_sqe **sqe, int fd_in, int dir_in,
                        int fd_out, int dir_out)
{
    curio__task *self = curio__self();
    int rc = curio__trap_check(self);
    if (rc < 0)
        return rc;
    int in = curio__fd_claim(self, fd_in, dir_in);
    if (in < 0)
        return in;
    int out = curio__fd_claim(self, fd_out, dir_out);
    if (out < 0) {
        if (in == 0)
            curio__fd_unclaim(self, fd_in, dir_in);
        return out;
    }
    op_setup(self, op, sqe);
    op->claimed = in == 0;
    op->claim_fd = fd_in;
    op->claim_dir = (uint8_t)dir_in;
    op->claimed2 = out == 0;
    op->claim_fd2 = fd_out;
    op->claim_dir2 = (uint8_t)dir_out;
    return 0;
}

/* Submit op's SQE (its deadline, if any, already arranged), suspend until its own
 * completion, release its claims and return its result. */
static inline __attribute__((always_inline)) int op_suspend(curio__op *op,
                                                            struct io_uring_sqe *sqe,
                                                            const char *state)
{
    curio__task *self = op->task;
    io_uring_sqe_set_data(sqe, op);
    self->k->inflight++;
    self->op = op;
    atomic_store_explicit(&self->state, state, memory_order_relaxed);
    curio__suspend(self);
    self->op = NULL;
    if (op->claimed)
        curio__fd_unclaim(self, op->claim_fd, op->claim_dir);
    if (op->claimed2)
        curio__fd_unclaim(self, op->claim_fd2, op->claim_dir2);
    int res = op->res;
    /* io_uring's workers let the kernel's internal restart codes (-ERESTARTSYS = -512 up
     * to -516) out when a blocking call in them is interrupted by a cancellation (seen on
     * 6.18: an open of a FIFO waiting for a writer). For us they mean -EINTR. */
    if (res <= -512 && res >= -516)
        res = -EINTR;
    if (res == -ECANCELED || res == -EINTR) {
        if (op->interrupt)
            res = op->interrupt;        /* our cancel: a cancellation, or the timer heap */
        else if (op->linked_timeout)
            res = -ETIMEDOUT;
        /* Ours, so a scope's deadline (op->deadline) was delivered; a -ETIMEDOUT the
         * operation itself returns (a TCP connect giving up) marks no scope. */
        if (res == -ETIMEDOUT)
            curio__expire_scopes(self, op->deadline);
    }
    return curio__delivered(self, res);
}

/* Deadlines at least this far (ns) past the kernel's latest reading of the clock go into
 * the timer heap; nearer ones get a linked timeout (curio__op_wait). */
int64_t curio__link_below = CURIO__LINK_BELOW_NS;

/*
 * Wait for op with its deadline in the timer heap, whose expiry cancels it (curio__interrupt,
 * the same path as a cancellation): 0 after a completed wait with *rc its result, or
 * -ENOMEM before anything was submitted if the heap cannot grow.
 *
 * The task's entry is not removed when the operation completes: most operations complete
 * long before their deadline, and the next one usually has a later deadline (a server's
 * next read under its idle timeout). An entry left by an earlier operation that is not
 * later than op's deadline is kept as it is, and fires early: curio__timers_fire then
 * moves it on to the deadline of the operation waiting, or drops it if none waits. So a
 * task that keeps doing I/O under far deadlines touches the heap about once per deadline
 * period rather than twice per operation. A parked wait (waitq.c) and the task's end
 * remove or move the entry.
 */
static inline __attribute__((always_inline)) int heap_wait(curio__op *op,
                                                           struct io_uring_sqe *sqe,
                                                           const char *state, int *rc)
{
    curio__task *self = op->task;
    curio_kernel *k = self->k;
    size_t i = self->heap_index;
    if (i == SIZE_MAX) {
        if (curio__timer_add(k, self, op->deadline) < 0)
            return -ENOMEM;
    } else if (k->heap[i].when > op->deadline) {
        curio__timer_set(k, self, op->deadline);
    }
    self->sleep_until = CURIO__NO_DEADLINE; /* an expiry interrupts, never wakes */
    *rc = op_suspend(op, sqe, state);
    return 0;
}

/*
 * An operation that blocks in one of io_uring's worker threads (curio__op_blocks_in_worker)
 * with a deadline. There a linked timeout is armed only once the operation returns (seen
 * on 6.18 with an open of a FIFO waiting for its other end, and with a splice from an
 * empty socket), so it would never interrupt one that blocks: its deadline always goes
 * into the timer heap, however near. If the heap cannot grow, the SQE is turned into a
 * no-op, waited for, and the call returns -ENOMEM rather than run without its deadline.
 */
static __attribute__((noinline, cold)) int worker_wait(curio__op *op,
                                                       struct io_uring_sqe *sqe,
                                                       const char *state)
{
    int rc;
    if (heap_wait(op, sqe, state, &rc) == 0)
        return rc;
    io_uring_prep_nop(sqe);
    op->deadline = CURIO__NO_DEADLINE;
    op_suspend(op, sqe, state);
    return -ENOMEM;
}

/*
 * An operation with a deadline: in the timer heap (no SQE, no kernel timer; an expiry is
 * an ASYNC_CANCEL, a completion just leaves the heap), unless the deadline is nearer than
 * curio__link_below, where a timeout is likely to fire and an absolute LINK_TIMEOUT fires
 * without waiting for the scheduler's next look at the clock; also when the heap cannot
 * grow. Either way a result that completed before the timeout took effect is returned.
 */
int curio__op_wait(curio__op *op, struct io_uring_sqe *sqe, const char *state)
{
    if (op->deadline != CURIO__NO_DEADLINE) {
        if (__builtin_expect(curio__op_blocks_in_worker(sqe), 0))
            return worker_wait(op, sqe, state);
        curio__task *self = op->task;
        int64_t ahead;
        int rc;
        if (!__builtin_sub_overflow(op->deadline, self->k->now, &ahead) &&
            ahead >= curio__link_below && heap_wait(op, sqe, state, &rc) == 0)
            return rc;
        sqe->flags |= IOSQE_IO_LINK;
        op->ts.tv_sec = op->deadline / 1000000000;
        op->ts.tv_nsec = op->deadline % 1000000000;
        /* room kept by curio__sqe */
        struct io_uring_sqe *t = io_uring_get_sqe(&self->k->ring);
        io_uring_prep_link_timeout(t, &op->ts, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(t, CURIO__UD_IGNORE);
        op->linked_timeout = true;
    }
    return op_suspend(op, sqe, state);
}
