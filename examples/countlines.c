/*
 * Count the lines of a (large) file, as wc -l does: the lines are views into the file's
 * read buffer (curio_file_readline_ref), so nothing is copied or allocated per line.
 *
 *     ./countlines FILE
 *
 * Curio:
 *     async with aopen(path, 'rb') as f:
 *         n = 0
 *         async for line in f:
 *             n += 1
 */
#include <curio.h>
#include <stdio.h>

struct count {
    const char *path;
    long long lines, bytes;
};

static long count(void *arg)
{
    struct count *c = arg;
    curio_file *f;
    int rc = curio_aopen(&f, c->path, "rb");
    if (rc < 0) {
        fprintf(stderr, "countlines: %s: %s\n", c->path, curio_strerror(rc));
        return rc;
    }
    const char *line;
    ssize_t n;
    while ((n = curio_file_readline_ref(f, &line)) > 0) {
        if (line[n - 1] == '\n') /* wc -l counts newlines: a last unterminated line not */
            c->lines++;
        c->bytes += n;
    }
    if (n < 0)
        fprintf(stderr, "countlines: %s: %s\n", c->path, curio_strerror((int)n));
    curio_file_close(f);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: countlines FILE\n");
        return 2;
    }
    struct count c = {argv[1], 0, 0};
    long result;
    int rc = curio_run(count, &c, NULL, &result);
    if (rc < 0 || result < 0)
        return 1;
    printf("%lld lines, %lld bytes\n", c.lines, c.bytes);
    return 0;
}
