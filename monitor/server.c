/*
 * monitor/server.c - starting a kernel's monitor: what asks for it (the option, the
 * environment), the listening socket, and the server task that runs curio_run_server with
 * one session task per connection.
 *
 * The socket is bound while the kernel is created, outside any task, so that a port in
 * use is reported at once and the address is known before anything runs. The server task
 * owns the monitor's state and frees it when it ends (curio_run_server returns only once
 * every session has ended); the kernel's shutdown cancels it like any task, and a task
 * function always runs, so this happens even for a kernel that never ran.
 */
#include "monitor.h"
#include "../net/net.h"

#include <execinfo.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What CURIO_MONITOR says: nothing (unset or a "no" word), on, or on at an address. */
enum env_switch { ENV_NOTHING, ENV_ON, ENV_ADDRESS };

static bool one_of(const char *v, const char *const *words)
{
    for (; *words; words++)
        if (strcasecmp(v, *words) == 0)
            return true;
    return false;
}

static enum env_switch env_switch(const char **addr)
{
    static const char *const yes[] = {"1", "yes", "on", "true", NULL};
    const char *v = getenv("CURIO_MONITOR");
    if (curio__env_no(v))
        return ENV_NOTHING;
    if (one_of(v, yes))
        return ENV_ON;
    *addr = v;
    return ENV_ADDRESS;
}

/* The idle timeout of the sessions: the program's option, else CURIO_MONITOR_IDLE (seconds;
 * negative: none), else the default. A value that is not a number is reported and
 * ignored. */
static double idle_timeout(const curio_kernel *k)
{
    const curio_options *o = curio__kernel_options(k);
    if (o->monitor_idle_timeout != 0)
        return o->monitor_idle_timeout;
    const char *v = getenv("CURIO_MONITOR_IDLE");
    if (!v || !*v)
        return CURIO__MON_IDLE_DEFAULT;
    char *end;
    double d = strtod(v, &end);
    if (*end || d != d || d == 0) {
        if (!o->quiet)
            fprintf(stderr, "curio: monitor: CURIO_MONITOR_IDLE=%s is not a number of seconds; "
                            "using %g\n", v, CURIO__MON_IDLE_DEFAULT);
        return CURIO__MON_IDLE_DEFAULT;
    }
    return d;
}

/* "host:port", "[v6]:port" or ":port" (host 127.0.0.1) into host (of cap bytes) and port.
 * Returns 0 or -EINVAL. */
static int split_address(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        hlen = (size_t)(end - s - 1);
        s++;
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s)))
            return -EINVAL; /* no port, or a bare IPv6 address: say [addr]:port */
        hlen = (size_t)(colon - s);
    }
    if (hlen >= cap)
        return -EINVAL;
    memcpy(host, s, hlen);
    host[hlen] = 0;
    if (hlen == 0)
        snprintf(host, cap, "%s", CURIO_MONITOR_HOST);
    char *end;
    const char *p = colon + 1;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    unsigned long v = strtoul(p, &end, 10);
    if (*end || v > 65535)
        return -EINVAL;
    *port = (uint16_t)v;
    return 0;
}

/* A numeric address, or else a name looked up here (we are in curio_kernel_create, not
 * in a task: nothing else is running yet that this could hold up). */
static int resolve(curio_addr *a, const char *host, uint16_t port)
{
    int rc = curio_addr_ip(a, host, port);
    if (rc != -EINVAL)
        return rc;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res;
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return -ENOENT;
    rc = curio__addr_first(a, res);
    freeaddrinfo(res);
    return rc;
}

static int listen_at(curio_socket **out, curio_addr *a)
{
    curio_socket *s;
    int rc = curio_socket_open(&s, a->u.sa.sa_family, SOCK_STREAM, 0);
    if (rc < 0)
        return rc;
    int one = 1;
    rc = curio_socket_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rc == 0)
        rc = curio_socket_bind(s, a);
    if (rc == 0)
        rc = curio_socket_listen(s, 16);
    if (rc == 0)
        rc = curio_socket_getsockname(s, a);
    if (rc < 0) {
        curio_socket_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* The server task's messages (a session that failed, accept running out of descriptors). */
static void server_log(const char *message, void *arg)
{
    struct curio__monitor *m = arg;
    if (!m->quiet)
        fprintf(stderr, "curio: monitor: %s\n", message);
}

struct server_start {
    struct curio__monitor *mon;
    curio_socket *ls;
    size_t stack_size;
};

/* The monitor's tasks get at least this much stack, whatever the kernel's default: they
 * format replies and take backtraces of themselves. */
#define MON_STACK (64 * 1024)

static long server_main(void *arg)
{
    struct server_start *st = arg;
    struct curio__monitor *m = st->mon;
    curio_socket *ls = st->ls;
    curio_server_options so = {.stack_size = st->stack_size, .log = server_log};
    free(st);
    int rc = curio_run_server(ls, curio__mon_session_main, m, &so);
    if (rc != -ECANCELED && !m->quiet)
        fprintf(stderr, "curio: monitor: stopped: %s\n", curio_strerror(rc));
    curio__kernel_set_monitor(m->k, NULL);
    free(m);
    return rc;
}

static void say(const curio_kernel *k, const char *what, const char *where, int err)
{
    if (!curio__kernel_options(k)->quiet)
        fprintf(stderr,
                "curio: monitor: %s %s: %s; the kernel runs without a monitor (choose another "
                "address with curio_options.monitor_address or CURIO_MONITOR=host:port)\n",
                what, where, curio_strerror(err));
}

/* Called by curio_kernel_create once the kernel is set up (a service: see register_monitor
 * below). A monitor that cannot start leaves the kernel running without one (and says
 * why). */
static int monitor_start(curio_kernel *k)
{
    const char *env_addr = NULL;
    enum env_switch sw = env_switch(&env_addr);
    const curio_options *o = curio__kernel_options(k);
    if (!o->monitor && sw == ENV_NOTHING)
        return 0;
    const char *spec = o->monitor_address ? o->monitor_address
                       : env_addr         ? env_addr
                                          : CURIO_MONITOR_HOST ":48802";
    char host[256];
    uint16_t port;
    curio_addr a;
    int rc = split_address(spec, host, sizeof host, &port);
    if (rc == 0)
        rc = resolve(&a, host, port);
    if (rc < 0) {
        say(k, "bad address", spec, rc);
        return rc;
    }
    /* The first backtrace() loads the unwinder (libgcc_s, through dlopen): do it here,
     * on the thread's own stack, rather than on the small stack of a task being looked at. */
    void *warm[2];
    backtrace(warm, 2);

    struct curio__monitor *m = calloc(1, sizeof *m);
    struct server_start *st = calloc(1, sizeof *st);
    curio_socket *ls = NULL;
    rc = m && st ? listen_at(&ls, &a) : -ENOMEM;
    char where[CURIO_ADDR_STRLEN];
    curio_addr_format(&a, where, sizeof where);
    if (rc < 0) {
        say(k, "cannot listen on", where, rc);
        free(m);
        free(st);
        return rc;
    }
    m->k = k;
    m->addr = a;
    m->quiet = o->quiet;
    m->idle = idle_timeout(k);
    snprintf(m->where, sizeof m->where, "%s", where);
    st->mon = m;
    st->ls = ls;
    st->stack_size = o->stack_size > MON_STACK ? o->stack_size : MON_STACK;
    curio_spawn_options so = {.name = "monitor", .daemon = true, .stack_size = st->stack_size};
    curio__task *t;
    rc = curio__spawn(k, NULL, &t, server_main, st, &so);
    if (rc < 0) {
        say(k, "cannot start its task at", where, rc);
        curio_socket_close(ls);
        free(m);
        free(st);
        return rc;
    }
    m->server_id = curio_task_id(t);
    curio__task_set_internal(t);
    curio_task_release(t); /* it runs on; its record goes when it ends */
    curio__kernel_set_monitor(k, m);
    return 0;
}

/* The monitor is a service of every kernel (kernel.h: curio__service_register): this object
 * registers it when it is loaded, so that the kernel never names the monitor. A static
 * link takes this object when the program names a monitor call (curio_monitor_address;
 * or -Wl,-u,curio_monitor_address). */
__attribute__((constructor)) static void register_monitor(void)
{
    curio__service_register("monitor", monitor_start);
}

bool curio__mon_is_own(const struct curio__monitor *m, uint64_t id)
{
    if (id == m->server_id)
        return true;
    curio__list_foreach_entry(s, &m->sessions, const curio__mon_session, node)
        if (curio_task_id(s->task) == id)
            return true;
    return false;
}

int curio_monitor_address(curio_kernel *k, curio_addr *a)
{
    if (!k || !a)
        return -EINVAL;
    const struct curio__monitor *m = curio__kernel_monitor(k);
    if (!m)
        return -ENOENT;
    *a = m->addr;
    return 0;
}
