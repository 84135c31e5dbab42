/*
 * curio_sendfile on a TLS socket: the bytes go through the transport (pread + the
 * session's sendall) and arrive decrypted, whole and in order, at a TLS client; a range
 * and end of file as on a plain socket.
 */
#include "tlstest.h"

#if CURIO_TEST_TLS
#include <sys/stat.h>

TestSuite(tls_sendfile, .timeout = 60);

static unsigned char byte_at(size_t i) { return (unsigned char)((i * 2654435761u) >> 13); }

#define SIZE (3u << 20)

static int make_file(void)
{
    char path[] = "/tmp/curio-tls-sendfile-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    static unsigned char buf[SIZE];
    for (size_t i = 0; i < SIZE; i++)
        buf[i] = byte_at(i);
    cr_assert_eq(write(fd, buf, SIZE), (ssize_t)SIZE);
    return fd;
}

struct job {
    int fd;
    int64_t offset;
    size_t count;
    ssize_t rc;
    size_t sent;
};

static long sendfile_body(curio_socket *c, struct tsrv *t)
{
    struct job *j = t->user;
    j->rc = curio_sendfile_fd(c, j->fd, j->offset, j->count, &j->sent);
    return 0;
}

static long tls_main(void *arg)
{
    struct job *j = arg;
    struct tsrv srv = {.ctx = server_ctx("server.pem"), .body = sendfile_body, .user = j};
    tsrv_start(&srv);
    curio_socket *s;
    int rc = tls_connect(&s, srv.port, "ca.pem", "localhost");
    cr_assert_eq(rc, 0, "%s", curio_strerror(rc));
    static unsigned char buf[1 << 16];
    size_t got = 0;
    ssize_t n;
    while ((n = curio_recv(s, buf, sizeof buf, 0)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            cr_assert_eq(buf[i], byte_at((size_t)j->offset + got + (size_t)i), "byte %zu",
                         got + (size_t)i);
        got += (size_t)n;
    }
    cr_assert_eq(n, 0, "close_notify after the handler: %s", curio_strerror((int)n));
    tsrv_wait_ended(&srv, 1);
    size_t want = j->count && j->count < SIZE - (size_t)j->offset ? j->count
                                                                    : SIZE - (size_t)j->offset;
    cr_assert_eq(j->rc, (ssize_t)want, "%s", curio_strerror((int)j->rc));
    cr_assert_eq(j->sent, want);
    cr_assert_eq(got, want);
    curio_socket_close(s);
    tsrv_stop(&srv);
    return 0;
}

Test(tls_sendfile, whole_file)
{
    TLS_REQUIRE();
    int fd = make_file();
    int fds = count_fds();
    struct job j = {.fd = fd};
    run_main(tls_main, &j);
    cr_assert_eq(count_fds(), fds);
    close(fd);
}

Test(tls_sendfile, range_and_end_of_file)
{
    TLS_REQUIRE();
    int fd = make_file();
    struct job j = {.fd = fd, .offset = 777, .count = 1000000};
    run_main(tls_main, &j);
    struct job e = {.fd = fd, .offset = SIZE - 1000, .count = 5000};
    run_main(tls_main, &e);
    close(fd);
}

#else
TLS_SKIPPED(tls_sendfile)
#endif
