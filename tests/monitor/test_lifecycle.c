/*
 * The monitor's life: what turns it on (the option, CURIO_MONITOR), its address and port
 * 0, a port already in use or a bad address (a message, and the kernel runs without it),
 * the monitor never keeping the kernel alive (curio_run returns with a client connected;
 * cancelling main through it ends the run), no descriptor or memory left behind, a kernel
 * that never ran, two runs of one kernel.
 */
#include "montest.h"
#include "monitor.h"

#include <criterion/redirect.h>
#include <pthread.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* A plain listening socket on 127.0.0.1 and a free port; *port gets it. */
static int plain_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(fd, 4), 0);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A blocking connection to 127.0.0.1:port (the listen queue takes it at once). */
static int plain_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Everything until end of stream (at most 10 s), NUL-terminated. */
static void read_to_end(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        cr_assert_eq(poll(&pf, 1, 10000), 1, "no end of stream; so far: %.*s", (int)n, buf);
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = 0;
}

static long check_on(void *arg)
{
    curio_addr a;
    int rc = curio_monitor_address(curio_kernel_current(), &a);
    if (arg)
        *(int *)arg = rc == 0 ? curio_addr_port(&a) : rc;
    return rc == 0 ? 1 : 0;
}

/* ---- on and off ---- */

Test(lifecycle, off_unless_asked)
{
    long r;
    cr_assert_eq(curio_run(check_on, NULL, NULL, &r), 0);
    cr_assert_eq(r, 0);
    curio_options o = {.monitor_address = "127.0.0.1:0"};
    cr_assert_eq(curio_run(check_on, NULL, &o, &r), 0);
    cr_assert_eq(r, 0, "an address alone does not turn it on");
    curio_addr a;
    cr_assert_eq(curio_monitor_address(NULL, &a), -EINVAL);
}

static long identity_main(void *arg)
{
    (void)arg;
    curio_kernel *k = curio_kernel_current();
    cr_assert_eq(curio_monitor_address(k, NULL), -EINVAL);
    curio_addr a;
    cr_assert_eq(curio_monitor_address(k, &a), 0);
    char text[CURIO_ADDR_STRLEN];
    curio_addr_format(&a, text, sizeof text);
    cr_assert(strncmp(text, "127.0.0.1:", 10) == 0 && curio_addr_port(&a) > 0, "%s", text);
    cr_assert_eq(curio_task_id(curio_current()), 2, "the monitor is task 1, main task 2");
    curio__task *m = curio__list_entry(k->all.head, curio__task, all_node);
    cr_assert_eq(m->id, 1);
    cr_assert_str_eq(curio_task_name(m), "monitor");
    cr_assert(curio_task_daemon(m));
    return 0;
}

Test(lifecycle, the_monitor_is_task_1_a_daemon)
{
    cr_assert_eq(run_monitored(identity_main, NULL), 0);
}

Test(lifecycle, environment_turns_it_on)
{
    setenv("CURIO_MONITOR", "127.0.0.1:0", 1);
    long r;
    int port = 0;
    cr_assert_eq(curio_run(check_on, &port, NULL, &r), 0);
    cr_assert_eq(r, 1, "on: %s", curio_strerror(port));
    cr_assert_gt(port, 0);
    const char *const off[] = {"0", "off", "no", "false", "", "OFF", NULL};
    for (const char *const *v = off; *v; v++) {
        setenv("CURIO_MONITOR", *v, 1);
        cr_assert_eq(curio_run(check_on, NULL, NULL, &r), 0);
        cr_assert_eq(r, 0, "CURIO_MONITOR=%s", *v);
        cr_assert_eq(curio_run(check_on, NULL, &mon_opts, &r), 0);
        cr_assert_eq(r, 1, "CURIO_MONITOR=%s does not turn off what the program asks", *v);
    }
    /* A yes word: on, at the program's address if it gave one. */
    const char *const on[] = {"1", "yes", "on", "TRUE", NULL};
    curio_options o = {.monitor_address = "127.0.0.1:0"};
    for (const char *const *v = on; *v; v++) {
        setenv("CURIO_MONITOR", *v, 1);
        cr_assert_eq(curio_run(check_on, NULL, &o, &r), 0);
        cr_assert_eq(r, 1, "CURIO_MONITOR=%s", *v);
    }
}

Test(lifecycle, the_program_address_wins_over_the_environment, .init = cr_redirect_stderr)
{
    int busy_port, busy = plain_listener(&busy_port);
    char env[32];
    snprintf(env, sizeof env, "127.0.0.1:%d", busy_port);
    setenv("CURIO_MONITOR", env, 1);
    long r;
    int port = 0;
    cr_assert_eq(curio_run(check_on, &port, &mon_opts, &r), 0);
    cr_assert_eq(r, 1);
    cr_assert_neq(port, busy_port);
    close(busy);
}

/* ---- when it cannot start ---- */

static long still_runs(void *arg)
{
    (void)arg;
    curio_addr a;
    cr_assert_eq(curio_monitor_address(curio_kernel_current(), &a), -ENOENT);
    cr_assert_eq(curio_task_id(curio_current()), 1, "no monitor task");
    curio_sleep(0.001);
    return 42;
}

Test(lifecycle, port_in_use_is_said_and_the_kernel_runs, .init = cr_redirect_stderr)
{
    int port, busy = plain_listener(&port);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    curio_options o = {.monitor = true, .monitor_address = addr};
    long r;
    cr_assert_eq(curio_run(still_runs, NULL, &o, &r), 0);
    cr_assert_eq(r, 42);
    fflush(stderr);
    char want[256];
    snprintf(want, sizeof want, "curio: monitor: cannot listen on %s: Address already in use; "
             "the kernel runs without a monitor (choose another address with "
             "curio_options.monitor_address or CURIO_MONITOR=host:port)\n", addr);
    cr_assert_stderr_eq_str(want);
    close(busy);
}

Test(lifecycle, quiet_says_nothing, .init = cr_redirect_stderr)
{
    int port, busy = plain_listener(&port);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    curio_options o = {.monitor = true, .monitor_address = addr, .quiet = true};
    long r;
    cr_assert_eq(curio_run(still_runs, NULL, &o, &r), 0);
    cr_assert_eq(r, 42);
    fflush(stderr);
    cr_assert_stderr_eq_str("");
    close(busy);
}

Test(lifecycle, bad_addresses, .init = cr_redirect_stderr)
{
    /* (None of them is a name: the test makes no DNS query.) */
    const char *const bad[] = {"nonsense", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x",
                               "127.0.0.1:65536", "127.0.0.1:-1", "::1:80", "[::1]80",
                               "[::1", NULL};
    int n = 0;
    for (const char *const *b = bad; *b; b++, n++) {
        curio_options o = {.monitor = true, .monitor_address = *b};
        long r;
        cr_assert_eq(curio_run(still_runs, NULL, &o, &r), 0, "%s", *b);
        cr_assert_eq(r, 42);
    }
    fflush(stderr);
    /* One message for each, naming the address. */
    FILE *err = cr_get_redirected_stderr();
    char line[512];
    int i = 0;
    while (fgets(line, sizeof line, err)) {
        cr_assert_lt(i, n, "more messages than addresses: %s", line);
        char want[128];
        snprintf(want, sizeof want, "curio: monitor: bad address %s: ", bad[i++]);
        cr_assert(strncmp(line, want, strlen(want)) == 0, "%s", line);
    }
    cr_assert_eq(i, n);
}

Test(lifecycle, bad_address_message, .init = cr_redirect_stderr)
{
    curio_options o = {.monitor = true, .monitor_address = "nonsense"};
    long r;
    cr_assert_eq(curio_run(still_runs, NULL, &o, &r), 0);
    fflush(stderr);
    cr_assert_stderr_eq_str("curio: monitor: bad address nonsense: Invalid argument; the "
                            "kernel runs without a monitor (choose another address with "
                            "curio_options.monitor_address or CURIO_MONITOR=host:port)\n");
}

Test(lifecycle, other_address_forms)
{
    const char *const good[] = {":0", "localhost:0", "0.0.0.0:0", NULL};
    for (const char *const *g = good; *g; g++) {
        curio_options o = {.monitor = true, .monitor_address = *g};
        long r;
        int port = 0;
        cr_assert_eq(curio_run(check_on, &port, &o, &r), 0);
        cr_assert_eq(r, 1, "%s: %s", *g, curio_strerror(port));
    }
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool v6 = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    if (!v6) {
        cr_log_warn("no IPv6 loopback: [::1] not tried");
        return;
    }
    curio_options o = {.monitor = true, .monitor_address = "[::1]:0"};
    long r;
    cr_assert_eq(curio_run(check_on, NULL, &o, &r), 0);
    cr_assert_eq(r, 1);
}

/* ---- it never keeps the kernel alive ---- */

struct client {
    int fd;
};

static long leave_with_client(void *arg)
{
    struct client *c = arg;
    c->fd = plain_connect(mon_port());
    /* Let the session start and block reading its first command. */
    wait_until(curio_kernel_current()->monitor->nsessions == 1);
    return 7;
}

Test(lifecycle, does_not_keep_the_kernel_alive)
{
    int before = count_fds();
    struct client c;
    cr_assert_eq(run_monitored(leave_with_client, &c), 7, "it returns, and main's value");
    /* The session was cancelled at shutdown and closed its end: banner, then the end. */
    char buf[4096];
    read_to_end(c.fd, buf, sizeof buf);
    cr_assert(strstr(buf, "Curio Monitor: ") && strstr(buf, PROMPT), "%s", buf);
    close(c.fd);
    cr_assert_eq(count_fds(), before, "no descriptor left behind");
}

/* Cancelling the main task from the monitor ends the run; the session is cancelled in its
 * wait for the task and closes. */
struct cancel_main {
    int port;
    char out[4096];
};

static long cancel_me_client(void *arg)
{
    struct cancel_main *cm = arg;
    int fd = plain_connect(cm->port);
    /* (plain_connect asserts: this runs on a thread, where it cannot fail: the kernel
     * listens already.) */
    const char *cmd = "cancel 2\n";
    if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
        return -EIO;
    size_t n = 0;
    ssize_t r;
    while (n < sizeof cm->out - 1 && (r = read(fd, cm->out + n, sizeof cm->out - 1 - n)) > 0)
        n += (size_t)r;
    cm->out[n] = 0;
    close(fd);
    return 0;
}

static void *client_thread(void *arg)
{
    cancel_me_client(arg);
    return NULL;
}

static long cancelled_main(void *arg)
{
    struct cancel_main *cm = arg;
    cm->port = mon_port();
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, client_thread, cm), 0);
    pthread_detach(th);
    int64_t r = curio_sleep(100);
    return r == -ECANCELED ? -ECANCELED : 0;
}

Test(lifecycle, cancelling_main_ends_the_run)
{
    struct cancel_main cm = {0};
    long r;
    int rc = curio_run(cancelled_main, &cm, &mon_opts, &r);
    cr_assert_eq(rc, CURIO_ETASKCANCELLED, "%s", curio_strerror(rc));
    /* The client's read ends when the monitor has closed: wait for it on this thread. */
    for (int i = 0; i < 1000 && !strstr(cm.out, "Cancelling task 2"); i++)
        usleep(1000);
    cr_assert(strstr(cm.out, "Cancelling task 2\n"), "%s", cm.out);
}

/* ---- nothing left behind ---- */

static long busy_main(void *arg)
{
    (void)arg;
    mon_conn *a = mon_open(), *b = mon_open();
    mon_cmd(a, "ps");
    mon_cmd(b, "where 1");
    mon_cmd(a, "where 2");
    mon_cmd(b, "parents 2");
    mon_close(a);
    mon_close(b);
    return 0;
}

Test(lifecycle, no_descriptor_left_behind)
{
    int before = count_fds();
    for (int i = 0; i < 3; i++)
        cr_assert_eq(run_monitored(busy_main, NULL), 0);
    cr_assert_eq(count_fds(), before);
}

Test(lifecycle, a_kernel_that_never_ran)
{
    int before = count_fds();
    curio_kernel *k;
    cr_assert_eq(curio_kernel_create(&k, &mon_opts), 0);
    curio_addr a;
    cr_assert_eq(curio_monitor_address(k, &a), 0, "listening from the start");
    int fd = plain_connect(curio_addr_port(&a));
    /* The monitor's thread serves it although the kernel never runs a task. */
    char buf[256];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        cr_assert_gt(n, 0);
        got += (size_t)n;
        buf[got] = 0;
        if (strstr(buf, PROMPT))
            break;
    }
    cr_assert(strstr(buf, "Curio Monitor: 1 tasks running"), "%s", buf);
    curio_kernel_destroy(k);
    read_to_end(fd, buf, sizeof buf);
    cr_assert_str_eq(buf, "", "closed when the kernel is destroyed");
    close(fd);
    cr_assert_eq(count_fds(), before);
}

static long serve_one(void *arg)
{
    (void)arg;
    mon_conn *c = mon_open();
    cr_assert(strstr(mon_cmd(c, "ps"), "Task   State"));
    mon_close(c);
    return 0;
}

Test(lifecycle, two_runs_of_one_kernel)
{
    curio_kernel *k;
    cr_assert_eq(curio_kernel_create(&k, &mon_opts), 0);
    curio_addr a;
    cr_assert_eq(curio_monitor_address(k, &a), 0);
    /* Between runs a connection waits in the listen queue; the next run serves it. */
    int early = plain_connect(curio_addr_port(&a));
    long r;
    cr_assert_eq(curio_kernel_run(k, serve_one, NULL, &r), 0);
    cr_assert_eq(curio_kernel_run(k, serve_one, NULL, &r), 0);
    char buf[256];
    struct pollfd pf = {.fd = early, .events = POLLIN};
    cr_assert_eq(poll(&pf, 1, 5000), 1);
    cr_assert_gt(read(early, buf, sizeof buf), 0, "the early connection got its banner");
    close(early);
    curio_kernel_destroy(k);
}
