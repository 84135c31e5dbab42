/*
 * Copy a file with async files: every open, read, write, fsync and close goes through
 * io_uring, in one task, no threads.
 *
 *     ./copyfile SRC DST
 *
 * Curio:
 *     async with aopen(src, 'rb') as f, aopen(dst, 'wb') as g:
 *         while (chunk := await f.read(65536)):
 *             await g.write(chunk)
 */
#include <curio.h>
#include <stdio.h>

struct job {
    const char *src, *dst;
    long long copied;
};

static long copy(void *arg)
{
    struct job *j = arg;
    curio_file *in, *out;
    int rc = curio_aopen(&in, j->src, "rb");
    if (rc < 0) {
        fprintf(stderr, "copyfile: %s: %s\n", j->src, curio_strerror(rc));
        return rc;
    }
    rc = curio_aopen(&out, j->dst, "wb");
    if (rc < 0) {
        fprintf(stderr, "copyfile: %s: %s\n", j->dst, curio_strerror(rc));
        curio_file_close(in);
        return rc;
    }
    static char buf[65536];
    ssize_t n;
    while ((n = curio_file_read(in, buf, sizeof buf)) > 0) {
        ssize_t w = curio_file_write(out, buf, (size_t)n, NULL);
        if (w < 0) {
            n = w;
            break;
        }
        j->copied += n;
    }
    if (n == 0)
        n = curio_file_fsync(out); /* the copy is on disk before we say so */
    int c = curio_file_close(out);
    curio_file_close(in);
    if (n == 0)
        n = c;
    if (n < 0)
        fprintf(stderr, "copyfile: %s\n", curio_strerror((int)n));
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: copyfile SRC DST\n");
        return 2;
    }
    struct job j = {argv[1], argv[2], 0};
    long result;
    int rc = curio_run(copy, &j, NULL, &result);
    if (rc < 0) {
        fprintf(stderr, "copyfile: %s\n", curio_strerror(rc));
        return 1;
    }
    if (result < 0)
        return 1;
    printf("copied %lld bytes\n", j.copied);
    return 0;
}
