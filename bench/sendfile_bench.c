/*
 * bench/sendfile_bench.c - curio_sendfile's paths against each other, against sendfile(2)
 * and against nginx's sendfile: a page-cached file (1 GiB by default) sent once per round
 * to a local client over 127.0.0.1, which counts the bytes until end of stream (timed by
 * the client, from connect to end of stream).
 *
 *     curio-sendfile-bench [--mib N] [--rounds R] [--nginx PATH | --no-nginx]
 *                          [--modes WORD,WORD...]
 *
 * Modes, run in turn in every round (so that the machine's noise falls on all alike):
 * sends from a mapping of the file with 1, 4 and 16 MiB windows (pages faulted in by a
 * worker's MADV_POPULATE_READ, the library's way), and with 4 MiB windows populated by
 * MAP_POPULATE in the calling thread, faulted in by the send's own copy, and sent with
 * IORING_OP_SEND_ZC; splice with pipes of 64 KiB, 256 KiB and 1 MiB, and of 256 KiB with
 * SPLICE_F_MORE on the pipe -> socket splice; read+send (forced
 * with curio__op_deny) with 64 KiB, 256 KiB and 1 MiB buffers; sendfile(2) on the
 * non-blocking socket, in the kernel's thread (waiting for room with a poll through the
 * ring) and in a thread of its own; nginx (one worker, sendfile on), started by pid with a
 * configuration in a temporary directory, if its binary is there. --modes keeps the modes
 * whose names contain one of the words (the library's default and its read+send fallback
 * always run). Prints each mode's median GB/s and CPU seconds per GiB (the process's, and
 * of it the client thread's), then the ratios. Links the static library to reach the
 * hidden knobs.
 */
#include <curio.h>

#include "../kernel/kernel.h"
#include "../net/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static size_t size_mib = 1024;
static int rounds = 5;
static const char *nginx_bin = "/usr/sbin/nginx";
static char tmpdir[] = "/tmp/curio-sendfile-bench-XXXXXX";
static char file_path[128];

enum { SPLICE, SPLICE_MORE, COPY, MAP, MAP_POP, MAP_LAZY, MAP_ZC, SYS_LOOP, SYS_THREAD, NGINX };
struct mode {
    const char *name;
    int kind;
    size_t knob;
    double gbs[64];
    double cpu[64];    /* the process's CPU seconds per GiB (curio's modes) */
    double client[64]; /* of which the client thread's */
    bool skip;         /* not among --modes */
};
static struct mode modes[] = {
    {.name = "mapping, 1 MiB window", .kind = MAP, .knob = 1 << 20},
    {.name = "mapping, 4 MiB window", .kind = MAP, .knob = 4 << 20},
    {.name = "mapping, 16 MiB window", .kind = MAP, .knob = 16 << 20},
    {.name = "mapping, 4 MiB, MAP_POPULATE", .kind = MAP_POP, .knob = 4 << 20},
    {.name = "mapping, 4 MiB, faults", .kind = MAP_LAZY, .knob = 4 << 20},
    {.name = "mapping+SEND_ZC, 4 MiB", .kind = MAP_ZC, .knob = 4 << 20},
    {.name = "splice, 64 KiB pipe", .kind = SPLICE, .knob = 64 << 10},
    {.name = "splice, 256 KiB pipe", .kind = SPLICE, .knob = 256 << 10},
    {.name = "splice, 1 MiB pipe", .kind = SPLICE, .knob = 1 << 20},
    {.name = "splice, 256 KiB, SPLICE_F_MORE", .kind = SPLICE_MORE, .knob = 256 << 10},
    {.name = "read+send, 64 KiB", .kind = COPY, .knob = 64 << 10},
    {.name = "read+send, 256 KiB", .kind = COPY, .knob = 256 << 10},
    {.name = "read+send, 1 MiB", .kind = COPY, .knob = 1 << 20},
    {.name = "sendfile(2), in loop", .kind = SYS_LOOP, .knob = 0},
    {.name = "sendfile(2), thread", .kind = SYS_THREAD, .knob = 0},
    {.name = "nginx sendfile", .kind = NGINX, .knob = 0},
};
#define NMODES (sizeof modes / sizeof modes[0])
static bool have_nginx;
static const char *only; /* --modes */
/* the library's defaults, read before any change */
static size_t lib_pipe, lib_chunk, lib_window, lib_map_min;
static int lib_first;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the client: connect, (send a request), count bytes to end of stream ---- */

struct fetch {
    int port;
    const char *request; /* or NULL */
    size_t bytes;        /* the body's (after the header, if request) */
    double secs;
    double cpu;          /* the client thread's CPU seconds */
};

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long fetch(void *arg)
{
    struct fetch *f = arg;
    static char buf[1 << 20];
    double t0 = now(), c0 = thread_cpu();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        return -1;
    if (f->request && write(fd, f->request, strlen(f->request)) < 0)
        return -1;
    size_t total = 0, header = 0;
    bool in_body = f->request == NULL;
    char tail[4] = {0};
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        if (!in_body) {
            for (ssize_t i = 0; i < n && !in_body; i++) {
                memmove(tail, tail + 1, 3);
                tail[3] = buf[i];
                header++;
                in_body = memcmp(tail, "\r\n\r\n", 4) == 0;
            }
            total += (size_t)n;
            continue;
        }
        total += (size_t)n;
    }
    f->secs = now() - t0;
    f->cpu = thread_cpu() - c0;
    f->bytes = total - header;
    close(fd);
    return n < 0 ? -1 : 0;
}

/* ---- curio's server side: accept one client, send the file, close ---- */

struct client {
    struct fetch f;
    long rc;
};

static long client_task(void *arg)
{
    struct client *c = arg;
    long r = -1;
    int rc = curio_run_in_thread(fetch, &c->f, &r);
    c->rc = rc < 0 ? rc : r;
    return 0;
}

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* sendfile(2) on the socket's (non-blocking) descriptor: in the kernel's thread, waiting
 * for room with a poll through the ring (loop), or in a thread of its own with poll(2). */
static ssize_t sys_sendfile_loop(curio_socket *s, int file_fd)
{
    int fd = curio_socket_fd(s);
    off_t off = 0;
    size_t total = size_mib << 20;
    while ((size_t)off < total) {
        ssize_t n = sendfile(fd, file_fd, &off, total - (size_t)off);
        if (n > 0)
            continue;
        if (n == 0 || errno != EAGAIN)
            return -1;
        curio__op op;
        struct io_uring_sqe *sqe;
        if (curio__op_begin(&op, &sqe) < 0)
            return -1;
        io_uring_prep_poll_add(sqe, fd, POLLOUT);
        if (curio__op_wait(&op, sqe, "WRITE_WAIT") < 0)
            return -1;
    }
    return (ssize_t)off;
}

struct sys_thread {
    int fd, file_fd;
};

static long sys_sendfile_thread(void *arg)
{
    struct sys_thread *x = arg;
    off_t off = 0;
    size_t total = size_mib << 20;
    while ((size_t)off < total) {
        ssize_t n = sendfile(x->fd, x->file_fd, &off, total - (size_t)off);
        if (n > 0)
            continue;
        if (n == 0 || errno != EAGAIN)
            return -1;
        struct pollfd p = {.fd = x->fd, .events = POLLOUT};
        poll(&p, 1, -1);
    }
    return (long)off;
}

static double curio_round(const struct mode *m, curio_socket *ls, int port, int file_fd,
                          double *cpu, double *client)
{
    curio__op_probe_reset();
    curio__sendfile_first = lib_first;
    curio__sendfile_window = lib_window;
    curio__sendfile_map_min = lib_map_min;
    curio__sendfile_splice_flags = 0;
    curio__sendfile_populate = CURIO__POPULATE_WORKER;
    if (m->kind == COPY) {
        curio__op_deny(IORING_OP_SPLICE);
        curio__op_deny(IORING_OP_MADVISE);
        curio__sendfile_chunk = m->knob;
    } else if (m->kind == SPLICE || m->kind == SPLICE_MORE) {
        curio__sendfile_first = CURIO__SENDFILE_SPLICE;
        curio__sendfile_splice_flags = m->kind == SPLICE_MORE ? SPLICE_F_MORE : 0;
        curio__pipes_destroy(curio__tls_kernel); /* new pipes, of the size asked for */
        curio__pipe_size = m->knob;
    } else if (m->kind == MAP || m->kind == MAP_POP || m->kind == MAP_LAZY ||
               m->kind == MAP_ZC) {
        curio__sendfile_first = m->kind == MAP_ZC ? CURIO__SENDFILE_MAP_ZC : CURIO__SENDFILE_MAP;
        curio__sendfile_window = m->knob;
        curio__sendfile_map_min = 0; /* whatever --mib says */
        curio__sendfile_populate = m->kind == MAP_POP    ? CURIO__POPULATE_MAP
                                   : m->kind == MAP_LAZY ? CURIO__POPULATE_FAULT
                                                         : CURIO__POPULATE_WORKER;
    }
    struct client c = {.f = {.port = port}};
    double c0 = cpu_now();
    curio_task *t = curio_spawn(client_task, &c);
    curio_socket *s;
    if (!t || curio_accept(ls, &s, NULL) < 0)
        return -1;
    size_t sent = 0;
    ssize_t rc;
    if (m->kind == SYS_LOOP) {
        rc = sys_sendfile_loop(s, file_fd);
    } else if (m->kind == SYS_THREAD) {
        struct sys_thread x = {.fd = curio_socket_fd(s), .file_fd = file_fd};
        long r = -1;
        rc = curio_run_in_thread(sys_sendfile_thread, &x, &r) < 0 ? -1 : r;
    } else {
        rc = curio_sendfile_fd(s, file_fd, 0, 0, &sent);
    }
    curio_socket_close(s);
    curio_join(t, NULL);
    curio_task_release(t);
    *cpu = (cpu_now() - c0) / (double)(size_mib / 1024.0);
    *client = c.f.cpu / (double)(size_mib / 1024.0);
    if (rc < 0 || c.rc < 0 || c.f.bytes != size_mib << 20) {
        fprintf(stderr, "%s: sendfile %zd (%zu sent), client %ld, %zu bytes\n", m->name, rc,
                sent, c.rc, c.f.bytes);
        return -1;
    }
    return (double)c.f.bytes / c.f.secs / 1e9;
}

/* ---- nginx, by pid, with a configuration of its own ---- */

static pid_t nginx_pid = -1;
static int nginx_port;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static bool nginx_start(void)
{
    if (access(nginx_bin, X_OK) != 0)
        return false;
    nginx_port = free_port();
    char conf[256];
    snprintf(conf, sizeof conf, "%s/nginx.conf", tmpdir);
    FILE *c = fopen(conf, "w");
    if (!c)
        return false;
    fprintf(c,
            "worker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log stderr error;\n"
            "events { worker_connections 64; }\n"
            "http {\n access_log off;\n sendfile on;\n tcp_nopush on;\n"
            " client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
            " uwsgi_temp_path %s; scgi_temp_path %s;\n"
            " server { listen 127.0.0.1:%d; root %s; }\n}\n",
            tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, nginx_port, tmpdir);
    fclose(c);
    char *argv[] = {(char *)nginx_bin, "-e", "stderr", "-p", tmpdir, "-c", conf, NULL};
    if (posix_spawn(&nginx_pid, nginx_bin, NULL, NULL, argv, environ) != 0)
        return false;
    /* Ready once it accepts. */
    for (int i = 0; i < 500; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)nginx_port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return true;
        if (waitpid(nginx_pid, NULL, WNOHANG) == nginx_pid) {
            nginx_pid = -1;
            return false;
        }
        usleep(10000);
    }
    return false;
}

static void nginx_stop(void)
{
    if (nginx_pid > 0) {
        kill(nginx_pid, SIGTERM); /* the master, which we started: it ends its worker */
        waitpid(nginx_pid, NULL, 0);
    }
}

static double nginx_round(void)
{
    char req[256];
    snprintf(req, sizeof req, "GET /file HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    struct fetch f = {.port = nginx_port, .request = req};
    if (fetch(&f) < 0 || f.bytes != size_mib << 20) {
        fprintf(stderr, "nginx: %zu bytes\n", f.bytes);
        return -1;
    }
    return (double)f.bytes / f.secs / 1e9;
}

/* ---- the rounds ---- */

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(const double *x)
{
    double v[64];
    memcpy(v, x, sizeof(double) * (size_t)rounds);
    qsort(v, (size_t)rounds, sizeof v[0], cmp);
    return rounds % 2 ? v[rounds / 2] : (v[rounds / 2 - 1] + v[rounds / 2]) / 2;
}

static double median(struct mode *m) { return median_of(m->gbs); }

static long bench(void *arg)
{
    int file_fd = *(int *)arg;
    curio_socket *ls;
    if (curio_tcp_server_socket(&ls, "127.0.0.1", 0, NULL) < 0)
        return -1;
    curio_addr a;
    curio_socket_getsockname(ls, &a);
    int port = curio_addr_port(&a);
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < NMODES; i++) {
            struct mode *m = &modes[(i + (size_t)r) % NMODES]; /* a rotating order */
            if (m->skip)
                continue;
            double g = m->kind == NGINX ? (have_nginx ? nginx_round() : 0)
                                        : curio_round(m, ls, port, file_fd, &m->cpu[r],
                                                      &m->client[r]);
            if (g < 0)
                return -1;
            m->gbs[r] = g;
        }
    }
    curio_socket_close(ls);
    return 0;
}

/* The library's own choices: its first path with its window or pipe, and its read+send
 * fallback's buffer. */
static bool library_modes(struct mode **lib, struct mode **copy)
{
    *lib = *copy = NULL;
    for (size_t i = 0; i < NMODES; i++) {
        struct mode *m = &modes[i];
        if (!*lib && ((lib_first == CURIO__SENDFILE_SPLICE && m->kind == SPLICE &&
                       m->knob == lib_pipe) ||
                      (lib_first == CURIO__SENDFILE_MAP && m->kind == MAP &&
                       m->knob == lib_window) ||
                      (lib_first == CURIO__SENDFILE_MAP_ZC && m->kind == MAP_ZC &&
                       m->knob == lib_window)))
            *lib = m;
        if (m->kind == COPY && m->knob == lib_chunk)
            *copy = m;
    }
    return *lib && *copy;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mib") && i + 1 < argc)
            size_mib = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--nginx") && i + 1 < argc)
            nginx_bin = argv[++i];
        else if (!strcmp(argv[i], "--no-nginx"))
            nginx_bin = "";
        else if (!strcmp(argv[i], "--modes") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--mib N] [--rounds R] [--nginx PATH | --no-nginx] "
                    "[--modes WORD,WORD...]\n",
                    argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || rounds > 64 || size_mib < 1)
        return 2;
    if (only) {
        /* The modes whose names contain one of the words; the library's default path
         * and its read+send fallback are always run, for the ratios. */
        for (size_t i = 0; i < NMODES; i++) {
            modes[i].skip = true;
            char words[256];
            snprintf(words, sizeof words, "%s", only);
            for (char *w = strtok(words, ","); w; w = strtok(NULL, ","))
                if (strstr(modes[i].name, w))
                    modes[i].skip = false;
        }
    }
    lib_pipe = curio__pipe_size;
    lib_chunk = curio__sendfile_chunk;
    lib_window = curio__sendfile_window;
    lib_map_min = curio__sendfile_map_min;
    lib_first = curio__sendfile_first;
    struct mode *lib0, *copy0;
    if (!library_modes(&lib0, &copy0))
        return 1;
    lib0->skip = copy0->skip = false;
    if (!mkdtemp(tmpdir))
        return 1;
    snprintf(file_path, sizeof file_path, "%s/file", tmpdir);
    int fd = open(file_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    static char chunk[1 << 20];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (char)(i * 7);
    for (size_t i = 0; i < size_mib; i++)
        if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
            return 1;
    /* In the page cache: it was just written; read it once to be sure. */
    for (off_t off = 0; pread(fd, chunk, sizeof chunk, off) > 0; off += (off_t)sizeof chunk)
        ;
    signal(SIGPIPE, SIG_IGN);
    have_nginx = nginx_bin[0] && nginx_start();
    if (nginx_bin[0] && !have_nginx)
        fprintf(stderr, "nginx (%s) did not start: its column is left out\n", nginx_bin);
    long result = -1;
    int rc = curio_run(bench, &fd, NULL, &result);
    nginx_stop();
    close(fd);
    unlink(file_path);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "failed\n");
        return 1;
    }
    printf("%zu MiB page-cached file to a client on 127.0.0.1, median of %d rounds:\n",
           size_mib, rounds);
    struct mode *lib, *copy, *ng = &modes[NMODES - 1];
    if (!library_modes(&lib, &copy))
        return 1;
    printf("  %-30s %6s  %9s  %9s  %s\n", "mode", "GB/s", "CPU s/GiB", "of it the", "GB/s ratio to");
    printf("  %-30s %6s  %9s  %9s  %s\n", "", "", "(process)", "client's", copy->name);
    for (size_t i = 0; i < NMODES; i++) {
        struct mode *m = &modes[i];
        if ((m->kind == NGINX && !have_nginx) || m->skip)
            continue;
        if (m->kind == NGINX)
            printf("  %-30s %6.2f  %9s  %9s  %5.2fx\n", m->name, median(m), "", "",
                   median(m) / median(copy));
        else
            printf("  %-30s %6.2f  %9.3f  %9.3f  %5.2fx%s\n", m->name, median(m),
                   median_of(m->cpu), median_of(m->client), median(m) / median(copy),
                   m == lib ? "  (the library's default)" : "");
    }
    double best_copy = 0;
    for (size_t i = 0; i < NMODES; i++)
        if (modes[i].kind == COPY && !modes[i].skip && median(&modes[i]) > best_copy)
            best_copy = median(&modes[i]);
    double chosen = median(lib);
    printf("ratio %s (the library's) / best read+send: %.2fx\n", lib->name, chosen / best_copy);
    printf("ratio %s / %s (the fallback's): %.2fx\n", lib->name, copy->name,
           chosen / median(copy));
    printf("CPU ratio %s / %s (process, client included): %.2fx\n", copy->name, lib->name,
           median_of(copy->cpu) / median_of(lib->cpu));
    printf("CPU ratio without the client: %.2fx\n",
           (median_of(copy->cpu) - median_of(copy->client)) /
               (median_of(lib->cpu) - median_of(lib->client)));
    if (have_nginx && !ng->skip)
        printf("ratio %s / nginx sendfile: %.2fx\n", lib->name, chosen / median(ng));
    return 0;
}
