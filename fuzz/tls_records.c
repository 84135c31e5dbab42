/*
 * fuzz/tls_records.c - a TLS client's handshake fed arbitrary bytes as the server's
 * records.
 *
 * A client socket (a context that does not verify, so that no CA store is needed; the
 * record layer and the handshake parsing are the same) is wrapped over one end of a
 * socketpair; a task writes the input into the other end in chunks (the first byte seeds
 * their sizes) and then ends its side. The model: no server can complete a handshake
 * without the client's random and key share, so the handshake must end with one of its
 * documented errors, never success, a crash, a hang or a sanitizer report; and after it
 * a receive and a send on the socket must fail too (the failure is sticky).
 */
#include "fuzz.h"

#include <curio.h>

#include <signal.h>
#include <string.h>
#include <unistd.h>

static curio_tls_context *ctx;

struct run {
    struct fuzz_feed feed;
    int fd[2];
};

static bool handshake_error(int rc)
{
    return rc == CURIO_ETLS || rc == CURIO_ETLS_CERT || rc == CURIO_ETLS_EXPIRED ||
           rc == CURIO_ETLS_HOSTNAME || rc == -ECONNRESET || rc == -EPIPE;
}

static long main_task(void *arg)
{
    struct run *r = arg;
    curio_socket *sock;
    CHECK(curio_socket_wrap(&sock, r->fd[0]) == 0, "socket_wrap");
    CHECK(curio_tls_wrap(sock, ctx, "server.example") == 0, "tls_wrap");
    curio_task *w = curio_spawn(fuzz_feed_task, &r->feed);
    CHECK(w, "spawn");
    int rc = curio_tls_handshake(sock);
    CHECK(handshake_error(rc), "the handshake on arbitrary records: %d (%s)", rc,
          curio_strerror(rc));
    char buf[64];
    ssize_t got = curio_recv(sock, buf, sizeof buf, 0);
    CHECK(got < 0, "recv after a failed handshake: %zd", got);
    got = curio_send(sock, "x", 1, 0);
    CHECK(got < 0, "send after a failed handshake: %zd", got);
    curio_socket_close(sock);
    CHECK(curio_join(w, NULL) == 0, "join");
    curio_task_release(w);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    curio_tls_options o = {.no_verify = true};
    int rc = curio_tls_context_new(&ctx, &o);
    CHECK(rc == 0, "tls_context_new: %d", rc);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run r = {0};
    fuzz_rng_seed(&r.feed.rng, data, size ? 1 : 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r.fd) == 0, "socketpair");
    r.feed.data = data + (size ? 1 : 0);
    r.feed.n = size ? size - 1 : 0;
    r.feed.fd = r.fd[1];
    long res = -1;
    int rc = curio_run(main_task, &r, NULL, &res);
    CHECK(rc == 0 && res == 0, "curio_run: %d, %ld", rc, res);
    close(r.fd[1]);
    return 0;
}
