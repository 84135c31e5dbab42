/*
 * bench/io_bench.c - curio's file reading against plain blocking C (docs/benchmarks.md).
 *
 *     curio-io-bench --make-bin PATH BYTES | --make-text PATH BYTES
 *     curio-io-bench --chunks PATH [--repeat R] [--chunk BYTES]
 *     curio-io-bench --lines PATH [--repeat R]
 *
 * --make-* write the input files (binary: a 1 MiB pattern repeated; text: lines of 0 to
 * 120 characters from a fixed pseudo-random sequence). --chunks reads PATH in chunks
 * (default 64 KiB) with curio_file_read, with read(2), and with a bare liburing loop (one
 * read SQE, submit and wait, one CQE: io_uring's own cost per operation, without curio's
 * tasks and scheduler, on a ring set up as curio's is); --lines reads it line by line
 * with curio_file_readline_ref (a view into the buffer), curio_file_readline (a copy, as
 * getline makes), getline(3) on a plain FILE, and getline with a 64 KiB stdio buffer
 * (curio's buffer size). The file is read once first so that every run finds it in the
 * page cache; the runs alternate between the implementations and each keeps its best of
 * R (noise on a shared machine only ever adds time). Every run must see the same bytes
 * and lines, or the benchmark fails.
 *
 * Prints one JSON object per line, {"impl": ..., "metric": ..., "value": ...}, for
 * bench/run-io.
 */
#include <curio.h>

#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int opt_repeat = 5;
static size_t opt_chunk = 65536;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void emit(const char *impl, const char *metric, double value)
{
    printf("{\"impl\": \"%s\", \"metric\": \"%s\", \"value\": %.9g}\n", impl, metric, value);
    fflush(stdout);
}

static void die(const char *what, int err)
{
    fprintf(stderr, "curio-io-bench: %s: %s\n", what, curio_strerror(err));
    exit(1);
}

/* ---- input files ---- */

static void make_bin(const char *path, long long bytes)
{
    size_t n = 1 << 20;
    unsigned char *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 2654435761u >> 13);
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path, -errno);
    for (long long left = bytes; left > 0; left -= (long long)n)
        fwrite(p, 1, left < (long long)n ? (size_t)left : n, f);
    /* Written back before the timed runs, which writeback would otherwise compete with. */
    if (fflush(f) || fsync(fileno(f)) || fclose(f))
        die(path, -errno);
    free(p);
}

static void make_text(const char *path, long long bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path, -errno);
    static const char words[] = "the quick brown fox jumps over the lazy dog while curio "
                                "reads lines through io_uring and asyncio uses threads ";
    unsigned x = 12345;
    char line[160];
    for (long long written = 0; written < bytes;) {
        x = x * 1103515245u + 12345u;
        size_t len = (x >> 16) % 121; /* 0..120, mean 60 */
        size_t off = (x >> 8) % (sizeof words - 1);
        for (size_t i = 0; i < len; i++)
            line[i] = words[(off + i) % (sizeof words - 1)];
        line[len] = '\n';
        fwrite(line, 1, len + 1, f);
        written += (long long)len + 1;
    }
    if (fflush(f) || fsync(fileno(f)) || fclose(f))
        die(path, -errno);
}

/* ---- what every run reports, checked against the first ---- */

struct result {
    long long bytes, lines;
    unsigned long long sum; /* of the last byte of each chunk or line, to touch them */
};

static struct result reference;
static bool have_reference;

static void check(const char *impl, const struct result *r)
{
    if (!have_reference) {
        reference = *r;
        have_reference = true;
    } else if (r->bytes != reference.bytes || r->lines != reference.lines ||
               r->sum != reference.sum) {
        fprintf(stderr, "curio-io-bench: %s saw %lld bytes, %lld lines; expected %lld, %lld\n",
                impl, r->bytes, r->lines, reference.bytes, reference.lines);
        exit(1);
    }
}

/* ---- chunks ---- */

struct job {
    const char *path;
    char *buf;
    struct result r;
    double t0, t1; /* the curio runs time themselves, inside the task: from the open to
                      the close, like the C loops, without creating the kernel */
};

static long curio_chunks(void *arg)
{
    struct job *j = arg;
    j->t0 = now();
    curio_file *f;
    int rc = curio_aopen(&f, j->path, "rb");
    if (rc < 0)
        return rc;
    ssize_t n;
    while ((n = curio_file_read(f, j->buf, opt_chunk)) > 0) {
        j->r.bytes += n;
        j->r.sum += (unsigned char)j->buf[n - 1];
    }
    curio_file_close(f);
    j->t1 = now();
    return n;
}

static void c_chunks(struct job *j)
{
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die(j->path, -errno);
    ssize_t n;
    while ((n = read(fd, j->buf, opt_chunk)) > 0) {
        j->r.bytes += n;
        j->r.sum += (unsigned char)j->buf[n - 1];
    }
    if (n < 0)
        die("read", -errno);
    close(fd);
}

static void uring_chunks(struct job *j)
{
    struct io_uring ring;
    struct io_uring_params p = {.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                                         IORING_SETUP_DEFER_TASKRUN};
    int rc = io_uring_queue_init_params(256, &ring, &p);
    if (rc < 0)
        die("io_uring_queue_init", rc);
    io_uring_register_ring_fd(&ring);
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die(j->path, -errno);
    for (;;) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        io_uring_prep_read(sqe, fd, j->buf, (unsigned)opt_chunk, (uint64_t)-1);
        io_uring_submit_and_wait(&ring, 1);
        struct io_uring_cqe *cqe;
        if ((rc = io_uring_peek_cqe(&ring, &cqe)) < 0)
            die("io_uring_peek_cqe", rc);
        int n = cqe->res;
        io_uring_cqe_seen(&ring, cqe);
        if (n < 0)
            die("read", n);
        if (n == 0)
            break;
        j->r.bytes += n;
        j->r.sum += (unsigned char)j->buf[n - 1];
    }
    close(fd);
    io_uring_queue_exit(&ring);
}

/* ---- lines ---- */

static long curio_lines_ref(void *arg)
{
    struct job *j = arg;
    j->t0 = now();
    curio_file *f;
    int rc = curio_aopen(&f, j->path, "rb");
    if (rc < 0)
        return rc;
    const char *l;
    ssize_t n;
    while ((n = curio_file_readline_ref(f, &l)) > 0) {
        j->r.lines++;
        j->r.bytes += n;
        j->r.sum += (unsigned char)l[n - 1];
    }
    curio_file_close(f);
    j->t1 = now();
    return n;
}

static long curio_lines_copy(void *arg)
{
    struct job *j = arg;
    j->t0 = now();
    curio_file *f;
    int rc = curio_aopen(&f, j->path, "rb");
    if (rc < 0)
        return rc;
    ssize_t n;
    while ((n = curio_file_readline(f, j->buf, opt_chunk)) > 0) {
        j->r.lines++;
        j->r.bytes += n;
        j->r.sum += (unsigned char)j->buf[n - 1];
    }
    curio_file_close(f);
    j->t1 = now();
    return n;
}

static void c_getline(struct job *j, size_t stdio_buffer)
{
    FILE *f = fopen(j->path, "rb");
    if (!f)
        die(j->path, -errno);
    char *vbuf = NULL;
    if (stdio_buffer) {
        vbuf = malloc(stdio_buffer);
        setvbuf(f, vbuf, _IOFBF, stdio_buffer);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        j->r.lines++;
        j->r.bytes += n;
        j->r.sum += (unsigned char)line[n - 1];
    }
    free(line);
    fclose(f);
    free(vbuf);
}

/* ---- running ---- */

enum impl {
    CURIO_CHUNKS, C_READ, URING_READ, CURIO_LINES_REF, CURIO_LINES_COPY, C_GETLINE,
    C_GETLINE_64K
};

static const char *impl_name[] = {"curio", "c_read", "liburing", "curio", "curio_copy",
                                  "c_getline", "c_getline_64k"};

static double run_once(enum impl i, const char *path, char *buf, struct result *out)
{
    struct job j = {path, buf, {0, 0, 0}, 0, 0};
    long result = 0;
    int rc = 0;
    double t0 = now();
    switch (i) {
    case CURIO_CHUNKS: rc = curio_run(curio_chunks, &j, NULL, &result); break;
    case C_READ: c_chunks(&j); break;
    case URING_READ: uring_chunks(&j); break;
    case CURIO_LINES_REF: rc = curio_run(curio_lines_ref, &j, NULL, &result); break;
    case CURIO_LINES_COPY: rc = curio_run(curio_lines_copy, &j, NULL, &result); break;
    case C_GETLINE: c_getline(&j, 0); break;
    case C_GETLINE_64K: c_getline(&j, 65536); break;
    }
    double t = j.t1 ? j.t1 - j.t0 : now() - t0;
    if (rc < 0)
        die("curio_run", rc);
    if (result < 0)
        die(impl_name[i], (int)result);
    *out = j.r;
    return t;
}

static void bench(const char *path, const enum impl *impls, int n, const char *metric)
{
    char *buf = aligned_alloc(4096, (opt_chunk + 4095) / 4096 * 4096);
    double best[8];
    struct result r;
    /* Warm the page cache, and take the reference counts. */
    run_once(impls[n - 1], path, buf, &r);
    check("warm-up", &r);
    for (int k = 0; k < n; k++)
        best[k] = 1e30;
    for (int rep = 0; rep < opt_repeat; rep++)
        for (int k = 0; k < n; k++) {
            double t = run_once(impls[k], path, buf, &r);
            check(impl_name[impls[k]], &r);
            if (t < best[k])
                best[k] = t;
        }
    for (int k = 0; k < n; k++)
        emit(impl_name[impls[k]], metric, (double)reference.bytes / best[k] / 1e6);
    emit("input", "bytes", (double)reference.bytes);
    if (reference.lines)
        emit("input", "lines", (double)reference.lines);
    free(buf);
}

int main(int argc, char **argv)
{
    const char *chunks = NULL, *lines = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--make-bin") && v && i + 2 < argc) {
            make_bin(v, atoll(argv[i + 2]));
            return 0;
        } else if (!strcmp(a, "--make-text") && v && i + 2 < argc) {
            make_text(v, atoll(argv[i + 2]));
            return 0;
        } else if (!strcmp(a, "--chunks") && v) {
            chunks = v, i++;
        } else if (!strcmp(a, "--lines") && v) {
            lines = v, i++;
        } else if (!strcmp(a, "--repeat") && v) {
            opt_repeat = atoi(v), i++;
        } else if (!strcmp(a, "--chunk") && v) {
            opt_chunk = (size_t)atoll(v), i++;
        } else {
            fprintf(stderr, "usage: see the comment at the top of bench/io_bench.c\n");
            return 2;
        }
    }
    if (chunks) {
        const enum impl impls[] = {CURIO_CHUNKS, URING_READ, C_READ};
        bench(chunks, impls, 3, "chunks_mbps");
    }
    if (lines) {
        have_reference = false;
        const enum impl impls[] = {CURIO_LINES_REF, CURIO_LINES_COPY, C_GETLINE, C_GETLINE_64K};
        bench(lines, impls, 4, "lines_mbps");
    }
    return 0;
}
