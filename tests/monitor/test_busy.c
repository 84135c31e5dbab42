/*
 * The monitor answers while the kernel is busy: a task that runs for seconds without
 * trapping. The client is a plain blocking socket on a pool thread (the kernel's tasks
 * cannot run while the spinner spins); it records what it got, and the checks run in the
 * main task once the spinner has let go.
 */
#include "montest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>

static _Atomic bool stop_spin;

/* Runs until told to stop (or 20 s), never trapping. */
/* Not static, and the test is linked with export_dynamic: a build without libdw names it
 * through dladdr. */
__attribute__((noinline)) void spin_hard(void)
{
    int64_t end = curio_clock() + 20 * 1000000000LL;
    while (!atomic_load(&stop_spin) && curio_clock() < end)
        ;
}

long spinner(void *arg)
{
    (void)arg;
    spin_hard();
    for (int i = 0; i < 500; i++) {
        int64_t rc = curio_sleep(0.01);
        if (rc < 0)
            return (long)rc;
    }
    return 0;
}

struct client {
    int port;
    uint64_t id;              /* the spinner's */
    char ps[8192], where[8192], cancel[1024];
    double ps_latency;        /* the slowest ps answer, seconds */
    double ran;               /* the spinner's time without a trap that ps said */
    int err;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long client(void *arg)
{
    struct client *c = arg;
    int fd = mon_blocking_open(c->port);
    if (fd < 0)
        return c->err = fd;
    char banner[1024];
    if ((c->err = mon_blocking_exchange(fd, NULL, banner, sizeof banner)) < 0)
        goto out;
    /* ps until it says the spinner has run 0.3 s without a trap (at most 10 s). */
    char key[64];
    snprintf(key, sizeof key, "task %llu (spinner) has run for ", (unsigned long long)c->id);
    for (int i = 0; i < 500; i++) {
        double t0 = now_s();
        if ((c->err = mon_blocking_exchange(fd, "ps\n", c->ps, sizeof c->ps)) < 0)
            goto out;
        double dt = now_s() - t0;
        if (dt > c->ps_latency)
            c->ps_latency = dt;
        const char *p = strstr(c->ps, key);
        if (p && (c->ran = atof(p + strlen(key))) >= 0.3)
            break;
        nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
    }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "where %llu\n", (unsigned long long)c->id);
    if ((c->err = mon_blocking_exchange(fd, cmd, c->where, sizeof c->where)) < 0)
        goto out;
    snprintf(cmd, sizeof cmd, "cancel %llu\n", (unsigned long long)c->id);
    c->err = mon_blocking_exchange(fd, cmd, c->cancel, sizeof c->cancel);
out:
    atomic_store(&stop_spin, true);
    close(fd);
    return 0;
}

static long busy_main(void *arg)
{
    (void)arg;
    curio_task *t;
    curio_spawn_options o = {.name = "spinner"};
    cr_assert_eq(curio_spawn_ex(&t, spinner, NULL, &o), 0);
    static struct client c;
    c.port = mon_port();
    c.id = curio_task_id(t);
    long r;
    cr_assert_eq(curio_run_in_thread(client, &c, &r), 0);
    cr_assert_eq(c.err, 0, "client: %s", curio_strerror(c.err));

    /* ps answered while the spinner ran, from the thread-safe view. */
    char row[256], f[64];
    ps_row(c.ps, c.id, row, sizeof row);
    cr_assert_str_eq(ps_field(row, 1, f, sizeof f), "RUNNING", "%s", c.ps);
    cr_assert_str_eq(ps_field(row, 4, f, sizeof f), "spinner", "%s", c.ps);
    cr_assert_str_eq(ps_field(row, 3, f, sizeof f), "?", "%s", c.ps);
    cr_assert_geq(c.ran, 0.3, "%s", c.ps);
    cr_assert_lt(c.ps_latency, 1.0, "ps took %.3f s", c.ps_latency);
    fprintf(stderr, "busy: the slowest ps took %.1f ms\n", c.ps_latency * 1e3);

    /* where sampled the running task's stack where it spins. */
    const char *w = c.where;
    cr_assert(strstr(w, "state='RUNNING'"), "%s", w);
    cr_assert(strstr(w, "without a trap; sampled where it runs now"), "%s", w);
    const char *a = strstr(w, "in spinner\n"), *b = strstr(w, "in spin_hard\n");
    cr_assert(a && b && a < b, "spinner, then spin_hard:\n%s", w);
    cr_assert(!strstr(w, "sample_handler"), "%s", w);

    /* cancel was handed over, and took effect once the spinner trapped. */
    cr_assert(strstr(c.cancel, "when the kernel gets to it"), "%s", c.cancel);
    cr_assert_eq(curio_join(t, &r), CURIO_ETASKCANCELLED);
    curio_task_release(t);
    return 0;
}

Test(busy, ps_where_cancel_while_a_task_spins)
{
    cr_assert_eq(run_monitored(busy_main, NULL), 0);
}
