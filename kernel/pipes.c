/*
 * kernel/pipes.c - a kernel's small cache of empty pipes, for operations that move bytes
 * between two descriptors through a pipe (splice: net/sendfile.c). A pipe is made once,
 * enlarged with F_SETPIPE_SZ, and reused; the cache holds at most CURIO__PIPES pipes and
 * closes them with the kernel.
 */
#include "core.h"

#include <fcntl.h>
#include <unistd.h>

/* 256 KiB: measured against 64 KiB and 1 MiB (bench/sendfile_bench.c, docs/benchmarks.md). */
size_t curio__pipe_size = 256u << 10;

int curio__pipe_get(curio_kernel *k, curio__pipe *p)
{
    if (k->npipes) {
        *p = k->pipes[--k->npipes];
        return 0;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    p->rd = fds[0];
    p->wr = fds[1];
    /* Past /proc/sys/fs/pipe-max-size, or the user's pipe-user-pages-soft share, the
     * kernel refuses: the pipe then keeps its size (16 pages, or fewer). */
    int got = fcntl(p->wr, F_SETPIPE_SZ, (int)curio__pipe_size);
    if (got < 0)
        got = fcntl(p->wr, F_GETPIPE_SZ);
    p->size = got > 0 ? (size_t)got : 4096;
    return 0;
}

void curio__pipe_put(curio_kernel *k, const curio__pipe *p, bool empty)
{
    if (empty && k->npipes < CURIO__PIPES) {
        k->pipes[k->npipes++] = *p;
        return;
    }
    close(p->rd);
    close(p->wr);
}

void curio__pipes_destroy(curio_kernel *k)
{
    while (k->npipes) {
        curio__pipe *p = &k->pipes[--k->npipes];
        close(p->rd);
        close(p->wr);
    }
}

unsigned curio__pipes_cached(curio_kernel *k) { return k ? k->npipes : 0; }
