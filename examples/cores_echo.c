/*
 * An echo server on every core: curio_cores_run starts one kernel per online CPU, and each
 * serves the same port (SO_REUSEPORT); a connection stays on the kernel that accepted it.
 * Ctrl-C (or SIGTERM) is read once by the run, which cancels every kernel's server.
 *
 *     ./cores_echo [port [kernels]]     (default: port 25000, one kernel per CPU)
 *
 * Try it with a few `nc localhost 25000`: each line comes back prefixed with the index
 * of the kernel serving that connection.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long echo_client(curio_socket *client, const curio_addr *addr, void *arg)
{
    (void)addr;
    (void)arg;
    char data[1000], out[1010];
    ssize_t n;
    while ((n = curio_recv(client, data, sizeof data, 0)) > 0) {
        int len = snprintf(out, sizeof out, "[%d] %.*s", curio_core_index(), (int)n, data);
        ssize_t rc = curio_sendall(client, out, (size_t)len, 0, NULL);
        if (rc < 0)
            return rc;
    }
    return n;
}

static void listening(const curio_addr *addr, void *arg)
{
    (void)arg;
    char text[CURIO_ADDR_STRLEN];
    curio_addr_format(addr, text, sizeof text);
    printf("kernel %d of %u listening at %s\n", curio_core_index(), curio_core_count(), text);
    fflush(stdout);
}

static long core_main(unsigned index, void *arg)
{
    (void)index;
    uint16_t port = *(uint16_t *)arg;
    curio_server_options opts = {.on_listen = listening};
    return curio_cores_tcp_server("127.0.0.1", port, echo_client, NULL, &opts);
}

int main(int argc, char **argv)
{
    uint16_t port = argc > 1 ? (uint16_t)atoi(argv[1]) : 25000;
    curio_cores_options o = {.kernels = argc > 2 ? (unsigned)atoi(argv[2]) : 0,
                             .stop_all = true};
    int rc = curio_cores_run(core_main, &port, &o);
    if (rc == -EINTR) {
        printf("stopped\n");
        return 0;
    }
    fprintf(stderr, "cores_echo: %s\n", curio_strerror(rc));
    return 1;
}
