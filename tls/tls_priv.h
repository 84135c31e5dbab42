/*
 * tls/tls_priv.h - what the files of tls/ share: the context and the session kept on a
 * socket. Only the files built with wolfSSL include it.
 *
 * The session never waits inside wolfSSL. Its I/O callbacks copy from a buffer of
 * received ciphertext (empty: "want read") and append to a queue of ciphertext to send
 * (which always accepts), so every wolfSSL call returns without a task switch, and curio
 * moves the two buffers with io_uring operations of its own between wolfSSL calls. That is
 * what keeps wolfSSL's state consistent whatever interrupts a task: an operation cut short
 * only leaves bytes in one of the buffers, never a wolfSSL call half-way through.
 */
#ifndef CURIO_NET_TLS_PRIV_H
#define CURIO_NET_TLS_PRIV_H

#include "../net/net.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

struct curio_tls_context {
    WOLFSSL_CTX *wctx;
    _Atomic unsigned refs;       /* the creator's, each wrapped socket's, each server's */
    bool server;
    bool verify;                 /* clients: the server's chain is verified */
    bool check_hostname;         /* clients: and its name (then wrap needs one) */
    char *alpn;                  /* the ALPN list ("h2,http/1.1"), or NULL */
};

/* Ciphertext queued for sending: bytes [start, len) of data. A chunk is never moved or
 * grown while queued: an operation in flight may be reading it, and bytes appended past
 * what that operation took are not in its way. */
typedef struct curio__tls_chunk {
    struct curio__tls_chunk *next;
    size_t start, len, cap;
    char data[];
} curio__tls_chunk;

/* Received ciphertext is read into a buffer of this size, one operation at a time. */
#define CURIO__TLS_IN_CAP (17u * 1024)
/* The plaintext of one record, the most one wolfSSL_write turns into one record. */
#define CURIO__TLS_RECORD 16384u
/* Plaintext encrypted before the queue is sent: the bytes one send operation carries. */
#define CURIO__TLS_BATCH (4u * CURIO__TLS_RECORD)
/* Records of plaintext tracked in the queue: a batch's, and those an interrupted call left
 * (sent before any other is encrypted). More are merged into the newest, which only makes
 * curio_tls_unsent err on the side of "not yet out". */
#define CURIO__TLS_MARKS 8

/* What a client checks the server's certificate against (tls/tls_name.c). */
struct curio__tls_ref {
    bool ip;                     /* an address: only the certificate's iPAddress names count */
    unsigned char addr[16];      /* the address, 4 or 16 bytes */
    size_t len;                  /* bytes of addr, or of name */
    char name[254];              /* a DNS name as given (case kept), NUL-terminated */
};

/* A name the certificate presents: a subjectAltName entry, or a CN of its subject.
 * data is not NUL-terminated; an IP is 4 or 16 bytes in network order. */
enum { CURIO__TLS_ID_DNS = 1, CURIO__TLS_ID_IP, CURIO__TLS_ID_CN, CURIO__TLS_ID_OTHER };
struct curio__tls_id {
    int type;
    const unsigned char *data;
    size_t len;
};

struct curio__tls {
    WOLFSSL *ssl;
    curio_tls_context *ctx;      /* retained */
    curio_socket *sock;          /* the socket it belongs to (its transport_ctx is this;
                                    the tasks inside a TLS call are its gate's reader and
                                    writer: the handshake holds both) */

    /* Received ciphertext: [in_start, in_end) of in is not yet taken by wolfSSL. The
     * buffer is filled only when wolfSSL has taken everything (it said "want read"), so a
     * receive in flight writes past in_end into space nobody reads. NULL until needed. */
    char *in;
    size_t in_start, in_end;

    /* Ciphertext to send, oldest first; out_bytes in all. */
    curio__tls_chunk *out_head, *out_tail;
    size_t out_bytes;

    /* Which of the queue is plaintext already counted as sent (curio_tls_unsent): each
     * record encrypted from a send, by where its ciphertext ends in all the bytes ever
     * queued, and the plaintext it holds; oldest first, dropped once its last byte went to
     * the kernel. */
    struct curio__tls_mark { uint64_t end; size_t plain; } marks[CURIO__TLS_MARKS];
    unsigned mark_first, nmarks;
    uint64_t out_done;           /* ciphertext handed to the kernel, in all */
    size_t unsent;               /* the plaintext of the marks */

    char *stage;                 /* a record's worth of small stream writes gathered into
                                    one record; NULL until needed */

    int fatal;                   /* a TLS failure (CURIO_ETLS*, -ENOMEM): sticky; 0 */
    int wolf_error;              /* wolfSSL's code behind fatal */
    long verify_result;          /* wolfSSL_get_verify_result at the failure */
    int alert;                   /* the fatal alert received that caused it, or -1 */
    int rerr;                    /* the transport failed receiving (-ECONNRESET ...) */
    int werr;                    /* ... or sending (-EPIPE ...); both sticky */
    int shut_how;                /* shutdown(2) to apply once the queue is empty, or -1 */
    bool server;
    bool handshaken;             /* the handshake completed */
    bool eof;                    /* the transport reached end of stream */
    bool peer_closed;            /* the peer's close_notify arrived */
    bool wshut;                  /* our close_notify is queued: no more sends */
    bool alloc_failed;           /* the send callback could not queue a record */
    char *alpn;                  /* the ALPN protocol selected, or NULL */
    char *sni;                   /* servers: the name the client sent as SNI, or NULL */
    bool check_name;             /* clients: the certificate must be for peer */
    int name_error;              /* why the name check rejected it (CURIO_ETLS_HOSTNAME,
                                    -ENOMEM), or 0 */
    struct curio__tls_ref peer;  /* clients: server_hostname, parsed */
};

/* ---- the socket's transport, entering a socket, moving ciphertext (tls_io.c) ---- */

/* The transport table a TLS socket carries (net/net.h; tls_socket.c). */
extern const curio__socket_transport curio__tls_transport CURIO__HIDDEN;

/* s's session, or NULL if s is not a TLS socket. */
static inline struct curio__tls *curio__tls_of(const curio_socket *s)
{
    return s && s->transport == &curio__tls_transport ? s->transport_ctx : NULL;
}

/* Errors that say nothing about the connection: the caller's own interruptions, another
 * task closing the socket, the descriptor's direction taken by a plain call, no memory.
 * The others (-ECONNRESET, -EPIPE ...) are the transport's, and sticky. */
static inline bool curio__tls_interruption(long rc)
{
    return rc == -ETIMEDOUT || rc == -ECANCELED || rc == -EBADF || rc == -EBUSY ||
           rc == -ENOMEM || rc == -EPERM;
}

/* Enter s for the directions in dirs (CURIO__GATE_READ, CURIO__GATE_WRITE: the socket's
 * gate, kernel/gate.h): the trap check, -EBADF once closed, -EBUSY if another task holds
 * one of them or the socket is lent; the gate's user count keeps the handle alive. */
CURIO__HIDDEN int curio__tls_enter(curio_socket *s, unsigned dirs);
/* Leave what enter entered and return rc, or -EBADF if s was closed meanwhile (then s
 * may be freed by this). */
CURIO__HIDDEN ssize_t curio__tls_leave(curio_socket *s, unsigned dirs, ssize_t rc);
/* One receive into the input buffer (once wolfSSL took everything in it). The count, 0 at
 * end of stream, or negative. */
CURIO__HIDDEN ssize_t curio__tls_fill(struct curio__tls *t, curio_socket *s);
/* Send the whole queue, then a pending shutdown(2); the caller holds the write direction. 0 or
 * negative (a transport failure is sticky in t->werr, and drops the queue). */
CURIO__HIDDEN int curio__tls_flush(struct curio__tls *t, curio_socket *s);
/* The same from a receive, unless another task is sending (it sends the queue). */
CURIO__HIDDEN int curio__tls_flush_if_free(struct curio__tls *t, curio_socket *s);
/* Hand the queue to the kernel without waiting, as much as fits (close, shutdown, the
 * alert after a failure). */
CURIO__HIDDEN void curio__tls_push_nowait(struct curio__tls *t, int fd);
CURIO__HIDDEN void curio__tls_drop_queue(struct curio__tls *t);
/* A record holding plain bytes of a send has just been queued (after wolfSSL_write). */
CURIO__HIDDEN void curio__tls_mark(struct curio__tls *t, size_t plain);
/* A shutdown(2) that waited for the queue to empty (t->shut_how), or 0. */
CURIO__HIDDEN int curio__tls_apply_shutdown(struct curio__tls *t, curio_socket *s);

/* ---- host names (tls_name.c) ---- */

/* Parse server_hostname: a numeric IPv4 or IPv6 address (brackets and a %scope allowed),
 * else a DNS name. 0, or -EINVAL (empty, or longer than a DNS name can be). */
CURIO__HIDDEN int curio__tls_ref_parse(struct curio__tls_ref *ref, const char *host);
/* Whether the certificate's DNS name pattern (plen bytes) stands for host (hlen bytes). */
CURIO__HIDDEN bool curio__tls_dns_match(const char *pattern, size_t plen, const char *host,
                                        size_t hlen);
/* Whether a certificate presenting the n names ids is for ref. */
CURIO__HIDDEN bool curio__tls_ids_match(const struct curio__tls_id *ids, size_t n,
                                        const struct curio__tls_ref *ref);
/* The verify callback of name-checking client contexts: checks the server's own
 * certificate (depth 0, once its chain verified) against the session's peer
 * (wolfSSL_SetCertCbCtx gives the session). */
CURIO__HIDDEN int curio__tls_verify_name(int ok, WOLFSSL_X509_STORE_CTX *store);

/* ---- contexts, failures (tls.c) ---- */

/* Map a failed wolfSSL call's error to curio's code, record it as the session's sticky
 * failure (tls/tls.c). */
CURIO__HIDDEN int curio__tls_fail(struct curio__tls *t, int err);

/* Call on a thread before it does TLS work (a handshake, a new context): when it ends,
 * what wolfSSL keeps per thread (its ECC cache) is freed. Cheap after the first call. */
CURIO__HIDDEN void curio__tls_thread_used(void);

/* The default client context for open_connection's ssl (made once per process). */
CURIO__HIDDEN int curio__tls_default_client(curio_tls_context **out);

#endif
