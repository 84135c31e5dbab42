/*
 * Files larger than 2 GiB and 4 GiB: positions, seeks, preads and pwrites, lines and
 * truncation past the 32-bit boundaries, on a sparse file (a few pages on disk) in a
 * temporary directory that is removed afterwards.
 */
#include "iotest.h"

#include <stdlib.h>
#include <sys/stat.h>

#define GiB (1024LL * 1024 * 1024)

static char path[64];

static void setup(void)
{
    strcpy(path, "/tmp/curio-large-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
}

static void teardown(void) { unlink(path); }

TestSuite(file_large, .init = setup, .fini = teardown);

static long large(void *arg)
{
    (void)arg;
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, path, "w+"), 0);
    cr_assert_eq(curio_file_truncate(f, 5 * GiB), 0, "sparse: no blocks written");
    struct stat st;
    cr_assert_eq(curio_file_stat(f, &st), 0);
    cr_assert_eq(st.st_size, 5 * GiB);
    cr_assert_lt(st.st_blocks * 512, 1 << 20, "the file is sparse");

    /* Writes straddling 2^31 and 2^32 at the position, and a pwrite near the end. */
    cr_assert_eq(curio_file_seek(f, 2 * GiB - 3, SEEK_SET), 2 * GiB - 3);
    cr_assert_eq(curio_file_write(f, "across2G\n", 9, NULL), 9);
    cr_assert_eq(curio_file_tell(f), 2 * GiB + 6);
    cr_assert_eq(curio_file_seek(f, 4 * GiB - 4, SEEK_SET), 4 * GiB - 4);
    cr_assert_eq(curio_file_write(f, "across4G\n", 9, NULL), 9);
    cr_assert_eq(curio_file_tell(f), 4 * GiB + 5);
    cr_assert_eq(curio_file_pwrite(f, "end\n", 4, 5 * GiB - 4), 4);
    cr_assert_eq(curio_file_tell(f), 4 * GiB + 5, "pwrite left the position");

    /* Read them back through every path. */
    char buf[16];
    cr_assert_eq(curio_file_pread(f, buf, 9, 2 * GiB - 3), 9);
    cr_assert_eq(memcmp(buf, "across2G\n", 9), 0);
    cr_assert_eq(curio_file_seek(f, 4 * GiB - 4, SEEK_SET), 4 * GiB - 4);
    char line[32];
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 9);
    cr_assert_str_eq(line, "across4G\n");
    cr_assert_eq(curio_file_tell(f), 4 * GiB + 5);
    cr_assert_eq(curio_file_seek(f, -4, SEEK_END), 5 * GiB - 4);
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 4);
    cr_assert_str_eq(line, "end\n");
    cr_assert_eq(curio_file_read(f, buf, sizeof buf), 0, "at the end");
    cr_assert_eq(curio_file_seek(f, -(3 * GiB + 4), SEEK_CUR), 2 * GiB - 4);
    cr_assert_eq(curio_file_read(f, buf, 10), 10);
    cr_assert_eq(memcmp(buf, "\0across2G\n", 10), 0);
    cr_assert_eq(curio_file_tell(f), 2 * GiB + 6);

    /* Shrink to just past 4 GiB: the position is kept and the tail is gone. */
    cr_assert_eq(curio_file_truncate(f, 4 * GiB + 2), 0);
    cr_assert_eq(curio_file_stat(f, &st), 0);
    cr_assert_eq(st.st_size, 4 * GiB + 2);
    cr_assert_eq(curio_file_pread(f, buf, 16, 4 * GiB - 4), 6);
    cr_assert_eq(memcmp(buf, "across", 6), 0);
    cr_assert_eq(curio_file_close(f), 0);
    return 0;
}

Test(file_large, five_gib_sparse_file) { run_io(large, NULL); }
