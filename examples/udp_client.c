/*
 * A client for udp_echo: sends each message as a datagram and prints the echo, waiting at
 * most a second for each (a datagram may be lost: timeout_after, not a retry loop).
 *
 *     ./udp_client host port [message ...]     (default message: "Hello")
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
    curio_addr server;
    char **messages;
    int count;
};

static long client(void *arg)
{
    struct job *j = arg;
    curio_socket *sock;
    int rc = curio_socket_open(&sock, j->server.u.sa.sa_family, SOCK_DGRAM, 0);
    if (rc < 0)
        return rc;
    for (int i = 0; i < j->count && rc >= 0; i++) {
        const char *msg = j->messages[i];
        ssize_t n = curio_sendto(sock, msg, strlen(msg), 0, &j->server);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        char reply[10000];
        curio_scope sc;
        curio_timeout_after(&sc, 1.0);
        n = curio_recvfrom(sock, reply, sizeof reply, 0, NULL);
        if (curio_scope_close(&sc) == -ETIMEDOUT) {
            printf("No reply to %s\n", msg);
            continue;
        }
        if (n < 0)
            rc = (int)n;
        else
            printf("Got: %.*s\n", (int)n, reply);
    }
    curio_socket_close(sock);
    return rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    static char *hello[] = {"Hello"};
    struct job j = {.messages = argc > 3 ? argv + 3 : hello, .count = argc > 3 ? argc - 3 : 1};
    if (argc < 3 || curio_addr_ip(&j.server, argv[1], (uint16_t)atoi(argv[2])) < 0) {
        fprintf(stderr, "usage: udp_client numeric-host port [message ...]\n");
        return 2;
    }
    long result = 0;
    if (curio_run(client, &j, NULL, &result) < 0)
        return 1;
    if (result < 0)
        fprintf(stderr, "udp_client: %s\n", curio_strerror((int)result));
    return result < 0;
}
