/*
 * curio/net.h - sockets, addresses and name resolution, servers and connections (Curio's
 * curio.socket, tcp_server, unix_server, open_connection). Included by <curio.h>; do not
 * include it directly.
 *
 * Conventions of this layer, on top of those of <curio.h>:
 *
 *  - Names. Calls that may block are verbs of their own, like the read and write of the
 *    layer below: curio_accept, curio_connect, curio_recv, curio_send, curio_sendall ...
 *    They are blocking calls in the sense of <curio.h>: tasks only (-EPERM elsewhere),
 *    cancellation points, -ETIMEDOUT inside an expired scope. Calls that never block are
 *    named curio_socket_* (open, bind, listen, options, names, shutdown, close ...) and
 *    curio_addr_*, and work anywhere, also outside tasks.
 *  - Every blocking call is one io_uring operation (sendall: one per short write), made on
 *    the calling task's stack: no allocation, no copy, no extra system call. A buffer passed
 *    in must stay valid until the call returns; no call returns while the kernel may still
 *    touch it, even when cancelled or timed out. A call whose operation completed in the
 *    same instant as a cancellation or timeout returns its real result (no byte, datagram
 *    or descriptor is lost) and the cancellation arrives at the next blocking call.
 *  - One waiter per direction (Curio's ResourceBusy): while a task waits to receive (or
 *    accept) on a socket, another task's receive on it returns -EBUSY at once; the same for
 *    sending (and connect). The two directions are independent: one task may receive while
 *    another sends.
 *  - Sockets are opaque handles. The handle that curio_socket_open, curio_accept,
 *    curio_open_connection ... return belongs to the caller, who closes it once with
 *    curio_socket_close; that closes the descriptor and frees the handle. A server's client
 *    socket belongs to the server (see "Servers").
 *  - Closing while other tasks use a handle (the rule of every curio handle): the close
 *    wakes them, every call in progress on it returns -EBADF (even one whose operation had
 *    just completed: its result is dropped), and the handle is freed when the last of them
 *    has returned. A task that got that -EBADF must not use the handle again.
 *  - Signals: every send is made with MSG_NOSIGNAL, so a peer that went away is -EPIPE and
 *    never SIGPIPE. Nothing in this layer changes process-wide state.
 *  - Descriptors are made close-on-exec and stay in blocking mode: io_uring never blocks on
 *    them, and the blocking() escape needs no mode change.
 */
#ifndef CURIO_NET_H
#define CURIO_NET_H
#ifndef CURIO_H
#error "include <curio.h>, not <curio/net.h>"
#endif

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Declared by <netdb.h> only with POSIX features on (not under a strict -std=c11). */
struct addrinfo;

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------ */
/* Addresses                                                                            */
/* ------------------------------------------------------------------------------------ */

/*
 * A socket address of any family, a value type (Curio's address tuples). len is the number
 * of bytes of u in use, 0 for "no address". Fill one with curio_addr_ip or curio_addr_unix,
 * or directly (set u and len), or let accept, recvfrom, getsockname ... fill it in.
 */
typedef struct curio_addr {
    socklen_t len;
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage storage;
    } u;
} curio_addr;

/* Room curio_addr_format needs for any address, with its NUL. */
#define CURIO_ADDR_STRLEN 128

/*
 * A numeric IP address and port: "127.0.0.1", "::1", "[::1]", "fe80::1%eth0" (a scope by
 * interface name or number). NULL or "" is 0.0.0.0 (any IPv4 interface, Curio's ''); "::"
 * is any IPv6 interface. No name is looked up (see curio_getaddrinfo). Returns 0, or
 * -EINVAL (a is NULL, or ip is not a numeric address), -ENXIO (unknown interface).
 */
CURIO_API int curio_addr_ip(curio_addr *a, const char *ip, uint16_t port);

/* A Unix domain address: a path, or "@name" for Linux's abstract namespace (no file is
 * made). Returns 0, -EINVAL (NULL, or empty), -ENAMETOOLONG (longer than sun_path). */
CURIO_API int curio_addr_unix(curio_addr *a, const char *path);

/* The port of an IPv4 or IPv6 address, or -EAFNOSUPPORT for other families. */
CURIO_API int curio_addr_port(const curio_addr *a);

/*
 * Text for logs: "127.0.0.1:25000", "[::1]:25000", "/run/app.sock", "@name" (abstract),
 * "(unnamed)" (an unbound Unix socket), "(none)" (len 0), "(family N)" otherwise. buf of
 * cap bytes (CURIO_ADDR_STRLEN is always enough) gets the NUL-terminated text. Returns its
 * length, -EINVAL (a or buf NULL), or -ENOSPC (cap too small; buf holds what fitted).
 */
CURIO_API int curio_addr_format(const curio_addr *a, char *buf, size_t cap);

/*
 * getaddrinfo(3) on a worker thread, so that the kernel never stops for a name server
 * (Curio's curio.socket.getaddrinfo). Arguments and *res as for getaddrinfo; free *res with
 * freeaddrinfo. Blocking (state RESOLVE_WAIT). A cancellation or timeout returns at once,
 * even if the name server never answers: the thread finishes the look-up on its own and
 * frees what it found. Only the flags, family, socktype and protocol of hints are read.
 * Returns 0, -EINVAL (host and service both NULL, res NULL, EAI_BADFLAGS), -ENOENT (no
 * such name: EAI_NONAME, EAI_NODATA, EAI_ADDRFAMILY), -EAGAIN (EAI_AGAIN: try later, or no
 * thread could be started), -ENOMEM, -EAFNOSUPPORT (EAI_FAMILY), -ESOCKTNOSUPPORT
 * (EAI_SOCKTYPE, EAI_SERVICE), -errno (EAI_SYSTEM), -EIO (EAI_FAIL and others),
 * -ECANCELED, -ETIMEDOUT, -EPERM. *res is NULL after any error.
 */
CURIO_API int curio_getaddrinfo(const char *host, const char *service,
                                const struct addrinfo *hints, struct addrinfo **res);

/* ------------------------------------------------------------------------------------ */
/* Sockets                                                                              */
/* ------------------------------------------------------------------------------------ */

typedef struct curio_socket curio_socket;
typedef struct curio_tls_context curio_tls_context; /* see curio/tls.h */

/* A new socket, as socket(2) (family AF_INET, AF_INET6, AF_UNIX ...; type SOCK_STREAM,
 * SOCK_DGRAM ..., optionally or'ed with SOCK_NONBLOCK; SOCK_CLOEXEC is always added).
 * Returns 0 and *out, or -errno of socket(2), -EINVAL, -ENOMEM. */
CURIO_API int curio_socket_open(curio_socket **out, int family, int type, int protocol);

/* Adopt a socket descriptor made elsewhere (inherited, from socketpair(2) ...): the handle
 * now owns fd and closing it closes fd. Returns 0, -ENOTSOCK, -EBADF, -EINVAL, -ENOMEM (fd
 * is then still the caller's). */
CURIO_API int curio_socket_wrap(curio_socket **out, int fd);

/* A connected pair, as socketpair(2) (Curio's socketpair; usually AF_UNIX, SOCK_STREAM).
 * Returns 0 and out[0], out[1], or negative. */
CURIO_API int curio_socketpair(int family, int type, curio_socket *out[2]);

/* The descriptor, for calls this layer does not wrap; -1 once closed. Do not close it and
 * do not do blocking I/O on it yourself (see curio_socket_blocking). */
CURIO_API int curio_socket_fd(const curio_socket *s);

/* bind(2) and listen(2). backlog <= 0 means 100 (Curio's default). listen on a TCP socket
 * first sets TCP_NODELAY, which every connection accepted on it inherits (see
 * curio_accept). Return 0 or -errno (-EADDRINUSE, -EACCES ...), -EBADF once closed,
 * -EINVAL for NULL. */
CURIO_API int curio_socket_bind(curio_socket *s, const curio_addr *a);
CURIO_API int curio_socket_listen(curio_socket *s, int backlog);

/* setsockopt(2)/getsockopt(2). Return 0 or -errno. */
CURIO_API int curio_socket_setsockopt(curio_socket *s, int level, int name, const void *val,
                                      socklen_t len);
CURIO_API int curio_socket_getsockopt(curio_socket *s, int level, int name, void *val,
                                      socklen_t *len);

/* The local and the peer address (getsockname(2)/getpeername(2)). Return 0 or -errno
 * (-ENOTCONN for a peer that is not there). */
CURIO_API int curio_socket_getsockname(const curio_socket *s, curio_addr *a);
CURIO_API int curio_socket_getpeername(const curio_socket *s, curio_addr *a);

/* shutdown(2): SHUT_RD, SHUT_WR (the half-close: the peer reads end of stream, and can
 * still send) or SHUT_RDWR. Never blocks; a task waiting to receive on s sees end of
 * stream. Returns 0 or -errno (-ENOTCONN). */
CURIO_API int curio_socket_shutdown(curio_socket *s, int how);

/*
 * Close the socket and free the handle. Never blocks and never fails for a valid handle;
 * s must not be used again. Another task blocked in a call on s at that moment is woken:
 * its operation is cancelled through io_uring and that call returns -EBADF, also if the
 * operation had completed already (curio_sendall's *sent still counts what went); the
 * handle is freed once such calls have returned. Use curio_socket_shutdown first to let
 * the peer read end of stream while data still drains. (A socket with SO_LINGER set to a
 * non-zero time is the exception to "never blocks": close(2) itself then waits.)
 * Bytes still in the write buffer of the socket's stream (curio_socket_as_stream with a
 * write_buffer) are discarded, and then the result is CURIO_EUNFLUSHED: the socket is
 * closed all the same. To learn how many, call curio_stream_unflushed on the stream just
 * before; to send them first, use curio_socket_flush_close.
 * A server's client socket (the one a handler gets) may be closed by its handler too: that
 * closes the descriptor and leaves the handle to the server, which frees it when the
 * handler returns; calls on it then return -EBADF.
 * Returns 0, CURIO_EUNFLUSHED, or -EINVAL for NULL.
 */
CURIO_API int curio_socket_close(curio_socket *s);

/*
 * Flush the socket's stream (if it has one), then close the socket: the close that loses
 * nothing unless it must. Blocking while the stream's write buffer holds bytes (state
 * WRITE_WAIT), under the caller's timeouts and cancellation; then s is closed as by
 * curio_socket_close in every case, also when the flush failed, timed out or was
 * cancelled. *dropped (if non-NULL) gets the bytes discarded: 0 when the flush finished,
 * else exactly the bytes the kernel did not take. Only the stream's buffer is flushed:
 * what the kernel took drains to the peer after the close, as with curio_socket_close.
 * Returns 0; or why the flush stopped (-ETIMEDOUT, -ECANCELED, -EPIPE, -ECONNRESET,
 * -EBUSY: another task is writing to the stream, -EPERM outside a task ...) with s closed
 * all the same; -EBADF if s was closed already or by another task while this one flushed
 * (*dropped: the bytes not known to have gone: the close drops the result of the send in
 * flight, of which some bytes may have gone; s must not be used again);
 * -EINVAL for NULL.
 */
CURIO_API int curio_socket_flush_close(curio_socket *s, size_t *dropped);

/*
 * Reset the connection at once (Curio's and asyncio's abort): SO_LINGER with a time of 0,
 * then close, so the kernel discards the unsent bytes of the send queue and sends a reset
 * (the peer's calls return -ECONNRESET) instead of draining them for as long as the peer
 * takes. For a server that drops a slow or hostile client. Bytes in the stream's write
 * buffer are discarded too. Otherwise as curio_socket_close: never blocks, tasks blocked on
 * s get -EBADF, the handle is freed (a server's client socket: left to the server). On a
 * socket that is not TCP it is a plain close. Returns 0, or -EINVAL for NULL.
 */
CURIO_API int curio_socket_abort(curio_socket *s);

/*
 * The local port of an IPv4 or IPv6 socket (getsockname): the one the system chose for a
 * socket bound to port 0. The way to learn a server's port:
 *
 *     curio_socket *ls;
 *     curio_tcp_server_socket(&ls, "127.0.0.1", 0, NULL);
 *     int port = curio_socket_port(ls);            // e.g. 40312
 *     curio_spawn(&t, server_task, ls);             // runs curio_run_server(ls, ...)
 *
 * Returns the port (0 for a socket not bound yet), or -EAFNOSUPPORT (not IP), -EBADF
 * (closed), -EINVAL (NULL), or another -errno of getsockname(2). Never blocks.
 */
CURIO_API int curio_socket_port(const curio_socket *s);

/*
 * Curio's as_stream(): a buffered stream over the socket (see "Streams" in curio/io.h) for
 * read_exactly, readline and line iteration, write and writelines. The stream belongs to
 * the socket: the first call makes it, with opts (NULL: the defaults; keep_fd is ignored,
 * the socket keeps its descriptor); later calls return the same stream and ignore opts.
 * Closing the socket closes and frees the stream (a task blocked in one of its calls gets
 * -EBADF); do not close it with curio_stream_close yourself. Bytes the stream has read
 * ahead are not seen by curio_recv on the socket, and bytes left in a write buffer
 * (opts->write_buffer) are dropped when the socket is closed (curio_socket_close says
 * CURIO_EUNFLUSHED): flush first, or close with curio_socket_flush_close. Never blocks.
 * Returns 0 and *out, or -EBADF (closed), -EINVAL, -ENOMEM.
 */
CURIO_API int curio_socket_as_stream(curio_socket *s, curio_stream **out,
                                     const curio_stream_options *opts);

/*
 * Curio's blocking(): hand the descriptor to ordinary blocking code (a library, a thread
 * through curio_run_in_thread). Returns the descriptor, in blocking mode, or -EBUSY (a task
 * is waiting on s, or its stream holds unread bytes), -EBADF (closed), -EINVAL. Until
 * curio_socket_unblock, curio's calls on s return -EBUSY; the code using the descriptor
 * must not close it. Never blocks itself, but whatever the caller then does with the
 * descriptor blocks the whole kernel.
 */
CURIO_API int curio_socket_blocking(curio_socket *s);
/* Give it back (restoring O_NONBLOCK if the socket had it). Returns 0, or -EINVAL if s was
 * not lent. */
CURIO_API int curio_socket_unblock(curio_socket *s);

/* ------------------------------------------------------------------------------------ */
/* Blocking calls on sockets                                                            */
/* ------------------------------------------------------------------------------------ */

/*
 * Wait for a connection on a listening socket (state READ_WAIT). A TCP connection has
 * TCP_NODELAY on (Nagle's algorithm off, as asyncio, uvloop and Go) when the listening
 * socket had it, which curio_socket_listen and curio_tcp_server_socket set: to turn it off,
 * set TCP_NODELAY to 0 on the listening socket after listen (every later connection), or
 * on the accepted socket with curio_socket_setsockopt. Returns 0 with *client
 * (the caller's, see curio_socket_close) and, if peer is non-NULL, the peer's address; or
 * -EMFILE/-ENFILE (out of descriptors), -ECONNABORTED, -EINVAL (not listening), -EBADF,
 * -EBUSY (another task is accepting on ls), -ECANCELED, -ETIMEDOUT, -EPERM, -ENOMEM.
 */
CURIO_API int curio_accept(curio_socket *ls, curio_socket **client, curio_addr *peer);

/*
 * Connect to a (state WRITE_WAIT). A connected TCP socket gets TCP_NODELAY on (Nagle's
 * algorithm off, as asyncio, uvloop and Go); to turn it off, set TCP_NODELAY to 0 with
 * curio_socket_setsockopt after the connect. Returns 0, or -ECONNREFUSED, -ENETUNREACH, -ETIMEDOUT
 * (a scope's deadline, or the system's own connect timeout), -ECANCELED, -EBUSY,
 * -EISCONN, -EAFNOSUPPORT ... After a connect that failed, timed out or was cancelled the
 * socket's state is undefined: close it.
 */
CURIO_API int curio_connect(curio_socket *s, const curio_addr *a);

/*
 * Receive up to n bytes into buf (state READ_WAIT); flags as for recv(2) (MSG_PEEK,
 * MSG_WAITALL ...; 0 usually). Returns the count, 0 at end of stream (the peer closed or
 * shut down its side; also for n == 0), or -ECONNRESET (peer reset), -ENOTCONN, -EBADF
 * (closed, also by another task while this one waited), -EBUSY, -ECANCELED, -ETIMEDOUT,
 * -EPERM. This is also Curio's recv_into: C always receives into the caller's buffer.
 * On a socket in buffer mode (curio_recv_buf) it returns the bytes queued there first,
 * and flags other than 0 are -EINVAL.
 */
CURIO_API ssize_t curio_recv(curio_socket *s, void *buf, size_t n, int flags);

/*
 * Send from buf (state WRITE_WAIT) in one operation, which may send fewer than n bytes.
 * Returns the count sent, or -EPIPE (the peer is gone), -ECONNRESET, -EBADF, -EBUSY,
 * -ECANCELED, -ETIMEDOUT, -EPERM.
 */
CURIO_API ssize_t curio_send(curio_socket *s, const void *buf, size_t n, int flags);

/*
 * Send all n bytes (state WRITE_WAIT): one operation in the usual case (io_uring keeps
 * sending until all went or it is interrupted), more only after a short write. Returns n,
 * or a negative code as curio_send. *sent (if non-NULL) is set in every case to the bytes
 * handed to the kernel before the call returned: after -ECANCELED or -ETIMEDOUT exactly
 * those bytes reach the peer and none after (Curio's bytes_sent on the exception).
 */
CURIO_API ssize_t curio_sendall(curio_socket *s, const void *buf, size_t n, int flags,
                                size_t *sent);

/*
 * Zero-copy sends (io_uring's IORING_OP_SEND_ZC, Linux 6.0): the kernel sends from buf's
 * pages instead of copying them into the socket. The call returns only once the kernel
 * no longer reads buf (its notification that every packet made from buf is gone, i.e.
 * acknowledged by the peer): when it returns, on every path, buf is the caller's again
 * and may be overwritten or freed. So a call interrupted by -ECANCELED or -ETIMEDOUT
 * still returns only after the peer has acknowledged the bytes it reports (a peer that
 * stops reading holds it until it reads again or the connection ends); a close of s by
 * another task resets the connection (as with SO_LINGER 0) and the call returns -EBADF
 * at once. It pays only for large buffers on a real network device (docs/benchmarks.md:
 * never on loopback); curio_sendall is the default choice.
 *
 * curio_send_zc is curio_send, curio_sendall_zc is curio_sendall (same results, same
 * exact *sent), zero-copy for TCP and UDP over IPv4/IPv6. They fall back to the plain
 * send, with the same results, where zero-copy is not available: a kernel without the
 * opcode, another family (Unix sockets), a TLS socket (its records are copied anyway).
 * curio_sendall_zc sends a buffer shorter than CURIO_SEND_ZC_MIN bytes with the plain
 * send: below it, pinning the pages and waiting for the notification cost more than the
 * copy. Returns as curio_send and curio_sendall.
 */
#define CURIO_SEND_ZC_MIN 65536
CURIO_API ssize_t curio_send_zc(curio_socket *s, const void *buf, size_t n, int flags);
CURIO_API ssize_t curio_sendall_zc(curio_socket *s, const void *buf, size_t n, int flags,
                                   size_t *sent);

/*
 * Datagrams (and any socket): receive one, storing the sender's address in *from (if
 * non-NULL; len 0 when the socket has no peer addresses, as a connected stream). A datagram
 * longer than n is cut to n bytes (MSG_TRUNC in flags returns its real length). sendto
 * sends to *to (NULL: the connected peer). States READ_WAIT/WRITE_WAIT. Returns as
 * curio_recv and curio_send (-EMSGSIZE for a datagram too big to send).
 */
CURIO_API ssize_t curio_recvfrom(curio_socket *s, void *buf, size_t n, int flags,
                                 curio_addr *from);
CURIO_API ssize_t curio_sendto(curio_socket *s, const void *buf, size_t n, int flags,
                               const curio_addr *to);

/*
 * recvmsg(2)/sendmsg(2): scatter/gather, ancillary data (SCM_RIGHTS ...). msg and every
 * buffer it points to must stay valid until the call returns; on return recvmsg has set
 * msg_namelen, msg_controllen and msg_flags as recvmsg(2) does. Received descriptors are
 * the caller's (MSG_CMSG_CLOEXEC in flags makes them close-on-exec). Returns as curio_recv
 * and curio_send.
 */
CURIO_API ssize_t curio_recvmsg(curio_socket *s, struct msghdr *msg, int flags);
CURIO_API ssize_t curio_sendmsg(curio_socket *s, const struct msghdr *msg, int flags);

/* ------------------------------------------------------------------------------------ */
/* Connections                                                                          */
/* ------------------------------------------------------------------------------------ */

/* Options for curio_open_connection(). Zero-initialise; zero means default. */
typedef struct curio_connect_options {
    const curio_addr *source; /* bind to this local address before connecting (Curio's
                                 source_addr; port 0 lets the system choose); only the
                                 resolved addresses of its family are tried; default none */
    int family;               /* AF_INET or AF_INET6 to try only that family; default
                                 AF_UNSPEC (both) */
    /* TLS (Curio's ssl= and server_hostname=; see curio/tls.h). After connecting, the
     * socket is wrapped and the handshake done before open_connection returns, within
     * the same timeouts; a failed handshake closes the socket and returns its error. */
    bool ssl;                 /* TLS with a default client context (ssl=True): the system's
                                 CAs, the server's name checked; default false */
    curio_tls_context *ssl_context; /* TLS with this client context (ssl=context); implies
                                 ssl; default none */
    const char *server_hostname; /* the name (or address) the server's certificate must be
                                 for, also sent as SNI; default: host */
    bool no_tcp_nodelay;      /* leave Nagle's algorithm on (TCP_NODELAY off); default
                                 false: TCP_NODELAY is on, as after curio_connect */
} curio_connect_options;

/*
 * A TCP connection to host:port (Curio's open_connection). host is a numeric address
 * (connected at once) or a name, resolved with curio_getaddrinfo on a worker thread; every
 * address it returns is tried in order until one connects. Blocking (RESOLVE_WAIT, then
 * WRITE_WAIT); timeouts and cancellation apply to the whole of it and return at once, also
 * during the look-up. Returns 0 and *out (the caller's socket), or the error of the last
 * address tried (-ECONNREFUSED ...), a look-up error (-ENOENT: no such host), -EINVAL
 * (host NULL or empty), -EAFNOSUPPORT (no address of the source's or the asked family),
 * -ECANCELED, -ETIMEDOUT, -EPERM, -ENOMEM. opts may be NULL. With opts->ssl or
 * opts->ssl_context also the errors of curio_tls_context_new (for ssl, once per process)
 * and curio_tls_handshake (CURIO_ETLS_CERT ...), and -EINVAL for a server context.
 */
CURIO_API int curio_open_connection(curio_socket **out, const char *host, uint16_t port,
                                    const curio_connect_options *opts);

/* A connection to the Unix domain socket at path ("@name": abstract), state WRITE_WAIT.
 * Returns 0 and *out, or -ENOENT, -ECONNREFUSED (nobody listens), -ENAMETOOLONG, and the
 * errors of curio_connect. */
CURIO_API int curio_open_unix_connection(curio_socket **out, const char *path);

/* ------------------------------------------------------------------------------------ */
/* Servers                                                                              */
/* ------------------------------------------------------------------------------------ */

/*
 * A server's handler (Curio's client_connected_task): runs in a task of its own for each
 * connection, with the client socket, the peer's address and the server's arg. The socket
 * and the address belong to the server and are valid until the handler returns; then the
 * server flushes the socket's stream (see close_timeout) and closes the socket (the handler
 * need not, but may). The task is named after the peer ("client 127.0.0.1:40312"). The
 * return value is the task's: a negative one is logged as a failure and the server goes
 * on, except -ECANCELED and the codes of a peer that went away (-ECONNRESET, -EPIPE,
 * -ENOTCONN, -ECONNABORTED), which are a normal end of the connection.
 */
typedef long (*curio_client_fn)(curio_socket *client, const curio_addr *addr, void *arg);

/* Options for the server calls. Zero-initialise; zero means default. */
typedef struct curio_server_options {
    int backlog;           /* listen(2) backlog; default 100 (Curio's) */
    bool no_reuse_address; /* default false: SO_REUSEADDR is set (Curio's reuse_address=True) */
    bool reuse_port;       /* set SO_REUSEPORT (several servers on one port); default false */
    size_t stack_size;     /* stack of each client task; default the kernel's */
    /* Called in the server task once it listens, before its first accept, with the
     * listening address (port 0 becomes the one chosen) and the server's arg; it may block.
     * This is how a caller learns the port, or that it may connect. Default none. */
    void (*on_listen)(const curio_addr *addr, void *arg);
    /* Where the server's messages go (a failed handler, accept running out of descriptors
     * and recovering), one line without its newline, with the server's arg. Default: stderr,
     * prefixed with "curio: ". */
    void (*log)(const char *message, void *arg);
    /* TLS (Curio's ssl=context; see curio/tls.h): a server context. Each client's task
     * wraps its socket and runs the handshake before the handler is called; a failed
     * handshake is logged (with wolfSSL's reason) and closes that connection only, the
     * server goes on. Default none: plain TCP. */
    curio_tls_context *ssl_context;
    double ssl_handshake_timeout; /* seconds a client has to complete the handshake;
                                     default 60 (asyncio's); negative: no limit */
    bool no_tcp_nodelay;   /* leave Nagle's algorithm on for the clients; default false:
                              TCP_NODELAY is set once on the listening socket, and every
                              accepted connection inherits it */
    /* Seconds the server gives a client's stream (curio_socket_as_stream with a
     * write_buffer) to flush what its handler left in the buffer, after the handler
     * returned and before the socket is closed; what does not go in time (or at all, the
     * peer gone, the server winding down) is dropped and logged with its count; after a
     * handler that returned a peer-gone code (see curio_client_fn) it is dropped without
     * a flush or a line. Default 10; negative: no limit. */
    double close_timeout;
} curio_server_options;

/*
 * A listening TCP socket on host:port (Curio's tcp_server_socket): host NULL or "" is every
 * IPv4 interface (Curio's ''), "::" every IPv6 one, a numeric address that address, and a
 * name the first address curio_getaddrinfo finds for it (a blocking call: tasks only). Sets
 * SO_REUSEADDR (unless no_reuse_address) and SO_REUSEPORT (if reuse_port), binds, listens.
 * Sets TCP_NODELAY (unless no_tcp_nodelay). curio_socket_port tells the port chosen for
 * port 0. Returns 0 and *out (the caller's), or -EADDRINUSE, -EACCES, -EINVAL, a look-up
 * error, -ENOMEM ... opts may be NULL (only backlog, the reuse flags and no_tcp_nodelay are
 * read).
 */
CURIO_API int curio_tcp_server_socket(curio_socket **out, const char *host, uint16_t port,
                                      const curio_server_options *opts);

/* The same for a Unix domain socket at path ("@name": abstract). The file is neither
 * removed before nor after: a stale one makes this -EADDRINUSE. */
CURIO_API int curio_unix_server_socket(curio_socket **out, const char *path,
                                       const curio_server_options *opts);

/*
 * Serve connections on the listening socket ls (Curio's run_server), until cancelled or
 * timed out: accept each connection, spawn a task running handler(client, addr, arg), and
 * when it returns flush the client's stream (bounded by close_timeout; drops are logged)
 * and close the client. A failing handler is logged. TCP_NODELAY is set on ls once (off
 * with no_tcp_nodelay), so that every accepted connection has it. Running out of
 * descriptors (-EMFILE, -ENFILE, also -ENOBUFS, -ENOMEM) does not stop the server: it logs
 * once, backs off (10 ms doubling to 1 s, a cancellation point) and goes on accepting, and
 * logs again when accepting works again. Transient errors of a connection that died while
 * queued (-ECONNABORTED ...) are skipped.
 * When the server is cancelled or its scope expires, it cancels every client task, waits
 * until they all ended and their sockets are closed, closes ls and returns -ECANCELED or
 * -ETIMEDOUT. It returns early only on an error of ls itself (-EBADF when another task
 * closed it, -EINVAL ...), after the same wind-down. ls becomes the server's (it is closed
 * in every case); arg must stay valid until the call returns. Returns -EINVAL (ls or
 * handler NULL, an ssl_context that is not a server context), -ENOTSUP (an ssl_context
 * without TLS built in), -EPERM outside a task, -ENOMEM. opts may be NULL; it is copied
 * (ssl_context is retained until the call returns).
 */
CURIO_API int curio_run_server(curio_socket *ls, curio_client_fn handler, void *arg,
                               const curio_server_options *opts);

/* curio_tcp_server_socket, then curio_run_server (Curio's tcp_server). Returns the
 * socket's errors, or curio_run_server's. */
CURIO_API int curio_tcp_server(const char *host, uint16_t port, curio_client_fn handler,
                               void *arg, const curio_server_options *opts);

/* curio_unix_server_socket, then curio_run_server (Curio's unix_server). */
CURIO_API int curio_unix_server(const char *path, curio_client_fn handler, void *arg,
                                const curio_server_options *opts);

/* ------------------------------------------------------------------------------------ */
/* Sending files                                                                        */
/* ------------------------------------------------------------------------------------ */

/*
 * Send a file's bytes to a connected stream socket without copying them through user
 * space (Python's socket.sendfile; state READ_WAIT or WRITE_WAIT): count bytes from
 * offset (count 0: up to the end of the file), read at that offset, so the file's own
 * position is neither used nor moved. From 4 MiB on, the bytes are sent straight from a
 * read-only shared mapping of the file (4 MiB windows, faulted in by one of io_uring's
 * workers, unmapped before the call returns; a file truncated meanwhile ends the call
 * early, never with SIGBUS); smaller sends, files that cannot be mapped and kernels before
 * 5.14 go file -> pipe -> socket (IORING_OP_SPLICE, through a pipe from a small per-kernel
 * cache); a kernel without that opcode, a file that cannot be spliced, a process out of
 * descriptors for a pipe, and a socket with a transport (TLS) take a read+send loop
 * instead, with the same results.
 * The socket's write direction is held for the whole call (another task's send gets
 * -EBUSY meanwhile).
 *
 * Returns the bytes sent: count, or fewer when the file ends first (0 at or past its end).
 * *sent (if non-NULL) is set in every case to the bytes that reached the socket: after
 * -ECANCELED, -ETIMEDOUT or an error exactly those bytes reach the peer and none after
 * (bytes read from the file but not sent are dropped). On a TLS socket *sent is what the
 * session took, as for curio_sendall there (records of some may still be queued:
 * curio_tls_unsent, curio_tls_flush).
 * Errors: -EINVAL (s or f NULL, offset < 0, s not a stream socket), -EBADF (s or f
 * closed, also by another task while this one waited; f opened write-only), -ESPIPE (f is
 * not seekable: a FIFO or terminal), -EPIPE/-ECONNRESET (the peer is gone), -EBUSY
 * (another task sends on s, or f is lent by curio_file_blocking), -ECANCELED, -ETIMEDOUT,
 * -EPERM (outside a task), -ENOMEM, or the file's read errors (-EIO ...).
 */
CURIO_API ssize_t curio_sendfile(curio_socket *s, curio_file *f, int64_t offset, size_t count,
                                 size_t *sent);

/* curio_sendfile from a raw descriptor in_fd (a regular file, or anything pread(2) and
 * splice(2) accept with an offset), which stays the caller's. -EBADF for in_fd < 0; a
 * descriptor that cannot be read at an offset gives -ESPIPE (or -EINVAL) from its first
 * read. Otherwise as curio_sendfile. */
CURIO_API ssize_t curio_sendfile_fd(curio_socket *s, int in_fd, int64_t offset, size_t count,
                                    size_t *sent);
/* ------------------------------------------------------------------------------------ */
/* Receiving into the kernel's buffers (provided-buffer ring, multishot receive)          */
/* ------------------------------------------------------------------------------------ */

/*
 * A buffer of received data that belongs to the caller until curio_buf_release. data
 * and len are the bytes; id is private (which buffer to give back). A curio_buf that
 * holds nothing (after release, or after a call that returned 0 or an error) has data
 * NULL, len 0, id 0, and releasing it does nothing.
 */
typedef struct curio_buf {
    char *data;
    size_t len;
    uint32_t id;
} curio_buf;

/*
 * Receive the next bytes of a stream socket into a buffer of the kernel's own (state
 * READ_WAIT): the bytes are not copied into a buffer of the caller's, and while the call
 * waits no buffer is held for this socket. The first call puts the socket in buffer mode:
 * a multishot receive (IORING_OP_RECV with IORING_RECV_MULTISHOT, Linux 6.0) stays armed
 * on it, taking a buffer from the kernel's ring (curio_options.recv_buffers of
 * recv_buffer_size bytes, default 256 x 4096) each time data arrives; data that arrives
 * while no task waits is queued on the socket, in order, and the next call returns it.
 * A socket with many such buffers queued and nobody reading stops its receive until it
 * is read again (the data stays in the socket), so one slow reader cannot take the whole
 * ring.
 *
 * Returns the count (> 0) with *out filled: the bytes out->data[0 .. count) are the
 * caller's until curio_buf_release(out), which must be called exactly once, on the
 * thread of the kernel that made the call, before that kernel is destroyed (the socket
 * may be closed meanwhile: the buffer is the kernel's, not the socket's). At most
 * recv_buffer_size bytes come at once. Returns 0 at end of stream, or -ECONNRESET,
 * -ENOTCONN, -EBADF (closed, also by another task while this one waited: nothing is
 * held then), -EBUSY (another task is receiving on s), -ECANCELED, -ETIMEDOUT (data that
 * arrives as the call gives up is kept for the next call: nothing is lost), -EPERM,
 * -ENOMEM, -EINVAL (NULL), -EOPNOTSUPP (not a stream socket, or a TLS socket); on every
 * one of these *out holds nothing. The end of stream and a reset are returned after all
 * data that came before them.
 *
 * When the ring is exhausted (every buffer handed out and not yet released) or the
 * running kernel has no buffer rings or no multishot receive, the call waits for the
 * socket to become readable and receives into a heap buffer of recv_buffer_size bytes
 * instead, which curio_buf_release frees: the results are the same, and no data is lost.
 *
 * Mixing: curio_recv on a socket in buffer mode returns the queued bytes first (copied,
 * and their buffers released) and then goes on receiving through the multishot, so the
 * byte order is kept (flags must be 0 there, else -EINVAL); recvfrom, recvmsg, as_stream
 * and curio_socket_blocking are refused with -EBUSY while the socket is in buffer mode,
 * and curio_recv_buf with -EBUSY on a socket that has a stream. Closing the socket
 * releases every buffer still queued on it.
 *
 * An idle-connection echo loop holds no buffer while it waits:
 *
 *     curio_buf b;
 *     ssize_t n;
 *     while ((n = curio_recv_buf(s, &b)) > 0) {
 *         n = curio_sendall(s, b.data, b.len, 0, NULL);
 *         curio_buf_release(&b);
 *         if (n < 0) break;
 *     }
 */
CURIO_API ssize_t curio_recv_buf(curio_socket *s, curio_buf *out);

/* Give b's buffer back (to the kernel's ring, or free a heap one) and empty *b. NULL, or
 * a b that holds nothing, is a no-op. */
CURIO_API void curio_buf_release(curio_buf *b);

#ifdef __cplusplus
}
#endif
#endif /* CURIO_NET_H */
