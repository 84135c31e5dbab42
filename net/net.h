/*
 * net/net.h - the net layer's private interface: the socket handle, shared by the files of
 * this folder (and, later, by TLS and the monitor).
 */
#ifndef CURIO_NET_PRIVATE_H
#define CURIO_NET_PRIVATE_H

#include "../kernel/kernel.h"

struct curio_socket {
    int fd;                /* -1 once closed (calls then fail with -EBADF) */
    int family;            /* AF_INET, AF_INET6, AF_UNIX ... */
    int type;              /* SOCK_STREAM, SOCK_DGRAM ..., without the SOCK_* flags */
    unsigned users;        /* blocking calls in progress on it (sendall counts itself and
                              its current send); the handle is not freed before they all
                              returned */
    bool lent;             /* between curio_socket_blocking and curio_socket_unblock */
    bool lent_nonblock;    /* O_NONBLOCK was set when lent, to restore */
    bool server_owned;     /* a server's client: curio_socket_close only closes the fd, the
                              server frees the handle when the handler returns */
    bool free_pending;     /* released while users > 0: the last one out frees it */
    curio_stream *stream;  /* as_stream's (keep_fd), closed with the descriptor; or NULL */
};

/* A handle around fd (not closed on failure). 0 or -ENOMEM. */
CURIO__HIDDEN int curio__socket_new(curio_socket **out, int fd, int family, int type);

/* Close the descriptor (waking tasks blocked on it, see curio_socket_close) and free the
 * handle once nobody is inside a call on it; for the owner of a server's client too. */
CURIO__HIDDEN void curio__socket_destroy(curio_socket *s);

/* The last task leaving a call on a handle released meanwhile frees it. */
CURIO__HIDDEN void curio__socket_free(curio_socket *s);

static inline void curio__socket_enter(curio_socket *s) { s->users++; }

static inline void curio__socket_leave(curio_socket *s)
{
    if (--s->users == 0 && __builtin_expect(s->free_pending, 0))
        curio__socket_free(s);
}

/* Connect a stream socket to each address of the list in turn until one connects
 * (open_connection after its look-up). o must not be NULL. */
CURIO__HIDDEN int curio__connect_any(curio_socket **out, const struct addrinfo *ai,
                                     const curio_connect_options *o);

#endif
