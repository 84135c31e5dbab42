/*
 * The tutorial's monitor sessions, on examples/kid_monitor.c run as a program: once the
 * parent hangs joining the kid, a client connects and sees what the tutorial shows (ps:
 * the parent in TASK_JOIN, the kid in TIME_SLEEP; where 2 and where 3: their call chains),
 * then `cancel 3` lets the parent leave and the program ends; and on
 * examples/kid_signal_monitor.c, the "Signals" section's session: ps shows the parent in
 * SIGNAL_WAIT, and `signal SIGHUP` wakes it. The client is a plain socket here, and the
 * curio-monitor program for ps. The executables come from the build
 * (CURIO_EXAMPLE_KID_MONITOR, CURIO_EXAMPLE_KID_SIGNAL_MONITOR, CURIO_MONITOR_CLIENT).
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PROMPT "curio > "

static pid_t child;

static void kill_child(void)
{
    if (child > 0 && kill(child, SIGKILL) == 0)
        waitpid(child, NULL, 0);
    child = 0;
}

TestSuite(examples, .fini = kill_child);

static const char *env_path(const char *var)
{
    const char *p = getenv(var);
    cr_assert_not_null(p, "%s is not set (run through meson test)", var);
    return p;
}

/* Start argv with its stdout on a pipe (returned). */
static int start(const char *const *argv, pid_t *pid)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    int rc = posix_spawn(pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "spawn %s: %s", argv[0], strerror(rc));
    close(p[1]);
    return p[0];
}

/* Read fd into buf (NUL-terminated, *len bytes so far) until it contains what, or ends. */
static bool read_until(int fd, char *buf, size_t cap, size_t *len, const char *what)
{
    while (!strstr(buf, what)) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        cr_assert_gt(poll(&pf, 1, 10000), 0, "no '%s' within 10 s; so far:\n%s", what, buf);
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        if (n <= 0)
            return false;
        *len += (size_t)n;
        buf[*len] = 0;
    }
    return true;
}

static char out[16384];   /* the example's output */
static size_t out_len;
static int out_fd;

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Send a command, return its reply (the text before the next prompt). */
static const char *command(int fd, const char *cmd)
{
    static char buf[65536];
    size_t len = 0;
    buf[0] = 0;
    char line[256];
    snprintf(line, sizeof line, "%s\n", cmd);
    cr_assert_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
    read_until(fd, buf, sizeof buf, &len, PROMPT);
    *strstr(buf, PROMPT) = 0;
    return buf;
}

static void expect_in_order(const char *text, const char *const *needles)
{
    const char *at = text;
    for (; *needles; needles++) {
        const char *p = strstr(at, *needles);
        cr_assert(p, "'%s' missing (or out of order) in:\n%s", *needles, text);
        at = p + strlen(*needles);
    }
}

Test(examples, kid_monitor_ps_where_cancel)
{
    /* Scale 0.05: "We're leaving!" after 0.75 s, while the kid's 50 s sleep leaves the
     * session below all the time a loaded machine may need (at 0.001 the kid woke after
     * 1 s, ended the program, and with it the session). */
    const char *argv[] = {env_path("CURIO_EXAMPLE_KID_MONITOR"), "0.05", "127.0.0.1:0", NULL};
    out_fd = start(argv, &child);
    read_until(out_fd, out, sizeof out, &out_len, "We're leaving!\n");
    const char *at = strstr(out, "Monitor at 127.0.0.1:");
    cr_assert(at, "%s", out);
    int port = atoi(at + strlen("Monitor at 127.0.0.1:"));
    cr_assert_gt(port, 0);

    /* ps through the curio-monitor program, as a user would. */
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    const char *cargv[] = {env_path("CURIO_MONITOR_CLIENT"), "-p", port_text, "ps", NULL};
    pid_t cpid;
    int cfd = start(cargv, &cpid);
    char ps[8192] = "";
    size_t ps_len = 0;
    read_until(cfd, ps, sizeof ps, &ps_len, "\x01"); /* to its end */
    close(cfd);
    int st;
    waitpid(cpid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", ps);
    expect_in_order(ps, (const char *const[]){
        "Task   State        Cycles     Timeout Task\n",
        "------ ------------ ---------- ------- -----",
        "\n1      RUNNING      ", " None    monitor *\n",
        "2      TASK_JOIN    ", " None    parent\n",
        "3      TIME_SLEEP   ", " None    kid\n",
        "* the monitor's own tasks\n", NULL});
    cr_assert(!strstr(ps, "countdown"), "the countdown has ended:\n%s", ps);

    int fd = connect_port(port);
    char banner[1024] = "";
    size_t blen = 0;
    read_until(fd, banner, sizeof banner, &blen, PROMPT);
    cr_assert(strstr(banner, "Curio Monitor: 3 tasks running\nType help for commands\n"),
              "monitor, parent, kid and this session:\n%s", banner);

#if CURIO_LIBDW
    expect_in_order(command(fd, "where 2"), (const char *const[]){
        "Stack for Task(id=2, name='parent', state='TASK_JOIN') (most recent call last):\n",
        "examples/kid_monitor.c\", line ", ", in parent\n", ", in curio_join\n",
        ", in curio__waitq_wait\n", NULL});
    expect_in_order(command(fd, "where 3"), (const char *const[]){
        "Stack for Task(id=3, name='kid', state='TIME_SLEEP') (most recent call last):\n",
        "examples/kid_monitor.c\", line ", ", in kid\n", ", in curio_sleep\n",
        ", in curio__park\n", NULL});
#else
    /* Without libdw: the frames' file and addresses (nothing of the example is exported). */
    expect_in_order(command(fd, "where 2"), (const char *const[]){
        "Stack for Task(id=2, name='parent', state='TASK_JOIN') (most recent call last):\n",
        "  File \"kid_monitor\" +0x", NULL});
    expect_in_order(command(fd, "where 3"), (const char *const[]){
        "Stack for Task(id=3, name='kid', state='TIME_SLEEP') (most recent call last):\n",
        "  File \"kid_monitor\" +0x", NULL});
#endif

    /* The tutorial's last step: cancel the kid, and the parent leaves. */
    cr_assert_str_eq(command(fd, "cancel 3"), "Cancelling task 3\nTask 3 cancelled\n");
    read_until(out_fd, out, sizeof out, &out_len, "Leaving! (the kid was cancelled)\n");
    char rest[256] = "";
    size_t rlen = 0;
    read_until(fd, rest, sizeof rest, &rlen, "\x01"); /* the monitor closes as it ends */
    close(fd);
    waitpid(child, &st, 0);
    child = 0;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(out_fd);
    cr_assert(strstr(out, "Building the Millenium Falcon in Minecraft\nLet's go\nT-minus 10\n"),
              "%s", out);
}

/* The tutorial's "Signals" with the monitor: while the parent waits for SIGHUP, ps shows
 * it in SIGNAL_WAIT and the kid in TIME_SLEEP; `signal SIGHUP` typed in the monitor wakes
 * the parent, which counts down, cancels the kid and leaves. */
Test(examples, kid_signal_monitor_ps_and_signal)
{
    const char *argv[] = {env_path("CURIO_EXAMPLE_KID_SIGNAL_MONITOR"), "0.01", "127.0.0.1:0",
                          NULL};
    out_len = 0;
    out[0] = 0;
    out_fd = start(argv, &child);
    read_until(out_fd, out, sizeof out, &out_len, "Building the Millenium Falcon in Minecraft\n");
    const char *at = strstr(out, "Monitor at 127.0.0.1:");
    cr_assert(at, "%s", out);
    int port = atoi(at + strlen("Monitor at 127.0.0.1:"));
    cr_assert_gt(port, 0);
    at = strstr(out, "Parent PID ");
    cr_assert(at, "%s", out);
    cr_assert_eq(atoi(at + strlen("Parent PID ")), child);
    expect_in_order(out, (const char *const[]){"Can I play?\n", "Yes, go play\n",
                                               "Building the Millenium Falcon", NULL});

    /* ps through the curio-monitor program. */
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    const char *cargv[] = {env_path("CURIO_MONITOR_CLIENT"), "-p", port_text, "ps", NULL};
    pid_t cpid;
    int cfd = start(cargv, &cpid);
    char ps[8192] = "";
    size_t ps_len = 0;
    read_until(cfd, ps, sizeof ps, &ps_len, "\x01"); /* to its end */
    close(cfd);
    int st;
    waitpid(cpid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", ps);
    expect_in_order(ps, (const char *const[]){
        "\n1      RUNNING      ", " None    monitor *\n",
        "2      SIGNAL_WAIT  ", " None    parent\n",
        "3      TIME_SLEEP   ", " None    kid\n", NULL});

    /* Nothing happens until the signal: the parent waits however long. */
    size_t before = out_len;
    struct pollfd pf = {.fd = out_fd, .events = POLLIN};
    cr_assert_eq(poll(&pf, 1, 100), 0, "output before the signal: %s", out + before);

    int fd = connect_port(port);
    char banner[1024] = "";
    size_t blen = 0;
    read_until(fd, banner, sizeof banner, &blen, PROMPT);
    char want[128];
    snprintf(want, sizeof want, "Sending SIGHUP (%d) to process %ld\n", SIGHUP, (long)child);
    cr_assert_str_eq(command(fd, "signal SIGHUP"), want);

    read_until(out_fd, out, sizeof out, &out_len, "Leaving!\n");
    cr_assert_str_eq(out + before,
                     "Let's go\n"
                     "T-minus 10\nT-minus 9\nT-minus 8\nT-minus 7\nT-minus 6\n"
                     "T-minus 5\nT-minus 4\nT-minus 3\nT-minus 2\nT-minus 1\n"
                     "We're leaving!\nI warned you!\nFine. Saving my work.\nLeaving!\n");
    char rest[256] = "";
    size_t rlen = 0;
    read_until(fd, rest, sizeof rest, &rlen, "\x01"); /* the monitor closes as it ends */
    close(fd);
    waitpid(child, &st, 0);
    child = 0;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    close(out_fd);
}
