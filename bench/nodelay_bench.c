/*
 * bench/nodelay_bench.c - what TCP_NODELAY by default buys and costs, side by side in one
 * run on loopback (docs/benchmarks.md, "Socket defaults").
 *
 * 1. Request/response: a curio_run_server handler answers each 16-byte request with a
 *    header and a body written as two sends (an HTTP/1.1 keep-alive server's pattern); a
 *    client task on the same kernel makes rounds for a fixed time. Default (TCP_NODELAY
 *    on) against no_tcp_nodelay on both sides (Nagle's algorithm holds the body until the
 *    header is acknowledged, and the client delays that ACK).
 * 2. Accept cost: connections made and accepted per second with the listener's
 *    TCP_NODELAY inherited (what curio does) against a listener without it and one
 *    setsockopt per accepted socket (the alternative).
 *
 *     curio-nodelay-bench [seconds per case, default 1]
 */
#include <curio.h>

#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double budget = 1.0;

static double now(void) { return (double)curio_clock() / 1e9; }

/* ---- 1. request/response ---- */

static long answer(curio_socket *c, const curio_addr *addr, void *arg)
{
    (void)addr;
    (void)arg;
    char req[16], head[32] = "HTTP/1.1 200 OK\r\nLen: 100\r\n\r\n", body[100] = {0};
    for (;;) {
        ssize_t n = curio_recv(c, req, sizeof req, MSG_WAITALL);
        if (n <= 0)
            return n;
        if (curio_sendall(c, head, sizeof head, 0, NULL) < 0 ||
            curio_sendall(c, body, sizeof body, 0, NULL) < 0)
            return -EPIPE;
    }
}

static long serve(void *arg)
{
    curio_socket *ls = ((void **)arg)[0];
    const curio_server_options *o = ((void **)arg)[1];
    return curio_run_server(ls, answer, NULL, o);
}

static double rounds_per_second(bool nagle)
{
    curio_server_options so = {.no_tcp_nodelay = nagle};
    curio_socket *ls;
    if (curio_tcp_server_socket(&ls, "127.0.0.1", 0, &so) < 0)
        return -1;
    int port = curio_socket_port(ls);
    void *sargs[2] = {ls, &so};
    curio_task *t = curio_spawn(serve, sargs);
    curio_connect_options co = {.no_tcp_nodelay = nagle};
    curio_socket *c;
    if (curio_open_connection(&c, "127.0.0.1", (uint16_t)port, &co) < 0)
        return -1;
    char req[16] = "GET / HTTP/1.1\n", resp[132];
    long rounds = 0;
    double t0 = now();
    while (now() - t0 < budget) {
        if (curio_sendall(c, req, sizeof req, 0, NULL) < 0 ||
            curio_recv(c, resp, sizeof resp, MSG_WAITALL) != (ssize_t)sizeof resp)
            return -1;
        rounds++;
    }
    double r = rounds / (now() - t0);
    curio_socket_close(c);
    curio_cancel(t);
    curio_task_release(t);
    return r;
}

/* ---- 2. accept cost ---- */

static long accepter(void *arg)
{
    curio_socket *ls = ((void **)arg)[0];
    bool per_accept = *(bool *)((void **)arg)[1];
    for (;;) {
        curio_socket *s;
        int rc = curio_accept(ls, &s, NULL);
        if (rc < 0)
            return rc;
        if (per_accept) {
            int one = 1;
            curio_socket_setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        curio_socket_close(s);
    }
}

static double accepts_per_second(bool per_accept)
{
    curio_socket *ls;
    if (curio_tcp_server_socket(&ls, "127.0.0.1", 0, NULL) < 0)
        return -1;
    if (per_accept) {
        int zero = 0; /* the listener without it: each accepted socket pays */
        curio_socket_setsockopt(ls, IPPROTO_TCP, TCP_NODELAY, &zero, sizeof zero);
    }
    curio_addr a;
    curio_socket_getsockname(ls, &a);
    void *args[2] = {ls, &per_accept};
    curio_task *t = curio_spawn(accepter, args);
    long n = 0;
    double t0 = now();
    while (now() - t0 < budget) {
        curio_socket *c;
        if (curio_socket_open(&c, AF_INET, SOCK_STREAM, 0) < 0 || curio_connect(c, &a) < 0)
            return -1;
        curio_socket_close(c);
        n++;
    }
    double r = n / (now() - t0);
    curio_cancel(t);
    curio_task_release(t);
    curio_socket_close(ls);
    return r;
}

static long bench(void *arg)
{
    (void)arg;
    double on = rounds_per_second(false), off = rounds_per_second(true);
    printf("request/response, header + body as two sends (rounds/s):\n");
    printf("  TCP_NODELAY on (default)   %10.0f\n", on);
    printf("  no_tcp_nodelay (Nagle on)  %10.0f\n", off);
    printf("  ratio on/off               %10.1fx\n", off > 0 ? on / off : 0);
    /* Interleaved, best of five each: the machine is shared and noisy. */
    double inh = 0, per = 0;
    for (int i = 0; i < 5; i++) {
        double a = accepts_per_second(false), b = accepts_per_second(true);
        inh = a > inh ? a : inh;
        per = b > per ? b : per;
    }
    printf("connect + accept + close (connections/s, best of 5 interleaved):\n");
    printf("  inherited from listener    %10.0f\n", inh);
    printf("  setsockopt per accept      %10.0f\n", per);
    printf("  ratio inherited/per-accept %10.3f\n", per > 0 ? inh / per : 0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        budget = atof(argv[1]);
    return curio_run(bench, NULL, NULL, NULL) < 0;
}
