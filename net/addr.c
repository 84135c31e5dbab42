/*
 * net/addr.c - socket addresses: numeric IP and Unix addresses in, text out.
 */
#include "net.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int addr_in4(curio_addr *a, const char *ip, uint16_t port)
{
    struct in_addr in;
    if (inet_pton(AF_INET, ip, &in) != 1)
        return -EINVAL;
    a->u.in.sin_family = AF_INET;
    a->u.in.sin_port = htons(port);
    a->u.in.sin_addr = in;
    a->len = sizeof a->u.in;
    return 0;
}

/* "::1", "[::1]", "fe80::1%eth0", "[fe80::1%2]". */
static int addr_in6(curio_addr *a, const char *ip, uint16_t port)
{
    char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 4];
    size_t n = strlen(ip);
    if (n >= sizeof text)
        return -EINVAL;
    if (ip[0] == '[') {
        if (n < 2 || ip[n - 1] != ']')
            return -EINVAL;
        ip++;
        n -= 2;
    }
    memcpy(text, ip, n);
    text[n] = 0;
    uint32_t scope = 0;
    char *pct = strchr(text, '%');
    if (pct) {
        *pct++ = 0;
        char *end;
        unsigned long v = strtoul(pct, &end, 10);
        if (*pct && !*end && v <= UINT32_MAX)
            scope = (uint32_t)v;
        else if (!*pct || !(scope = if_nametoindex(pct)))
            return *pct ? -ENXIO : -EINVAL;
    }
    struct in6_addr in6;
    if (inet_pton(AF_INET6, text, &in6) != 1)
        return -EINVAL;
    a->u.in6.sin6_family = AF_INET6;
    a->u.in6.sin6_port = htons(port);
    a->u.in6.sin6_addr = in6;
    a->u.in6.sin6_scope_id = scope;
    a->len = sizeof a->u.in6;
    return 0;
}

int curio_addr_ip(curio_addr *a, const char *ip, uint16_t port)
{
    if (!a)
        return -EINVAL;
    memset(a, 0, sizeof *a);
    if (!ip || !*ip)
        ip = "0.0.0.0";
    int rc = addr_in4(a, ip, port);
    if (rc < 0)
        rc = addr_in6(a, ip, port);
    if (rc < 0)
        memset(a, 0, sizeof *a);
    return rc;
}

int curio_addr_unix(curio_addr *a, const char *path)
{
    if (!a || !path || !*path)
        return -EINVAL;
    memset(a, 0, sizeof *a);
    size_t n = strlen(path);
    bool abstract = path[0] == '@';
    /* A path keeps its NUL inside sun_path; an abstract name is counted by len alone. */
    if (abstract ? n > sizeof a->u.un.sun_path : n >= sizeof a->u.un.sun_path)
        return -ENAMETOOLONG;
    a->u.un.sun_family = AF_UNIX;
    memcpy(a->u.un.sun_path, path, n);
    if (abstract)
        a->u.un.sun_path[0] = 0;
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + !abstract);
    return 0;
}

int curio_addr_port(const curio_addr *a)
{
    if (a && a->len >= sizeof(struct sockaddr_in) && a->u.sa.sa_family == AF_INET)
        return ntohs(a->u.in.sin_port);
    if (a && a->len >= sizeof(struct sockaddr_in6) && a->u.sa.sa_family == AF_INET6)
        return ntohs(a->u.in6.sin6_port);
    return -EAFNOSUPPORT;
}

static int format_unix(const curio_addr *a, char *buf, size_t cap)
{
    size_t off = offsetof(struct sockaddr_un, sun_path);
    if (a->len <= off)
        return snprintf(buf, cap, "(unnamed)");
    const char *p = a->u.un.sun_path;
    size_t n = a->len - off;
    if (n > sizeof a->u.un.sun_path)
        n = sizeof a->u.un.sun_path;
    if (p[0] == 0) /* abstract: every byte of the name counts, NULs included */
        return snprintf(buf, cap, "@%.*s", (int)(n - 1), p + 1);
    return snprintf(buf, cap, "%.*s", (int)strnlen(p, n), p);
}

static int format_in6(const curio_addr *a, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN], scope[IF_NAMESIZE + 2] = "";
    inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof ip);
    uint32_t id = a->u.in6.sin6_scope_id;
    if (id) {
        char name[IF_NAMESIZE];
        if (if_indextoname(id, name))
            snprintf(scope, sizeof scope, "%%%s", name);
        else
            snprintf(scope, sizeof scope, "%%%u", (unsigned)id);
    }
    return snprintf(buf, cap, "[%s%s]:%u", ip, scope, (unsigned)ntohs(a->u.in6.sin6_port));
}

int curio_addr_format(const curio_addr *a, char *buf, size_t cap)
{
    if (!a || !buf)
        return -EINVAL;
    int n;
    char ip[INET_ADDRSTRLEN];
    if (a->len == 0) {
        n = snprintf(buf, cap, "(none)");
    } else if (a->u.sa.sa_family == AF_UNIX) {
        n = format_unix(a, buf, cap);
    } else if (a->u.sa.sa_family == AF_INET && a->len >= sizeof a->u.in) {
        inet_ntop(AF_INET, &a->u.in.sin_addr, ip, sizeof ip);
        n = snprintf(buf, cap, "%s:%u", ip, (unsigned)ntohs(a->u.in.sin_port));
    } else if (a->u.sa.sa_family == AF_INET6 && a->len >= sizeof a->u.in6) {
        n = format_in6(a, buf, cap);
    } else {
        n = snprintf(buf, cap, "(family %d)", a->u.sa.sa_family);
    }
    return (size_t)n >= cap ? -ENOSPC : n;
}

int curio__addr_first(curio_addr *a, const struct addrinfo *list)
{
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        if (ai->ai_addrlen <= sizeof a->u) {
            a->len = ai->ai_addrlen;
            memcpy(&a->u, ai->ai_addr, ai->ai_addrlen);
            return 0;
        }
    }
    return -ENOENT;
}
