/*
 * net/socket.c - the socket handle: making, adopting, options and names, shutdown, the
 * blocking() escape, and closing.
 *
 * Closing while another task waits. That task's operation may still sit in the SQ, not
 * yet submitted: closing the descriptor first would let the operation find the number
 * closed, or worse, reused by the next socket or accept. So close interrupts the waiters
 * (an ASYNC_CANCEL queued behind their operation), submits, and only then closes: by then
 * each operation holds its own reference to the socket, and its completion (cancelled,
 * or done after all) reaches its task as usual. The waiters' claims are dropped at once so
 * that a socket reusing the number is not reported busy meanwhile.
 *
 * The handle itself follows the gate's rule (kernel/gate.h): every call in progress at
 * the close returns -EBADF, and the last of them frees the handle.
 */
#include "net.h"
#include "../io/io.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <unistd.h>

int curio__socket_new(curio_socket **out, int fd, int family, int type)
{
    curio_socket *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    *s = (curio_socket){.fd = fd, .family = family, .type = type};
    *out = s;
    return 0;
}

int curio_socket_open(curio_socket **out, int family, int type, int protocol)
{
    if (!out)
        return -EINVAL;
    int fd = socket(family, type | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return -errno;
    int rc = curio__socket_new(out, fd, family, type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (rc < 0)
        close(fd);
    return rc;
}

int curio_socket_wrap(curio_socket **out, int fd)
{
    if (!out || fd < 0)
        return fd < 0 ? -EBADF : -EINVAL;
    int family, type;
    socklen_t len = sizeof family;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
        return -errno;
    len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return -errno;
    return curio__socket_new(out, fd, family, type);
}

int curio_socketpair(int family, int type, curio_socket *out[2])
{
    if (!out)
        return -EINVAL;
    int sv[2];
    if (socketpair(family, type | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    int rc = curio__socket_new(&out[0], sv[0], family, type);
    if (rc == 0 && (rc = curio__socket_new(&out[1], sv[1], family, type)) < 0)
        free(out[0]);
    if (rc < 0) {
        close(sv[0]);
        close(sv[1]);
    }
    return rc;
}

int curio_socket_fd(const curio_socket *s) { return s ? s->fd : -1; }

/* The descriptor for a call that does not wait: -EINVAL for NULL, -EBADF once closed. */
static int fd_of(const curio_socket *s)
{
    if (!s)
        return -EINVAL;
    return s->fd < 0 ? -EBADF : s->fd;
}

static int sys(int rc) { return rc < 0 ? -errno : 0; }

int curio_socket_bind(curio_socket *s, const curio_addr *a)
{
    int fd = fd_of(s);
    if (fd < 0 || !a)
        return fd < 0 ? fd : -EINVAL;
    return sys(bind(fd, &a->u.sa, a->len));
}

bool curio__socket_is_tcp(const curio_socket *s)
{
    return (s->family == AF_INET || s->family == AF_INET6) && s->type == SOCK_STREAM;
}

void curio__socket_nodelay(curio_socket *s, bool on)
{
    /* Best effort: a stream socket of another protocol (SCTP) says -ENOPROTOOPT. */
    int v = on;
    if (s->fd >= 0 && curio__socket_is_tcp(s))
        (void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
}

int curio__socket_listen(curio_socket *s, int backlog, bool nodelay)
{
    int fd = fd_of(s);
    if (fd < 0)
        return fd;
    /* Set before listen(2): Linux copies the listener's TCP_NODELAY into every connection
     * it accepts, so no accept pays a system call for it (tests/net/test_lifecycle.c). */
    curio__socket_nodelay(s, nodelay);
    return sys(listen(fd, backlog > 0 ? backlog : 100));
}

int curio_socket_listen(curio_socket *s, int backlog)
{
    return curio__socket_listen(s, backlog, true);
}

int curio_socket_port(const curio_socket *s)
{
    curio_addr a;
    int rc = curio_socket_getsockname(s, &a);
    return rc < 0 ? rc : curio_addr_port(&a);
}

int curio_socket_setsockopt(curio_socket *s, int level, int name, const void *val,
                            socklen_t len)
{
    int fd = fd_of(s);
    return fd < 0 ? fd : sys(setsockopt(fd, level, name, val, len));
}

int curio_socket_getsockopt(curio_socket *s, int level, int name, void *val, socklen_t *len)
{
    int fd = fd_of(s);
    return fd < 0 ? fd : sys(getsockopt(fd, level, name, val, len));
}

int curio_socket_getsockname(const curio_socket *s, curio_addr *a)
{
    int fd = fd_of(s);
    if (fd < 0 || !a)
        return fd < 0 ? fd : -EINVAL;
    a->len = sizeof a->u;
    int rc = sys(getsockname(fd, &a->u.sa, &a->len));
    if (rc < 0)
        a->len = 0;
    return rc;
}

int curio_socket_getpeername(const curio_socket *s, curio_addr *a)
{
    int fd = fd_of(s);
    if (fd < 0 || !a)
        return fd < 0 ? fd : -EINVAL;
    a->len = sizeof a->u;
    int rc = sys(getpeername(fd, &a->u.sa, &a->len));
    if (rc < 0)
        a->len = 0;
    return rc;
}

int curio_socket_shutdown(curio_socket *s, int how)
{
    int fd = fd_of(s);
    if (fd >= 0 && s->transport)
        return s->transport->shutdown(s, how); /* TLS: a close_notify first */
    return fd < 0 ? fd : sys(shutdown(fd, how));
}

/* ---- transports, as_stream() ---- */

/* The socket's stream moves its bytes through the socket's transport. */
static void route_stream(curio_socket *s)
{
    s->stream->transport = s->transport->stream;
    s->stream->transport_ctx = s;
}

void curio__socket_set_transport(curio_socket *s, const curio__socket_transport *t, void *ctx)
{
    s->transport = t;
    s->transport_ctx = ctx;
    if (s->stream)
        route_stream(s);
}

int curio_socket_as_stream(curio_socket *s, curio_stream **out, const curio_stream_options *opts)
{
    int fd = fd_of(s);
    if (fd < 0 || !out)
        return fd < 0 ? fd : -EINVAL;
    if (s->mshot)
        return -EBUSY; /* buffer mode (curio_recv_buf): its bytes are queued there */
    if (!s->stream) {
        curio_stream_options o = {0};
        if (opts)
            o = *opts;
        o.keep_fd = true; /* the socket keeps its descriptor */
        int rc = curio_stream_open(&s->stream, fd, &o);
        if (rc < 0)
            return rc;
        if (s->transport)
            route_stream(s);
    }
    *out = s->stream;
    return 0;
}

/* ---- blocking() ---- */

static bool waited_on(int fd)
{
    curio_kernel *k = curio__tls_kernel;
    return k && (curio__fd_claimant(k, fd, CURIO__FD_READ) ||
                 curio__fd_claimant(k, fd, CURIO__FD_WRITE));
}

int curio_socket_blocking(curio_socket *s)
{
    int fd = fd_of(s);
    if (fd < 0)
        return fd;
    if (s->transport)
        return -EOPNOTSUPP; /* the descriptor does not carry the socket's bytes */
    if (s->gate.lent || waited_on(fd) || (s->stream && curio_stream_buffered(s->stream)) ||
        s->mshot) /* buffer mode (curio_recv_buf): a multishot receive may be armed */
        return -EBUSY;
    return curio__gate_lend(&s->gate, fd);
}

int curio_socket_unblock(curio_socket *s)
{
    if (!s || !s->gate.lent)
        return -EINVAL;
    curio__gate_unlend(&s->gate, s->fd);
    return 0;
}

/* ---- closing ---- */

/* Wake every task blocked on fd (see the top of this file). */
static void interrupt_waiters(int fd)
{
    curio_kernel *k = curio__tls_kernel;
    if (!k)
        return;
    bool any = false;
    for (int dir = CURIO__FD_READ; dir <= CURIO__FD_WRITE; dir++) {
        curio__task *t = curio__fd_claimant(k, fd, dir);
        if (!t || !curio__task_in_io(t))
            continue;
        curio__interrupt(t, -EBADF);
        curio__fd_unclaim(t, fd, dir);
        any = true;
    }
    if (any)
        curio__ring_poll(k, false, CURIO__NO_DEADLINE);
}

static void close_fd(curio_socket *s, bool abort)
{
    int fd = s->fd;
    if (fd < 0)
        return;
    s->fd = -1;
    /* The stream holds the number too: it goes first (its tasks get -EBADF, and the last
     * of them frees it), so that it can never reach a socket that reuses the number. */
    if (s->stream) {
        curio_stream_close(s->stream);
        s->stream = NULL;
    }
    if (abort) {
        /* Linger on, time 0: close(2) resets the connection (RST) and discards the send
         * queue. Best effort: a socket that is not TCP just closes. */
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    } else if (s->transport && s->transport->closing)
        s->transport->closing(s, fd); /* TLS: a close_notify, if it goes without waiting */
    if (s->mshot)
        s->mshot->closing(s->mshot, s, fd);
    interrupt_waiters(fd);
    /* A zero-copy send's buffer stays the kernel's until the peer has acknowledged the
     * bytes queued from it; a plain close would leave them queued (the peer may never
     * read) and the sender blocked. A reset (SO_LINGER 0) drops them, and it returns. */
    if (s->zc_sends) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(fd); /* on Linux the descriptor is gone even when this reports an error */
}

void curio__socket_free(curio_socket *s)
{
    if (s->transport)
        s->transport->free(s->transport_ctx);
    if (s->home)
        curio_task_release(s->home); /* s is gone once its task's record is */
    else
        free(s);
}

static int close_as(curio_socket *s, bool abort)
{
    if (!s)
        return -EINVAL;
    int rc = s->fd >= 0 && s->stream && curio_stream_unflushed(s->stream) ? CURIO_EUNFLUSHED
                                                                          : 0;
    close_fd(s, abort);
    if (curio__gate_close(&s->gate))
        curio__socket_free(s);
    return abort ? 0 : rc;
}

int curio_socket_close(curio_socket *s) { return close_as(s, false); }

int curio_socket_abort(curio_socket *s) { return close_as(s, true); }

int curio_socket_flush_close(curio_socket *s, size_t *dropped)
{
    size_t left = 0;
    if (dropped)
        *dropped = 0;
    if (!s)
        return -EINVAL;
    int rc = curio__socket_enter(s);
    if (rc == -EBADF)
        return rc; /* closed already: that close reported its loss */
    if (rc < 0) {
        /* Lent (curio_socket_blocking): close as curio_socket_close would. */
        left = s->stream ? curio_stream_unflushed(s->stream) : 0;
    } else {
        bool closed = false;
        if (s->stream)
            rc = curio__stream_flush_left(s->stream, &left, &closed);
        /* Closed by another task meanwhile: the leave may free s. */
        closed = s->gate.closing;
        curio__socket_leave(s, rc);
        if (closed) {
            if (dropped)
                *dropped = left;
            return -EBADF;
        }
    }
    if (dropped)
        *dropped = left;
    int c = curio_socket_close(s); /* CURIO_EUNFLUSHED only when the flush failed */
    return rc < 0 ? rc : c;
}

void curio__socket_drop(curio_socket *s)
{
    close_fd(s, false);
    curio__gate_close(&s->gate); /* false: the server's own hold is still in */
    if (curio__gate_release(&s->gate))
        curio__socket_free(s);
}
