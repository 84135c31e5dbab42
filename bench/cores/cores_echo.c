/*
 * cores-echo: the echo server of bench/echo's contract (server_common.h: --port, "READY
 * <port>", exit at end of stdin) on curio_cores_run, for bench/cores/run.
 *
 *   cores-echo [--port N] [--kernels K] [--work-us W]
 *
 * K kernels (default 1) each serve 127.0.0.1:N (curio_cores_tcp_server, SO_REUSEPORT);
 * with --work-us W every message costs its handler W microseconds of CPU (a busy loop on
 * the thread's CPU clock) before it is echoed. A task on kernel 0 reads stdin and exits
 * the process at its end.
 */
#include <curio.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../echo/server_common.h"
#pragma GCC diagnostic pop

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static unsigned work_us;
static _Atomic unsigned listening;
static unsigned kernels = 1;
static int port_wanted;

static void burn(void)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) <
           (long)work_us * 1000);
}

static long echo(curio_socket *c, const curio_addr *a, void *arg)
{
    (void)a;
    (void)arg;
    char buf[32768];
    for (;;) {
        ssize_t n = curio_recv(c, buf, sizeof buf, 0);
        if (n <= 0)
            return n;
        if (work_us)
            burn();
        ssize_t w = curio_sendall(c, buf, (size_t)n, 0, NULL);
        if (w < 0)
            return w;
    }
}

static void on_listen(const curio_addr *a, void *arg)
{
    (void)arg;
    if (atomic_fetch_add(&listening, 1) + 1 == kernels) {
        printf("READY %u\n", (unsigned)ntohs(a->u.in.sin_port));
        fflush(stdout);
    }
}

/* End of stdin ends the process (the server contract): nothing to clean up. */
static long watch_stdin(void *arg)
{
    (void)arg;
    char b[256];
    while (curio_read(0, b, sizeof b) > 0)
        ;
    exit(0);
}

static long core_main(unsigned index, void *arg)
{
    (void)arg;
    if (index == 0) {
        curio_task *t;
        if (curio_spawn_ex(&t, watch_stdin, NULL, NULL) == 0)
            curio_task_release(t);
    }
    curio_server_options o = {.backlog = ECHO_BACKLOG, .on_listen = on_listen};
    return curio_cores_tcp_server("127.0.0.1", (uint16_t)port_wanted, echo, NULL, &o);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--kernels") == 0 && i + 1 < argc)
            kernels = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--work-us") == 0 && i + 1 < argc)
            work_us = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port_wanted = atoi(argv[++i]);
    }
    echo_raise_nofile();
    curio_cores_options co = {.kernels = kernels, .stop_all = true, .no_signals = true};
    int rc = curio_cores_run(core_main, NULL, &co);
    return rc == -ESHUTDOWN || rc == 0 ? 0 : 1;
}
