/*
 * channel/channel_md5.c - MD5 (RFC 1321) and HMAC-MD5 (RFC 2104) for the Channel's legacy
 * authentication (Python before 3.12; curio_channel_options.legacy_md5) in builds without
 * wolfSSL (with it, wolfCrypt's HMAC does this: channel_wolfcrypt.c). Used for nothing
 * else. tests/net/test_channel_hmac.c checks them against RFC 1321's test suite and RFC
 * 2202's HMAC-MD5 vectors in every build, and against wolfCrypt when it is there.
 */
#include "channel_priv.h"

#include <string.h>

/* floor(abs(sin(i + 1)) * 2^32), i = 0..63. */
static const uint32_t T[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
    0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
    0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
    0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
    0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
    0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
    0xeb86d391,
};

/* The left rotations of each round's four steps. */
static const unsigned S[4][4] = {
    {7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

static inline uint32_t rol(uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); }

static void compress(uint32_t *h, const uint8_t *b)
{
    uint32_t x[16];
    for (int i = 0; i < 16; i++) /* little-endian words */
        x[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
               (uint32_t)b[4 * i + 3] << 24;
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3];
    for (unsigned i = 0; i < 64; i++) {
        uint32_t f;
        unsigned k;
        switch (i / 16) {
        case 0:
            f = (bb & c) | (~bb & d);
            k = i;
            break;
        case 1:
            f = (bb & d) | (c & ~d);
            k = (5 * i + 1) % 16;
            break;
        case 2:
            f = bb ^ c ^ d;
            k = (3 * i + 5) % 16;
            break;
        default:
            f = c ^ (bb | ~d);
            k = (7 * i) % 16;
            break;
        }
        uint32_t next = bb + rol(a + f + T[i] + x[k], S[i / 16][i % 4]);
        a = d;
        d = c;
        c = bb;
        bb = next;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
}

void curio__md5_init(curio__md5 *s)
{
    static const uint32_t iv[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    memcpy(s->h, iv, sizeof iv);
    s->bytes = 0;
    s->used = 0;
}

void curio__md5_update(curio__md5 *s, const void *data, size_t n)
{
    s->bytes += n;
    curio__hash_feed(s->h, s->block, &s->used, data, n, compress);
}

void curio__md5_final(curio__md5 *s, uint8_t out[CURIO__MD5_LEN])
{
    uint64_t bits = s->bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (s->used < 56 ? 56 : 120) - s->used; /* up to 8 bytes short of a block */
    for (int i = 0; i < 8; i++) /* the length in bits, little-endian */
        pad[padlen + (size_t)i] = (uint8_t)(bits >> (8 * i));
    curio__md5_update(s, pad, padlen + 8);
    for (int i = 0; i < 4; i++) {
        out[4 * i] = (uint8_t)s->h[i];
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 3] = (uint8_t)(s->h[i] >> 24);
    }
}

int curio__hmac_md5(const void *key, size_t keylen, const void *msg, size_t n,
                    uint8_t out[CURIO__MD5_LEN])
{
    uint8_t k[64] = {0}, pad[64];
    curio__md5 s;
    if (keylen > 64) { /* a long key is hashed first */
        curio__md5_init(&s);
        curio__md5_update(&s, key, keylen);
        curio__md5_final(&s, k);
    } else if (keylen) {
        memcpy(k, key, keylen);
    }
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    curio__md5_init(&s);
    curio__md5_update(&s, pad, 64);
    curio__md5_update(&s, msg, n);
    uint8_t inner[CURIO__MD5_LEN];
    curio__md5_final(&s, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    curio__md5_init(&s);
    curio__md5_update(&s, pad, 64);
    curio__md5_update(&s, inner, sizeof inner);
    curio__md5_final(&s, out);
    return 0;
}
