/*
 * net/accept_multi.c - the server loop's acceptor: one multishot accept
 * (IORING_ACCEPT_MULTISHOT, Linux 5.19) armed on the listening socket, whose accepted
 * descriptors queue up in its sink until the server task takes them one by one.
 *
 * Lifecycle. curio__acceptor_next arms the multishot when nothing is queued and nothing is
 * armed, then parks until the sink has queued a descriptor or the multishot's end. The
 * multishot stays armed between calls. It ends with an error CQE (EMFILE, ENFILE ...: the
 * server backs off as for a one-shot accept, and the next call arms it again) or when it
 * is cancelled: by curio__acceptor_close (the server's cancellation, timeout or end), or by
 * a close of the listening socket (the acceptor's closing hook, net/net.h, which also
 * wakes the server with -EBADF). curio__acceptor_close closes every queued descriptor;
 * the acceptor lives until its multishot's last CQE, and closes each descriptor that CQEs
 * bring after it was closed: no accepted descriptor is leaked. A plain curio_accept
 * (net/accept.c) stays one-shot.
 *
 * Fallback: a kernel without buf-select multishot accept fails the first CQE with -EINVAL;
 * that is remembered for the process and every later call (and this one) goes through
 * curio_accept. curio__accept_multi_disabled (tests) forces that path.
 */
#include "net.h"
#include "../kernel/bufring.h"

#include <stdlib.h>
#include <unistd.h>

bool curio__accept_multi_disabled;

struct curio__acceptor {
    curio__mshot m;        /* first: ls->mshot points here while attached */
    curio_kernel *k;
    curio_socket *ls;      /* NULL once detached (closed, or the server is done) */
    curio__task *waiter;
    int *fds;              /* accepted descriptors, a ring of cap entries */
    unsigned head, len, cap;
    int err;               /* an error CQE not yet reported (0: none) */
    bool armed, cancelling, got_one, refused;
    bool orphan;           /* the server is done with it: freed at its last CQE */
};

static void acc_closing(curio__mshot *m, curio_socket *s, int fd);

static void acc_cancel(struct curio__acceptor *a)
{
    if (!a->armed || a->cancelling)
        return;
    struct io_uring_sqe *sqe = curio__sqe(a->k);
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&a->m.sink | 1u, 0);
    io_uring_sqe_set_data64(sqe, CURIO__UD_IGNORE);
    a->cancelling = true;
}

static bool acc_push(struct curio__acceptor *a, int fd)
{
    if (a->len == a->cap) {
        unsigned ncap = a->cap ? a->cap * 2 : 16;
        int *n = malloc(ncap * sizeof *n);
        if (!n)
            return false;
        for (unsigned i = 0; i < a->len; i++)
            n[i] = a->fds[(a->head + i) % a->cap];
        free(a->fds);
        a->fds = n;
        a->head = 0;
        a->cap = ncap;
    }
    a->fds[(a->head + a->len++) % a->cap] = fd;
    return true;
}

static void acc_free(struct curio__acceptor *a)
{
    for (; a->len; a->len--, a->head = (a->head + 1) % a->cap)
        close(a->fds[a->head]);
    free(a->fds);
    free(a);
}

static void acc_cqe(curio__sink *sink, const struct io_uring_cqe *cqe)
{
    struct curio__acceptor *a = (struct curio__acceptor *)sink;
    int res = cqe->res;
    if (res >= 0) {
        a->got_one = true;
        /* Without memory for the queue the connection is closed (the peer sees it end). */
        if (!a->ls || !acc_push(a, res))
            close(res);
    } else if (res == -ECANCELED && a->cancelling) {
        /* ours */
    } else if (res == -EINVAL && !a->got_one) {
        atomic_store(&curio__accept_multishot_refused, true);
        a->refused = true;
    } else {
        a->err = res;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        a->armed = false;
        a->cancelling = false;
        curio__sink_done(a->k);
        if (a->orphan) {
            acc_free(a);
            return;
        }
    }
    if (a->waiter)
        curio__ready_with(a->waiter, 0);
}

static void acc_detach(struct curio__acceptor *a)
{
    if (a->ls && a->ls->mshot == &a->m)
        a->ls->mshot = NULL;
    a->ls = NULL;
}

static void acc_closing(curio__mshot *m, curio_socket *s, int fd)
{
    (void)s;
    struct curio__acceptor *a = (struct curio__acceptor *)m;
    acc_detach(a); /* the server still owns a: curio__acceptor_close frees it */
    if (a->waiter) {
        curio__fd_unclaim(a->waiter, fd, CURIO__FD_READ);
        curio__ready_with(a->waiter, -EBADF);
        a->waiter = NULL;
    }
    acc_cancel(a);
    if (a->armed) /* submit before the descriptor goes (net/socket.c) */
        curio__ring_poll(a->k, false, CURIO__NO_DEADLINE);
}

/* The multishot path for one connection, inside ls's gate with its read side claimed. */
static int acc_wait(struct curio__acceptor *a, curio_socket *ls, curio__task *self, int *fd)
{
    for (;;) {
        if (a->len) {
            *fd = a->fds[a->head];
            a->head = (a->head + 1) % a->cap;
            a->len--;
            return 0;
        }
        if (a->err) {
            int e = a->err;
            a->err = 0;
            return e;
        }
        if (a->refused)
            return -EOPNOTSUPP;
        if (!a->armed) {
            struct io_uring_sqe *sqe = curio__sqe(a->k);
            io_uring_prep_multishot_accept(sqe, ls->fd, NULL, NULL, SOCK_CLOEXEC);
            curio__sink_data(sqe, &a->m.sink);
            curio__sink_armed(a->k);
            a->armed = true;
        }
        a->waiter = self;
        int rc = curio__park("READ_WAIT", CURIO__NO_DEADLINE);
        a->waiter = NULL;
        if (!a->ls)
            return -EBADF;
        if (rc < 0)
            return rc; /* the multishot stays armed: the server closes the acceptor */
    }
}

int curio__acceptor_next(struct curio__acceptor **ap, curio_socket *ls, curio_socket **client,
                         curio_addr *peer)
{
    struct curio__acceptor *a = *ap;
    if (!a && !curio__accept_multi_disabled && !atomic_load(&curio__accept_multishot_refused) &&
        !ls->mshot && !ls->transport && ls->fd >= 0 && curio__self()) {
        if ((a = calloc(1, sizeof *a))) {
            a->m.sink.fn = acc_cqe;
            a->m.closing = acc_closing;
            a->k = curio__task_kernel(curio__self());
            a->ls = ls;
            ls->mshot = &a->m;
            *ap = a;
        }
    }
    if (!a || !a->ls || a->refused || curio__accept_multi_disabled)
        return curio_accept(ls, client, peer);
    int rc = curio__socket_enter(ls);
    if (rc < 0)
        return rc;
    curio__task *self = curio__self();
    int lfd = ls->fd;
    int claim = -1, fd = -1;
    rc = curio__trap_check(self);
    if (rc == 0)
        rc = claim = curio__fd_claim(self, lfd, CURIO__FD_READ);
    if (rc >= 0)
        rc = acc_wait(a, ls, self, &fd);
    if (claim == 0)
        curio__fd_unclaim(self, lfd, CURIO__FD_READ);
    int family = ls->family, type = ls->type;
    rc = (int)curio__socket_leave(ls, rc);
    if (rc == -EOPNOTSUPP)
        return curio_accept(ls, client, peer); /* refused by this kernel: one-shot */
    if (rc >= 0)
        rc = curio__socket_new(client, fd, family, type);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        if (peer)
            peer->len = 0;
        return rc;
    }
    if (peer) {
        peer->len = sizeof peer->u;
        if (getpeername(fd, &peer->u.sa, &peer->len) < 0)
            peer->len = 0;
    }
    return 0;
}

void curio__acceptor_close(struct curio__acceptor **ap)
{
    struct curio__acceptor *a = *ap;
    *ap = NULL;
    if (!a)
        return;
    curio_kernel *k = a->k;
    acc_detach(a);
    for (; a->len; a->len--, a->head = (a->head + 1) % a->cap)
        close(a->fds[a->head]);
    if (!a->armed) {
        acc_free(a);
        return;
    }
    a->orphan = true;
    acc_cancel(a); /* a frees itself at its last CQE */
    curio__ring_poll(k, false, CURIO__NO_DEADLINE);
}
