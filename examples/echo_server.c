/*
 * The tutorial's first echo server, written directly with sockets ("A Simple Echo
 * Server"): a listening socket, accept, and a task for each client.
 *
 *     ./echo_server [host [port]]     (default: every interface, port 25000)
 *
 * Try it with `nc localhost 25000`: every line comes back. Stop it with Ctrl-C. With port
 * 0 the system chooses one; the "Server listening at" line says which.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

/* (client, addr) as accept returned them; the client task frees it. */
struct client {
    curio_socket *sock;
    curio_addr addr;
};

static long echo_client(void *arg)
{
    struct client *c = arg;
    char addr[CURIO_ADDR_STRLEN];
    curio_addr_format(&c->addr, addr, sizeof addr);
    printf("Connection from %s\n", addr);
    char data[1000];
    ssize_t n;
    while ((n = curio_recv(c->sock, data, sizeof data, 0)) > 0) { /* data = await client.recv(1000) */
        if (curio_sendall(c->sock, data, (size_t)n, 0, NULL) < 0) /* await client.sendall(data) */
            break;
    }
    curio_socket_close(c->sock); /* the end of `async with client` */
    free(c);
    printf("Connection closed\n");
    return 0;
}

static long echo_server(void *arg)
{
    const curio_addr *address = arg;
    curio_socket *sock;
    int rc = curio_socket_open(&sock, address->u.sa.sa_family, SOCK_STREAM, 0);
    if (rc < 0)
        return rc;
    int one = 1;
    curio_socket_setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if ((rc = curio_socket_bind(sock, address)) < 0 || (rc = curio_socket_listen(sock, 5)) < 0) {
        curio_socket_close(sock);
        return rc;
    }
    curio_addr bound;
    char text[CURIO_ADDR_STRLEN];
    curio_socket_getsockname(sock, &bound);
    curio_addr_format(&bound, text, sizeof text);
    printf("Server listening at %s\n", text);
    for (;;) {
        struct client *c = malloc(sizeof *c);
        if (!c) {
            rc = -ENOMEM;
            break;
        }
        rc = curio_accept(sock, &c->sock, &c->addr); /* client, addr = await sock.accept() */
        if (rc < 0) {
            free(c);
            break;
        }
        curio_task *t = curio_spawn(echo_client, c); /* await spawn(echo_client(client, addr)) */
        if (!t) {
            curio_socket_close(c->sock);
            free(c);
            continue;
        }
        curio_task_release(t); /* the task runs on by itself */
    }
    curio_socket_close(sock); /* the end of `async with sock` */
    return rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *host = argc > 1 ? argv[1] : "";
    int port = argc > 2 ? atoi(argv[2]) : 25000;
    curio_addr address;
    if (curio_addr_ip(&address, host, (uint16_t)port) < 0) {
        fprintf(stderr, "echo_server: %s is not a numeric address\n", host);
        return 2;
    }
    long result = 0;
    if (curio_run(echo_server, &address, NULL, &result) < 0)
        return 1;
    if (result < 0)
        fprintf(stderr, "echo_server: %s\n", curio_strerror((int)result));
    return result < 0;
}
