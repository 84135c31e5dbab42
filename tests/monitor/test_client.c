/*
 * The curio-monitor program against this process's monitor: one command from its command
 * line (the reply alone; exit status 1 for an error reply), an interactive session on its
 * standard input, the address from -H/-p or CURIO_MONITOR, and what it says when nobody
 * listens. The program runs as a child (started and waited for on a pool thread, by its
 * pid) while the kernel serves it.
 */
#include "montest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

struct run {
    const char *argv[8];
    const char *input;   /* written to its stdin, which is then closed */
    char **envp;         /* NULL: ours */
    char out[32768], err[4096];
    int status;          /* exit status, or -1 */
};

static const char *client_path(void)
{
    const char *p = getenv("CURIO_MONITOR_CLIENT");
    cr_assert_not_null(p, "CURIO_MONITOR_CLIENT is not set (run through meson test)");
    return p;
}

static void drain_into(int fd, char *buf, size_t cap, size_t *n, bool *open)
{
    ssize_t r = read(fd, buf + *n, cap - 1 - *n);
    if (r <= 0) {
        *open = false;
        return;
    }
    *n += (size_t)r;
    buf[*n] = 0;
}

/* On a pool thread: run it, feed it, collect what it prints, wait for it (10 s at most). */
static long run_client(void *arg)
{
    struct run *r = arg;
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    pid_t pid;
    int rc = posix_spawn(&pid, r->argv[0], &fa, NULL, (char *const *)r->argv,
                         r->envp ? r->envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (rc == 0 && r->input)
        (void)!write(in[1], r->input, strlen(r->input));
    close(in[1]);
    size_t no = 0, ne = 0;
    bool oo = rc == 0, eo = rc == 0;
    int64_t deadline = curio_clock() + 10000000000ll;
    while ((oo || eo) && curio_clock() < deadline) {
        struct pollfd pf[2] = {{.fd = oo ? out[0] : -1, .events = POLLIN},
                               {.fd = eo ? err[0] : -1, .events = POLLIN}};
        if (poll(pf, 2, 1000) <= 0)
            continue;
        if (pf[0].revents)
            drain_into(out[0], r->out, sizeof r->out, &no, &oo);
        if (pf[1].revents)
            drain_into(err[0], r->err, sizeof r->err, &ne, &eo);
    }
    close(out[0]);
    close(err[0]);
    if (rc != 0)
        return -rc;
    if (oo || eo)
        kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return 0;
}

static void run(struct run *r)
{
    long res = -1;
    cr_assert_eq(curio_run_in_thread(run_client, r, &res), 0);
    cr_assert_eq(res, 0, "spawn: %s", curio_strerror((int)res));
}

static char port_text[16];

static long one_shot_main(void *arg)
{
    (void)arg;
    snprintf(port_text, sizeof port_text, "%d", mon_port());
    struct run r = {.argv = {client_path(), "-H", "127.0.0.1", "-p", port_text, "ps", NULL}};
    run(&r);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert(strncmp(r.out, "Task   State        Cycles     Timeout Task\n", 44) == 0,
              "the reply alone:\n%s", r.out);
    cr_assert(strstr(r.out, "monitor *\n"), "%s", r.out);
    cr_assert(!strstr(r.out, PROMPT) && !strstr(r.out, "Curio Monitor"), "%s", r.out);

    struct run w = {.argv = {client_path(), "-p", port_text, "where", "1", NULL}};
    run(&w);
    cr_assert_eq(w.status, 0);
    cr_assert(strncmp(w.out, "Stack for Task(id=1, name='monitor', state='RUNNING')", 53) == 0,
              "%s", w.out);
    cr_assert(strstr(w.out, WHERE_FRAME("curio__mon_agent", "test_monitor_client")), "%s", w.out);

    struct run e = {.argv = {client_path(), "-p", port_text, "where", "99", NULL}};
    run(&e);
    cr_assert_eq(e.status, 1, "an error reply: exit status 1");
    cr_assert_str_eq(e.out, "Error: no task 99\n");
    return 0;
}

Test(client, one_command)
{
    cr_assert_eq(run_monitored(one_shot_main, NULL), 0);
}

static long interactive_main(void *arg)
{
    (void)arg;
    snprintf(port_text, sizeof port_text, "%d", mon_port());
    struct run r = {.argv = {client_path(), "-p", port_text, NULL}, .input = "ps\nquit\n"};
    run(&r);
    cr_assert_eq(r.status, 0, "%s", r.err);
    const char *parts[] = {"Curio Monitor: ", "Type help for commands\n", PROMPT,
                           "Task   State", "monitor *\n", PROMPT, NULL};
    const char *at = r.out;
    for (const char **p = parts; *p; p++) {
        const char *f = strstr(at, *p);
        cr_assert(f, "'%s' missing in:\n%s", *p, r.out);
        at = f + strlen(*p);
    }
    cr_assert_str_eq(at, "");
    /* End of input without quit ends it too, after the replies. */
    struct run h = {.argv = {client_path(), "-p", port_text, NULL}, .input = "help\n"};
    run(&h);
    cr_assert_eq(h.status, 0);
    cr_assert(strstr(h.out, "Commands:\n"), "%s", h.out);
    return 0;
}

Test(client, interactive_on_stdin)
{
    cr_assert_eq(run_monitored(interactive_main, NULL), 0);
}

static long env_main(void *arg)
{
    (void)arg;
    char var[64];
    snprintf(var, sizeof var, "CURIO_MONITOR=127.0.0.1:%d", mon_port());
    char *envp[] = {var, NULL};
    struct run r = {.argv = {client_path(), "parents", "1", NULL}, .envp = envp};
    run(&r);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "monitor\n"), "%s", r.out);
    return 0;
}

Test(client, address_from_the_environment)
{
    cr_assert_eq(run_monitored(env_main, NULL), 0);
}

static long nobody_main(void *arg)
{
    (void)arg;
    /* A port nobody listens on: one the system chose for a socket then closed. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    snprintf(port_text, sizeof port_text, "%d", ntohs(sin.sin_port));
    struct run r = {.argv = {client_path(), "-p", port_text, "ps", NULL}};
    run(&r);
    cr_assert_eq(r.status, 1);
    char want[128];
    snprintf(want, sizeof want, "curio-monitor: cannot connect to 127.0.0.1:%s: Connection "
             "refused (is the program running with its monitor on?)\n", port_text);
    cr_assert_str_eq(r.err, want);
    struct run u = {.argv = {client_path(), "-x", NULL}};
    run(&u);
    cr_assert_eq(u.status, 2);
    cr_assert(strstr(u.err, "usage: curio-monitor"), "%s", u.err);
    return 0;
}

Test(client, nobody_listening_and_usage)
{
    cr_assert_eq(run_monitored(nobody_main, NULL), 0);
}

/* ---- a Unix-socket address: its file is the program's, mode 0600 ---- */

#include <sys/stat.h>
#include <sys/un.h>

static char sock_path[108];

static long unix_main(void *arg)
{
    (void)arg;
    curio_addr a;
    cr_assert_eq(curio_monitor_address(curio_kernel_current(), &a), 0);
    cr_assert_eq(a.u.sa.sa_family, AF_UNIX);
    struct stat st;
    cr_assert_eq(lstat(sock_path, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
    struct run r = {.argv = {client_path(), "-U", sock_path, "ps", NULL}};
    run(&r);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "monitor *\n"), "%s", r.out);
    char var[160];
    snprintf(var, sizeof var, "CURIO_MONITOR=unix:%s", sock_path);
    char *envp[] = {var, NULL};
    struct run e = {.argv = {client_path(), "parents", "1", NULL}, .envp = envp};
    run(&e);
    cr_assert_eq(e.status, 0, "%s", e.err);
    cr_assert(strstr(e.out, "monitor\n"), "%s", e.out);
    return 0;
}

Test(client, unix_socket_address)
{
    snprintf(sock_path, sizeof sock_path, "/tmp/curio-monitor-test-%d.sock", (int)getpid());
    /* A socket file left behind by an earlier program, nobody listening: replaced. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    char spec[128];
    snprintf(spec, sizeof spec, "unix:%s", sock_path);
    curio_options o = {.monitor = true, .monitor_address = spec};
    long result;
    cr_assert_eq(curio_run(unix_main, NULL, &o, &result), 0);
    cr_assert_eq(result, 0);
    struct stat st;
    cr_assert_eq(lstat(sock_path, &st), -1, "the file goes with the monitor");
    /* A file that is not a socket is not replaced. */
    fd = open(sock_path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    curio_options q = {.monitor = true, .monitor_address = spec, .quiet = true};
    curio_kernel *k;
    cr_assert_eq(curio_kernel_create(&k, &q), 0);
    cr_assert_eq(curio_monitor_address(k, &(curio_addr){0}), -ENOENT);
    curio_kernel_destroy(k);
    cr_assert_eq(lstat(sock_path, &st), 0);
    unlink(sock_path);
}
