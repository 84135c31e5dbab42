/*
 * tls/tls_name.c - whether the server's certificate is for the host a client asked for,
 * as OpenSSL's X509_check_host/X509_check_ip do with the flags Python's ssl sets
 * (RFC 6125): names are compared without regard to ASCII case; a wildcard counts only as
 * the whole left-most label of a name with at least two labels after it, and stands for
 * exactly one label; an address is compared byte for byte with the certificate's iPAddress
 * names and nothing else; the subject's CN is a name only in a certificate without DNS
 * names.
 *
 * wolfSSL's own check is not used: it accepts "*" for any name, "l*" for "localhost", a
 * wildcard in any label, and compares an address with the DNS names and the CN too.
 */
#include "tls_priv.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <wolfssl/openssl/x509v3.h>

/* ---- the host asked for ---- */

int curio__tls_ref_parse(struct curio__tls_ref *ref, const char *host)
{
    *ref = (struct curio__tls_ref){0};
    size_t len = strlen(host);
    /* An address may come bracketed ("[::1]") and with an IPv6 scope ("fe80::1%eth0"). */
    const char *a = host;
    size_t alen = len;
    if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
        a++;
        alen -= 2;
    }
    const char *pct = memchr(a, '%', alen);
    if (pct)
        alen = (size_t)(pct - a);
    char text[INET6_ADDRSTRLEN];
    if (alen < sizeof text) {
        memcpy(text, a, alen);
        text[alen] = 0;
        if (inet_pton(AF_INET, text, ref->addr) == 1) {
            ref->ip = true;
            ref->len = 4;
            return 0;
        }
        if (inet_pton(AF_INET6, text, ref->addr) == 1) {
            ref->ip = true;
            ref->len = 16;
            return 0;
        }
    }
    if (len == 0 || len >= sizeof ref->name)
        return -EINVAL; /* no DNS name is longer than 253 bytes */
    memcpy(ref->name, host, len + 1);
    ref->len = len;
    return 0;
}

/* ---- matching ---- */

static bool ldh(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-';
}

static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static bool same_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

/* The part of "*.example.com" after the star: ".example.com", at least two labels, none
 * empty. With fewer ("*.com", "*.localhost") the star is no wildcard (as OpenSSL). */
static bool wildcard_suffix(const char *s, size_t len)
{
    size_t labels = 0, label = 0;
    for (size_t i = 1; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (label == 0)
                return false;
            labels++;
            label = 0;
        } else {
            label++;
        }
    }
    return labels >= 2;
}

bool curio__tls_dns_match(const char *pattern, size_t plen, const char *host, size_t hlen)
{
    if (plen == 0 || hlen == 0 || memchr(pattern, 0, plen) || memchr(host, 0, hlen))
        return false; /* an embedded NUL hides the rest of a name from C strings */
    const char *star = memchr(pattern, '*', plen);
    if (!star)
        return same_nocase(pattern, plen, host, hlen);
    /* The one wildcard allowed: the whole left-most label. Anything else ("*", "l*",
     * "w*.example.com", "a.*.example.com") matches no host at all. */
    if (star != pattern || plen < 2 || pattern[1] != '.' || memchr(star + 1, '*', plen - 1) ||
        !wildcard_suffix(pattern + 1, plen - 1))
        return false;
    const char *dot = memchr(host, '.', hlen);
    if (!dot || dot == host)
        return false; /* the star stands for one label, not none */
    for (const char *p = host; p < dot; p++)
        if (!ldh((unsigned char)*p))
            return false;
    return same_nocase(pattern + 1, plen - 1, dot, hlen - (size_t)(dot - host));
}

bool curio__tls_ids_match(const struct curio__tls_id *ids, size_t n,
                          const struct curio__tls_ref *ref)
{
    bool dns_names = false;
    for (size_t i = 0; i < n; i++)
        dns_names |= ids[i].type == CURIO__TLS_ID_DNS;
    for (size_t i = 0; i < n; i++) {
        const struct curio__tls_id *id = &ids[i];
        if (ref->ip) {
            if (id->type == CURIO__TLS_ID_IP && id->len == ref->len &&
                memcmp(id->data, ref->addr, ref->len) == 0)
                return true;
        } else if (id->type == CURIO__TLS_ID_DNS || (id->type == CURIO__TLS_ID_CN && !dns_names)) {
            if (curio__tls_dns_match((const char *)id->data, id->len, ref->name, ref->len))
                return true;
        }
    }
    return false;
}

/* ---- the certificate's names ---- */

static size_t cn_count(WOLFSSL_X509_NAME *subject)
{
    size_t n = 0;
    for (int loc = -1;
         subject && (loc = wolfSSL_X509_NAME_get_index_by_NID(subject, NID_commonName, loc)) >= 0;)
        n++;
    return n;
}

static void take(struct curio__tls_id *id, int type, WOLFSSL_ASN1_STRING *s)
{
    /* An empty or unreadable name keeps its type (a DNS name still hides the CN) and
     * matches nothing. */
    int len = s ? wolfSSL_ASN1_STRING_length(s) : 0;
    const unsigned char *data = s ? wolfSSL_ASN1_STRING_get0_data(s) : NULL;
    *id = (struct curio__tls_id){.type = type, .data = data,
                                 .len = data && len > 0 ? (size_t)len : 0};
}

/* 0 if x is for ref, CURIO_ETLS_HOSTNAME if not, -ENOMEM if its names could not be read
 * (then it is rejected: a certificate's SANs, unread, must not let its CN count). */
static int check_cert(WOLFSSL_X509 *x, const struct curio__tls_ref *ref)
{
    WOLF_STACK_OF(WOLFSSL_GENERAL_NAME) *sans =
        wolfSSL_X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (!sans && wolfSSL_X509_get_ext_by_NID(x, NID_subject_alt_name, -1) >= 0)
        return -ENOMEM;
    int nsan = sans ? wolfSSL_sk_GENERAL_NAME_num(sans) : 0;
    WOLFSSL_X509_NAME *subject = wolfSSL_X509_get_subject_name(x);
    size_t n = (size_t)(nsan > 0 ? nsan : 0) + cn_count(subject);
    struct curio__tls_id *ids = calloc(n ? n : 1, sizeof *ids);
    int rc = -ENOMEM;
    if (ids) {
        size_t k = 0;
        for (int i = 0; i < nsan; i++) {
            WOLFSSL_GENERAL_NAME *g = wolfSSL_sk_GENERAL_NAME_value(sans, i);
            int type = !g                    ? CURIO__TLS_ID_OTHER
                       : g->type == GEN_DNS   ? CURIO__TLS_ID_DNS
                       : g->type == GEN_IPADD ? CURIO__TLS_ID_IP
                                              : CURIO__TLS_ID_OTHER;
            take(&ids[k++], type, type == CURIO__TLS_ID_OTHER ? NULL : g->d.ia5);
        }
        for (int loc = -1; k < n && (loc = wolfSSL_X509_NAME_get_index_by_NID(
                                         subject, NID_commonName, loc)) >= 0;)
            take(&ids[k++], CURIO__TLS_ID_CN,
                 wolfSSL_X509_NAME_ENTRY_get_data(wolfSSL_X509_NAME_get_entry(subject, loc)));
        rc = curio__tls_ids_match(ids, k, ref) ? 0 : CURIO_ETLS_HOSTNAME;
        free(ids);
    }
    if (sans)
        wolfSSL_sk_GENERAL_NAME_pop_free(sans, wolfSSL_GENERAL_NAME_free);
    return rc;
}

/* OpenSSL's verify results for these, which wolfSSL does not define. */
enum { VERIFY_HOSTNAME_MISMATCH = 62, VERIFY_IP_ADDRESS_MISMATCH = 64 };

int curio__tls_verify_name(int ok, WOLFSSL_X509_STORE_CTX *store)
{
    /* Called for every certificate of the chain, the server's own at depth 0; only a
     * chain that verified gets its name checked (a failure keeps its own reason). */
    struct curio__tls *t = store->userCtx;
    if (!ok || store->error_depth != 0 || !t || !t->check_name)
        return ok;
    WOLFSSL_X509 *x = wolfSSL_X509_STORE_CTX_get_current_cert(store);
    int rc = x ? check_cert(x, &t->peer) : -ENOMEM;
    if (rc == 0)
        return 1;
    t->name_error = rc;
    if (rc == CURIO_ETLS_HOSTNAME)
        wolfSSL_X509_STORE_CTX_set_error(store, t->peer.ip ? VERIFY_IP_ADDRESS_MISMATCH
                                                           : VERIFY_HOSTNAME_MISMATCH);
    return 0;
}
