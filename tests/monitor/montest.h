/*
 * tests/monitor/montest.h - what the monitor tests share: a kernel with its monitor on a
 * free loopback port, and a client written with curio's own sockets that runs in a task
 * next to the monitor (tests of clients that are not curio - a blocking socket on a
 * thread, the curio-monitor program - are in test_session.c and test_client.c).
 */
#ifndef CURIO_MONTEST_H
#define CURIO_MONTEST_H

#include "testutil.h"

#include <core.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <unistd.h>

#define PROMPT "curio > "

/* What `where` shows of a frame in function fn of the executable exe: "in fn" where the
 * build has libdw; without it, the frame's file and address (dladdr names exported
 * functions only, and curio's and the tests' are not). */
#if CURIO_LIBDW
#define WHERE_FRAME(fn, exe) "in " fn "\n"
#else
#define WHERE_FRAME(fn, exe) "  File \"" exe "\" +0x"
#endif

/* The options of a kernel with its monitor on a port the system chooses. */
static const curio_options mon_opts = {.monitor = true, .monitor_address = "127.0.0.1:0"};

/* Run fn as the main task of a kernel with a monitor; returns main's result. */
static inline long run_monitored(curio_task_fn fn, void *arg)
{
    long result = -12345;
    int rc = curio_run(fn, arg, &mon_opts, &result);
    cr_assert_eq(rc, 0, "curio_run: %s", curio_strerror(rc));
    return result;
}

/* The port this kernel's monitor listens on. */
static inline int mon_port(void)
{
    curio_addr a;
    int rc = curio_monitor_address(curio_kernel_current(), &a);
    cr_assert_eq(rc, 0, "curio_monitor_address: %s", curio_strerror(rc));
    return curio_addr_port(&a);
}

/* A client connection to the monitor, in a task. */
typedef struct mon_conn {
    curio_socket *s;
    char buf[65536];  /* what arrived and has not been handed out yet */
    size_t len;
    char reply[65536]; /* the last reply, without its prompt */
} mon_conn;

/* Read until the prompt (or end of stream: *closed). The reply is what came before it. */
static inline const char *mon_read_reply(mon_conn *c, bool *closed)
{
    *closed = false;
    for (;;) {
        c->buf[c->len] = 0;
        char *p = strstr(c->buf, PROMPT);
        if (p) {
            size_t n = (size_t)(p - c->buf);
            memcpy(c->reply, c->buf, n);
            c->reply[n] = 0;
            size_t rest = c->len - n - strlen(PROMPT);
            memmove(c->buf, p + strlen(PROMPT), rest);
            c->len = rest;
            return c->reply;
        }
        cr_assert_lt(c->len, sizeof c->buf - 1, "reply too long");
        ssize_t r = curio_recv(c->s, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
        cr_assert_geq(r, 0, "recv: %s", curio_strerror((int)r));
        if (r == 0) {
            memcpy(c->reply, c->buf, c->len + 1);
            c->len = 0;
            *closed = true;
            return c->reply;
        }
        c->len += (size_t)r;
    }
}

static inline mon_conn *mon_open(void)
{
    mon_conn *c = calloc(1, sizeof *c);
    cr_assert_not_null(c);
    int rc = curio_open_connection(&c->s, "127.0.0.1", (uint16_t)mon_port(), NULL);
    cr_assert_eq(rc, 0, "connect to the monitor: %s", curio_strerror(rc));
    bool closed;
    const char *banner = mon_read_reply(c, &closed);
    cr_assert(!closed, "the monitor closed at once: %s", banner);
    cr_assert(strstr(banner, "Curio Monitor: "), "banner: %s", banner);
    cr_assert(strstr(banner, "Type help for commands"), "banner: %s", banner);
    return c;
}

/* Send one line, return the reply (valid until the next call on c). */
static inline const char *mon_cmd(mon_conn *c, const char *line)
{
    char msg[8192];
    int n = snprintf(msg, sizeof msg, "%s\n", line);
    cr_assert_lt(n, (int)sizeof msg);
    ssize_t w = curio_sendall(c->s, msg, (size_t)n, 0, NULL);
    cr_assert_eq(w, n, "send: %s", curio_strerror((int)w));
    bool closed;
    const char *r = mon_read_reply(c, &closed);
    cr_assert(!closed, "the monitor closed the connection after '%s': %s", line, r);
    return r;
}

/* Send a line after which the monitor closes; return what it sent before closing. */
static inline const char *mon_cmd_closing(mon_conn *c, const char *line)
{
    char msg[2048];
    int n = snprintf(msg, sizeof msg, "%s\n", line);
    cr_assert_eq(curio_sendall(c->s, msg, (size_t)n, 0, NULL), n);
    bool closed;
    const char *r = mon_read_reply(c, &closed);
    cr_assert(closed, "the connection stayed open after '%s': %s", line, r);
    return r;
}

static inline void mon_close(mon_conn *c)
{
    curio_socket_close(c->s);
    free(c);
}

/* The ps row of task id, copied into row (empty if there is none). */
static inline const char *ps_row(const char *ps, uint64_t id, char *row, size_t cap)
{
    char key[32];
    int n = snprintf(key, sizeof key, "\n%llu ", (unsigned long long)id);
    const char *p = strstr(ps, key);
    row[0] = 0;
    if (!p)
        return row;
    p++;
    size_t len = strcspn(p, "\n");
    if (len >= cap)
        len = cap - 1;
    memcpy(row, p, len);
    row[len] = 0;
    (void)n;
    return row;
}

/* Field i (0: id, 1: state, 2: cycles, 3: timeout, 4: name) of a ps row. */
static inline const char *ps_field(const char *row, int i, char *out, size_t cap)
{
    static const int start[] = {0, 7, 20, 31, 39};
    static const int width[] = {6, 12, 10, 7, 64};
    size_t len = strlen(row);
    out[0] = 0;
    if ((size_t)start[i] >= len)
        return out;
    size_t n = len - (size_t)start[i];
    if (n > (size_t)width[i])
        n = (size_t)width[i];
    if (n >= cap)
        n = cap - 1;
    memcpy(out, row + start[i], n);
    out[n] = 0;
    for (size_t k = n; k > 0 && out[k - 1] == ' '; k--)
        out[k - 1] = 0;
    return out;
}

/* Wait (in 1 ms sleeps, up to 5 s) until cond holds, and require it. */
#define wait_until(cond)                                                                   \
    do {                                                                                   \
        for (int i_ = 0; i_ < 5000 && !(cond); i_++)                                       \
            curio_sleep(0.001);                                                            \
        cr_assert(cond, "not within 5 s: %s", #cond);                                      \
    } while (0)

/* Yield until the task has reached state (a blocking call), at most 1000 times. */
static inline void wait_state(curio_task *t, const char *state)
{
    for (int i = 0; i < 1000 && strcmp(curio_task_state(t), state) != 0; i++)
        curio_yield();
    cr_assert_str_eq(curio_task_state(t), state);
}

/* For a plain thread talking to the monitor while the kernel's thread is busy: a blocking
 * connection to the monitor's loopback port (the descriptor, or -errno), and one command
 * sent on it (cmd NULL: nothing sent) with its reply read up to the next prompt into out
 * (0, -EIO, or -EMSGSIZE when out is too small). */
static inline int mon_blocking_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

static inline int mon_blocking_exchange(int fd, const char *cmd, char *out, size_t cap)
{
    if (cmd && write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
        return -EIO;
    size_t n = 0;
    for (;;) {
        out[n] = 0;
        char *p = strstr(out, PROMPT);
        if (p) {
            *p = 0;
            return 0;
        }
        if (n == cap - 1)
            return -EMSGSIZE;
        ssize_t r = read(fd, out + n, cap - 1 - n);
        if (r <= 0)
            return -EIO;
        n += (size_t)r;
    }
}

#endif
