/*
 * The Channel's HMAC-SHA256 and HMAC-MD5 (channel/channel_priv.h: wolfCrypt's with wolfSSL,
 * else curio's own), and curio's own SHA-256, MD5 and HMACs (channel/channel_hmac.c,
 * channel_md5.c) in every build: FIPS 180-4's examples, RFC 1321's test suite, RFC 4231's
 * HMAC-SHA256 and RFC 2202's HMAC-MD5 test vectors, hashing in pieces of every awkward
 * size, agreement with wolfCrypt's HMAC on random input (when built with it), and the
 * constant-time comparison.
 */
#include "testutil.h"
#include "../../channel/channel_priv.h"

#include <stdlib.h>

#if CURIO_TEST_TLS
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>

/* The library's HMAC is wolfCrypt's and its own SHA-256 is not built in: this test builds
 * it (channel_hmac.c), its HMAC under another name, to check it all the same. */
#define curio__hmac_sha256 own_hmac_sha256
int own_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                    uint8_t out[CURIO__SHA256_LEN]);
#include "../../channel/channel_hmac.c"
#undef curio__hmac_sha256
/* The same for MD5 (channel_md5.c); its compress() and tables renamed out of the way. */
#define curio__hmac_md5 own_hmac_md5
#define compress md5_compress
#define T md5_T
#define S md5_S
#define rol md5_rol
int own_hmac_md5(const void *key, size_t keylen, const void *msg, size_t n,
                 uint8_t out[CURIO__MD5_LEN]);
#include "../../channel/channel_md5.c"
#undef curio__hmac_md5
#undef compress
#undef T
#undef S
#undef rol
#else
#define own_hmac_sha256 curio__hmac_sha256
#define own_hmac_md5 curio__hmac_md5
#endif

static void hex(const char *h, uint8_t *out, size_t *n)
{
    size_t len = strlen(h) / 2;
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    *n = len;
}

static void expect_digest(const uint8_t *d, const char *want, size_t len)
{
    char got[65];
    for (size_t i = 0; i < len; i++)
        snprintf(got + 2 * i, 3, "%02x", d[i]);
    cr_assert_str_eq(got, want);
}

static void sha(const void *m, size_t n, uint8_t out[32])
{
    curio__sha256 s;
    curio__sha256_init(&s);
    curio__sha256_update(&s, m, n);
    curio__sha256_final(&s, out);
}

Test(channel_hmac, sha256_examples)
{
    uint8_t d[32];
    sha("", 0, d);
    expect_digest(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 32);
    sha("abc", 3, d);
    expect_digest(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", 32);
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha(two, strlen(two), d);
    expect_digest(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", 32);
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    sha(a, 1000000, d);
    expect_digest(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", 32);
    free(a);
}

/* Every length from 0 to 300 (all padding cases), fed in pieces of 1, 63, 64 and 65. */
Test(channel_hmac, sha256_in_pieces)
{
    uint8_t data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    const size_t pieces[] = {1, 63, 64, 65};
    for (size_t n = 0; n <= sizeof data; n++) {
        uint8_t whole[32];
        sha(data, n, whole);
        for (size_t p = 0; p < 4; p++) {
            curio__sha256 s;
            curio__sha256_init(&s);
            for (size_t at = 0; at < n; at += pieces[p])
                curio__sha256_update(&s, data + at, n - at < pieces[p] ? n - at : pieces[p]);
            uint8_t d[32];
            curio__sha256_final(&s, d);
            cr_assert_eq(memcmp(d, whole, 32), 0, "length %zu in pieces of %zu", n, pieces[p]);
        }
    }
}

/* RFC 4231, section 4: test cases 1 to 7. */
Test(channel_hmac, rfc4231)
{
    static const struct {
        const char *key, *data, *mac;
    } v[] = {
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
         "dddddddddddddddd",
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {"0102030405060708090a0b0c0d0e0f10111213141516171819",
         "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
         "cdcdcdcdcdcdcdcd",
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {"0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "546573742057697468205472756e636174696f6e",
         "a3b6167473100ee06e0c796c2955552b"}, /* truncated to 128 bits, as the RFC gives it */
        {NULL, "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d"
               "2048617368204b6579204669727374",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {NULL, "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f63"
               "6b2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a652064"
               "6174612e20546865206b6579206e6565647320746f20626520686173686564206265666f72652062"
               "65696e6720757365642062792074686520484d414320616c676f726974686d2e",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t key[131], data[256], mac[32];
        size_t klen, dlen;
        if (v[i].key) {
            hex(v[i].key, key, &klen);
        } else {
            memset(key, 0xaa, sizeof key); /* cases 6 and 7: 131 bytes of 0xaa */
            klen = sizeof key;
        }
        hex(v[i].data, data, &dlen);
        cr_assert_eq(own_hmac_sha256(key, klen, data, dlen, mac), 0);
        expect_digest(mac, v[i].mac, strlen(v[i].mac) / 2);
        memset(mac, 0, sizeof mac);
        cr_assert_eq(curio__hmac_sha256(key, klen, data, dlen, mac), 0); /* the Channel's */
        expect_digest(mac, v[i].mac, strlen(v[i].mac) / 2);
    }
}

/* An empty key (multiprocessing accepts b''): HMAC-SHA256("", "") and with a message. */
Test(channel_hmac, empty_key)
{
    uint8_t mac[32];
    cr_assert_eq(curio__hmac_sha256("", 0, "", 0, mac), 0);
    expect_digest(mac, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", 32);
    cr_assert_eq(own_hmac_sha256("", 0, "", 0, mac), 0);
    expect_digest(mac, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", 32);
    cr_assert_eq(curio__hmac_sha256("", 0, "abc", 3, mac), 0);
    uint8_t own[32];
    cr_assert_eq(own_hmac_sha256("", 0, "abc", 3, own), 0);
    cr_assert_eq(memcmp(mac, own, 32), 0);
}

#if CURIO_TEST_TLS
/* The same MACs as wolfCrypt's for keys and messages of random lengths. */
Test(channel_hmac, agrees_with_wolfcrypt)
{
    srand(4231);
    for (int round = 0; round < 500; round++) {
        uint8_t key[200], msg[600], ours[32], theirs[32];
        size_t klen = (size_t)rand() % sizeof key + 1, mlen = (size_t)rand() % sizeof msg;
        for (size_t i = 0; i < klen; i++)
            key[i] = (uint8_t)rand();
        for (size_t i = 0; i < mlen; i++)
            msg[i] = (uint8_t)rand();
        cr_assert_eq(own_hmac_sha256(key, klen, msg, mlen, ours), 0);
        Hmac h;
        cr_assert_eq(wc_HmacInit(&h, NULL, INVALID_DEVID), 0);
        cr_assert_eq(wc_HmacSetKey(&h, WC_SHA256, key, (word32)klen), 0);
        cr_assert_eq(wc_HmacUpdate(&h, msg, (word32)mlen), 0);
        cr_assert_eq(wc_HmacFinal(&h, theirs), 0);
        wc_HmacFree(&h);
        cr_assert_eq(memcmp(ours, theirs, 32), 0, "round %d: key %zu, message %zu bytes", round,
                     klen, mlen);
    }
}
#endif

/* ---- MD5 and HMAC-MD5 (the legacy form of the authentication) ---- */

static void md5(const void *m, size_t n, uint8_t out[16])
{
    curio__md5 s;
    curio__md5_init(&s);
    curio__md5_update(&s, m, n);
    curio__md5_final(&s, out);
}

/* RFC 1321, appendix A.5, and a million 'a's. */
Test(channel_hmac, md5_test_suite)
{
    static const struct {
        const char *msg, *digest;
    } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"1234567890123456789012345678901234567890123456789012345678901234567890123456789"
         "0",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    uint8_t d[16];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        md5(v[i].msg, strlen(v[i].msg), d);
        expect_digest(d, v[i].digest, 16);
    }
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    md5(a, 1000000, d);
    expect_digest(d, "7707d6ae4e027c70eea2a935c2296f21", 16);
    free(a);
}

/* Every length from 0 to 300 (all padding cases), fed in pieces of 1, 63, 64 and 65. */
Test(channel_hmac, md5_in_pieces)
{
    uint8_t data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    const size_t pieces[] = {1, 63, 64, 65};
    for (size_t n = 0; n <= sizeof data; n++) {
        uint8_t whole[16];
        md5(data, n, whole);
        for (size_t p = 0; p < 4; p++) {
            curio__md5 s;
            curio__md5_init(&s);
            for (size_t at = 0; at < n; at += pieces[p])
                curio__md5_update(&s, data + at, n - at < pieces[p] ? n - at : pieces[p]);
            uint8_t d[16];
            curio__md5_final(&s, d);
            cr_assert_eq(memcmp(d, whole, 16), 0, "length %zu in pieces of %zu", n, pieces[p]);
        }
    }
}

/* RFC 2202, section 2: test cases 1 to 7; and the empty key. */
Test(channel_hmac, rfc2202)
{
    static const struct {
        const char *key, *data, *mac;
    } v[] = {
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
         "9294727a3638bb1c13f48ef8158bfc9d"},
        {"4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
         "750c783e6ab0b503eaa86e310a5db738"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
         "dddddddddddddddd",
         "56be34521d144c88dbb8c733f0e8b3f6"},
        {"0102030405060708090a0b0c0d0e0f10111213141516171819",
         "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
         "cdcdcdcdcdcdcdcd",
         "697eaf0aca3a3aea3a75164746ffaa79"},
        {"0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "546573742057697468205472756e636174696f6e",
         "56461ef2342edc00f9bab995690efd4c"},
        {NULL, "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d"
               "2048617368204b6579204669727374",
         "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"},
        {NULL, "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b657920"
               "616e64204c6172676572205468616e204f6e6520426c6f636b2d53697a652044617461",
         "6f630fad67cda0ee1fb1f562db3aa53e"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t key[80], data[128], mac[16];
        size_t klen, dlen;
        if (v[i].key) {
            hex(v[i].key, key, &klen);
        } else {
            memset(key, 0xaa, sizeof key); /* cases 6 and 7: 80 bytes of 0xaa */
            klen = sizeof key;
        }
        hex(v[i].data, data, &dlen);
        cr_assert_eq(own_hmac_md5(key, klen, data, dlen, mac), 0);
        expect_digest(mac, v[i].mac, 16);
        memset(mac, 0, sizeof mac);
        cr_assert_eq(curio__hmac_md5(key, klen, data, dlen, mac), 0); /* the Channel's */
        expect_digest(mac, v[i].mac, 16);
    }
    uint8_t mac[16];
    cr_assert_eq(curio__hmac_md5("", 0, "", 0, mac), 0);
    expect_digest(mac, "74e6f7298a9c2d168935f58c001bad88", 16);
    cr_assert_eq(own_hmac_md5("", 0, "", 0, mac), 0);
    expect_digest(mac, "74e6f7298a9c2d168935f58c001bad88", 16);
}

#if CURIO_TEST_TLS
/* The same HMAC-MD5s as wolfCrypt's for keys and messages of random lengths. */
Test(channel_hmac, md5_agrees_with_wolfcrypt)
{
    srand(2202);
    for (int round = 0; round < 500; round++) {
        uint8_t key[200], msg[600], ours[16], theirs[16];
        size_t klen = (size_t)rand() % sizeof key + 1, mlen = (size_t)rand() % sizeof msg;
        for (size_t i = 0; i < klen; i++)
            key[i] = (uint8_t)rand();
        for (size_t i = 0; i < mlen; i++)
            msg[i] = (uint8_t)rand();
        cr_assert_eq(own_hmac_md5(key, klen, msg, mlen, ours), 0);
        Hmac h;
        cr_assert_eq(wc_HmacInit(&h, NULL, INVALID_DEVID), 0);
        cr_assert_eq(wc_HmacSetKey(&h, WC_MD5, key, (word32)klen), 0);
        cr_assert_eq(wc_HmacUpdate(&h, msg, (word32)mlen), 0);
        cr_assert_eq(wc_HmacFinal(&h, theirs), 0);
        wc_HmacFree(&h);
        cr_assert_eq(memcmp(ours, theirs, 16), 0, "round %d: key %zu, message %zu bytes", round,
                     klen, mlen);
    }
}
#endif

Test(channel_hmac, constant_time_comparison)
{
    uint8_t a[40], b[40];
    memset(a, 7, sizeof a);
    memcpy(b, a, sizeof b);
    cr_assert(curio__ct_equal(a, b, sizeof a));
    cr_assert(curio__ct_equal(a, b, 0));
    for (size_t i = 0; i < sizeof a; i++) {
        b[i] ^= 1;
        cr_assert(!curio__ct_equal(a, b, sizeof a), "a difference at byte %zu", i);
        b[i] ^= 1;
    }
}
