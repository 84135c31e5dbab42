/*
 * channel/channel_wolfcrypt.c - HMAC-SHA256 for the Channel's challenge-response, and
 * HMAC-MD5 for its legacy form, through wolfCrypt, in builds with wolfSSL (meson option
 * tls). Without wolfSSL, curio's own SHA-256 and MD5 (channel_hmac.c, channel_md5.c) take
 * their place.
 */
#include "channel_priv.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hmac.h>

/* HMAC of type (WC_SHA256, WC_MD5) into out: 0, -ENOMEM or -EINVAL. */
static int hmac(int type, const void *key, size_t keylen, const void *msg, size_t n,
                uint8_t *out)
{
    if (keylen > UINT32_MAX)
        return -EINVAL;
    Hmac h;
    int rc = wc_HmacInit(&h, NULL, INVALID_DEVID);
    if (rc != 0)
        return rc == MEMORY_E ? -ENOMEM : -EINVAL;
    rc = wc_HmacSetKey(&h, type, key, (word32)keylen);
    const uint8_t *p = msg;
    while (rc == 0 && n) { /* wolfCrypt counts in 32 bits */
        word32 k = n > UINT32_MAX ? UINT32_MAX : (word32)n;
        rc = wc_HmacUpdate(&h, p, k);
        p += k;
        n -= k;
    }
    if (rc == 0)
        rc = wc_HmacFinal(&h, out);
    wc_HmacFree(&h);
    return rc == 0 ? 0 : rc == MEMORY_E ? -ENOMEM : -EINVAL;
}

int curio__hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                       uint8_t out[CURIO__SHA256_LEN])
{
    return hmac(WC_SHA256, key, keylen, msg, n, out);
}

int curio__hmac_md5(const void *key, size_t keylen, const void *msg, size_t n,
                    uint8_t out[CURIO__MD5_LEN])
{
#ifdef NO_MD5 /* a wolfSSL built without MD5 (Debian's has it) */
    (void)key, (void)keylen, (void)msg, (void)n, (void)out;
    return -ENOTSUP;
#else
    return hmac(WC_MD5, key, keylen, msg, n, out);
#endif
}
