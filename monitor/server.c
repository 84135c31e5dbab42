/*
 * monitor/server.c - starting a kernel's monitor: what asks for it (the option, the
 * environment), the monitor's thread (its own kernel, the listening socket, the server
 * with one session task per connection, the sampler), the agent task on the kernel
 * watched, and the end of it all when that kernel is destroyed.
 *
 * curio_kernel_create waits until the thread listens, so that a port in use is reported
 * at once and the address is known before anything runs. curio_kernel_destroy, once the
 * kernel's tasks (the agent among them) have ended, stops the thread (monitor_stop) and
 * frees the monitor's state.
 */
#include "monitor.h"
#include "curio/cores.h"
#include "../net/net.h"

#include <execinfo.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
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

/* A Unix socket's file: one left behind by a program that ended is replaced (a socket
 * nobody listens on); anything else there is an error (-EADDRINUSE). */
static int clear_unix_path(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return -EADDRINUSE;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int err = errno;
    close(fd);
    if (rc == 0)
        return -EADDRINUSE; /* a live monitor (or anything) listens there */
    if (err != ECONNREFUSED)
        return -err;
    return unlink(path) < 0 ? -errno : 0;
}

static int listen_at(curio_socket **out, curio_addr *a)
{
    bool unix_path = a->u.sa.sa_family == AF_UNIX;
    int rc = unix_path ? clear_unix_path(a->u.un.sun_path) : 0;
    if (rc < 0)
        return rc;
    curio_socket *s;
    rc = curio_socket_open(&s, a->u.sa.sa_family, SOCK_STREAM, 0);
    if (rc < 0)
        return rc;
    int one = 1;
    rc = unix_path ? 0 : curio_socket_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rc == 0)
        rc = curio_socket_bind(s, a);
    /* Its file's permissions decide who may connect: 0600, set before anyone can (a
     * connect to a socket bound but not listening is refused). */
    if (rc == 0 && unix_path && chmod(a->u.un.sun_path, 0600) < 0)
        rc = -errno;
    if (rc == 0)
        rc = curio_socket_listen(s, 16);
    if (rc == 0)
        rc = curio_socket_getsockname(s, a);
    if (rc < 0) {
        curio_socket_close(s);
        if (unix_path)
            unlink(a->u.un.sun_path);
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

/* The monitor's tasks get at least this much stack, whatever the kernel's default: they
 * format replies and take backtraces of themselves. */
#define MON_STACK (64 * 1024)

/* Set on the monitor's thread: its own kernel has no monitor (or stall detector) of its
 * own. */
static __thread bool inner;

bool curio__mon_inner(void) { return inner; }

void curio__mon_warm_unwinder(void)
{
    void *warm[2];
    backtrace(warm, 2);
}

/* The main task of the monitor's kernel: the sampler and the server, until the watched
 * kernel is destroyed (stop_main cancels it). */
static long mon_main(void *arg)
{
    struct curio__monitor *m = arg;
    m->mmain = curio__self();
    if (m->stopping)
        return 0;
    curio_spawn_options sso = {.name = "sampler", .daemon = true};
    curio_task *sampler = NULL;
    curio_spawn_ex(&sampler, curio__mon_sampler, m, &sso);
    curio_server_options so = {.stack_size = MON_STACK, .log = server_log};
    int rc = curio_run_server(m->ls, curio__mon_session_main, m, &so);
    if (rc != -ECANCELED) {
        if (!m->quiet)
            fprintf(stderr, "curio: monitor: stopped: %s\n", curio_strerror(rc));
        curio_event ev = CURIO_EVENT_INIT;
        while (curio_event_wait(&ev) != -ECANCELED)
            ; /* wait for the end (the kernel record must outlive stop's post) */
    }
    if (sampler) {
        curio_cancel(sampler);
        curio_task_release(sampler);
    }
    return 0;
}

static void *mon_thread(void *arg)
{
    struct curio__monitor *m = arg;
    inner = true;
    m->mtid = (int)syscall(SYS_gettid);
    curio_options o = {.quiet = m->quiet, .stack_size = MON_STACK};
    int rc = curio_kernel_create(&m->mk, &o);
    if (rc == 0) {
        rc = listen_at(&m->ls, &m->addr);
        if (rc < 0)
            curio_kernel_destroy(m->mk);
    }
    m->start_rc = rc;
    sem_post(m->started);
    if (rc < 0)
        return NULL;
    curio_kernel_run(m->mk, mon_main, m, NULL); /* the server closes m->ls */
    if (!m->mmain)
        curio_socket_close(m->ls); /* the run could not start (no memory) */
    /* mk must outlive monitor_stop's post to it. */
    pthread_mutex_lock(&m->stop_lock);
    while (!m->stop_asked)
        pthread_cond_wait(&m->stop_cv, &m->stop_lock);
    pthread_mutex_unlock(&m->stop_lock);
    curio_kernel_destroy(m->mk);
    return NULL;
}

/* Posted to the monitor's kernel by monitor_stop. */
static void stop_main(void *arg)
{
    struct curio__monitor *m = arg;
    m->stopping = true;
    if (m->mmain)
        curio_cancel_nowait(m->mmain);
}

/* curio_kernel_destroy of the watched kernel, once its tasks (the agent too) have ended:
 * end the monitor's thread, which reads the kernel, then free the rest. */
static void monitor_stop(curio_kernel *k)
{
    struct curio__monitor *m = curio__kernel_monitor(k);
    if (!m)
        return;
    if (m->agent_only) {
        curio__mon_requests_drain(m);
        curio_universal_queue_destroy(m->requests);
        pthread_mutex_destroy(&m->stop_lock);
        pthread_cond_destroy(&m->stop_cv);
        curio__kernel_set_monitor(k, NULL);
        free(m);
        return;
    }
    m->stop = (curio__post){.fn = stop_main, .arg = m};
    curio__post_node(m->mk, &m->stop);
    pthread_mutex_lock(&m->stop_lock);
    m->stop_asked = true;
    pthread_cond_signal(&m->stop_cv);
    pthread_mutex_unlock(&m->stop_lock);
    pthread_join(m->thread, NULL);
    if (m->addr.u.sa.sa_family == AF_UNIX)
        unlink(m->addr.u.un.sun_path);
    pthread_mutex_destroy(&m->stop_lock);
    pthread_cond_destroy(&m->stop_cv);
    curio__mon_requests_drain(m);
    curio_universal_queue_destroy(m->requests);
    curio__kernel_set_monitor(k, NULL);
    free(m);
}

static void say(const curio_kernel *k, const char *what, const char *where, int err)
{
    if (!curio__kernel_options(k)->quiet)
        fprintf(stderr,
                "curio: monitor: %s %s: %s; the kernel runs without a monitor (choose another "
                "address with curio_options.monitor_address or CURIO_MONITOR=host:port)\n",
                what, where, curio_strerror(err));
}

/* Start the monitor's thread and wait until it listens (or could not). Its signals are
 * blocked, so that signals meant for the program go to the program's threads. */
static int start_thread(struct curio__monitor *m)
{
    sem_t started;
    sem_init(&started, 0, 0);
    m->started = &started;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = -pthread_create(&m->thread, NULL, mon_thread, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) {
        while (sem_wait(&started) < 0)
            ;
        rc = m->start_rc;
        if (rc < 0)
            pthread_join(m->thread, NULL);
    }
    sem_destroy(&started);
    m->started = NULL;
    return rc;
}

/* Called by curio_kernel_create once the kernel is set up (a service: see register_monitor
 * below). A monitor that cannot start leaves the kernel running without one (and says
 * why). */
static int monitor_start(curio_kernel *k)
{
    if (inner)
        return 0;
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
    int rc;
    if (strncmp(spec, "unix:", 5) == 0) {
        rc = spec[5] ? curio_addr_unix(&a, spec + 5) : -EINVAL;
    } else {
        rc = split_address(spec, host, sizeof host, &port);
        if (rc == 0)
            rc = resolve(&a, host, port);
    }
    if (rc < 0) {
        say(k, "bad address", spec, rc);
        return rc;
    }
    /* The first backtrace() loads the unwinder (libgcc_s, through dlopen): do it here,
     * on the thread's own stack, rather than on the small stack of a task being looked at
     * or in the signal handler that samples a running task. */
    curio__mon_warm_unwinder();

    struct curio__monitor *m = calloc(1, sizeof *m);
    char where[CURIO_ADDR_STRLEN];
    curio_addr_format(&a, where, sizeof where);
    if (!m || curio_universal_queue_create(&m->requests, 0) < 0) {
        say(k, "cannot listen on", where, -ENOMEM);
        free(m);
        return -ENOMEM;
    }
    m->k = k;
    m->tid = (int)syscall(SYS_gettid);
    pthread_mutex_init(&m->stop_lock, NULL);
    pthread_cond_init(&m->stop_cv, NULL);
    m->addr = a;
    m->quiet = o->quiet;
    m->idle = idle_timeout(k);
    m->run = curio__core_run();
    m->core = m->run ? (unsigned)curio_core_index() : 0;
    m->agent_only = m->run && m->core > 0;
    rc = m->agent_only ? 0 : start_thread(m);
    curio_addr_format(&m->addr, where, sizeof where);
    if (rc < 0) {
        say(k, "cannot listen on", where, rc);
        curio_universal_queue_destroy(m->requests);
        free(m);
        return rc;
    }
    snprintf(m->where, sizeof m->where, "%s", where);
    /* Without memory for it, `ended` says that no ended tasks are kept. */
    (void)curio__kernel_keep_ended(k, CURIO__MON_ENDED);
    curio_spawn_options so = {.name = "monitor", .daemon = true, .stack_size = MON_STACK};
    curio__task *t;
    curio__kernel_set_monitor(k, m);
    curio__kernel_on_destroy(k, monitor_stop);
    rc = curio__spawn(k, NULL, &t, curio__mon_agent, m, &so);
    if (rc < 0) {
        say(k, "cannot start its task at", where, rc);
        monitor_stop(k);
        return rc;
    }
    m->server_id = curio_task_id(t);
    curio__task_set_internal(t);
    curio_task_release(t); /* it runs on; its record goes when it ends */
    return 0;
}

/* The monitor is a service of every kernel (kernel.h: curio__service_register): this object
 * registers it when it is loaded, so that the kernel never names the monitor. A static
 * link takes this object when the program names a monitor call (curio_monitor_address;
 * or -Wl,-u,curio_monitor_address). */
__attribute__((constructor)) static void register_monitor(void)
{
    curio__service_register("monitor", monitor_start);
    curio__service_register("stall", curio__stall_start); /* in the same link, always */
}

bool curio__mon_is_own(const struct curio__monitor *m, uint64_t id)
{
    return id == m->server_id;
}

struct first_addr {
    curio_addr *a;
    int rc;
};

static void first_addr_of(void *arg, unsigned index, int tid, curio_kernel *k)
{
    (void)tid;
    struct first_addr *f = arg;
    const struct curio__monitor *m = curio__kernel_monitor(k);
    if (index == 0 && m && !m->agent_only) {
        *f->a = m->addr;
        f->rc = 0;
    }
}

int curio_monitor_address(curio_kernel *k, curio_addr *a)
{
    if (!k || !a)
        return -EINVAL;
    const struct curio__monitor *m = curio__kernel_monitor(k);
    if (!m)
        return -ENOENT;
    if (m->agent_only) {
        /* Kernel 0's monitor serves the run. */
        struct first_addr f = {.a = a, .rc = -ENOENT};
        curio__cores_visit(m->run, first_addr_of, &f);
        return f.rc;
    }
    *a = m->addr;
    return 0;
}
