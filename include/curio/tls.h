/*
 * curio/tls.h - TLS on wolfSSL (Curio's curio.ssl, and the ssl= / server_hostname=
 * arguments of open_connection and tcp_server), behind the socket and stream calls of
 * curio/net.h. Included by <curio.h>; do not include it directly.
 *
 * How it works. A TLS socket is an ordinary curio_socket that carries a TLS session:
 * after curio_tls_wrap (or open_connection / tcp_server with a context), curio_recv,
 * curio_send, curio_sendall, curio_socket_shutdown, curio_socket_close and the socket's
 * stream (curio_socket_as_stream) move plaintext, and the library encrypts, decrypts and
 * runs the handshake underneath. wolfSSL never waits itself: its I/O callbacks only copy
 * between the session and two buffers of the socket's (ciphertext received, ciphertext to
 * send), and curio moves those buffers with the same io_uring operations as the plain
 * calls (one recv fills the input buffer with up to 17 KiB; one send gathers everything
 * queued). So every TLS call is a blocking call in the sense of <curio.h> (tasks only,
 * -EPERM elsewhere; a cancellation point; -ETIMEDOUT in an expired scope), and wolfSSL's
 * state is never left half-way through a call when a task is interrupted.
 *
 * Interruptions (timeouts, cancellation, another task closing the socket) in the middle
 * of a record leave a defined state, and the connection stays usable:
 *  - Receiving: ciphertext that arrived stays in the socket's buffer (a partial record
 *    included) and the next call continues with it. No byte is lost.
 *  - Sending: plaintext is "sent" once it has been encrypted into records; their
 *    ciphertext is then queued on the socket and goes out before anything else, by the
 *    same call or, if that call was interrupted, by the next send, flush, handshake, or by
 *    a receive before it waits. So a send interrupted while its records were still going
 *    out returns the count encrypted (its interruption then arrives at the next blocking
 *    call, as for an operation that completed in the same instant), and curio_sendall's
 *    *sent counts those bytes: they reach the peer if the connection is used further, or
 *    if closing can push them out without waiting (see curio_socket_close below). They
 *    cannot be taken back (the records are numbered), so a caller resumes at buf + *sent,
 *    never before; curio_tls_unsent tells how many are still queued, and curio_tls_flush
 *    sends them (call it before closing when they must arrive).
 *  - The handshake: an interrupted handshake may be called again and continues.
 * A TLS failure (a certificate that does not verify, a corrupt record, a fatal alert) is
 * sticky instead: every later call on the socket returns the same code; close it.
 *
 * Per call on a TLS socket:
 *  - curio_recv: flags 0, MSG_PEEK or MSG_WAITALL (others: -EOPNOTSUPP). Returns up to one
 *    record's plaintext per call (at most 16 KiB), 0 at end of stream: when the peer sent
 *    its close_notify, and also when it closed the TCP connection without one (Python's
 *    suppress_ragged_eofs=True). -ECONNRESET for a reset, CURIO_ETLS* for a TLS failure.
 *  - curio_send: flags 0, MSG_NOSIGNAL or MSG_WAITALL (others: -EOPNOTSUPP). Encrypts up
 *    to 64 KiB and returns when its ciphertext has gone to the kernel (or see above).
 *    -EPIPE after curio_socket_shutdown(SHUT_WR).
 *  - curio_sendall: all n bytes, 64 KiB of plaintext per io_uring operation.
 *  - A NULL buffer with a non-zero count is -EFAULT (as the plain calls' kernel says),
 *    and leaves the session intact.
 *  - curio_recvfrom, curio_sendto, curio_recvmsg, curio_sendmsg: -EOPNOTSUPP.
 *  - curio_socket_blocking (and the blocking() escape of its stream): -EOPNOTSUPP, the
 *    descriptor carries ciphertext.
 *  - curio_socket_shutdown(SHUT_WR or SHUT_RDWR): queues a close_notify, sends what is
 *    queued without waiting, then shuts the descriptor's side down; if the socket buffer
 *    was full, the rest and the shutdown(2) itself are done by the next curio_tls_flush
 *    (or by a receive before it waits). Never blocks. SHUT_RD is plain shutdown(2).
 *  - curio_socket_close: never blocks. If the handshake was done, no task is sending on
 *    the socket and no TLS failure occurred, it queues a close_notify and hands what is
 *    queued to the kernel with non-blocking sendmsg(2); whatever does not fit the socket
 *    buffer is dropped with the connection.
 *  - The first receive or send on a socket wrapped without a handshake runs it. The
 *    handshake needs both directions: while another task receives or sends on the socket
 *    it returns -EBUSY (so hand a socket to other tasks after curio_tls_handshake).
 * One waiter per direction holds as for plain sockets: -EBUSY for a second receiver or
 * a second sender. TLS renegotiation is not offered; TLS 1.3 key updates are answered.
 *
 * Stacks. wolfSSL runs on the calling task's stack, and the handshake's public-key
 * arithmetic needs up to about 56 KiB of it (measured with Debian's wolfSSL 5.5.4: 41 to
 * 44 KiB for a server with an ECDSA P-256 key, 49 to 56 KiB with RSA 2048 or 4096). Give
 * tasks that do TLS 64 KiB or more (curio_options.stack_size, curio_spawn_options,
 * curio_server_options.stack_size; the default, 128 KiB, is enough). An overflow into a
 * guard page is reported as such, naming the task.
 *
 * Threads. What wolfSSL keeps per thread (Debian's build: a cache of precomputed ECC
 * points, about 4 MiB once a thread has done a handshake) is freed when a thread that did
 * TLS work (a handshake, a new context) ends: a kernel's thread, a pool thread. The main
 * thread keeps its own until the process exits.
 *
 * Host names are checked by curio as OpenSSL and Python's ssl do (RFC 6125): ASCII case
 * ignored; a wildcard only as the whole left-most label ("*.example.com" is for
 * "a.example.com", not "example.com" nor "a.b.example.com"; "*", "l*", "a.*.example.com"
 * are for nothing); an address only against the certificate's IP addresses, byte for
 * byte; the subject's CN only in a certificate without DNS names. See docs/api-tls.md.
 *
 * What curio relies on in wolfSSL (Debian's libwolfssl-dev 5.5.4 has all of it, see
 * docs/api-tls.md): TLS 1.2 and 1.3, SNI, ALPN, custom I/O callbacks, the system CA store
 * (WOLFSSL_SYS_CA_CERTS) and a verify callback that sees the peer's certificate and its
 * names (OPENSSL_EXTRA).
 * Built without wolfSSL (meson option tls), every call here returns -ENOTSUP and
 * curio_tls_available() is false.
 */
#ifndef CURIO_TLS_H
#define CURIO_TLS_H
#ifndef CURIO_H
#error "include <curio.h>, not <curio/tls.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------ */
/* Errors                                                                               */
/* ------------------------------------------------------------------------------------ */

/* Codes of the TLS calls (and of any socket call on a TLS socket); curio_strerror knows
 * them and curio_tls_error tells wolfSSL's own reason. */
#define CURIO_ETLS          (-5040) /* the TLS protocol failed: a fatal alert from the peer
                                       (it rejected our certificate, no common version or
                                       cipher), a corrupt or forged record, a peer that does
                                       not speak TLS (Python's SSLError) */
#define CURIO_ETLS_CERT     (-5041) /* the peer's certificate is not trusted: signed by an
                                       unknown CA, self-signed, a bad signature or chain,
                                       or none presented when one is required
                                       (SSLCertVerificationError) */
#define CURIO_ETLS_EXPIRED  (-5042) /* a certificate of the peer's chain has expired or is
                                       not valid yet */
#define CURIO_ETLS_HOSTNAME (-5043) /* the peer's certificate is valid, but not for the name
                                       or address asked for (server_hostname) */

/* True if curio was built with TLS (wolfSSL). Works anywhere. */
CURIO_API bool curio_tls_available(void);

/* ------------------------------------------------------------------------------------ */
/* Contexts (Curio's ssl.SSLContext)                                                    */
/* ------------------------------------------------------------------------------------ */

/* A context holds the settings and certificates shared by many connections. Opaque,
 * reference-counted, usable from any thread and kernel at once. */
typedef struct curio_tls_context curio_tls_context;

/* Protocol versions (their numbers on the wire). */
enum curio_tls_version {
    CURIO_TLS_DEFAULT = 0,     /* the option's default */
    CURIO_TLS_1_2 = 0x0303,
    CURIO_TLS_1_3 = 0x0304,
};

/*
 * Options for curio_tls_context_new. Zero-initialise; zero means default. The default is
 * Python's ssl.create_default_context(): a client that verifies the server against the
 * system's CA store and checks its name.
 */
typedef struct curio_tls_options {
    bool server;            /* a server context (Purpose.CLIENT_AUTH); needs cert_file;
                               default: a client context */
    const char *cert_file;  /* PEM: this side's certificate, followed by the intermediate
                               certificates of its chain (load_cert_chain's certfile).
                               Required for servers; for clients, a client certificate to
                               present when the server asks. Default none */
    const char *key_file;   /* PEM private key of cert_file (keyfile); default: read it
                               from cert_file */
    const char *ca_file;    /* PEM certificates of the CAs to trust (load_verify_locations'
                               cafile). Clients: instead of the system store. Servers: the
                               CAs that sign client certificates (with verify_client).
                               Default none */
    const char *ca_path;    /* a directory of PEM CA certificates (capath), like ca_file */
    bool no_verify;         /* client: do not verify the server at all (verify_mode
                               CERT_NONE with check_hostname False). For tests only: the
                               connection is then open to anyone in the middle. Default
                               false */
    bool no_check_hostname; /* client: verify the server's chain but not that it names
                               server_hostname (check_hostname = False); default false */
    bool verify_client;     /* server: require a client certificate signed by ca_file or
                               ca_path (verify_mode CERT_REQUIRED); default false */
    enum curio_tls_version min_version; /* the lowest version accepted (Python's
                               minimum_version); default CURIO_TLS_1_2 */
    enum curio_tls_version max_version; /* the highest offered (maximum_version); default
                               CURIO_TLS_1_3 */
    const char *ciphers;    /* the cipher suites, in wolfSSL's (OpenSSL's) ':'-separated
                               names (set_ciphers). Default: TLS 1.3's AES-GCM and
                               ChaCha20-Poly1305 suites, then TLS 1.2's ECDHE ones with
                               AES-GCM or ChaCha20-Poly1305 */
    const char *alpn;       /* ALPN protocols, comma-separated, most preferred first
                               ("h2,http/1.1", set_alpn_protocols). A client offers them, a
                               server picks the first of its list the client offers; no
                               common protocol is not an error (none is selected). Default
                               none */
} curio_tls_options;

/*
 * A new context (create_default_context, then load_cert_chain / load_verify_locations as
 * the options say). opts may be NULL: a default client context. The certificate, key and
 * CA files are read now, with plain blocking file I/O on the calling thread (as Python
 * does), so make contexts before serving, or on a thread (curio_run_in_thread). Not a
 * blocking call; works anywhere. Returns 0 and *out (the caller's reference), or
 * -ENOENT / -EACCES (a file cannot be read), -EINVAL (a file is not PEM of the right kind,
 * the key does not belong to the certificate, a server without cert_file, verify_client
 * without CAs, an unknown cipher or version, max_version below min_version, a bad ALPN
 * list), -ENOMEM, -ENOTSUP (no TLS built in). A ca_path directory is searched for PEM CA
 * certificates; other files in it are skipped.
 * A client without ca_file or ca_path loads the system store: -ENOENT if there is none.
 */
CURIO_API int curio_tls_context_new(curio_tls_context **out, const curio_tls_options *opts);

/* Drop the caller's reference. Sockets wrapped with the context keep their own, so it may
 * be released as soon as the last socket is wrapped. NULL is fine. Never blocks. */
CURIO_API void curio_tls_context_release(curio_tls_context *ctx);

/* ------------------------------------------------------------------------------------ */
/* TLS sockets                                                                          */
/* ------------------------------------------------------------------------------------ */

/*
 * Put TLS on a connected stream socket (Curio's ctx.wrap_socket(sock, server_side=...,
 * server_hostname=...) without the handshake): from now on the socket calls of
 * curio/net.h move plaintext through TLS, as described at the top of this header. Only
 * sets things up: never blocks, no I/O. The handshake runs on curio_tls_handshake or on
 * the first receive or send.
 * server_hostname (clients only; copied) is the name or address the server's certificate
 * must be for (matched as described at the top of this header): a name is also sent as
 * SNI; a numeric IPv4 or IPv6 address (brackets and a %scope allowed) is checked against
 * the certificate's IP addresses only and sent as nothing. It is required when ctx
 * verifies names (the default), and ignored by server contexts (NULL there).
 * The socket's stream, if it already has one, carries TLS from now on too. The context
 * is retained for the socket's life. A TCP socket gets TCP_NODELAY: records already go
 * out gathered, one send per call, and Nagle's algorithm would hold back a small flight
 * sent right after another until the peer's delayed acknowledgement.
 * Returns 0, or -EINVAL (s or ctx NULL, not a stream socket, a verifying client context
 * without server_hostname), -EISCONN (s is a TLS socket already), -EBUSY (its stream holds
 * bytes read ahead, a task is blocked on s, or s is in buffer mode: curio_recv_buf),
 * -EBADF (closed), -ENOMEM, -ENOTSUP.
 */
CURIO_API int curio_tls_wrap(curio_socket *s, curio_tls_context *ctx,
                             const char *server_hostname);

/*
 * Run the TLS handshake on a wrapped socket (do_handshake), states READ_WAIT/WRITE_WAIT.
 * Blocking. Returns 0 once it has completed (at once if it had), or: CURIO_ETLS_CERT,
 * CURIO_ETLS_EXPIRED, CURIO_ETLS_HOSTNAME (this side rejected the peer's certificate; an
 * alert telling why is sent to the peer), CURIO_ETLS (the peer rejected ours, or any other
 * protocol failure), -ECONNRESET (the peer reset or closed the connection during the
 * handshake), -EPIPE, -EBUSY (another task receives or sends on s), -EBADF, -EINVAL (not a
 * TLS socket), -ENOMEM, -ECANCELED, -ETIMEDOUT, -EPERM, -ENOTSUP. TLS failures are sticky
 * (see the top of this header); after -ECANCELED or -ETIMEDOUT the handshake can be
 * called again and continues where it was.
 */
CURIO_API int curio_tls_handshake(curio_socket *s);

/*
 * Send the ciphertext queued on s (after an interrupted send, a shutdown whose
 * close_notify did not fit the socket buffer, a key update answered by a receive),
 * completing a pending shutdown. Blocking (WRITE_WAIT) when something is queued; a
 * cancellation point in any case. Returns 0, or -EPIPE, -ECONNRESET, -EBUSY (another task
 * is sending), -EBADF, -EINVAL (not a TLS socket), -ECANCELED, -ETIMEDOUT, -EPERM, a
 * sticky TLS failure, -ENOTSUP.
 */
CURIO_API int curio_tls_flush(curio_socket *s);

/*
 * Of the plaintext bytes sends have counted as sent on s, how many are not yet out: their
 * records, queued inside the TLS layer after an interrupted send, have not been wholly
 * handed to the kernel (a record partly handed over counts whole: the peer can decrypt
 * none of it). They go out first at the next send, flush, handshake or receive (see
 * "Sending" above). So after an interrupted curio_sendall, *sent - curio_tls_unsent(s) is
 * exactly what the peer can decrypt now, and *sent is what it gets once the queue is
 * flushed. Bytes of a queue dropped by a sending failure stay counted here. 0 for a
 * plain socket or without TLS. Never blocks.
 */
CURIO_API size_t curio_tls_unsent(const curio_socket *s);

/* True if s carries TLS (curio_tls_wrap was called on it). Never blocks. */
CURIO_API bool curio_tls_active(const curio_socket *s);

/* After the handshake: the protocol version ("TLSv1.2", "TLSv1.3"), the cipher suite
 * (wolfSSL's name, such as "TLS13-AES128-GCM-SHA256"), the ALPN protocol selected, and, on
 * a server, the host name the client sent as SNI. NULL before the handshake, for plain
 * sockets and when there is none. The strings stay valid until s is closed. Never block. */
CURIO_API const char *curio_tls_version(const curio_socket *s);
CURIO_API const char *curio_tls_cipher(const curio_socket *s);
CURIO_API const char *curio_tls_alpn(const curio_socket *s);
CURIO_API const char *curio_tls_server_name(const curio_socket *s);

/*
 * Why the last TLS failure on s happened, in wolfSSL's words: writes a NUL-terminated
 * description to buf (cap bytes; cut to fit), such as "ASN no signer error to confirm
 * failure (certificate verify: unable to get local issuer certificate)", and returns
 * wolfSSL's error code (negative), or 0 if no TLS failure occurred on s (buf then holds
 * ""). -EINVAL for NULL. Never blocks; usable until s is closed.
 */
CURIO_API int curio_tls_error(const curio_socket *s, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* CURIO_TLS_H */
