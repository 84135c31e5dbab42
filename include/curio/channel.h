/*
 * curio/channel.h - Curio's curio.channel: framed messages between processes over TCP or
 * a Unix domain socket, with a mutual challenge-response authentication on a shared key.
 * Included by <curio.h>; do not include it directly.
 *
 * A curio_channel is an address to listen on or to connect to (Curio's Channel); accept
 * and connect give a curio_connection (Curio's Connection), which sends and receives
 * whole messages of bytes. Curio's send(obj)/recv() pickle Python objects; in C a message
 * is bytes, so serialise as the program sees fit.
 *
 * The wire format is that of Python's multiprocessing.connection (and Curio's): each
 * message is a 4-byte big-endian length followed by that many bytes (messages of 2 GiB
 * and more: the length -1, then an 8-byte length). Authentication follows Python 3.12's
 * multiprocessing: the server sends "#CHALLENGE#{sha256}" and 40 random bytes (from
 * getrandom(2)); the client answers "{sha256}" and the HMAC-SHA256 of everything after
 * "#CHALLENGE#" under the key; the server replies "#WELCOME#" or "#FAILURE#". Then the
 * roles swap, so each side proves it knows the key. Digests are compared in constant time.
 * By default only the sha256 form is accepted. With legacy_md5 in the options, a
 * connection also accepts the legacy form of Python 3.11 and older (as Python 3.12 does):
 * as the challenger, a bare 16-byte HMAC-MD5 answer to its own challenge; as the
 * answerer, a challenge of a bare 20 random bytes, answered with their bare HMAC-MD5. It
 * always challenges in the sha256 form, which a legacy peer answers in MD5. The HMACs are
 * wolfCrypt's in builds with wolfSSL; without it, curio's own SHA-256, MD5 and HMAC
 * (channel/channel_hmac.c, channel_md5.c, checked against RFC 4231's and RFC 2202's test
 * vectors), so channels work without wolfSSL too.
 *
 * All calls that move messages are blocking calls in the sense of <curio.h>: tasks only
 * (-EPERM elsewhere), cancellation points, -ETIMEDOUT inside an expired scope. They also
 * return what the socket calls of curio/net.h return (-ECONNRESET, -EPIPE, -EBADF ...).
 * Interruptions leave a defined state, and the connection stays usable:
 *  - A receive interrupted in the middle of a message keeps what arrived; the next receive
 *    continues the same message. No byte is lost.
 *  - A send interrupted before any byte of its message went out fails with nothing sent.
 *    Interrupted after part of it went, the message is committed: the connection copies
 *    the rest and sends it before the next message (or drops it, and the peer sees a
 *    truncated message, if the connection is closed first), and the call returns 0; the
 *    interruption arrives at the next blocking call.
 * One task at a time may receive and one may send on a connection (-EBUSY otherwise).
 */
#ifndef CURIO_CHANNEL_H
#define CURIO_CHANNEL_H
#ifndef CURIO_H
#error "include <curio.h>, not <curio/channel.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define CURIO_EAUTH   (-5050) /* authentication failed: the peer does not know the key, or
                                 spoke another protocol (Curio's AuthenticationError) */
#define CURIO_ECLOSED (-5051) /* the peer closed the connection between two messages
                                 (Python's EOFError); in the middle of one the receive
                                 returns CURIO_EINCOMPLETE */
#define CURIO_EAUTH_LEGACY (-5052) /* the peer uses multiprocessing's legacy HMAC-MD5
                                 authentication (Python 3.11 and older), which the
                                 connection accepts only with legacy_md5 set */

typedef struct curio_channel curio_channel;
typedef struct curio_connection curio_connection;

/* Options for channels and connections. Zero-initialise; zero means default. */
typedef struct curio_channel_options {
    size_t max_message;    /* longest message a receive accepts, bytes; default 64 MiB. A
                              longer one fails the receive with -EMSGSIZE and leaves the
                              connection unusable (its bytes are not read) */
    double auth_timeout;   /* seconds the authentication may take in accept and connect;
                              default 1 (Curio's); negative: no limit */
    double retry_interval; /* connect: seconds between attempts while nobody listens (or
                              the authentication times out); default 1 (Curio's) */
    int backlog;           /* listen(2) backlog of the channel's socket; default 5 */
    unsigned max_authenticating; /* accept: clients authenticated at once, each by a task
                              of its own; default 16. At the bound, accept takes no more
                              clients off the socket until one of them ends */
    /* accept: where the reasons for dropping a client go (one line, no newline) with
     * log_arg. Default: stderr, prefixed with "curio: ". */
    void (*log)(const char *message, void *arg);
    void *log_arg;
    /* Also accept the legacy form of the authentication (HMAC-MD5, multiprocessing of
     * Python 3.11 and older), for interoperation with such peers only: MD5 is weaker than
     * SHA-256. Default false: such a peer fails with CURIO_EAUTH_LEGACY. See
     * curio_connection_authenticate_server. */
    bool legacy_md5;
} curio_channel_options;

/* ------------------------------------------------------------------------------------ */
/* Channels                                                                             */
/* ------------------------------------------------------------------------------------ */

/*
 * A channel on host:port (Curio's Channel((host, port))): accept listens there, connect
 * connects there. host is a numeric address or a name (looked up by the blocking calls,
 * on a worker thread); NULL or "" is every IPv4 interface for accept (and 127.0.0.1 for
 * connect). Port 0 lets accept's bind choose one (see curio_channel_address). Copies host
 * and opts (NULL: defaults). Never blocks; works anywhere. Returns 0 and *out (the
 * caller's, see curio_channel_close), or -EINVAL, -ENOMEM.
 */
CURIO_API int curio_channel_tcp(curio_channel **out, const char *host, uint16_t port,
                                const curio_channel_options *opts);

/* A channel on a Unix domain socket at path ("@name": abstract; Curio's Channel(path,
 * AF_UNIX)). The socket file is made by bind and left for the caller to remove. Returns
 * as curio_channel_tcp, and -ENAMETOOLONG. */
CURIO_API int curio_channel_unix(curio_channel **out, const char *path,
                                 const curio_channel_options *opts);

/*
 * Listen on the channel's address now (Curio's bind; accept does it by itself when
 * needed). A blocking call when host is a name (the look-up); otherwise it does not
 * wait, but still needs a task. Returns 0 (also when bound already), -EADDRINUSE,
 * -EACCES, a look-up error, -ECANCELED, -ETIMEDOUT, -EPERM, -ENOMEM ...
 */
CURIO_API int curio_channel_bind(curio_channel *ch);

/* The address the channel listens on (the port chosen for port 0), once bound. Returns 0,
 * -ENOTCONN (not bound), -EINVAL. Never blocks. */
CURIO_API int curio_channel_address(const curio_channel *ch, curio_addr *a);

/*
 * Wait for a client and authenticate it (Curio's accept(authkey=...)), binding first if
 * needed. With a key (authkey of keylen bytes, copied; NULL: no authentication, then the
 * client must use none either) each client taken off the socket is authenticated by a
 * daemon task of its own ("channel-auth") under auth_timeout, at most max_authenticating
 * at once, and this returns the first to *finish*: a silent or slow client delays only
 * itself. A client that fails, does not complete in time, or whose connection fails
 * meanwhile is logged, closed, and the wait goes on (as in Curio), so this returns only
 * with an authenticated connection or an error of its own. Authentications still running
 * when it returns go on; a client they admit is returned by the next accept. One task at a
 * time. States READ_WAIT, CHANNEL_AUTH_WAIT (at the bound). Returns 0 and *out (the
 * caller's, see curio_connection_close), or the errors of curio_channel_bind and
 * curio_accept (-EMFILE ...), -EBADF (closed meanwhile), -EBUSY (another task accepts),
 * -ECANCELED, -ETIMEDOUT, -EPERM, -EINVAL, -ENOMEM.
 */
CURIO_API int curio_channel_accept(curio_channel *ch, curio_connection **out,
                                   const void *authkey, size_t keylen);

/*
 * Connect to the channel's address and authenticate (Curio's connect(authkey=...)). While
 * nobody listens there (-ECONNREFUSED, -ENOENT for a Unix path) or the authentication does
 * not complete within auth_timeout, it waits retry_interval and tries again, as Curio
 * does, for as long as the caller's timeouts allow. Returns 0 and *out (the caller's), or
 * CURIO_EAUTH (the server rejected our key, or could not prove that it knows it),
 * CURIO_EAUTH_LEGACY (the server speaks the legacy form; see legacy_md5), another
 * error of curio_open_connection (a look-up error, -ENETUNREACH ...), -ECANCELED,
 * -ETIMEDOUT, -EPERM, -EINVAL, -ENOMEM.
 */
CURIO_API int curio_channel_connect(curio_channel *ch, curio_connection **out,
                                    const void *authkey, size_t keylen);

/* Stop listening and free the channel (Curio's close). Connections made from it live on.
 * Never blocks. Calls in progress on ch return -EBADF and the last of them frees it (the
 * rule of curio/net.h): a task blocked in accept is woken at once, clients still in
 * authentication are hung up on (their tasks are cancelled); a connect returns when its
 * current step ends (a connect, auth_timeout, retry_interval), closing the connection it
 * was making. NULL is fine. */
CURIO_API void curio_channel_close(curio_channel *ch);

/* ------------------------------------------------------------------------------------ */
/* Connections                                                                          */
/* ------------------------------------------------------------------------------------ */

/*
 * A connection over a connected stream socket made elsewhere (Curio's Connection over a
 * socket's stream: a socketpair, an accepted socket, a TLS socket), without
 * authentication (see curio_connection_authenticate_*). The connection owns sock from then
 * on (also on failure: it is closed) and reads and writes it through its stream
 * (curio_socket_as_stream). Never blocks. opts may be NULL. Returns 0 and *out, -EINVAL,
 * -EBADF, -ENOMEM.
 */
CURIO_API int curio_connection_open(curio_connection **out, curio_socket *sock,
                                    const curio_channel_options *opts);

/*
 * Run the authentication on c (Curio's authenticate_server / authenticate_client): the
 * server side challenges first, then answers; the client side answers, then challenges.
 * No timeout of its own (open a scope around it). Blocking. Returns 0, CURIO_EAUTH (the
 * peer failed our challenge, rejected our answer, or sent something else than the
 * protocol's messages), CURIO_EAUTH_LEGACY (the peer speaks the legacy HMAC-MD5 form and
 * c was opened without legacy_md5: a legacy answer to our challenge gets "#FAILURE#"; a
 * legacy challenge gets no answer, and the peer sees the connection close), -ENOTSUP (a
 * legacy peer, legacy_md5 set, and a wolfSSL without MD5), or the errors of send and recv;
 * after any failure the connection is unusable (every call returns that error): close it.
 * -EINVAL for a NULL key.
 */
CURIO_API int curio_connection_authenticate_server(curio_connection *c, const void *authkey,
                                                   size_t keylen);
CURIO_API int curio_connection_authenticate_client(curio_connection *c, const void *authkey,
                                                   size_t keylen);

/*
 * Send n bytes of buf as one message (Curio's send_bytes); n == 0 is an empty message.
 * Header and bytes go out together, in one io_uring operation in the usual case. buf must
 * live until the call returns. Blocking. Returns 0 once the message is sent or committed
 * (see the top of this header), or -EPIPE, -ECONNRESET, -EBUSY (another task is sending),
 * -EBADF, -ECANCELED, -ETIMEDOUT (nothing of the message went), -ENOMEM, -EPERM.
 */
CURIO_API int curio_connection_send(curio_connection *c, const void *buf, size_t n);

/*
 * Receive one message (Curio's recv_bytes) into a buffer from malloc, which the caller
 * frees: *msg (never NULL on success, also for an empty message) and *len. Blocking.
 * Returns the length (also in *len), or CURIO_ECLOSED (the peer closed between messages),
 * CURIO_EINCOMPLETE (it closed in the middle of one), -EMSGSIZE (longer than max_message:
 * the connection is unusable), -EPROTO (a length field no sender writes: a negative one
 * other than the -1 of the long form; also unusable), -ECONNRESET, -EBUSY (another task is receiving), -EBADF,
 * -ECANCELED, -ETIMEDOUT (what arrived is kept for the next receive), -ENOMEM, -EPERM.
 * *msg is NULL and *len 0 after any error.
 */
CURIO_API ssize_t curio_connection_recv(curio_connection *c, void **msg, size_t *len);

/* Receive one message into buf, of cap bytes (Curio's recv_bytes_into). Returns its
 * length, or -EOVERFLOW if it is longer than cap (nothing is consumed: receive it with a
 * larger buffer or curio_connection_recv), or an error as curio_connection_recv. */
CURIO_API ssize_t curio_connection_recv_into(curio_connection *c, void *buf, size_t cap);

/* The connection's socket (for its addresses, options, TLS details); do not close it, and
 * do not read or write it while the connection is in use. */
CURIO_API curio_socket *curio_connection_socket(const curio_connection *c);

/* Close the socket and free c (Curio's close). Never blocks; a committed message not yet
 * sent is dropped. A task blocked in a call on c gets -EBADF; c is freed once it has
 * returned. NULL is fine. Returns 0. */
CURIO_API int curio_connection_close(curio_connection *c);

#ifdef __cplusplus
}
#endif
#endif /* CURIO_CHANNEL_H */
