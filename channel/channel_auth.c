/*
 * channel/channel_auth.c - the Channel's authentication: a challenge-response in each
 * direction on a shared key, in the form of Python 3.12's multiprocessing.connection
 * (deliver_challenge / answer_challenge) with HMAC-SHA256:
 *
 *   challenger -> answerer   "#CHALLENGE#" "{sha256}" <40 random bytes>
 *   answerer -> challenger   "{sha256}" HMAC-SHA256(key, "{sha256}" <40 random bytes>)
 *   challenger -> answerer   "#WELCOME#" or "#FAILURE#"
 *
 * and, with the connection's legacy_md5 only, the legacy form of Python 3.11 and older as
 * Python 3.12 accepts it: the answer may be a bare HMAC-MD5 (16 bytes, told apart by its
 * length) of the same challenge, and a challenge of a bare 20 random bytes (no digest
 * name) is answered with their bare HMAC-MD5. Without legacy_md5 either is
 * CURIO_EAUTH_LEGACY. Each message is one framed message of the connection; the server
 * challenges first.
 */
#include "channel_priv.h"

#include <string.h>
#include <sys/random.h>

static const char CHALLENGE[] = "#CHALLENGE#";
static const char DIGEST[] = "{sha256}";
static const char WELCOME[] = "#WELCOME#";
static const char FAILURE[] = "#FAILURE#";

enum {
    CHALLENGE_LEN = sizeof CHALLENGE - 1,
    DIGEST_LEN = sizeof DIGEST - 1,
    NONCE_LEN = 40,                               /* multiprocessing's MESSAGE_LENGTH */
    ANSWER_LEN = DIGEST_LEN + CURIO__SHA256_LEN,  /* "{sha256}" and the MAC */
    MAX_AUTH_MESSAGE = 256,                       /* what either side accepts */
    LEGACY_NONCE_LEN = 20,                        /* a legacy challenge: 20 bare bytes */
    LEGACY_ANSWER_LEN = CURIO__MD5_LEN,           /* a legacy answer: the bare MAC */
};

static int random_bytes(uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* The answer to challenge message m (everything after "#CHALLENGE#"): 0 or negative. */
static int answer_for(const void *key, size_t keylen, const uint8_t *m, size_t n,
                      uint8_t out[ANSWER_LEN])
{
    memcpy(out, DIGEST, DIGEST_LEN);
    return curio__hmac_sha256(key, keylen, m, n, out + DIGEST_LEN);
}

bool curio__ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b; /* volatile: no early exit compiled in */
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

/* One authentication message; anything longer than the protocol allows is a failure. */
static ssize_t recv_auth(curio_connection *c, uint8_t buf[MAX_AUTH_MESSAGE])
{
    ssize_t n = curio_connection_recv_into(c, buf, MAX_AUTH_MESSAGE);
    return n == -EOVERFLOW ? CURIO_EAUTH : n;
}

static int deliver_challenge(curio_connection *c, const void *key, size_t keylen)
{
    uint8_t msg[CHALLENGE_LEN + DIGEST_LEN + NONCE_LEN];
    memcpy(msg, CHALLENGE, CHALLENGE_LEN);
    memcpy(msg + CHALLENGE_LEN, DIGEST, DIGEST_LEN);
    int rc = random_bytes(msg + CHALLENGE_LEN + DIGEST_LEN, NONCE_LEN);
    if (rc == 0)
        rc = curio_connection_send(c, msg, sizeof msg);
    if (rc < 0)
        return rc;
    uint8_t got[MAX_AUTH_MESSAGE], want[ANSWER_LEN];
    ssize_t n = recv_auth(c, got);
    if (n < 0)
        return (int)n;
    if ((rc = answer_for(key, keylen, msg + CHALLENGE_LEN, sizeof msg - CHALLENGE_LEN,
                         want)) < 0)
        return rc;
    bool ok = false;
    int why = CURIO_EAUTH;
    if (n == ANSWER_LEN) {
        ok = curio__ct_equal(got, want, ANSWER_LEN);
    } else if (n == LEGACY_ANSWER_LEN && !c->legacy_md5) {
        why = CURIO_EAUTH_LEGACY;
    } else if (n == LEGACY_ANSWER_LEN) { /* a legacy answerer: a bare HMAC-MD5 of the same */
        uint8_t md5[CURIO__MD5_LEN];
        if ((rc = curio__hmac_md5(key, keylen, msg + CHALLENGE_LEN, sizeof msg - CHALLENGE_LEN,
                                  md5)) < 0)
            return rc;
        ok = curio__ct_equal(got, md5, sizeof md5);
    }
    rc = ok ? curio_connection_send(c, WELCOME, sizeof WELCOME - 1)
            : curio_connection_send(c, FAILURE, sizeof FAILURE - 1);
    return ok ? rc : why;
}

static int answer_challenge(curio_connection *c, const void *key, size_t keylen)
{
    uint8_t msg[MAX_AUTH_MESSAGE];
    ssize_t n = recv_auth(c, msg);
    if (n < 0)
        return (int)n;
    int rc;
    bool legacy = (size_t)n == CHALLENGE_LEN + LEGACY_NONCE_LEN;
    if (legacy && memcmp(msg, CHALLENGE, CHALLENGE_LEN) == 0) {
        /* multiprocessing's legacy form: a bare 20-byte nonce, a bare HMAC-MD5 answer */
        if (!c->legacy_md5)
            return CURIO_EAUTH_LEGACY;
        uint8_t answer[LEGACY_ANSWER_LEN];
        rc = curio__hmac_md5(key, keylen, msg + CHALLENGE_LEN, LEGACY_NONCE_LEN, answer);
        if (rc == 0)
            rc = curio_connection_send(c, answer, sizeof answer);
    } else {
        /* The sha256 form; not another digest. */
        if ((size_t)n <= CHALLENGE_LEN + DIGEST_LEN || memcmp(msg, CHALLENGE, CHALLENGE_LEN) ||
            memcmp(msg + CHALLENGE_LEN, DIGEST, DIGEST_LEN))
            return CURIO_EAUTH;
        uint8_t answer[ANSWER_LEN];
        rc = answer_for(key, keylen, msg + CHALLENGE_LEN, (size_t)n - CHALLENGE_LEN, answer);
        if (rc == 0)
            rc = curio_connection_send(c, answer, sizeof answer);
    }
    if (rc < 0)
        return rc;
    if ((n = recv_auth(c, msg)) < 0)
        return (int)n;
    return n == sizeof WELCOME - 1 && memcmp(msg, WELCOME, (size_t)n) == 0 ? 0 : CURIO_EAUTH;
}

/* Both sides of it, in the order of the side's role. A failed authentication leaves the
 * connection unusable: every later call returns why. */
static int authenticate(curio_connection *c, const void *key, size_t keylen, bool server)
{
    if (!c || !key)
        return -EINVAL;
    int rc = curio__trap_check(curio__self());
    if (rc == 0)
        rc = curio__connection_hold(c);
    if (rc < 0)
        return rc;
    rc = server ? deliver_challenge(c, key, keylen) : answer_challenge(c, key, keylen);
    if (rc == 0)
        rc = server ? answer_challenge(c, key, keylen) : deliver_challenge(c, key, keylen);
    if (rc < 0 && !c->broken)
        c->broken = rc;
    return curio__connection_release(c, rc);
}

int curio_connection_authenticate_server(curio_connection *c, const void *authkey,
                                         size_t keylen)
{
    return authenticate(c, authkey, keylen, true);
}

int curio_connection_authenticate_client(curio_connection *c, const void *authkey,
                                         size_t keylen)
{
    return authenticate(c, authkey, keylen, false);
}
