/*
 * curio-monitor - talk to the monitor of a running curio program (Curio's
 * `python3 -m curio.monitor`).
 *
 *     curio-monitor [-H host] [-p port] [-U path] [command ...]
 *
 * Without a command: an interactive session. The monitor's banner and its "curio > "
 * prompt are shown, each line typed is sent, and the session ends with "quit", end of
 * input (Ctrl-D), or when the program goes away. With a command ("curio-monitor ps",
 * "curio-monitor where 3"): that command's reply alone is printed, for scripts; the exit
 * status is 1 if the monitor answered with an error.
 *
 * The address: -U path (a Unix socket), or -H and -p, else the environment variable
 * CURIO_MONITOR if it holds a host:port or unix:path (as for the program itself), else
 * 127.0.0.1:48802. A plain program: it does not
 * need libcurio, and any TCP client (nc 127.0.0.1 48802) can do the same.
 */
#include <curio.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PROMPT "curio > "

static void usage(void)
{
    fprintf(stderr, "usage: curio-monitor [-H host] [-p port] [-U path] [command ...]\n"
                    "  Connects to a curio program's monitor (default %s:%d, or\n"
                    "  CURIO_MONITOR=host:port or unix:path; -U: a Unix socket). Without a\n"
                    "  command: interactive; with one,\n"
                    "  prints its reply (exit status 1 if it is an error).\n",
            CURIO_MONITOR_HOST, CURIO_MONITOR_PORT);
}

/* CURIO_MONITOR as host:port ("[v6]:port" too) or unix:path, if it is one. */
static void from_env(char *host, size_t cap, char *port, size_t pcap, char *path,
                     size_t pathcap)
{
    const char *v = getenv("CURIO_MONITOR");
    if (v && strncmp(v, "unix:", 5) == 0) {
        snprintf(path, pathcap, "%s", v + 5);
        return;
    }
    const char *colon = v ? strrchr(v, ':') : NULL;
    if (!colon || !colon[1])
        return;
    const char *h = v;
    size_t hlen = (size_t)(colon - v);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']')
        h++, hlen -= 2;
    if (hlen && hlen < cap) {
        memcpy(host, h, hlen);
        host[hlen] = 0;
    }
    snprintf(port, pcap, "%s", colon + 1);
}

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "curio-monitor: %s:%s: %s\n", host, port, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "curio-monitor: cannot connect to %s:%s: %s (is the program running "
                        "with its monitor on?)\n", host, port, strerror(err));
    return fd;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "curio-monitor: %s: path too long\n", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "curio-monitor: cannot connect to %s: %s (is the program running "
                        "with its monitor on?)\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copy between the terminal and the monitor until either side ends. */
static int interactive(int fd)
{
    struct pollfd pf[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
    char buf[8192];
    for (;;) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (pf[1].revents) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0)
                return 0; /* the monitor closed the connection (quit, or the program ended) */
            if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
                return 1;
            fflush(stdout);
        }
        if (pf[0].revents) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n <= 0) {
                /* End of input: let the monitor finish what was sent and close. */
                shutdown(fd, SHUT_WR);
                pf[0].fd = -1;
            } else if (write_all(fd, buf, (size_t)n) < 0) {
                return 1;
            }
        }
    }
}

/* Send one command and quit, read everything, print the part between the first prompt (after
 * the banner) and the next one. */
static int one_command(int fd, const char *cmd)
{
    size_t len = strlen(cmd);
    char *msg = malloc(len + 7);
    if (!msg)
        return 1;
    memcpy(msg, cmd, len);
    memcpy(msg + len, "\nquit\n", 7);
    int rc = write_all(fd, msg, len + 6);
    free(msg);
    if (rc < 0) {
        perror("curio-monitor: send");
        return 1;
    }
    size_t cap = 65536, n = 0;
    char *all = malloc(cap);
    for (;;) {
        if (!all)
            return 1;
        if (n + 1 == cap) {
            char *p = realloc(all, cap * 2);
            if (!p) {
                free(all);
                return 1;
            }
            all = p;
            cap *= 2;
        }
        ssize_t r = read(fd, all + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    all[n] = 0;
    char *start = strstr(all, PROMPT);
    if (!start) {
        fputs(all, stderr); /* no session: the monitor said why (too many connections) */
        free(all);
        return 1;
    }
    start += strlen(PROMPT);
    char *end = strstr(start, PROMPT);
    if (end)
        *end = 0;
    fputs(start, stdout);
    int status = strncmp(start, "Error: ", 7) == 0 ? 1 : 0;
    free(all);
    return status;
}

int main(int argc, char **argv)
{
    char host[256] = CURIO_MONITOR_HOST, port[16], path[256] = "";
    snprintf(port, sizeof port, "%d", CURIO_MONITOR_PORT);
    from_env(host, sizeof host, port, sizeof port, path, sizeof path);
    int opt;
    while ((opt = getopt(argc, argv, "+H:p:U:h")) != -1) {
        switch (opt) {
        case 'H':
            snprintf(host, sizeof host, "%s", optarg);
            path[0] = 0;
            break;
        case 'p':
            snprintf(port, sizeof port, "%s", optarg);
            path[0] = 0;
            break;
        case 'U':
            snprintf(path, sizeof path, "%s", optarg);
            break;
        default:
            usage();
            return opt == 'h' ? 0 : 2;
        }
    }
    int fd = path[0] ? connect_unix(path) : connect_to(host, port);
    if (fd < 0)
        return 1;
    int rc;
    if (optind < argc) {
        char cmd[1024] = "";
        for (int i = optind; i < argc; i++) {
            size_t used = strlen(cmd);
            snprintf(cmd + used, sizeof cmd - used, "%s%s", i > optind ? " " : "", argv[i]);
        }
        rc = one_command(fd, cmd);
    } else {
        rc = interactive(fd);
    }
    close(fd);
    return rc;
}
