/*
 * monitor/addr2line.c - file:line (and the calls inlined at an address) from addr2line(1)
 * of GNU binutils, run on a pool thread for each file the stack passes through.
 *
 * Reading DWARF line tables is a job of its own, and addr2line does it well (split debug
 * files through .gnu_debuglink included). It is run with `-a -f -i -e FILE ADDR...`: for
 * each address, the address, then pairs of lines "function" and "file:line", innermost
 * inlined call first. The environment variable CURIO_ADDR2LINE names the program (default:
 * addr2line, looked up in PATH); set to "", this is turned off. A run is bounded by
 * RUN_LIMIT_MS, after which the child is killed.
 */
#include "monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define RUN_LIMIT_MS 5000
#define MAX_OUTPUT (4u << 20)

/* Start prog with its output on a pipe; *out gets the pipe's reading end. */
static int start(const char *prog, char **argv, pid_t *pid, int *out)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return -e;
    }
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0) {
        posix_spawn_file_actions_adddup2(&fa, devnull, STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, devnull, STDERR_FILENO);
        rc = posix_spawnp(pid, prog, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    close(devnull);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return rc == ENOENT || rc == EACCES ? -ENOENT : -rc;
    }
    *out = p[0];
    return 0;
}

/* Everything the child prints, until it closes its output or the time is up. */
static int collect(int fd, curio__text *t)
{
    int64_t deadline = curio_clock() + (int64_t)RUN_LIMIT_MS * 1000000;
    char buf[8192];
    for (;;) {
        int64_t left = (deadline - curio_clock()) / 1000000;
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ETIMEDOUT;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return t->failed ? -ENOMEM : 0;
        if (t->len + (size_t)n > MAX_OUTPUT)
            return -EIO;
        curio__text_put(t, buf, (size_t)n);
    }
}

/* Wait for the child we started (by its pid only), killing it first if it overran. */
static int reap(pid_t pid, bool kill_it)
{
    if (kill_it)
        kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno == EINTR)
            continue;
        return 0; /* ECHILD: SIGCHLD is ignored, or someone else reaped it */
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* Drop "dir/../" and "./" segments of a path, as text: compilers record the build
 * directory and a relative source path, giving ".../build/../kernel/trap.c". */
static void tidy_path(char *p)
{
    char *out = p;
    for (char *in = p; *in;) {
        if (in[0] == '.' && in[1] == '/' && (in == p || in[-1] == '/')) {
            in += 2;
            continue;
        }
        if (in[0] == '.' && in[1] == '.' && in[2] == '/' && out > p + 1 && out[-1] == '/') {
            char *prev = out - 1;
            while (prev > p && prev[-1] != '/')
                prev--;
            if (!(prev[0] == '.' && prev[1] == '.' && prev[2] == '/')) {
                out = prev;
                in += 3;
                continue;
            }
        }
        *out++ = *in++;
    }
    *out = 0;
}

/* "file:line" or "file:line (discriminator n)"; "??" parts are unknown. */
static void parse_location(const char *s, char **file, unsigned *line)
{
    *file = NULL;
    *line = 0;
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || strncmp(s, "??", 2) == 0)
        return;
    char *end;
    unsigned long v = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || v == 0)
        return;
    *file = strndup(s, (size_t)(colon - s));
    if (*file)
        tidy_path(*file);
    *line = (unsigned)v;
}

/* Append the frames of addr2line's answer. Returns false when it is not what -a -f -i
 * prints (then the caller drops whatever was appended). */
static bool parse(char *text, size_t n, const char *module, const uintptr_t *offs,
                  curio__frames *out)
{
    size_t index = (size_t)-1;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (l[0] == '0' && l[1] == 'x') {
            if (++index >= n)
                return false;
            continue;
        }
        char *loc = strtok_r(NULL, "\n", &save);
        if (index >= n || !loc)
            return false;
        char *file;
        unsigned line;
        parse_location(loc, &file, &line);
        char *func = strcmp(l, "??") == 0 ? NULL : strdup(l);
        curio__frames_add(out, index, func, file, line, module, offs[index]);
    }
    return index + 1 == n;
}

int curio__addr2line(const char *path, const uintptr_t *offs, size_t n, const char *module,
                     curio__frames *out)
{
    const char *prog = getenv("CURIO_ADDR2LINE");
    if (prog && !*prog)
        return -ENOENT;
    if (!prog)
        prog = "addr2line";
    if (n == 0)
        return 0;
    char **argv = calloc(n + 7, sizeof *argv);
    char *hex = malloc(n * 20);
    if (!argv || !hex) {
        free(argv);
        free(hex);
        return -ENOMEM;
    }
    size_t a = 0;
    argv[a++] = (char *)prog;
    argv[a++] = "-a";
    argv[a++] = "-f";
    argv[a++] = "-i";
    argv[a++] = "-e";
    argv[a++] = (char *)path;
    for (size_t i = 0; i < n; i++) {
        argv[a] = hex + i * 20;
        snprintf(argv[a++], 20, "0x%llx", (unsigned long long)offs[i]);
    }
    argv[a] = NULL;
    pid_t pid = -1;
    int fd = -1;
    int rc = start(prog, argv, &pid, &fd);
    free(argv);
    free(hex);
    if (rc < 0)
        return rc;
    curio__text t = {0};
    rc = collect(fd, &t);
    close(fd);
    int rc2 = reap(pid, rc < 0);
    if (rc == 0)
        rc = rc2;
    size_t before = out->n;
    if (rc == 0 && t.len && !parse(t.p, n, module, offs, out))
        rc = -EIO;
    if (rc < 0) {
        while (out->n > before) {
            curio__frame *f = &out->v[--out->n];
            free(f->func);
            free(f->file);
        }
    }
    curio__text_free(&t);
    return rc;
}
