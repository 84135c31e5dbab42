/*
 * The session: banner and prompt, help, quit, end of input, several commands on one
 * connection (also sent in one write), several connections at once, the limit on them,
 * command prefixes, unknown and ambiguous commands, bad arguments, blank and CRLF lines, a
 * line too long; the idle timeout (option and environment); and a client that is not
 * curio (a blocking socket on a thread).
 */
#include "montest.h"
#include "monitor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static long commands_main(void *arg)
{
    (void)arg;
    mon_conn *c = mon_open();
    const char *h = mon_cmd(c, "help");
    cr_assert(strncmp(h, "Commands:\n", 10) == 0, "%s", h);
    const char *const lines[] = {"    ps               : Show task table\n",
                                 "    where taskid     : Show the C call stack of a task\n",
                                 "    cancel taskid    : Cancel an indicated task\n",
                                 "    signal signame   : Send a Unix signal to this process\n",
                                 "    parents taskid   : List task parents\n",
                                 "    help             : Show this list\n",
                                 "    quit             : Leave the monitor\n", NULL};
    for (const char *const *l = lines; *l; l++)
        cr_assert(strstr(h, *l), "'%s' missing in:\n%s", *l, h);
    cr_assert_str_eq(mon_cmd(c, "h"), h, "a prefix");
    cr_assert(strstr(mon_cmd(c, "pa 1"), "monitor"), "pa is parents");
    cr_assert(strstr(mon_cmd(c, "ps"), "Task   State"), "ps wins over its prefix parents");
    cr_assert_str_eq(mon_cmd(c, "p"), "Error: 'p' is ambiguous (ps, parents ...). Type help.\n");
    cr_assert_str_eq(mon_cmd(c, "frobnicate"), "Error: unknown command 'frobnicate'. Type "
                                               "help.\n");
    cr_assert_str_eq(mon_cmd(c, "ps now"), "Error: ps takes no argument\n");
    cr_assert_str_eq(mon_cmd(c, "help me"), "Error: help takes no argument\n");
    cr_assert_str_eq(mon_cmd(c, ""), "", "a blank line: just the prompt again");
    cr_assert_str_eq(mon_cmd(c, "   \t "), "");
    cr_assert(strstr(mon_cmd(c, "  ps  "), "Task   State"), "spaces around");
    cr_assert(strstr(mon_cmd(c, "ps\r"), "Task   State"), "a telnet's CRLF");
    cr_assert(strstr(mon_cmd(c, "PS") , "unknown command 'PS'"), "commands are lower case");
    mon_close(c);
    return 0;
}

Test(session, commands_prefixes_and_errors)
{
    cr_assert_eq(run_monitored(commands_main, NULL), 0);
}

/* Several commands in one write are answered in order, each with its prompt. */
static long batch_main(void *arg)
{
    (void)arg;
    mon_conn *c = mon_open();
    const char *batch = "ps\nparents 1\nbogus\nhelp\nquit\nps\n";
    cr_assert_eq(curio_sendall(c->s, batch, strlen(batch), 0, NULL), (ssize_t)strlen(batch));
    bool closed;
    cr_assert(strstr(mon_read_reply(c, &closed), "Task   State"));
    cr_assert(strstr(mon_read_reply(c, &closed), " monitor\n"));
    cr_assert(strstr(mon_read_reply(c, &closed), "unknown command 'bogus'"));
    cr_assert(strstr(mon_read_reply(c, &closed), "Commands:"));
    cr_assert(!closed);
    const char *last = mon_read_reply(c, &closed);
    cr_assert(closed, "quit closes: the ps after it is not answered");
    cr_assert_str_eq(last, "");
    mon_close(c);
    return 0;
}

Test(session, several_commands_in_one_write_then_quit)
{
    cr_assert_eq(run_monitored(batch_main, NULL), 0);
}

/* End of input ends the session; the monitor goes on serving others. */
static long eof_main(void *arg)
{
    (void)arg;
    mon_conn *a = mon_open(), *b = mon_open();
    cr_assert_eq(curio_socket_shutdown(a->s, SHUT_WR), 0);
    bool closed;
    mon_read_reply(a, &closed);
    cr_assert(closed);
    /* Interleaved commands on two connections. */
    mon_conn *d = mon_open();
    for (int i = 0; i < 3; i++) {
        cr_assert(strstr(mon_cmd(b, "ps"), "Task   State"));
        cr_assert(strstr(mon_cmd(d, "help"), "Commands:"));
    }
    const char *ps = mon_cmd(b, "ps");
    int sessions = 0;
    const char *line = strstr(ps, "Monitor connections (2): ");
    cr_assert(line, "%s", ps);
    for (const char *p = line; (p = strstr(p, "127.0.0.1:")) && p < strchr(line, '\n'); p++)
        sessions++;
    cr_assert_eq(sessions, 2, "b and d, not a:\n%s", ps);
    mon_close(a);
    mon_close(b);
    mon_close(d);
    return 0;
}

Test(session, end_of_input_and_several_connections)
{
    cr_assert_eq(run_monitored(eof_main, NULL), 0);
}

static long limit_main(void *arg)
{
    (void)arg;
    mon_conn *c[16];
    for (int i = 0; i < 16; i++)
        c[i] = mon_open();
    mon_conn *extra = calloc(1, sizeof *extra);
    cr_assert_eq(curio_open_connection(&extra->s, "127.0.0.1", (uint16_t)mon_port(), NULL), 0);
    bool closed;
    const char *r = mon_read_reply(extra, &closed);
    cr_assert(closed);
    cr_assert_str_eq(r, "Error: too many monitor connections (at most 16)\n");
    mon_close(extra);
    mon_close(c[3]);
    wait_until(curio_kernel_current()->monitor->nsessions == 15);
    mon_conn *again = mon_open();
    cr_assert(strstr(mon_cmd(again, "ps"), "Task   State"));
    mon_close(again);
    for (int i = 0; i < 16; i++)
        if (i != 3)
            mon_close(c[i]);
    return 0;
}

Test(session, at_most_16_connections)
{
    cr_assert_eq(run_monitored(limit_main, NULL), 0);
}

static long long_line_main(void *arg)
{
    (void)arg;
    mon_conn *c = mon_open();
    char line[3000];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = 0;
    cr_assert_str_eq(mon_cmd(c, line), "Error: line too long (at most 1023 bytes)\n");
    cr_assert(strstr(mon_cmd(c, "ps"), "Task   State"), "the next line is read as a command");
    /* 1023 bytes is fine (an unknown command). */
    line[1023] = 0;
    cr_assert(strncmp(mon_cmd(c, line), "Error: unknown command 'xxx", 27) == 0);
    line[1023] = 'x';
    line[1024] = 0;
    cr_assert_str_eq(mon_cmd(c, line), "Error: line too long (at most 1023 bytes)\n");
    mon_close(c);
    /* 80 KiB without a newline is not a line at all: said, and the connection closes. */
    c = mon_open();
    static char junk[80 * 1024];
    memset(junk, 'y', sizeof junk);
    cr_assert_eq(curio_sendall(c->s, junk, sizeof junk, 0, NULL), (ssize_t)sizeof junk);
    bool closed;
    cr_assert_str_eq(mon_read_reply(c, &closed), "Error: line too long (at most 1023 "
                                                 "bytes)\n");
    cr_assert(closed);
    mon_close(c);
    return 0;
}

Test(session, a_line_too_long_is_skipped)
{
    cr_assert_eq(run_monitored(long_line_main, NULL), 0);
}

/* ---- a client that is not curio: a blocking socket on a pool thread ---- */

struct plain {
    int port;
    char out[16384];
};

static long plain_client(void *arg)
{
    struct plain *p = arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -errno;
    const char *cmds = "ps\nwhere 1\nquit\n";
    if (write(fd, cmds, strlen(cmds)) != (ssize_t)strlen(cmds))
        return -EIO;
    size_t n = 0;
    ssize_t r;
    while (n < sizeof p->out - 1 && (r = read(fd, p->out + n, sizeof p->out - 1 - n)) > 0)
        n += (size_t)r;
    p->out[n] = 0;
    close(fd);
    return 0;
}

static long plain_main(void *arg)
{
    (void)arg;
    struct plain p = {.port = mon_port()};
    long r = -1;
    cr_assert_eq(curio_run_in_thread(plain_client, &p, &r), 0);
    cr_assert_eq(r, 0, "%s", curio_strerror((int)r));
    const char *parts[] = {"Curio Monitor: ", "Type help for commands\n", PROMPT,
                           "Task   State", PROMPT, "Stack for Task(id=1, name='monitor'",
                           WHERE_FRAME("curio__mon_agent", "test_monitor_session"), PROMPT, NULL};
    const char *at = p.out;
    for (const char **s = parts; *s; s++) {
        const char *f = strstr(at, *s);
        cr_assert(f, "'%s' missing in:\n%s", *s, p.out);
        at = f + strlen(*s);
    }
    cr_assert_str_eq(at, "", "nothing after quit's: %s", at);
    return 0;
}

Test(session, a_plain_blocking_client)
{
    cr_assert_eq(run_monitored(plain_main, NULL), 0);
}

/* Sixteen idle connections fill every slot (with no idle timeout: the kernel's option is
 * negative). Then the test sets a timeout of 0.2 s in the monitor's state (read by each
 * session whenever it starts to wait) and sends each connection a blank line: each one
 * answers with a prompt, waits 0.2 s for the next line, and is closed with a message. A
 * new connection is served afterwards. No step depends on how long another one takes. */
static long idle_main(void *arg)
{
    (void)arg;
    struct curio__monitor *m = curio_kernel_current()->monitor;
    mon_conn *c[16];
    for (int i = 0; i < 16; i++)
        c[i] = mon_open();
    mon_conn *extra = calloc(1, sizeof *extra);
    cr_assert_eq(curio_open_connection(&extra->s, "127.0.0.1", (uint16_t)mon_port(), NULL), 0);
    bool closed;
    cr_assert_str_eq(mon_read_reply(extra, &closed), "Error: too many monitor connections "
                                                     "(at most 16)\n");
    cr_assert(closed);
    mon_close(extra);
    m->idle = 0.2;
    int64_t t0 = curio_clock();
    for (int i = 0; i < 16; i++)
        cr_assert_str_eq(mon_cmd(c[i], ""), "");
    for (int i = 0; i < 16; i++) {
        cr_assert_str_eq(mon_read_reply(c[i], &closed), "Closing: no command for 0.2 s\n");
        cr_assert(closed, "closed by the monitor");
        mon_close(c[i]);
    }
    cr_assert_geq((double)(curio_clock() - t0) / 1e9, 0.19);
    wait_until(m->nsessions == 0);
    m->idle = -1;
    mon_conn *again = mon_open();
    cr_assert(strstr(mon_cmd(again, "ps"), "Task   State"));
    mon_close(again);
    return 0;
}

Test(session, idle_connections_are_closed)
{
    curio_options o = mon_opts;
    o.monitor_idle_timeout = -1;
    long result = -1;
    cr_assert_eq(curio_run(idle_main, NULL, &o, &result), 0);
    cr_assert_eq(result, 0);
}

/* CURIO_MONITOR_IDLE sets it when the program does not; a negative value turns it off. */
static long idle_env_main(void *arg)
{
    cr_assert_eq(curio_kernel_current()->monitor->idle, *(double *)arg);
    return 0;
}

Test(session, idle_timeout_from_the_environment)
{
    static const struct {
        const char *env;
        double want;
    } cases[] = {{"0.5", 0.5}, {"-1", -1}, {"junk", 300}, {NULL, 300}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].env)
            setenv("CURIO_MONITOR_IDLE", cases[i].env, 1);
        else
            unsetenv("CURIO_MONITOR_IDLE");
        curio_options o = mon_opts;
        o.quiet = true;
        double want = cases[i].want;
        cr_assert_eq(curio_run(idle_env_main, &want, &o, NULL), 0);
    }
    setenv("CURIO_MONITOR_IDLE", "0.5", 1);
    curio_options o = mon_opts;
    o.monitor_idle_timeout = 2; /* the program's option wins */
    double want = 2;
    cr_assert_eq(curio_run(idle_env_main, &want, &o, NULL), 0);
    unsetenv("CURIO_MONITOR_IDLE");
}
