/*
 * tls/tls.c - TLS contexts (Curio's ssl.SSLContext) on wolfSSL, and what a failed wolfSSL
 * call means in curio's codes.
 */
#include "tls_priv.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

/* TLS 1.3's AEAD suites, then TLS 1.2's forward-secret AEAD ones (Mozilla's
 * "intermediate" choice): no CBC, RC4, NULL or anonymous suites, which Debian's wolfSSL is
 * built to allow. */
static const char default_ciphers[] =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* Debian's bundle of the system store: one file parses faster than the directory. */
static const char system_bundle[] = "/etc/ssl/certs/ca-certificates.crt";

bool curio_tls_available(void) { return true; }

/* wolfSSL_Init once per process; a failure (out of memory) is tried again next time. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static bool initialised;

static int init(void)
{
    pthread_mutex_lock(&init_lock);
    if (!initialised)
        initialised = wolfSSL_Init() == WOLFSSL_SUCCESS;
    bool ok = initialised;
    pthread_mutex_unlock(&init_lock);
    return ok ? 0 : -ENOMEM;
}

/* ---- what wolfSSL keeps per thread ---- */

/* Debian's wolfSSL is built with FP_ECC and thread-local storage: each thread that does
 * ECC arithmetic (a handshake, loading a key) fills a cache of precomputed points of its
 * own, about 4 MiB, and nothing frees it when the thread ends (tests/net/test_tls_threads.c
 * measured +64 MiB for 16 threads). A key whose destructor frees it is set on every thread
 * that does TLS work; the kernel layer, below TLS, knows nothing of it. The main thread
 * runs no destructors at exit, and needs none. */
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static bool thread_key_made;
static __thread bool thread_registered;

static void thread_ends(void *unused)
{
    (void)unused;
#ifdef FP_ECC
    wc_ecc_fp_free(); /* this thread's cache only (HAVE_THREAD_LS) */
#endif
}

static void make_thread_key(void)
{
    thread_key_made = pthread_key_create(&thread_key, thread_ends) == 0;
}

void curio__tls_thread_used(void)
{
    if (thread_registered)
        return;
    pthread_once(&thread_key_once, make_thread_key);
    /* Any non-NULL value runs the destructor; without a key (none left), or without
     * memory for the value, the cache stays behind as before, and the next call tries
     * again. */
    if (thread_key_made && pthread_setspecific(thread_key, &thread_key) == 0)
        thread_registered = true;
}

/* ---- wolfSSL's I/O callbacks: copies between the session and its two buffers ---- */

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    (void)ssl;
    struct curio__tls *t = arg;
    size_t have = t->in_end - t->in_start;
    if (have == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ; /* curio receives, then calls wolfSSL again */
    size_t n = have < (size_t)sz ? have : (size_t)sz;
    memcpy(buf, t->in + t->in_start, n);
    t->in_start += n;
    return (int)n;
}

static curio__tls_chunk *chunk_new(size_t need)
{
    /* Handshake messages and small records share a small chunk; a bulk send fills a
     * large one with a batch of records, which then go in one operation. */
    size_t cap = need <= 2048 ? 4096 : CURIO__TLS_BATCH + 4 * 512;
    if (cap < need)
        cap = need;
    curio__tls_chunk *c = malloc(sizeof *c + cap);
    if (c)
        *c = (curio__tls_chunk){.cap = cap};
    return c;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    (void)ssl;
    struct curio__tls *t = arg;
    size_t n = (size_t)sz;
    curio__tls_chunk *c = t->out_tail;
    if (!c || c->cap - c->len < n) {
        if (!(c = chunk_new(n))) {
            t->alloc_failed = true; /* the record is lost: the session cannot go on */
            return WOLFSSL_CBIO_ERR_GENERAL;
        }
        if (t->out_tail)
            t->out_tail->next = c;
        else
            t->out_head = c;
        t->out_tail = c;
    }
    memcpy(c->data + c->len, buf, n);
    c->len += n;
    t->out_bytes += n;
    return sz;
}

/* ---- failures ---- */

static bool cert_error(int err)
{
    if (err <= ASN_PARSE_E && err >= ASN_CRIT_EXT_E)
        return true; /* a certificate that does not parse, or whose signature fails */
    switch (err) {
    case ASN_NO_SIGNER_E: case ASN_SELF_SIGNED_E: case ASN_PATHLEN_INV_E:
    case ASN_PATHLEN_SIZE_E: case VERIFY_CERT_ERROR: case NO_PEER_CERT:
        return true;
    default:
        return false;
    }
}

int curio__tls_fail(struct curio__tls *t, int err)
{
    long v = wolfSSL_get_verify_result(t->ssl);
    int code;
    if (t->name_error == CURIO_ETLS_HOSTNAME)
        err = t->peer.ip ? IPADDR_MISMATCH : DOMAIN_NAME_MISMATCH; /* what wolfSSL would say */
    if (t->alloc_failed || t->name_error == -ENOMEM || err == MEMORY_E || err == MEMORY_ERROR)
        code = -ENOMEM;
    else if (err == DOMAIN_NAME_MISMATCH || err == IPADDR_MISMATCH)
        code = CURIO_ETLS_HOSTNAME;
    else if (err == ASN_AFTER_DATE_E || err == ASN_BEFORE_DATE_E ||
             v == X509_V_ERR_CERT_HAS_EXPIRED || v == X509_V_ERR_CERT_NOT_YET_VALID)
        code = CURIO_ETLS_EXPIRED;
    else if (v != X509_V_OK || cert_error(err))
        code = CURIO_ETLS_CERT;
    else
        code = CURIO_ETLS;
    if (!t->fatal) {
        t->fatal = code;
        t->wolf_error = err;
        t->verify_result = v;
        WOLFSSL_ALERT_HISTORY h;
        t->alert = err == FATAL_ERROR && wolfSSL_get_alert_history(t->ssl, &h) == WOLFSSL_SUCCESS
                       ? h.last_rx.code
                       : -1;
    }
    wolfSSL_ERR_clear_error(); /* wolfSSL's per-thread queue would keep every failure */
    return t->fatal;
}

/* ---- contexts ---- */

/* A file wolfSSL is to read: its own errors do not tell "missing" from "not PEM". */
static int readable(const char *path) { return access(path, R_OK) < 0 ? -errno : 0; }

static int load_cas(curio_tls_context *c, const curio_tls_options *o)
{
    int rc;
    if (o->ca_file && (rc = readable(o->ca_file)) < 0)
        return rc;
    if (o->ca_path && (rc = readable(o->ca_path)) < 0)
        return rc;
    if (o->ca_file &&
        wolfSSL_CTX_load_verify_locations(c->wctx, o->ca_file, NULL) != WOLFSSL_SUCCESS)
        return -EINVAL;
    /* A directory is searched as OpenSSL's capath is: files that are no CA certificate
     * (keys, other certificates) are passed over. */
    if (o->ca_path && wolfSSL_CTX_load_verify_locations_ex(
                          c->wctx, NULL, o->ca_path,
                          WOLFSSL_LOAD_FLAG_IGNORE_ERR | WOLFSSL_LOAD_FLAG_PEM_CA_ONLY) !=
                          WOLFSSL_SUCCESS)
        return -EINVAL;
    if (o->ca_file || o->ca_path)
        return 0;
    if (o->server || !c->verify)
        return 0;
    if (readable(system_bundle) == 0 &&
        wolfSSL_CTX_load_verify_locations(c->wctx, system_bundle, NULL) == WOLFSSL_SUCCESS)
        return 0;
    return wolfSSL_CTX_load_system_CA_certs(c->wctx) == WOLFSSL_SUCCESS ? 0 : -ENOENT;
}

static int load_own(curio_tls_context *c, const curio_tls_options *o)
{
    if (!o->cert_file)
        return o->server || o->key_file ? -EINVAL : 0;
    const char *key = o->key_file ? o->key_file : o->cert_file;
    int rc = readable(o->cert_file);
    if (rc == 0)
        rc = readable(key);
    if (rc < 0)
        return rc;
    if (wolfSSL_CTX_use_certificate_chain_file(c->wctx, o->cert_file) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_use_PrivateKey_file(c->wctx, key, WOLFSSL_FILETYPE_PEM) !=
            WOLFSSL_SUCCESS ||
        wolfSSL_CTX_check_private_key(c->wctx) != WOLFSSL_SUCCESS)
        return -EINVAL;
    return 0;
}

/* An ALPN list as wolfSSL takes it: comma-separated names of 1 to 255 bytes. */
static int copy_alpn(curio_tls_context *c, const char *alpn)
{
    if (!alpn)
        return 0;
    size_t len = strlen(alpn), item = 0;
    if (len == 0 || len > 65535)
        return -EINVAL;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || alpn[i] == ',') {
            if (item == 0 || item > 255)
                return -EINVAL;
            item = 0;
        } else {
            item++;
        }
    }
    return (c->alpn = strdup(alpn)) ? 0 : -ENOMEM;
}

/* A version option as wolfSSL (and the wire) numbers it; 0 for a bad one. */
static int version(enum curio_tls_version v, enum curio_tls_version dflt)
{
    if (v == CURIO_TLS_DEFAULT)
        v = dflt;
    return v == CURIO_TLS_1_2 || v == CURIO_TLS_1_3 ? (int)v : 0;
}

static int configure(curio_tls_context *c, const curio_tls_options *o)
{
    int rc;
    int lo = version(o->min_version, CURIO_TLS_1_2), hi = version(o->max_version, CURIO_TLS_1_3);
    if (!lo || !hi || lo > hi)
        return -EINVAL;
    if (wolfSSL_CTX_set_min_proto_version(c->wctx, lo) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_max_proto_version(c->wctx, hi) != WOLFSSL_SUCCESS)
        return -EINVAL;
    if (wolfSSL_CTX_set_cipher_list(c->wctx, o->ciphers ? o->ciphers : default_ciphers) !=
        WOLFSSL_SUCCESS)
        return -EINVAL;
    if ((rc = copy_alpn(c, o->alpn)) < 0 || (rc = load_cas(c, o)) < 0 ||
        (rc = load_own(c, o)) < 0)
        return rc;
    int mode = WOLFSSL_VERIFY_NONE;
    if (o->server && o->verify_client) {
        if (!o->ca_file && !o->ca_path)
            return -EINVAL;
        mode = WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    } else if (!o->server && c->verify) {
        mode = WOLFSSL_VERIFY_PEER;
    }
    /* Names are checked by curio (tls/tls_name.c), not wolfSSL, which matches loosely. */
    wolfSSL_CTX_set_verify(c->wctx, mode, c->check_hostname ? curio__tls_verify_name : NULL);
    wolfSSL_CTX_SetIORecv(c->wctx, io_recv);
    wolfSSL_CTX_SetIOSend(c->wctx, io_send);
    return 0;
}

int curio_tls_context_new(curio_tls_context **out, const curio_tls_options *opts)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    curio_tls_options none = {0};
    const curio_tls_options *o = opts ? opts : &none;
    int rc = init();
    if (rc < 0)
        return rc;
    curio__tls_thread_used(); /* loading a key may fill this thread's ECC cache */
    curio_tls_context *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->refs = 1;
    c->server = o->server;
    c->verify = !o->server && !o->no_verify;
    c->check_hostname = c->verify && !o->no_check_hostname;
    WOLFSSL_METHOD *m = o->server ? wolfTLS_server_method() : wolfTLS_client_method();
    rc = -ENOMEM;
    if (m && (c->wctx = wolfSSL_CTX_new(m))) /* the context owns m from here on */
        rc = configure(c, o);
    if (rc < 0) {
        curio_tls_context_release(c);
        wolfSSL_ERR_clear_error();
        return rc;
    }
    *out = c;
    return 0;
}

curio_tls_context *curio__tls_context_retain(curio_tls_context *ctx)
{
    if (ctx)
        ctx->refs++;
    return ctx;
}

void curio_tls_context_release(curio_tls_context *ctx)
{
    if (!ctx || --ctx->refs > 0)
        return;
    if (ctx->wctx)
        wolfSSL_CTX_free(ctx->wctx);
    free(ctx->alpn);
    free(ctx);
}

int curio__tls_context_check_server(const curio_tls_context *ctx)
{
    return ctx->server ? 0 : -EINVAL;
}

/* ---- the default client context (open_connection's ssl=True) ---- */

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static curio_tls_context *default_client; /* kept for the process's life */

int curio__tls_default_client(curio_tls_context **out)
{
    int rc = 0;
    pthread_mutex_lock(&default_lock);
    if (!default_client)
        rc = curio_tls_context_new(&default_client, NULL);
    *out = default_client;
    pthread_mutex_unlock(&default_lock);
    return rc;
}
