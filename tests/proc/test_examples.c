/*
 * The proc examples that need a peer, run as programs: the tutorial's kid and parent
 * woken by SIGHUP (kid_signal), the same with the kid's Fibonacci numbers computed in
 * worker processes (kid_fib), the managed echo server restarted by SIGHUP (echo_managed),
 * and Ctrl-C handled through a SignalQueue (ctrl_c). The signals are sent here, to the
 * pid started here; the executables come from CURIO_EXAMPLE_<NAME> (tests/proc/meson.build).
 */
#include "exampletest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* Only their stdout is read (xstart_stdout): the tests compare it. */
TestSuite(examples, .fini = xkill_started);

/* Read more output; false at its end. */
static bool more(xproc *p)
{
    struct pollfd pf = {.fd = p->out, .events = POLLIN};
    cr_assert_gt(poll(&pf, 1, 10000), 0, "no output for 10 s; so far: %s", p->buf);
    ssize_t n = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
    if (n <= 0)
        return false;
    p->len += (size_t)n;
    p->buf[p->len] = 0;
    return true;
}

/* Read what arrives within ms milliseconds, if anything. */
static void read_for(xproc *p, int ms)
{
    struct pollfd pf = {.fd = p->out, .events = POLLIN};
    while (poll(&pf, 1, ms) > 0) {
        ssize_t n = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
        if (n <= 0)
            return;
        p->len += (size_t)n;
        p->buf[p->len] = 0;
    }
}

static const char *expect_nth(xproc *p, const char *what, int n)
{
    for (;;) {
        const char *at = p->buf;
        int k = 0;
        while ((at = strstr(at, what)) && ++k < n)
            at++;
        if (at && k == n)
            return at;
        cr_assert(more(p), "\"%s\" not %d times: %s", what, n, p->buf);
    }
}

/* Read to the end and reap; returns the wait status. */
static int finish(xproc *p)
{
    while (more(p))
        ;
    close(p->out);
    int status;
    cr_assert_eq(waitpid(p->pid, &status, 0), p->pid);
    xforget(p->pid);
    return status;
}

/* ---- the kid and the parent, woken by SIGHUP ---- */

static const char kid_tail[] = "Let's go\n"
                               "T-minus 10\nT-minus 9\nT-minus 8\nT-minus 7\nT-minus 6\n"
                               "T-minus 5\nT-minus 4\nT-minus 3\nT-minus 2\nT-minus 1\n"
                               "We're leaving!\nI warned you!\nFine. Saving my work.\n"
                               "Leaving!\n";

static void kid_test(const char *name, xproc *p)
{
    const char *args[] = {"0.01", NULL};
    xstart_stdout(p, name, args);
    const char *pid_line = xexpect(p, "Parent PID ");
    xexpect(p, "\n");
    cr_assert_eq(atoi(pid_line + strlen("Parent PID ")), p->pid);
    const char *play = xexpect(p, "Building the Millenium Falcon in Minecraft\n");
    cr_assert(strstr(p->buf, "Yes, go play\n") < play);
    size_t before = (size_t)(play - p->buf) + strlen("Building the Millenium Falcon in Minecraft\n");
    read_for(p, 100); /* the parent waits for the signal, however long: nothing happens */
    cr_assert_eq(p->len, before, "nothing more before the signal: %s", p->buf + before);
    cr_assert_eq(kill(p->pid, SIGHUP), 0);
}

Test(examples, kid_signal_waits_for_sighup)
{
    xproc p;
    kid_test("kid_signal", &p);
    size_t from = p.len;
    int status = finish(&p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, p.buf);
    cr_assert_str_eq(p.buf + from, kid_tail);
}

/* The workers computing the kid's numbers: the example's children. */
static int children_of(pid_t pid, pid_t *kids, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0, k;
    while (n < max && fscanf(f, "%d", &k) == 1)
        kids[n++] = k;
    fclose(f);
    return n;
}

static bool alive(pid_t pid)
{
    char path[64], state = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    int n = fscanf(f, "%*d %*s %c", &state);
    fclose(f);
    return n == 1 && state != 'Z';
}

Test(examples, kid_fib_stays_responsive_while_workers_compute)
{
    xproc p;
    const char *args[] = {"0.01", NULL};
    xstart_stdout(&p, "kid_fib", args);
    xexpect(&p, "Building the Millenium Falcon in Minecraft\n");
    pid_t kids[16];
    int n = 0;
    for (int i = 0; i < 1000 && (n = children_of(p.pid, kids, 16)) == 0; i++)
        usleep(1000);
    if (n < 0)
        cr_skip_test("no /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN)");
    cr_assert_gt(n, 0, "a worker computes");
    usleep(50000);
    cr_assert_eq(kill(p.pid, SIGHUP), 0, "the kernel still reads signals meanwhile");
    size_t from = p.len;
    xexpect(&p, "Leaving!\n");
    int status = finish(&p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, p.buf);
    cr_assert(strstr(p.buf + from, kid_tail), "got: %s", p.buf + from);
    for (int i = 0; i < n; i++) {
        for (int w = 0; w < 5000 && alive(kids[i]); w++)
            usleep(1000);
        cr_assert(!alive(kids[i]), "worker %d is gone", kids[i]);
    }
}

/* ---- the managed echo server ---- */

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void echo_line(int fd, const char *line)
{
    size_t n = strlen(line);
    char back[256] = {0};
    cr_assert_eq(write(fd, line, n), (ssize_t)n);
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, back + got, n - got);
        cr_assert_gt(r, 0);
        got += (size_t)r;
    }
    cr_assert_str_eq(back, line);
}

static int port_of(xproc *p, int nth)
{
    const char *l = expect_nth(p, "Server listening at 127.0.0.1:", nth);
    while (!strchr(l, '\n'))
        cr_assert(more(p));
    return atoi(l + strlen("Server listening at 127.0.0.1:"));
}

Test(examples, echo_managed_restarts_on_sighup)
{
    xproc p;
    const char *args[] = {"127.0.0.1", "0", NULL};
    xstart_stdout(&p, "echo_managed", args);
    int port = port_of(&p, 1);
    int a = connect_to(port), b = connect_to(port);
    echo_line(a, "Hello\n");
    echo_line(b, "Is anyone there?\n");
    expect_nth(&p, "Connection from 127.0.0.1:", 2);
    cr_assert_eq(kill(p.pid, SIGHUP), 0);
    for (int i = 0; i < 2; i++) {
        int fd = i ? b : a;
        char buf[64] = {0};
        size_t got = 0;
        ssize_t r;
        while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)r;
        cr_assert_str_eq(buf, "Server going down\n", "then end of stream");
        close(fd);
    }
    xexpect(&p, "Server shutting down\n");
    int again = port_of(&p, 2);
    expect_nth(&p, "Starting the server\n", 2);
    int c = connect_to(again);
    echo_line(c, "Back again\n");
    close(c);
    cr_assert_eq(kill(p.pid, SIGTERM), 0); /* not watched: its default action */
    int status = finish(&p);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status %#x", status);
    cr_assert(strstr(p.buf, "Starting the server\n") == p.buf, "%s", p.buf);
}

/* ---- Ctrl-C through a SignalQueue ---- */

static void ctrl_c_test(int stop, const char *name)
{
    xproc p;
    const char *args[] = {"0.1", NULL};
    xstart_stdout(&p, "ctrl_c", args);
    xexpect(&p, "for a report\n");
    cr_assert_eq(kill(p.pid, SIGUSR1), 0);
    xexpect(&p, "report: ");
    xexpect(&p, " units of work done\n");
    cr_assert_eq(kill(p.pid, SIGUSR1), 0);
    expect_nth(&p, "report: ", 2);
    cr_assert_eq(kill(p.pid, stop), 0);
    int status = finish(&p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, p.buf);
    char tail[128];
    snprintf(tail, sizeof tail, "Got %s: stopping the workers\n", name);
    const char *at = strstr(p.buf, tail);
    cr_assert_not_null(at, "%s", p.buf);
    at += strlen(tail);
    cr_assert(strcmp(at, "worker 0: saved my work\nworker 1: saved my work\nBye\n") == 0 ||
              strcmp(at, "worker 1: saved my work\nworker 0: saved my work\nBye\n") == 0,
              "got: %s", at);
}

Test(examples, ctrl_c_stops_the_workers_gracefully)
{
    ctrl_c_test(SIGINT, "SIGINT");
}

Test(examples, sigterm_does_the_same)
{
    ctrl_c_test(SIGTERM, "SIGTERM");
}
