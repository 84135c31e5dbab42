/*
 * channel/channel_wolfcrypt.c - HMAC-SHA256 for the Channel's challenge-response through
 * wolfCrypt, in builds with wolfSSL (meson option tls). Without wolfSSL, curio's own
 * SHA-256 (channel_hmac.c) takes its place.
 */
#include "channel_priv.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hmac.h>

int curio__hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                       uint8_t out[CURIO__SHA256_LEN])
{
    if (keylen > UINT32_MAX)
        return -EINVAL;
    Hmac h;
    int rc = wc_HmacInit(&h, NULL, INVALID_DEVID);
    if (rc != 0)
        return rc == MEMORY_E ? -ENOMEM : -EINVAL;
    rc = wc_HmacSetKey(&h, WC_SHA256, key, (word32)keylen);
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
