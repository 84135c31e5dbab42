/*
 * TLS on many threads: what wolfSSL keeps per thread is freed when the thread ends.
 *
 * Debian's wolfSSL keeps a cache of precomputed ECC points per thread (FP_ECC with
 * thread-local storage), about 4 MiB after one handshake, which nothing frees unless
 * wc_ecc_fp_free() runs on that thread. Threads that ran a kernel with TLS connections,
 * one after another, must not leave it behind: the resident size after they have ended
 * grows by far less than one cache per thread. (Under AddressSanitizer the freed memory
 * sits in its quarantine, so there the size is not compared; LeakSanitizer reports a
 * cache left behind instead.)
 */
#include "tlstest.h"

#if CURIO_TEST_TLS

#include <pthread.h>

TestSuite(tls_threads, .timeout = 120);

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define THREADS 16

static curio_tls_context *server_context, *client_context;

/* One thread's run: a server task and a client task with one TLS connection. */
struct run {
    int port;
    curio_socket *ls;
    int server_rc, client_rc, kernel_rc;
    char echoed[5];
};

static long run_server(void *arg)
{
    struct run *r = arg;
    curio_socket *c;
    int rc = curio_accept(r->ls, &c, NULL);
    if (rc < 0)
        return r->server_rc = rc;
    if ((rc = curio_tls_wrap(c, server_context, NULL)) == 0 &&
        (rc = curio_tls_handshake(c)) == 0) {
        char buf[4];
        ssize_t n = curio_recv(c, buf, sizeof buf, MSG_WAITALL);
        ssize_t m = n == 4 ? curio_sendall(c, buf, 4, 0, NULL) : n < 0 ? n : -EIO;
        rc = m == 4 ? 0 : m < 0 ? (int)m : -EIO;
    }
    curio_socket_close(c);
    return r->server_rc = rc;
}

static long thread_kernel_main(void *arg)
{
    struct run *r = arg;
    int rc = curio_tcp_server_socket(&r->ls, "127.0.0.1", 0, NULL);
    curio_addr a;
    if (rc == 0 && (rc = curio_socket_getsockname(r->ls, &a)) == 0)
        r->port = curio_addr_port(&a);
    if (rc < 0)
        return r->client_rc = rc;
    curio_task *server = curio_spawn(run_server, r);
    curio_connect_options o = {.ssl_context = client_context, .server_hostname = "localhost"};
    curio_socket *s = NULL;
    rc = curio_open_connection(&s, "127.0.0.1", (uint16_t)r->port, &o);
    if (rc == 0) {
        ssize_t n = curio_sendall(s, "ping", 4, 0, NULL);
        if (n == 4)
            n = curio_recv(s, r->echoed, 4, MSG_WAITALL);
        rc = n == 4 ? 0 : n < 0 ? (int)n : -EIO;
        curio_socket_close(s);
    }
    r->client_rc = rc;
    if (server) {
        curio_join(server, NULL);
        curio_task_release(server);
    }
    curio_socket_close(r->ls);
    return 0;
}

static void *thread_main(void *arg)
{
    struct run *r = arg;
    r->kernel_rc = curio_run(thread_kernel_main, r, NULL, NULL);
    return NULL;
}

/* Run one TLS connection on each of n new threads, all at once, and join them. */
static void connect_on_threads(int n)
{
    struct run r[THREADS];
    pthread_t t[THREADS];
    cr_assert_leq(n, THREADS);
    for (int i = 0; i < n; i++) {
        r[i] = (struct run){.server_rc = -1, .client_rc = -1};
        cr_assert_eq(pthread_create(&t[i], NULL, thread_main, &r[i]), 0);
    }
    for (int i = 0; i < n; i++)
        cr_assert_eq(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(r[i].kernel_rc, 0, "thread %d: curio_run: %s", i,
                     curio_strerror(r[i].kernel_rc));
        cr_assert_eq(r[i].client_rc, 0, "thread %d: client: %s", i,
                     curio_strerror(r[i].client_rc));
        cr_assert_eq(r[i].server_rc, 0, "thread %d: server: %s", i,
                     curio_strerror(r[i].server_rc));
        cr_assert_str_eq(r[i].echoed, "ping");
    }
}

static size_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    unsigned long size, resident;
    cr_assert_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

Test(tls_threads, ecc_cache_freed_when_threads_end)
{
    TLS_REQUIRE();
    server_context = server_ctx("server.pem");
    client_context = client_ctx("ca.pem");
    /* The first threads set up what stays for the process (wolfSSL's and curio's
     * process-wide state, malloc's arenas): measured from after them. */
    connect_on_threads(2);
    size_t before = resident_bytes();
    connect_on_threads(THREADS);
    size_t after = resident_bytes();
    curio_tls_context_release(server_context);
    curio_tls_context_release(client_context);
    size_t grown = after > before ? after - before : 0;
    cr_log_info("resident: %zu KiB before, %zu KiB after %d threads (+%zu KiB)",
                before / 1024, after / 1024, THREADS, grown / 1024);
    if (!UNDER_ASAN)
        cr_assert_lt(grown, (size_t)THREADS * 1024 * 1024,
                     "+%zu KiB after %d threads: about 4 MiB each stayed behind",
                     grown / 1024, THREADS);
}

#else
TLS_SKIPPED(tls_threads)
#endif
