/*
 * Addresses: numeric IPv4/IPv6 and Unix addresses in, text out, ports.
 */
#include "nettest.h"

#include <net/if.h>

static const char *fmt(const curio_addr *a)
{
    static char buf[CURIO_ADDR_STRLEN];
    int n = curio_addr_format(a, buf, sizeof buf);
    cr_assert_geq(n, 0);
    cr_assert_eq((size_t)n, strlen(buf));
    return buf;
}

Test(addr, ipv4)
{
    curio_addr a;
    cr_assert_eq(curio_addr_ip(&a, "127.0.0.1", 25000), 0);
    cr_assert_eq(a.u.sa.sa_family, AF_INET);
    cr_assert_eq(a.len, sizeof(struct sockaddr_in));
    cr_assert_eq(curio_addr_port(&a), 25000);
    cr_assert_str_eq(fmt(&a), "127.0.0.1:25000");
}

Test(addr, empty_and_null_are_any_ipv4)
{
    curio_addr a;
    cr_assert_eq(curio_addr_ip(&a, "", 80), 0);
    cr_assert_str_eq(fmt(&a), "0.0.0.0:80");
    cr_assert_eq(curio_addr_ip(&a, NULL, 0), 0);
    cr_assert_str_eq(fmt(&a), "0.0.0.0:0");
}

Test(addr, ipv6_plain_bracketed_and_scoped)
{
    curio_addr a;
    cr_assert_eq(curio_addr_ip(&a, "::1", 443), 0);
    cr_assert_eq(a.u.sa.sa_family, AF_INET6);
    cr_assert_eq(a.len, sizeof(struct sockaddr_in6));
    cr_assert_str_eq(fmt(&a), "[::1]:443");
    cr_assert_eq(curio_addr_ip(&a, "[2001:db8::7]", 1), 0);
    cr_assert_str_eq(fmt(&a), "[2001:db8::7]:1");
    cr_assert_eq(curio_addr_ip(&a, "fe80::1%1", 9), 0);
    cr_assert_eq(a.u.in6.sin6_scope_id, 1u);
    char lo[IF_NAMESIZE];
    cr_assert_not_null(if_indextoname(1, lo));
    char want[64];
    snprintf(want, sizeof want, "[fe80::1%%%s]:9", lo);
    cr_assert_str_eq(fmt(&a), want);
    char byname[64];
    snprintf(byname, sizeof byname, "fe80::1%%%s", lo);
    cr_assert_eq(curio_addr_ip(&a, byname, 9), 0);
    cr_assert_eq(a.u.in6.sin6_scope_id, 1u);
    cr_assert_eq(curio_addr_ip(&a, "fe80::1%nosuchif0", 9), -ENXIO);
}

Test(addr, names_and_garbage_are_einval)
{
    curio_addr a;
    cr_assert_eq(curio_addr_ip(&a, "localhost", 1), -EINVAL);
    cr_assert_eq(curio_addr_ip(&a, "1.2.3", 1), -EINVAL);
    cr_assert_eq(curio_addr_ip(&a, "[::1", 1), -EINVAL);
    cr_assert_eq(curio_addr_ip(&a, "::1%", 1), -EINVAL);
    cr_assert_eq(a.len, 0u, "a failed parse leaves no address");
    cr_assert_eq(curio_addr_ip(NULL, "::1", 1), -EINVAL);
}

Test(addr, unix_paths_and_abstract_names)
{
    curio_addr a;
    cr_assert_eq(curio_addr_unix(&a, "/tmp/x.sock"), 0);
    cr_assert_eq(a.u.sa.sa_family, AF_UNIX);
    cr_assert_eq(a.len, offsetof(struct sockaddr_un, sun_path) + strlen("/tmp/x.sock") + 1);
    cr_assert_str_eq(fmt(&a), "/tmp/x.sock");
    cr_assert_eq(curio_addr_port(&a), -EAFNOSUPPORT);
    cr_assert_eq(curio_addr_unix(&a, "@curio-test"), 0);
    cr_assert_eq(a.u.un.sun_path[0], 0);
    cr_assert_eq(a.len, offsetof(struct sockaddr_un, sun_path) + strlen("@curio-test"));
    cr_assert_str_eq(fmt(&a), "@curio-test");
    char longpath[200];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = 0;
    cr_assert_eq(curio_addr_unix(&a, longpath), -ENAMETOOLONG);
    cr_assert_eq(curio_addr_unix(&a, ""), -EINVAL);
    cr_assert_eq(curio_addr_unix(&a, NULL), -EINVAL);
}

Test(addr, format_special_cases_and_small_buffers)
{
    curio_addr a = {0};
    cr_assert_str_eq(fmt(&a), "(none)");
    a.u.sa.sa_family = AF_UNIX;
    a.len = sizeof(sa_family_t);
    cr_assert_str_eq(fmt(&a), "(unnamed)");
    a.u.sa.sa_family = AF_PACKET;
    a.len = 8;
    char want[32];
    snprintf(want, sizeof want, "(family %d)", AF_PACKET);
    cr_assert_str_eq(fmt(&a), want);
    cr_assert_eq(curio_addr_ip(&a, "10.0.0.1", 8080), 0);
    char small[8];
    cr_assert_eq(curio_addr_format(&a, small, sizeof small), -ENOSPC);
    cr_assert_str_eq(small, "10.0.0.", "what fitted, NUL-terminated");
    cr_assert_eq(curio_addr_format(NULL, small, sizeof small), -EINVAL);
    cr_assert_eq(curio_addr_format(&a, NULL, 0), -EINVAL);
}
