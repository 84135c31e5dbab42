/*
 * kernel/ring.c - setting up the io_uring, submitting, reaping, and the wake-up eventfd
 * through which other threads reach the kernel.
 */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/*
 * Flags are tried best first:
 *  - SINGLE_ISSUER|DEFER_TASKRUN (6.1+): completions are produced only when we enter the
 *    kernel, in our own context, so nothing interrupts a running task;
 *  - COOP_TASKRUN|TASKRUN_FLAG (5.19+): no IPI to run task work, but it may run at any
 *    system call;
 *  - none (5.6+ for everything curio uses).
 * SUBMIT_ALL (5.18+) keeps submitting past an SQE that fails at submission, so one bad
 * request never stalls those queued behind it. Older kernels reject unknown flags with
 * EINVAL, which is how each step is detected.
 */
static const unsigned setup_flags[] = {
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    IORING_SETUP_SUBMIT_ALL,
    0,
};

static void ring_arm_wake(curio_kernel *k);

static void explain(int err)
{
    const char *why;
    switch (err) {
    case -EPERM:
        why = "io_uring_setup was refused (EPERM). Either the sysctl kernel.io_uring_disabled "
              "is set (run: sysctl -w kernel.io_uring_disabled=0, or add this user to the "
              "group in kernel.io_uring_group when it is 1), or a seccomp filter blocks "
              "io_uring (containers: run with a seccomp profile that allows io_uring_setup, "
              "io_uring_enter and io_uring_register, e.g. docker --security-opt "
              "seccomp=unconfined).";
        break;
    case -ENOSYS:
        why = "io_uring_setup does not exist here (ENOSYS). Either a seccomp filter blocks "
              "it (container runtimes often answer ENOSYS for system calls their profile "
              "does not list: run with a profile that allows io_uring_setup, io_uring_enter "
              "and io_uring_register, e.g. docker --security-opt seccomp=unconfined), or the "
              "kernel lacks io_uring: curio needs Linux 5.11 or newer built with "
              "CONFIG_IO_URING=y.";
        break;
    case -ENOMEM:
        why = "the kernel could not allocate the ring (ENOMEM). On kernels before 5.12 ring "
              "memory counts against RLIMIT_MEMLOCK: raise it (ulimit -l, or memlock in "
              "/etc/security/limits.conf), or ask for fewer entries with "
              "curio_options.ring_entries.";
        break;
    default:
        why = strerror(-err);
        break;
    }
    fprintf(stderr, "curio: cannot start the kernel: io_uring is unavailable: %s\n", why);
}

int curio__ring_init(curio_kernel *k)
{
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof setup_flags / sizeof *setup_flags; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = setup_flags[i] | IORING_SETUP_CQSIZE;
        p.cq_entries = k->opts.ring_entries * 4;
        rc = io_uring_queue_init_params(k->opts.ring_entries, &k->ring, &p);
        if (rc == 0) {
            break;
        }
        if (rc != -EINVAL)
            break;
    }
    if (rc < 0) {
        if (!k->opts.quiet)
            explain(rc);
        return rc;
    }
    k->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (k->wake_fd < 0) {
        rc = -errno;
        io_uring_queue_exit(&k->ring);
        return rc;
    }
    /* IORING_REGISTER_RING_FDS (5.18): io_uring_enter then looks the ring up in a
     * per-thread table instead of taking and dropping a reference to its file on every
     * call. Older kernels refuse it; nothing changes then. */
    io_uring_register_ring_fd(&k->ring);
    ring_arm_wake(k);
    return 0;
}

void curio__ring_exit(curio_kernel *k)
{
    io_uring_queue_exit(&k->ring);
    close(k->wake_fd);
}

static void ring_arm_wake(curio_kernel *k)
{
    struct io_uring_sqe *sqe = curio__sqe(k);
    io_uring_prep_read(sqe, k->wake_fd, &k->wake_buf, sizeof k->wake_buf, 0);
    io_uring_sqe_set_data64(sqe, CURIO__UD_WAKE);
    k->wake_armed = true;
}

static void complete(curio_kernel *k, const struct io_uring_cqe *cqe)
{
    uint64_t ud = cqe->user_data;
    /* LIBURING_UDATA_TIMEOUT: liburing's own timeout SQE, which
     * io_uring_submit_and_wait_timeout queues on kernels without IORING_FEAT_EXT_ARG
     * (before 5.11). */
    if (ud == CURIO__UD_IGNORE || ud == LIBURING_UDATA_TIMEOUT)
        return;
    if (ud == CURIO__UD_WAKE) {
        k->wake_armed = false;
        return;
    }
    if (ud == CURIO__UD_MSG)
        return; /* another kernel's IORING_OP_MSG_RING: a wake-up (curio__post_node) */
    if ((ud & 3u) == 2u) {
        curio__msg_sent(k, (curio_kernel *)(uintptr_t)(ud & ~(uint64_t)3), cqe->res);
        return;
    }
    if (ud & 1u) {
        curio__sink *sink = (curio__sink *)(uintptr_t)(ud & ~(uint64_t)1);
        sink->fn(sink, cqe);
        return;
    }
    curio__op *op = (curio__op *)(uintptr_t)ud;
    if (__builtin_expect(cqe->flags & (IORING_CQE_F_MORE | IORING_CQE_F_NOTIF), 0)) {
        /* A zero-copy send (IORING_OP_SEND_ZC): its first CQE carries the result and says
         * (F_MORE) that a notification follows once the kernel no longer reads the
         * buffer; only that one completes the operation (the buffer invariant). */
        if (cqe->flags & IORING_CQE_F_MORE) {
            op->res = cqe->res;
            op->cqe_flags = cqe->flags;
            return;
        }
    } else {
        op->res = cqe->res;
        op->cqe_flags = cqe->flags;
    }
    op->done = true;
    k->inflight--;
    curio__ready(op->task);
}

void curio__sink_armed(curio_kernel *k) { k->inflight++; }
void curio__sink_done(curio_kernel *k) { k->inflight--; }

static unsigned reap(curio_kernel *k)
{
    unsigned n = 0, head;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&k->ring, head, cqe) {
        complete(k, cqe);
        n++;
    }
    io_uring_cq_advance(&k->ring, n);
    return n;
}

static bool cq_overflowed(curio_kernel *k)
{
    return IO_URING_READ_ONCE(*k->ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW;
}

bool curio__ring_poll(curio_kernel *k, bool wait, int64_t deadline)
{
    int rc;
    if (wait && deadline != CURIO__NO_DEADLINE) {
        int64_t rel = deadline - (k->now_fresh ? k->now : curio__now());
        if (rel < 0)
            rel = 0;
        struct __kernel_timespec ts = {.tv_sec = rel / 1000000000, .tv_nsec = rel % 1000000000};
        struct io_uring_cqe *cqe;
        rc = io_uring_submit_and_wait_timeout(&k->ring, &cqe, 1, &ts, NULL);
    } else if (wait) {
        rc = io_uring_submit_and_wait(&k->ring, 1);
    } else {
        rc = io_uring_submit_and_get_events(&k->ring);
    }
    if (wait)
        k->now_fresh = false; /* a reading taken before the wait is old news */
    /* -EBUSY/-EAGAIN: the kernel holds overflowed completions and wants them reaped before
     * it takes more submissions; -EINTR/-ETIME: a signal or the deadline. All are handled
     * by reaping below and letting the caller come round again. */
    (void)rc;
    while (reap(k) || cq_overflowed(k)) {
        if (cq_overflowed(k))
            io_uring_get_events(&k->ring);
    }
    if (!k->wake_armed)
        ring_arm_wake(k);
    return rc == -ETIME;
}

/* ---- cross-thread posts ---- */

int curio_kernel_post(curio_kernel *k, void (*fn)(void *), void *arg)
{
    curio__post *p = malloc(sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->fn = fn;
    p->arg = arg;
    p->heap = true;
    curio__post_node(k, p);
    return 0;
}

void curio__post_node(curio_kernel *k, curio__post *p)
{
    /* A kernel posting to another of the same curio_cores_run (kernel/cores.c) wakes it
     * with an IORING_OP_MSG_RING queued on its own ring, submitted with its next
     * io_uring_enter; the receiver gets a CQE of CURIO__UD_MSG, which ends its wait. The
     * sender's own CQE names the receiver (its address with bit 1 set): on failure it
     * writes the eventfd instead (curio__msg_sent). The run keeps every kernel alive until
     * each has reaped the CQEs of its MSG_RINGs. A kernel posting to itself needs no
     * wake-up: its loop looks at posted before it waits. */
    curio_kernel *from = curio__tls_kernel;
    bool msg = from && from->run && from->run == k->run && from->msg_ring;
    p->next = NULL;
    pthread_mutex_lock(&k->post_lock);
    if (k->posts_tail)
        k->posts_tail->next = p;
    else
        k->posts_head = p;
    k->posts_tail = p;
    /* Only the poster that raises the flag writes: the kernel lowers it before it takes
     * the list, so a post that misses this batch always raises it again. The write happens
     * under the lock: the kernel cannot take this post (and so cannot wake, finish and be
     * destroyed by the task waiting for it) before the poster is done with k. */
    if (atomic_exchange_explicit(&k->posted, true, memory_order_acq_rel)) {
        /* told already */
    } else if (msg) {
        if (from != k) {
            struct io_uring_sqe *sqe = curio__sqe(from);
            io_uring_prep_msg_ring(sqe, k->ring.ring_fd, 0, CURIO__UD_MSG, 0);
            io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)k | 2u);
            from->msg_inflight++;
        }
    } else {
        uint64_t one = 1;
        ssize_t w = write(k->wake_fd, &one, sizeof one);
        (void)w; /* EAGAIN means the counter is already non-zero: the kernel wakes anyway */
    }
    pthread_mutex_unlock(&k->post_lock);
}

/* The sender's completion of the MSG_RING that curio__post_node queued to wake to:
 * on failure (to's CQ full ...) it is woken through its eventfd instead. */
void curio__msg_sent(curio_kernel *k, curio_kernel *to, int res)
{
    k->msg_inflight--;
    if (res < 0) {
        uint64_t one = 1;
        ssize_t w = write(to->wake_fd, &one, sizeof one);
        (void)w;
    }
}

void curio__posts_run(curio_kernel *k)
{
    if (!atomic_exchange_explicit(&k->posted, false, memory_order_acq_rel))
        return;
    pthread_mutex_lock(&k->post_lock);
    curio__post *p = k->posts_head;
    k->posts_head = k->posts_tail = NULL;
    pthread_mutex_unlock(&k->post_lock);
    while (p) {
        /* Read the node before fn runs: a caller-owned node may be reused or freed by
         * whoever fn wakes. */
        curio__post *n = p->next;
        bool heap = p->heap;
        p->fn(p->arg);
        if (heap)
            free(p);
        p = n;
    }
}
