/*
 * The monitor's thread reading a kernel that churns: tasks spawned, renamed, ending and
 * sleeping all the time, and a task that spins without trapping now and then, while a
 * plain client thread asks ps, parents, where, cancel, and ended, stats, blocked, kernels,
 * where all and their JSON forms over and over; then the same client against the two
 * kernels of a curio_cores_run (kernels, on 1 ..., 1:N ids). A plain program
 * (criterion cannot run under ThreadSanitizer, which ./dev test builds it for): it checks
 * that every answer came and looks right, and ThreadSanitizer checks what the monitor's
 * thread reads.
 */
#include "curio.h"
#include "curio/cores.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ROUNDS 60

static _Atomic bool done;
static _Atomic int spin_now;
static int port;
static int failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "monitor_stress: " __VA_ARGS__);                               \
            fprintf(stderr, "\n");                                                         \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

static int exchange(int fd, const char *cmd, char *out, size_t cap)
{
    if (cmd && write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
        return -1;
    size_t n = 0;
    for (;;) {
        out[n] = 0;
        char *p = strstr(out, "curio > ");
        if (p) {
            *p = 0;
            return 0;
        }
        if (n == cap - 1)
            return -1;
        ssize_t r = read(fd, out + n, cap - 1 - n);
        if (r <= 0)
            return -1;
        n += (size_t)r;
    }
}

static void *client(void *arg)
{
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect");
    static char buf[1 << 16];
    CHECK(exchange(fd, NULL, buf, sizeof buf) == 0, "banner");
    for (int i = 0; i < ROUNDS; i++) {
        if (i % 10 == 5)
            atomic_store(&spin_now, 1);
        CHECK(exchange(fd, "ps\n", buf, sizeof buf) == 0 && strstr(buf, "monitor *"), "ps: %s",
              buf);
        CHECK(exchange(fd, "parents 3\n", buf, sizeof buf) == 0, "parents");
        CHECK(exchange(fd, "where 3\n", buf, sizeof buf) == 0 &&
              (strstr(buf, "Stack for Task") || strstr(buf, "Error: ")), "where: %s", buf);
        char cmd[32];
        snprintf(cmd, sizeof cmd, "cancel %d\n", 10 + i * 7);
        CHECK(exchange(fd, cmd, buf, sizeof buf) == 0, "cancel");
        CHECK(exchange(fd, "ended\n", buf, sizeof buf) == 0 && strstr(buf, "tasks ended in all"),
              "ended: %s", buf);
        CHECK(exchange(fd, "stats\n", buf, sizeof buf) == 0 && strstr(buf, "switches "),
              "stats: %s", buf);
        CHECK(exchange(fd, "blocked\n", buf, sizeof buf) == 0, "blocked");
        CHECK(exchange(fd, "kernels\n", buf, sizeof buf) == 0 && strstr(buf, "Kernel 0"),
              "kernels: %s", buf);
        CHECK(exchange(fd, "json ended\n", buf, sizeof buf) == 0 && buf[0] == '{',
              "json ended: %s", buf);
        if (i % 10 == 0)
            CHECK(exchange(fd, "where all\n", buf, sizeof buf) == 0, "where all");
    }
    close(fd);
    atomic_store(&done, true);
    return NULL;
}

static long churn(void *arg)
{
    (void)arg;
    curio_task_set_name(curio_current(), "churning");
    if (atomic_exchange(&spin_now, 0)) {
        int64_t end = curio_clock() + 100000000; /* 0.1 s without a trap */
        while (curio_clock() < end)
            ;
    }
    return curio_sleep(0.001) < 0 ? -1 : 0;
}

static long main_task(void *arg)
{
    (void)arg;
    curio_addr a;
    curio_monitor_address(curio_kernel_current(), &a);
    port = curio_addr_port(&a);
    curio_task *sleeper = curio_spawn(churn, NULL); /* task 3, for parents and where */
    pthread_t th;
    pthread_create(&th, NULL, client, NULL);
    while (!atomic_load(&done)) {
        curio_task *t[8];
        for (int i = 0; i < 8; i++)
            t[i] = curio_spawn(churn, NULL);
        for (int i = 0; i < 8; i++) {
            curio_join(t[i], NULL);
            curio_task_release(t[i]);
        }
    }
    pthread_join(th, NULL);
    curio_join(sleeper, NULL);
    curio_task_release(sleeper);
    return 0;
}

/* ---- two kernels of a run: the monitor of kernel 0 reads kernel 1 ---- */

static _Atomic bool cores_done;
static int cores_port;

static void *cores_client(void *arg)
{
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cores_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect");
    static char buf[1 << 16];
    CHECK(exchange(fd, NULL, buf, sizeof buf) == 0, "banner");
    for (int i = 0; i < ROUNDS; i++) {
        CHECK(exchange(fd, "kernels\n", buf, sizeof buf) == 0 && strstr(buf, "Kernel 1 ("),
              "kernels: %s", buf);
        CHECK(exchange(fd, "on 1 ps\n", buf, sizeof buf) == 0 && strstr(buf, "monitor *"),
              "on 1 ps: %s", buf);
        CHECK(exchange(fd, "on 1 ended\n", buf, sizeof buf) == 0, "on 1 ended");
        CHECK(exchange(fd, "where 1:2\n", buf, sizeof buf) == 0, "where 1:2");
        char cmd[32];
        snprintf(cmd, sizeof cmd, "cancel 1:%d\n", 10 + i * 7);
        CHECK(exchange(fd, cmd, buf, sizeof buf) == 0, "cancel");
        CHECK(exchange(fd, "json on 1 stats\n", buf, sizeof buf) == 0 && buf[0] == '{',
              "json on 1 stats: %s", buf);
    }
    close(fd);
    atomic_store(&cores_done, true);
    return NULL;
}

static long cores_main(unsigned index, void *arg)
{
    (void)arg;
    pthread_t th;
    if (index == 0) {
        curio_addr a;
        curio_monitor_address(curio_kernel_current(), &a);
        cores_port = curio_addr_port(&a);
        pthread_create(&th, NULL, cores_client, NULL);
    }
    while (!atomic_load(&cores_done)) {
        curio_task *t[8];
        for (int i = 0; i < 8; i++)
            t[i] = curio_spawn(churn, NULL);
        for (int i = 0; i < 8; i++) {
            curio_join(t[i], NULL);
            curio_task_release(t[i]);
        }
    }
    if (index == 0)
        pthread_join(th, NULL);
    return 0;
}

int main(void)
{
    curio_options o = {.monitor = true, .monitor_address = "127.0.0.1:0", .stall_ms = 50};
    long r;
    int rc = curio_run(main_task, NULL, &o, &r);
    CHECK(rc == 0 && r == 0, "curio_run: %d %ld", rc, r);
    curio_options ko = {.monitor = true, .monitor_address = "127.0.0.1:0"};
    curio_cores_options co = {.kernels = 2, .kernel = &ko, .no_signals = true};
    rc = curio_cores_run(cores_main, NULL, &co);
    CHECK(rc == 0, "curio_cores_run: %d", rc);
    if (failures)
        return 1;
    printf("monitor_stress: %d rounds of ps, parents, where, cancel, ended, stats, blocked, "
           "kernels, json; %d on two kernels: ok\n", ROUNDS, ROUNDS);
    return 0;
}
