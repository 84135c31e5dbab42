/*
 * The socket examples of the seed documents (examples/), each run as a program against a
 * real client: plain blocking sockets written here, or the example client itself. Servers
 * are started on 127.0.0.1 with port 0, their "Server listening at" line tells the port,
 * and they are stopped with SIGTERM (by the pid started here). The executables come from
 * the build through CURIO_EXAMPLE_<NAME> variables (tests/net/meson.build).
 */
#include "exampletest.h"
#include "nettest.h"

#include <pthread.h>
#include <sys/time.h>

/* Servers started by the test running now are stopped by the suite's fini also when an
 * assertion fails half-way (they would otherwise outlive the test). Examples run here
 * have only their stdout read (xstart_stdout): the tests compare it whole. */
TestSuite(examples, .fini = xkill_started);

static int occurrences(const char *text, const char *what)
{
    int n = 0;
    for (const char *at = text; (at = strstr(at, what)); at++)
        n++;
    return n;
}

/* Read until `what` has appeared n times. */
static void expect_times(xproc *p, const char *what, int n)
{
    while (occurrences(p->buf, what) < n) {
        struct pollfd pf = {.fd = p->out, .events = POLLIN};
        cr_assert_gt(poll(&pf, 1, 10000), 0, "\"%s\" not %d times; output: %s", what, n, p->buf);
        ssize_t r = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
        cr_assert_gt(r, 0, "output ended: %s", p->buf);
        p->len += (size_t)r;
        p->buf[p->len] = 0;
    }
}

/* A plain client that does not wait forever. */
static int client(int port)
{
    int fd = plain_connect("127.0.0.1", port);
    cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void echo_line(int fd, const char *line)
{
    size_t n = strlen(line);
    char *back = malloc(n);
    cr_assert_eq(write_full(fd, line, n), 0);
    cr_assert_eq(read_full(fd, back, n), (ssize_t)n);
    cr_assert_eq(memcmp(back, line, n), 0);
    free(back);
}

/* Two clients at once, lines echoed, then both close: the nc session of the tutorial. */
static void echo_server_test(const char *name, const char *extra)
{
    const char *args[] = {"127.0.0.1", "0", extra, NULL};
    xproc p;
    xstart_stdout(&p, name, args);
    int port = xport(&p, "Server");
    int a = client(port), b = client(port);
    echo_line(a, "Hello\n");
    echo_line(b, "Is anyone there?\n");
    echo_line(a, "Bye\n");
    static char big[60000]; /* under the line servers' default max_line (64 KiB) */
    memset(big, 'x', sizeof big - 2);
    big[sizeof big - 2] = '\n';
    echo_line(b, big);
    close(a);
    close(b);
    expect_times(&p, "Connection from 127.0.0.1:", 2);
    expect_times(&p, "Connection closed\n", 2);
    xstop(&p);
}

Test(examples, echo_server, .timeout = 30) { echo_server_test("echo_server", NULL); }

/* A client that resets is a normal disconnect: the tcp_server examples print no failure
 * for it (stdout and stderr read together, in the order written). */
Test(examples, echo_tcp_server_reset_is_quiet, .timeout = 30)
{
    const char *args[] = {"127.0.0.1", "0", NULL};
    xproc p;
    xstart(&p, "echo_tcp_server", args);
    int port = xport(&p, "Server");
    int a = client(port);
    echo_line(a, "Hello\n");
    reset_close(a);
    expect_times(&p, "Connection closed\n", 1);
    int b = client(port);
    echo_line(b, "Bye\n");
    close(b);
    expect_times(&p, "Connection closed\n", 2);
    cr_assert_null(strstr(p.buf, "failed"), "%s", p.buf);
    cr_assert_null(strstr(p.buf, "curio:"), "%s", p.buf);
    xstop(&p);
}
Test(examples, echo_tcp_server, .timeout = 30) { echo_server_test("echo_tcp_server", NULL); }
Test(examples, echo_stream, .timeout = 30) { echo_server_test("echo_stream", NULL); }
Test(examples, echo_lines, .timeout = 30) { echo_server_test("echo_lines", NULL); }

/* Line iteration: half a line is not echoed; the rest completes it. */
Test(examples, echo_lines_waits_for_whole_lines, .timeout = 30)
{
    const char *args[] = {"127.0.0.1", "0", NULL};
    xproc p;
    xstart_stdout(&p, "echo_lines", args);
    int fd = client(xport(&p, "Server"));
    cr_assert_eq(write_full(fd, "par", 3), 0);
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&pf, 1, 100), 0, "nothing comes back before the newline");
    cr_assert_eq(write_full(fd, "tial\nnext\nla", 12), 0);
    char buf[32];
    cr_assert_eq(read_full(fd, buf, 13), 13);
    cr_assert_eq(memcmp(buf, "partial\nnext\n", 13), 0);
    cr_assert_eq(shutdown(fd, SHUT_WR), 0);
    cr_assert_eq(read_full(fd, buf, sizeof buf), 2, "the last line, without its newline");
    cr_assert_eq(memcmp(buf, "la", 2), 0);
    close(fd);
    xexpect(&p, "Connection closed\n");
    xstop(&p);
}

Test(examples, echo_blocking, .timeout = 30) { echo_server_test("echo_blocking", NULL); }
Test(examples, echo_blocking_in_thread, .timeout = 30)
{
    echo_server_test("echo_blocking", "thread");
}

/* ---- the HTTP client against a one-request server of the test's own ---- */

struct http_server {
    int ls, port;
    char request[1024];
};

static const char response[] = "HTTP/1.0 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "\r\n"
                               "If you're seeing this, it probably worked. Yay!\n";

static void *serve_one(void *arg)
{
    struct http_server *h = arg;
    int c = accept(h->ls, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t n = 0;
    while (n < sizeof h->request - 1 && !strstr(h->request, "\r\n\r\n")) {
        ssize_t r = read(c, h->request + n, sizeof h->request - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        h->request[n] = 0;
    }
    write_full(c, response, sizeof response - 1);
    close(c);
    return NULL;
}

static void http_test(const char *host)
{
    struct http_server h = {0};
    h.ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", 0);
    cr_assert_eq(bind(h.ls, &a.u.sa, a.len), 0);
    cr_assert_eq(listen(h.ls, 4), 0);
    a.len = sizeof a.u;
    getsockname(h.ls, &a.u.sa, &a.len);
    char port[8];
    snprintf(port, sizeof port, "%d", curio_addr_port(&a));
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, serve_one, &h), 0);
    const char *args[] = {host, port, "/index.txt", NULL};
    xproc p;
    cr_assert_eq(xrun_stdout(&p, "http_get", args), 0, "output: %s", p.buf);
    pthread_join(t, NULL);
    close(h.ls);
    char want[256];
    snprintf(want, sizeof want, "GET /index.txt HTTP/1.0\r\nHost: %s\r\n\r\n", host);
    cr_assert_str_eq(h.request, want);
    cr_assert_str_eq(p.buf, response, "the whole response, as received");
}

Test(examples, http_get_numeric, .timeout = 30) { http_test("127.0.0.1"); }
Test(examples, http_get_by_name, .timeout = 30) { http_test("localhost"); }

Test(examples, http_get_refused, .timeout = 30)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", 0);
    cr_assert_eq(bind(s, &a.u.sa, a.len), 0); /* bound, not listening: refused */
    a.len = sizeof a.u;
    getsockname(s, &a.u.sa, &a.len);
    char port[8];
    snprintf(port, sizeof port, "%d", curio_addr_port(&a));
    const char *args[] = {"127.0.0.1", port, NULL};
    xproc p;
    cr_assert_eq(xrun_stdout(&p, "http_get", args), 1);
    cr_assert_str_eq(p.buf, "");
    close(s);
}

/* ---- UDP echo, with the example client and with a plain one ---- */

Test(examples, udp_echo_and_client, .timeout = 30)
{
    const char *args[] = {"127.0.0.1", "0", NULL};
    xproc srv;
    xstart_stdout(&srv, "udp_echo", args);
    int port = xport(&srv, "Server");
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *cargs[] = {"127.0.0.1", portstr, "one", "two", "three", NULL};
    xproc cl;
    cr_assert_eq(xrun_stdout(&cl, "udp_client", cargs), 0);
    cr_assert_str_eq(cl.buf, "Got: one\nGot: two\nGot: three\n");
    xexpect(&srv, "Received from 127.0.0.1:");
    xexpect(&srv, " three\n");

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", (uint16_t)port);
    cr_assert_eq(sendto(fd, "plain", 5, 0, &a.u.sa, a.len), 5);
    char buf[16];
    cr_assert_eq(recv(fd, buf, sizeof buf, 0), 5);
    cr_assert_eq(memcmp(buf, "plain", 5), 0);
    close(fd);
    xstop(&srv);
}

Test(examples, udp_client_without_a_server_times_out, .timeout = 30)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", 0);
    cr_assert_eq(bind(s, &a.u.sa, a.len), 0); /* a silent peer */
    a.len = sizeof a.u;
    getsockname(s, &a.u.sa, &a.len);
    char port[8];
    snprintf(port, sizeof port, "%d", curio_addr_port(&a));
    const char *args[] = {"127.0.0.1", port, "anyone?", NULL};
    xproc p;
    cr_assert_eq(xrun_stdout(&p, "udp_client", args), 0);
    cr_assert_str_eq(p.buf, "No reply to anyone?\n");
    close(s);
}

/* The echo server on every core (examples/cores_echo.c): two kernels listening on one
 * port, every connection answered by one of them, and SIGINT read once by the run, which
 * stops both: the program ends normally, saying "stopped". */
Test(examples, cores_echo, .timeout = 30)
{
    const char *args[] = {"0", "2", NULL};
    xproc p;
    xstart_stdout(&p, "cores_echo", args);
    int port = xport(&p, "of 2");
    expect_times(&p, "listening at 127.0.0.1:", 2);
    for (int i = 0; i < 20; i++) {
        int fd = client(port);
        char back[16] = {0};
        cr_assert_eq(write_full(fd, "hi\n", 3), 0);
        cr_assert_eq(read_full(fd, back, 7), 7);
        cr_assert(strcmp(back, "[0] hi\n") == 0 || strcmp(back, "[1] hi\n") == 0, "%s", back);
        close(fd);
    }
    cr_assert_eq(kill(p.pid, SIGINT), 0);
    cr_assert_eq(xwait(&p), 0);
    cr_assert_not_null(strstr(p.buf, "stopped\n"), "%s", p.buf);
}
