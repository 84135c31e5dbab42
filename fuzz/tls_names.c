/*
 * fuzz/tls_names.c - the TLS client's host-name checks (tls/tls_name.c:
 * curio__tls_ref_parse, curio__tls_dns_match, curio__tls_ids_match) against a model
 * written here from RFC 6125 and OpenSSL's X509_check_host rules as Python's ssl uses
 * them: ASCII case does not count; a wildcard is only the whole left-most label "*" of a
 * pattern with at least two (non-empty) labels after it, and stands for exactly one
 * non-empty label of letters, digits and hyphens; an embedded NUL matches nothing; a host
 * that is an IPv4 or IPv6 address (possibly bracketed, with a scope) is compared only with
 * the iPAddress names, byte for byte; the CN counts only without DNS names.
 *
 * The input: a mode byte, then for dns_match a pattern length byte, the pattern and the
 * host; for the others the host (up to a NUL) and then the certificate's names, each a
 * type byte, a length byte and the bytes.
 */
#include "fuzz.h"
#include "tls_priv.h"

#include <arpa/inet.h>
#include <string.h>

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static bool letter_digit_hyphen(char c)
{
    c = lower(c);
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* Labels of s (n bytes) split on '.', lower-cased; returns their count, or -1 if one is
 * empty. */
#define MAXL 300
static int labels(const char *s, size_t n, char out[][MAXL + 1], int max)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        if (i == start || k == max)
            return -1;
        size_t len = i - start;
        for (size_t j = 0; j < len; j++)
            out[k][j] = lower(s[start + j]);
        out[k][len] = 0;
        k++;
        start = i + 1;
    }
    return k;
}

static bool model_dns_match(const char *p, size_t pl, const char *h, size_t hl)
{
    if (pl == 0 || hl == 0 || pl > MAXL || hl > MAXL || memchr(p, 0, pl) || memchr(h, 0, hl))
        return false;
    if (!memchr(p, '*', pl)) {
        if (pl != hl)
            return false;
        for (size_t i = 0; i < pl; i++)
            if (lower(p[i]) != lower(h[i]))
                return false;
        return true;
    }
    if (pl < 4 || p[0] != '*' || p[1] != '.' || memchr(p + 1, '*', pl - 1))
        return false;
    static char pls[MAXL][MAXL + 1], hls[MAXL][MAXL + 1];
    int np = labels(p + 2, pl - 2, pls, MAXL);
    if (np < 2)
        return false;
    /* The host: one more label than the pattern's rest; its first only LDH characters
     * (hls keeps its first, checked on the original bytes). */
    const char *dot = memchr(h, '.', hl);
    if (!dot || dot == h)
        return false;
    for (const char *c = h; c < dot; c++)
        if (!letter_digit_hyphen(*c))
            return false;
    int nh = labels(dot + 1, hl - (size_t)(dot + 1 - h), hls, MAXL);
    if (nh != np)
        return false;
    for (int i = 0; i < np; i++)
        if (strcmp(pls[i], hls[i]) != 0)
            return false;
    return true;
}

/* An IPv4 address in dotted-quad form only: four decimal numbers up to 255, no leading
 * zeros (as inet_pton). */
static bool model_ipv4(const char *s, uint8_t out[4])
{
    for (int part = 0; part < 4; part++) {
        if (part > 0 && *s++ != '.')
            return false;
        int digits = 0, v = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && s[-digits] == '0'))
            return false;
        out[part] = (uint8_t)v;
    }
    return *s == 0;
}

struct model_ref {
    int rc;
    bool ip;
    uint8_t addr[16];
    size_t len;
};

static struct model_ref model_parse(const char *host)
{
    struct model_ref m = {0};
    size_t n = strlen(host);
    char text[MAXL + 1];
    const char *a = host;
    size_t an = n;
    if (an >= 2 && a[0] == '[' && a[an - 1] == ']') {
        a++;
        an -= 2;
    }
    const char *pct = memchr(a, '%', an);
    if (pct)
        an = (size_t)(pct - a);
    if (an <= MAXL) {
        memcpy(text, a, an);
        text[an] = 0;
        if (model_ipv4(text, m.addr)) {
            m.ip = true;
            m.len = 4;
            return m;
        }
        if (an < INET6_ADDRSTRLEN && inet_pton(AF_INET6, text, m.addr) == 1) {
            m.ip = true;
            m.len = 16;
            return m;
        }
    }
    if (n == 0 || n > 253)
        m.rc = -EINVAL;
    m.len = n;
    return m;
}

static bool model_ids_match(const struct curio__tls_id *ids, size_t k, const struct model_ref *m,
                            const char *host)
{
    bool any_dns = false;
    for (size_t i = 0; i < k; i++)
        any_dns |= ids[i].type == CURIO__TLS_ID_DNS;
    for (size_t i = 0; i < k; i++) {
        if (m->ip) {
            if (ids[i].type == CURIO__TLS_ID_IP && ids[i].len == m->len &&
                memcmp(ids[i].data, m->addr, m->len) == 0)
                return true;
            continue;
        }
        bool name = ids[i].type == CURIO__TLS_ID_DNS ||
                    (ids[i].type == CURIO__TLS_ID_CN && !any_dns);
        if (name && model_dns_match((const char *)ids[i].data, ids[i].len, host, strlen(host)))
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 2;
    data++;
    size--;
    if (mode == 0) {
        size_t pl = size ? data[0] : 0;
        if (size)
            data++, size--;
        if (pl > size)
            pl = size;
        const char *p = (const char *)data, *h = (const char *)data + pl;
        size_t hl = size - pl;
        if (hl > MAXL)
            return 0; /* no name is that long; the model's arrays are not */
        bool got = curio__tls_dns_match(p, pl, h, hl);
        bool want = model_dns_match(p, pl, h, hl);
        CHECK(got == want, "dns_match(\"%.*s\", \"%.*s\"): %d, model %d", (int)pl, p, (int)hl,
              h, got, want);
        return 0;
    }
    /* The host, as a C string. */
    const uint8_t *nul = memchr(data, 0, size);
    size_t hl = nul ? (size_t)(nul - data) : size;
    char *host = malloc(hl + 1);
    CHECK(host, "malloc");
    memcpy(host, data, hl);
    host[hl] = 0;
    data += hl + (nul ? 1 : 0);
    size -= hl + (nul ? 1 : 0);

    struct curio__tls_ref ref;
    int rc = curio__tls_ref_parse(&ref, host);
    struct model_ref m = model_parse(host);
    CHECK(rc == m.rc, "ref_parse(\"%s\"): %d, model %d", host, rc, m.rc);
    if (rc == 0) {
        CHECK(ref.ip == m.ip && ref.len == m.len, "ref_parse(\"%s\"): ip %d len %zu, model %d %zu",
              host, ref.ip, ref.len, m.ip, m.len);
        if (m.ip)
            CHECK(memcmp(ref.addr, m.addr, m.len) == 0, "ref_parse(\"%s\"): other address", host);
        else
            CHECK(strcmp(ref.name, host) == 0, "ref_parse(\"%s\"): name \"%s\"", host, ref.name);

        struct curio__tls_id ids[32];
        size_t k = 0;
        while (size >= 2 && k < 32) {
            ids[k].type = 1 + data[0] % 4;
            size_t len = data[1] < size - 2 ? data[1] : size - 2;
            ids[k].data = data + 2;
            ids[k].len = len;
            data += 2 + len;
            size -= 2 + len;
            k++;
        }
        bool got = curio__tls_ids_match(ids, k, &ref);
        bool want = model_ids_match(ids, k, &m, host);
        CHECK(got == want, "ids_match(%zu names, \"%s\"): %d, model %d", k, host, got, want);
    }
    free(host);
    return 0;
}
