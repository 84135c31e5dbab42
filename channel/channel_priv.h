/*
 * channel/channel_priv.h - what the files of channel/ share: HMAC-SHA256
 * (channel_wolfcrypt.c or channel_hmac.c), the constant-time comparison (channel_auth.c)
 * and the connection's layout (channel.c, channel_conn.c, channel_auth.c).
 */
#ifndef CURIO_NET_CHANNEL_PRIV_H
#define CURIO_NET_CHANNEL_PRIV_H

#include "../net/net.h"

#include <string.h>

/* ---- HMAC-SHA256 (RFC 2104) ---- */

#define CURIO__SHA256_LEN 32

/* HMAC-SHA256 of msg under key (any lengths) into out: 0, or -ENOMEM or -EINVAL when
 * wolfCrypt fails. wolfCrypt's in builds with wolfSSL (channel_wolfcrypt.c), else curio's
 * own (channel_hmac.c). */
CURIO__HIDDEN int curio__hmac_sha256(const void *key, size_t keylen, const void *msg,
                                     size_t n, uint8_t out[CURIO__SHA256_LEN]);

/* ---- HMAC-MD5, for the legacy authentication only (curio_channel_options.legacy_md5) ---- */

#define CURIO__MD5_LEN 16

/* HMAC-MD5 of msg under key into out: 0, or -ENOMEM or -EINVAL when wolfCrypt fails,
 * -ENOTSUP when the build's wolfCrypt has no MD5. wolfCrypt's in builds with wolfSSL
 * (channel_wolfcrypt.c), else curio's own (channel_md5.c). */
CURIO__HIDDEN int curio__hmac_md5(const void *key, size_t keylen, const void *msg, size_t n,
                                  uint8_t out[CURIO__MD5_LEN]);

/* The 64-byte block buffering that curio's own MD5 and SHA-256 share: feed n bytes at p
 * to compress one whole block at a time, keeping a partial block in block[0..*used). */
static inline void curio__hash_feed(uint32_t *h, uint8_t block[64], size_t *used,
                                    const uint8_t *p, size_t n,
                                    void (*compress)(uint32_t *h, const uint8_t *b))
{
    if (*used) {
        size_t k = 64 - *used < n ? 64 - *used : n;
        memcpy(block + *used, p, k);
        *used += k;
        p += k;
        n -= k;
        if (*used < 64)
            return;
        compress(h, block);
        *used = 0;
    }
    for (; n >= 64; p += 64, n -= 64)
        compress(h, p);
    memcpy(block, p, n);
    *used = n;
}

/* curio's own MD5 (RFC 1321), built without wolfSSL only (channel_md5.c). */
typedef struct curio__md5 {
    uint32_t h[4];
    uint64_t bytes;              /* hashed so far */
    uint8_t block[64];           /* a partial block: the first `used` bytes */
    size_t used;
} curio__md5;

CURIO__HIDDEN void curio__md5_init(curio__md5 *s);
CURIO__HIDDEN void curio__md5_update(curio__md5 *s, const void *data, size_t n);
CURIO__HIDDEN void curio__md5_final(curio__md5 *s, uint8_t out[CURIO__MD5_LEN]);

/* a[0..n) == b[0..n), in time that does not depend on where they differ (channel_auth.c;
 * wolfCrypt does not export its own). */
CURIO__HIDDEN bool curio__ct_equal(const void *a, const void *b, size_t n);

/* curio's own SHA-256 (FIPS 180-4), built without wolfSSL only (channel_hmac.c). */
typedef struct curio__sha256 {
    uint32_t h[8];
    uint64_t bytes;              /* hashed so far */
    uint8_t block[64];           /* a partial block: the first `used` bytes */
    size_t used;
} curio__sha256;

CURIO__HIDDEN void curio__sha256_init(curio__sha256 *s);
CURIO__HIDDEN void curio__sha256_update(curio__sha256 *s, const void *data, size_t n);
CURIO__HIDDEN void curio__sha256_final(curio__sha256 *s, uint8_t out[CURIO__SHA256_LEN]);

/* ---- connections ---- */

struct curio_connection {
    curio_socket *sock;
    curio_stream *stream;        /* the socket's own (as_stream) */
    size_t max_message;
    curio__gate gate;            /* calls in progress and one task per direction (-EBUSY):
                                    the rule of kernel/gate.h */
    int broken;                  /* sticky: a failure after which framing is lost */
    bool legacy_md5;             /* the options' legacy_md5: accept the HMAC-MD5 form */

    /* Receiving: the message in progress survives an interruption. hdr holds hdr_got
     * bytes of its header (4, or 4 + 8 for the long form); once have_len, len is its
     * size, and its first msg_got bytes are in msg (NULL: none yet). */
    uint8_t hdr[12];
    size_t hdr_got;
    bool have_len;
    uint64_t len;
    char *msg;
    size_t msg_got;

    /* Sending: the unsent rest of a committed message, [pending_off, pending_len). */
    char *pending;
    size_t pending_off, pending_len;
};

/* Keep c alive across several calls on it (the authentication): another task may close
 * it meanwhile, and then the release returns -EBADF instead of rc (and may free c). */
CURIO__HIDDEN int curio__connection_hold(curio_connection *c);
CURIO__HIDDEN int curio__connection_release(curio_connection *c, int rc);

#endif
