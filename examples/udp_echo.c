/*
 * The how-to's UDP echo server: recvfrom, then sendto the datagram back to its sender.
 *
 *     ./udp_echo [host [port]]     (default: every interface, port 26000)
 *
 * udp_client.c talks to it.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static long udp_echo(void *arg)
{
    const curio_addr *addr = arg;
    curio_socket *sock;
    int rc = curio_socket_open(&sock, addr->u.sa.sa_family, SOCK_DGRAM, 0);
    if (rc < 0)
        return rc;
    if ((rc = curio_socket_bind(sock, addr)) < 0) {
        curio_socket_close(sock);
        return rc;
    }
    curio_addr bound;
    char text[CURIO_ADDR_STRLEN];
    curio_socket_getsockname(sock, &bound);
    curio_addr_format(&bound, text, sizeof text);
    printf("Server listening at %s\n", text);
    for (;;) {
        char data[10000];
        curio_addr from;
        ssize_t n = curio_recvfrom(sock, data, sizeof data, 0, &from); /* await sock.recvfrom(10000) */
        if (n < 0) {
            rc = (int)n;
            break;
        }
        curio_addr_format(&from, text, sizeof text);
        printf("Received from %s %.*s\n", text, (int)n, data);
        n = curio_sendto(sock, data, (size_t)n, 0, &from); /* await sock.sendto(data, addr) */
        if (n < 0)
            fprintf(stderr, "udp_echo: sendto %s: %s\n", text, curio_strerror((int)n));
    }
    curio_socket_close(sock);
    return rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *host = argc > 1 ? argv[1] : "";
    curio_addr addr;
    if (curio_addr_ip(&addr, host, (uint16_t)(argc > 2 ? atoi(argv[2]) : 26000)) < 0) {
        fprintf(stderr, "udp_echo: %s is not a numeric address\n", host);
        return 2;
    }
    long result = 0;
    if (curio_run(udp_echo, &addr, NULL, &result) < 0)
        return 1;
    fprintf(stderr, "udp_echo: %s\n", curio_strerror((int)result));
    return 1;
}
