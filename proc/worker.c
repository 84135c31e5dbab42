/*
 * proc/worker.c - the child side of a run_in_process worker: what runs after fork().
 *
 * Fork safety. The worker is a fork of a program that may have many threads; only the
 * forking thread (the kernel's) lives on in it, so every lock another thread held at that
 * moment stays held forever. Before the user's function runs, the worker therefore only
 * makes system calls: it forgets the kernel (the TLS pointer, so curio's blocking calls
 * return -EPERM), closes every descriptor but 0, 1, 2 and its socket (so it never keeps a
 * connection or a pipe of the parent open, nor the ring), unmaps its copies of io_uring
 * rings (shared memory with the parent's rings, which it must never touch), asks to be
 * killed when the forking thread ends, sets its signal mask, and moves to a fresh 8 MiB
 * stack (it was forked on a task's stack, which may be small). glibc resets its malloc
 * and stdio locks in the child of a fork, which is what lets the function use malloc and
 * printf (see the rules in curio/proc.h).
 *
 * The protocol on the socket (a stream socket pair, both ends in this process's address
 * space layout, so the function pointer is valid):
 *     request:  struct curio__work_req  + len bytes of argument
 *     response: struct curio__work_resp + len bytes of result
 * The worker serves requests until its socket reaches end of file, then exits with
 * _exit (no atexit handlers of the parent, no LeakSanitizer report of a copied heap).
 */
#include "proc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORKER_FD 3
#define WORKER_STACK (8u << 20)

static bool read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static bool send_full(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* Read and drop n bytes (an argument there was no memory for). */
static bool skip(int fd, uint64_t n)
{
    char scratch[4096];
    while (n) {
        size_t k = n < sizeof scratch ? (size_t)n : sizeof scratch;
        if (!read_full(fd, scratch, k))
            return false;
        n -= k;
    }
    return true;
}

static void serve_one(int fd, const struct curio__work_req *rq)
{
    struct curio__work_resp rs = {0};
    void *arg = NULL;
    if (rq->len && (rq->len > SIZE_MAX - 1 || !(arg = malloc((size_t)rq->len)))) {
        if (!skip(fd, rq->len))
            _exit(0);
        rs.status = -ENOMEM;
        if (!send_full(fd, &rs, sizeof rs))
            _exit(0);
        return;
    }
    if (rq->len && !read_full(fd, arg, (size_t)rq->len))
        _exit(0);
    curio_process_fn fn = (curio_process_fn)(uintptr_t)rq->fn;
    void *out = NULL;
    size_t out_len = 0;
    rs.result = fn(arg, (size_t)rq->len, &out, &out_len);
    free(arg);
    fflush(stdout);
    fflush(stderr);
    rs.len = out ? out_len : 0;
    if (!send_full(fd, &rs, sizeof rs) || (rs.len && !send_full(fd, out, (size_t)rs.len)))
        _exit(0);
    free(out);
}

static void serve(void *unused)
{
    (void)unused;
    curio__ctx_started();
    for (;;) {
        struct curio__work_req rq;
        if (!read_full(WORKER_FD, &rq, sizeof rq))
            _exit(0); /* the pool closed our socket, or the parent is gone */
        serve_one(WORKER_FD, &rq);
    }
}

static void close_from(int lo)
{
    if (syscall(SYS_close_range, (unsigned)lo, ~0u, 0) == 0)
        return;
    struct rlimit rl; /* before Linux 5.9 */
    int hi = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
    for (int fd = lo; fd < hi; fd++)
        close(fd);
}

static uintptr_t hex(const char **s)
{
    uintptr_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return v;
        v = v * 16 + (uintptr_t)d;
    }
}

static void unmap_line(const char *line, size_t n)
{
    static const char tag[] = "[io_uring]";
    if (n < sizeof tag - 1 || memcmp(line + n - (sizeof tag - 1), tag, sizeof tag - 1) != 0)
        return;
    const char *s = line;
    uintptr_t lo = hex(&s);
    if (*s++ != '-')
        return;
    uintptr_t hi = hex(&s);
    if (hi > lo)
        munmap((void *)lo, hi - lo);
}

/* Unmap every io_uring mapping (rings and SQE arrays of every kernel of the parent).
 * /proc/self/maps is read with plain system calls into a static buffer, line by line. */
static void unmap_rings(void)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    static char buf[16384];
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != '\n')
                continue;
            unmap_line(buf + start, i - start);
            start = i + 1;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
        if (have == sizeof buf)
            have = 0; /* a line longer than the buffer: no mapping of ours */
    }
    close(fd);
}

void curio__worker_main(int sock, pid_t parent, const sigset_t *mask)
{
    curio__tls_kernel = NULL;
    if (sock != WORKER_FD && dup2(sock, WORKER_FD) < 0)
        _exit(0);
    close_from(WORKER_FD + 1);
    unmap_rings();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0); /* the parent died before the line above */
    pthread_sigmask(SIG_SETMASK, mask, NULL);

    void *mem = mmap(NULL, WORKER_STACK + 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED)
        _exit(0);
    mprotect(mem, 4096, PROT_NONE); /* a guard page below the stack */
    static curio__ctx here, there;
    curio__ctx_make(&there, (char *)mem + 4096, WORKER_STACK, serve, NULL);
    curio__ctx_switch(&here, &there, 1);
    _exit(0); /* not reached: serve never returns */
}
