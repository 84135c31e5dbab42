/*
 * fuzz/channel_auth.c - the Channel's authentication (curio_connection_authenticate_server
 * and _client) against a peer driven by the input.
 *
 * The first control byte picks curio's role and the key's length (the key's bytes follow);
 * the rest is a script for the peer, which plays the other role over a socketpair: at each
 * of its three turns to send, one byte chooses what it sends: the message that the
 * protocol wants (its challenge, the right answer, "#WELCOME#"), that message with one
 * byte changed, a framed message of arbitrary bytes (some longer than the protocol
 * allows), arbitrary unframed bytes and then the end of its side, or only the end. The
 * peer checks what curio sends (a well-formed challenge, the right answer, the verdict its
 * own answer deserves), computing HMAC-SHA256 with wolfSSL's implementation, not curio's.
 *
 * The model: curio succeeds exactly when each message it received is an accepting one
 * (for the answer, only the right HMAC, which a peer that does not follow the script
 * cannot forge); a peer that keeps to the framing otherwise gets exactly CURIO_EAUTH
 * (CURIO_EAUTH_LEGACY when it answered with 16 bytes, the length of the legacy HMAC-MD5
 * form, which a connection without legacy_md5 refuses as such), and one that ends early or
 * breaks the framing gets one of the connection's clean errors.
 */
#include "fuzz.h"

#include <curio.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include <signal.h>
#include <string.h>
#include <unistd.h>

static const char CHALLENGE[] = "#CHALLENGE#{sha256}"; /* then the nonce */
static const char DIGEST[] = "{sha256}";               /* then the MAC */
static const char WELCOME[] = "#WELCOME#";
static const char FAILURE[] = "#FAILURE#";
#define PREFIX (sizeof CHALLENGE - 1)
#define ANSWER (sizeof DIGEST - 1 + 32)
#define MAX_AUTH 256 /* the longest message either side accepts */

struct run {
    bool curio_server;
    uint8_t key[96];
    size_t keylen;
    const uint8_t *script;  /* the peer's choices and bytes */
    size_t nscript, at;
    int fd[2];

    /* What happened, for the model. */
    bool stopped;           /* the peer ended its side early (choices 3, 4) */
    bool hmac_scripted;     /* the peer's answer to curio's challenge was the right one */
    int accepting;          /* messages sent that curio must accept */
    bool framing_broken;    /* the peer sent unframed bytes */
    bool legacy_answer;     /* the peer answered in the legacy form's length (16 bytes) */
    uint8_t last[600];      /* the peer's last framed message */
    size_t last_len;
};

static uint8_t next_byte(struct run *r) { return r->at < r->nscript ? r->script[r->at++] : 0; }

static void hmac(const struct run *r, const uint8_t *m, size_t n, uint8_t out[32])
{
    Hmac h;
    CHECK(wc_HmacInit(&h, NULL, INVALID_DEVID) == 0, "wc_HmacInit");
    CHECK(wc_HmacSetKey(&h, WC_SHA256, r->key, (word32)r->keylen) == 0, "wc_HmacSetKey");
    CHECK(wc_HmacUpdate(&h, m, (word32)n) == 0 && wc_HmacFinal(&h, out) == 0, "wc_Hmac");
    wc_HmacFree(&h);
}

static bool write_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = curio_write(fd, p, n);
        if (w <= 0)
            return false; /* curio's side was closed after its failure */
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    return true;
}

static bool read_all(int fd, void *p, size_t n)
{
    while (n) {
        ssize_t g = curio_read(fd, p, n);
        if (g <= 0)
            return false;
        p = (char *)p + g;
        n -= (size_t)g;
    }
    return true;
}

/* One of curio's messages (all short), or -1 at the end of its side. */
static long read_frame(struct run *r, uint8_t *buf)
{
    uint8_t h[4];
    if (!read_all(r->fd[1], h, 4))
        return -1;
    uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    CHECK(n <= MAX_AUTH, "curio sent a %u-byte message", n);
    CHECK(read_all(r->fd[1], buf, n), "curio's message ended early");
    return (long)n;
}

static void send_frame(struct run *r, const uint8_t *m, size_t n)
{
    uint8_t h[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    if (write_all(r->fd[1], h, 4))
        write_all(r->fd[1], m, n);
}

/* The peer's turn to send: want (n bytes) is what curio must accept; accepts(m, n) says
 * whether it accepts another message. Returns false once the peer has ended its side. */
static bool peer_send(struct run *r, const uint8_t *want, size_t n,
                      bool (*accepts)(const struct run *, const uint8_t *, size_t),
                      bool is_answer)
{
    uint8_t m[600];
    size_t len = n;
    memcpy(m, want, n);
    switch (next_byte(r) % 5) {
    case 0:
        break;
    case 1: { /* one byte changed */
        size_t i = next_byte(r) % n;
        m[i] ^= next_byte(r) | 1;
        break;
    }
    case 2: /* a framed message of arbitrary bytes, up to twice the protocol's limit */
        len = (size_t)next_byte(r) * 2;
        for (size_t i = 0; i < len; i++)
            m[i] = next_byte(r);
        break;
    case 3: /* unframed bytes, then the end */
        len = next_byte(r);
        for (size_t i = 0; i < len; i++)
            m[i] = next_byte(r);
        write_all(r->fd[1], m, len);
        r->framing_broken = true;
        /* fall through */
    default:
        shutdown(r->fd[1], SHUT_WR);
        r->stopped = true;
        return false;
    }
    send_frame(r, m, len);
    memcpy(r->last, m, len);
    r->last_len = len;
    bool ok = accepts(r, m, len);
    r->accepting += ok;
    if (is_answer && ok)
        r->hmac_scripted = true;
    if (is_answer && len == 16)
        r->legacy_answer = true;
    return true;
}

static const uint8_t *curio_nonce; /* the challenge curio sent (after its prefix) */
static size_t curio_nonce_len;

static bool is_challenge(const struct run *r, const uint8_t *m, size_t n)
{
    (void)r;
    /* 20 bytes after "#CHALLENGE#" are the legacy form, whatever they are */
    return n > PREFIX && n <= MAX_AUTH && n != sizeof "#CHALLENGE#" - 1 + 20 &&
           memcmp(m, CHALLENGE, PREFIX) == 0;
}

static bool is_welcome(const struct run *r, const uint8_t *m, size_t n)
{
    (void)r;
    return n == sizeof WELCOME - 1 && memcmp(m, WELCOME, n) == 0;
}

static void answer_to(const struct run *r, const uint8_t *challenge, size_t n, uint8_t *out)
{
    memcpy(out, DIGEST, sizeof DIGEST - 1);
    hmac(r, challenge + sizeof "#CHALLENGE#" - 1, n - (sizeof "#CHALLENGE#" - 1),
         out + sizeof DIGEST - 1);
}

static bool is_right_answer(const struct run *r, const uint8_t *m, size_t n)
{
    uint8_t want[ANSWER];
    answer_to(r, curio_nonce, curio_nonce_len, want);
    return n == ANSWER && memcmp(m, want, ANSWER) == 0;
}

/* Curio challenges: check its challenge and answer it as the script says. */
static bool peer_answers(struct run *r)
{
    static uint8_t ch[MAX_AUTH];
    long n = read_frame(r, ch);
    if (n < 0)
        return false;
    CHECK(n == (long)PREFIX + 40 && memcmp(ch, CHALLENGE, PREFIX) == 0,
          "curio's challenge: %ld bytes", n);
    curio_nonce = ch;
    curio_nonce_len = (size_t)n;
    uint8_t answer[ANSWER];
    answer_to(r, ch, (size_t)n, answer);
    if (!peer_send(r, answer, sizeof answer, is_right_answer, true))
        return false;
    /* Its verdict: WELCOME for the right answer, FAILURE for another short message, and
     * nothing for one longer than the protocol allows (it just fails). */
    uint8_t v[MAX_AUTH];
    long vn = read_frame(r, v);
    if (r->hmac_scripted) {
        CHECK(vn == 9 && memcmp(v, WELCOME, 9) == 0, "curio's verdict on the right answer");
    } else if (r->last_len <= MAX_AUTH) {
        CHECK(vn == 9 && memcmp(v, FAILURE, 9) == 0, "curio's verdict on a wrong answer");
    } else {
        CHECK(vn < 0, "curio's verdict on an overlong answer");
    }
    return vn >= 0 && r->hmac_scripted;
}

/* The peer challenges: check curio's answer, then send the script's verdict. */
static bool peer_challenges(struct run *r)
{
    uint8_t ch[PREFIX + 40];
    memcpy(ch, CHALLENGE, PREFIX);
    for (size_t i = PREFIX; i < sizeof ch; i++)
        ch[i] = next_byte(r);
    size_t before = (size_t)r->accepting;
    if (!peer_send(r, ch, sizeof ch, is_challenge, false))
        return false;
    bool valid = (size_t)r->accepting > before;
    uint8_t a[MAX_AUTH];
    long an = read_frame(r, a);
    if (!valid) {
        CHECK(an < 0, "curio answered a malformed challenge");
        return false;
    }
    /* The answer to the challenge the peer really sent (changed in a byte, yet valid). */
    uint8_t want[ANSWER];
    answer_to(r, r->last, r->last_len, want);
    CHECK(an == (long)ANSWER && memcmp(a, want, ANSWER) == 0, "curio's answer (%ld bytes)",
          an);
    return true;
}

static long peer_task(void *arg)
{
    struct run *r = arg;
    if (r->curio_server) {
        if (peer_answers(r) && peer_challenges(r))
            peer_send(r, (const uint8_t *)WELCOME, 9, is_welcome, false);
    } else {
        if (peer_challenges(r) && peer_send(r, (const uint8_t *)WELCOME, 9, is_welcome, false))
            peer_answers(r);
    }
    /* Drain until curio's side is closed. */
    uint8_t sink[256];
    while (curio_read(r->fd[1], sink, sizeof sink) > 0)
        ;
    return 0;
}

static long main_task(void *arg)
{
    struct run *r = arg;
    curio_socket *sock;
    CHECK(curio_socket_wrap(&sock, r->fd[0]) == 0, "socket_wrap");
    curio_connection *c;
    CHECK(curio_connection_open(&c, sock, NULL) == 0, "connection_open");
    curio_task *p = curio_spawn(peer_task, r);
    CHECK(p, "spawn");
    int rc = r->curio_server ? curio_connection_authenticate_server(c, r->key, r->keylen)
                             : curio_connection_authenticate_client(c, r->key, r->keylen);
    curio_connection_close(c);
    CHECK(curio_join(p, NULL) == 0, "join");
    curio_task_release(p);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "curio %s: %d; %d accepting messages%s%s\n",
                r->curio_server ? "server" : "client", rc, r->accepting,
                r->stopped ? ", the peer stopped" : "", r->hmac_scripted ? ", right HMAC" : "");

    if (rc == 0) {
        CHECK(r->hmac_scripted, "accepted without the right answer");
        CHECK(r->framing_broken || r->accepting == 3, "accepted %d good messages of 3",
              r->accepting);
    } else if (!r->stopped) {
        CHECK(rc == (r->legacy_answer ? CURIO_EAUTH_LEGACY : CURIO_EAUTH), "a framed refusal: %d",
              rc);
        CHECK(r->accepting < 3, "refused (%d) though every message was right", rc);
    } else if (r->legacy_answer) {
        /* refused on the legacy answer itself, before the peer's end mattered */
        CHECK(rc == CURIO_EAUTH_LEGACY, "a legacy answer, then the end: %d", rc);
    } else {
        /* Unframed bytes may happen to form a frame, of 16 bytes too (a legacy answer). */
        CHECK(rc == CURIO_EAUTH || rc == CURIO_ECLOSED || rc == CURIO_EINCOMPLETE ||
                  rc == -EPROTO || rc == -EMSGSIZE ||
                  (r->framing_broken && rc == CURIO_EAUTH_LEGACY),
              "an early end: %d", rc);
    }
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run r = {0};
    uint8_t ctl = size ? data[0] : 0;
    size_t at = size ? 1 : 0;
    r.curio_server = ctl & 1;
    r.keylen = (ctl >> 1) % sizeof r.key;
    for (size_t i = 0; i < r.keylen; i++)
        r.key[i] = at < size ? data[at++] : (uint8_t)i;
    r.script = data + at;
    r.nscript = size - at;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r.fd) == 0, "socketpair");
    long res = -1;
    int rc = curio_run(main_task, &r, NULL, &res);
    CHECK(rc == 0 && res == 0, "curio_run: %d, %ld", rc, res);
    close(r.fd[1]);
    return 0;
}
