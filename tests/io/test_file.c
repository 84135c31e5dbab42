/*
 * Async files (Curio's aopen): modes, read/write/lines at the position, pread/pwrite,
 * seek/tell, fsync, stat, truncate (both the io_uring operation and the ftruncate(2)
 * fallback), FIFOs (blocking opens and reads: timeouts, cancellation, nothing lost), bad
 * descriptors and opens racing a cancellation (no descriptor leaked).
 */
#include "iotest.h"

#include "io.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

/* ---- a temporary directory per test, removed afterwards ---- */

static char dir[64];

static void mkdir_tmp(void)
{
    strcpy(dir, "/tmp/curio-file-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rmdir_tmp(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[sizeof dir + sizeof e->d_name + 1];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

static const char *at(const char *name)
{
    static char p[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
    return p[i];
}

static void put(const char *name, const char *content)
{
    int fd = open(at(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

static char *get(const char *name)
{
    static char buf[4096];
    int fd = open(at(name), O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    cr_assert_geq(n, 0);
    buf[n] = 0;
    close(fd);
    return buf;
}

TestSuite(file, .init = mkdir_tmp, .fini = rmdir_tmp);

/* ---- modes ---- */

static long modes(void *arg)
{
    (void)arg;
    curio_file *f;
    const char *bad[] = {"", "rw", "r++", "rbt", "rbb", "q", "r+x", "wa", "R", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(curio_aopen(&f, at("m"), bad[i]), -EINVAL, "mode '%s'", bad[i]);
    cr_assert_eq(curio_aopen(&f, at("m"), NULL), -EINVAL);
    cr_assert_eq(curio_aopen(&f, NULL, "r"), -EINVAL);
    cr_assert_eq(curio_aopen(NULL, at("m"), "r"), -EINVAL);
    cr_assert_eq(curio_aopen(&f, at("missing"), "r"), -ENOENT);
    cr_assert_null(f);

    /* w creates and truncates; writing is allowed, reading is not. */
    put("m", "old content");
    cr_assert_eq(curio_aopen(&f, at("m"), "wb"), 0);
    cr_assert_eq(curio_file_write(f, "new", 3, NULL), 3);
    char buf[16];
    cr_assert_eq(curio_file_read(f, buf, sizeof buf), -EBADF);
    cr_assert_eq(curio_file_close(f), 0);
    cr_assert_str_eq(get("m"), "new");
    /* r reads; writing is not allowed. */
    cr_assert_eq(curio_aopen(&f, at("m"), "rt"), 0);
    size_t done = 9;
    cr_assert_eq(curio_file_write(f, "x", 1, &done), -EBADF);
    cr_assert_eq(done, 0);
    cr_assert_eq(curio_file_read(f, buf, sizeof buf), 3);
    curio_file_close(f);
    /* r+ reads and writes without truncating, from the start. */
    cr_assert_eq(curio_aopen(&f, at("m"), "+rb"), 0);
    cr_assert_eq(curio_file_write(f, "N", 1, NULL), 1);
    cr_assert_eq(curio_file_read(f, buf, sizeof buf), 2);
    cr_assert_eq(memcmp(buf, "ew", 2), 0);
    curio_file_close(f);
    cr_assert_str_eq(get("m"), "New");
    /* x refuses an existing file and creates a new one. */
    cr_assert_eq(curio_aopen(&f, at("m"), "x"), -EEXIST);
    cr_assert_eq(curio_aopen(&f, at("x"), "xb+"), 0);
    curio_file_close(f);
    struct stat st;
    cr_assert_eq(stat(at("x"), &st), 0);
    mode_t um = umask(0);
    umask(um);
    cr_assert_eq(st.st_mode & 0777, 0666 & ~um, "0666 less the umask");
    /* open(2) flags directly; O_CLOEXEC is always added. */
    cr_assert_eq(curio_file_open(&f, at("flags"), O_WRONLY | O_CREAT, 0600), 0);
    cr_assert_neq(fcntl(curio_file_fd(f), F_GETFD) & FD_CLOEXEC, 0);
    curio_file_close(f);
    cr_assert_eq(curio_file_open(&f, NULL, O_RDONLY, 0), -EINVAL);
    return 0;
}

Test(file, python_modes_and_flags) { run_io(modes, NULL); }

Test(file, open_outside_a_task_is_eperm)
{
    curio_file *f = (curio_file *)1;
    cr_assert_eq(curio_aopen(&f, at("m"), "w"), -EPERM);
    cr_assert_null(f);
    cr_assert_eq(curio_file_close(NULL), 0);
    cr_assert_eq(curio_file_fd(NULL), -1);
}

static long append(void *arg)
{
    (void)arg;
    put("a", "0123");
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, at("a"), "a"), 0);
    cr_assert_eq(curio_file_tell(f), 4, "an appending file starts at its end");
    cr_assert_eq(curio_file_write(f, "45", 2, NULL), 2);
    cr_assert_eq(curio_file_tell(f), 6);
    curio_file_close(f);
    /* a+: reads anywhere, writes at the end, and the position follows the write. */
    cr_assert_eq(curio_aopen(&f, at("a"), "a+"), 0);
    cr_assert_eq(curio_file_seek(f, 0, SEEK_SET), 0);
    char buf[4];
    cr_assert_eq(curio_file_read(f, buf, 2), 2);
    cr_assert_eq(memcmp(buf, "01", 2), 0);
    cr_assert_eq(curio_file_write(f, "6", 1, NULL), 1);
    cr_assert_eq(curio_file_tell(f), 7);
    curio_file_close(f);
    cr_assert_str_eq(get("a"), "0123456");
    return 0;
}

Test(file, append_modes) { run_io(append, NULL); }

/* ---- reading and writing at the position ---- */

static long lines(void *arg)
{
    (void)arg;
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, at("l"), "w"), 0);
    size_t total = 0;
    for (int i = 0; i < 10000; i++) {
        char l[32];
        int n = snprintf(l, sizeof l, "%d %s\n", i, i % 3 ? "x" : "yyyy");
        cr_assert_eq(curio_file_write(f, l, (size_t)n, NULL), n);
        total += (size_t)n;
    }
    cr_assert_eq(curio_file_tell(f), (int64_t)total);
    cr_assert_eq(curio_file_close(f), 0);

    cr_assert_eq(curio_aopen(&f, at("l"), "r"), 0);
    const char *l;
    ssize_t n;
    int i = 0;
    int64_t pos = 0;
    while ((n = curio_file_readline_ref(f, &l)) > 0) {
        char want[32];
        int k = snprintf(want, sizeof want, "%d %s\n", i, i % 3 ? "x" : "yyyy");
        cr_assert_eq(n, k);
        cr_assert_eq(memcmp(l, want, (size_t)k), 0);
        pos += n;
        if (i % 1000 == 0)
            cr_assert_eq(curio_file_tell(f), pos, "the position counts lines handed out");
        i++;
    }
    cr_assert_eq(n, 0);
    cr_assert_eq(i, 10000);
    /* Back to the start: readlines and read_all see the same. */
    cr_assert_eq(curio_file_seek(f, 0, SEEK_SET), 0);
    char **v;
    size_t cnt;
    cr_assert_eq(curio_file_readlines(f, &v, &cnt), 0);
    cr_assert_eq(cnt, 10000);
    cr_assert_str_eq(v[9999], "9999 yyyy\n");
    curio_lines_free(v, cnt);
    cr_assert_eq(curio_file_seek(f, 0, SEEK_SET), 0);
    char line[16];
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 7);
    cr_assert_str_eq(line, "0 yyyy\n");
    char *all;
    size_t len;
    cr_assert_eq(curio_file_read_all(f, &all, &len), (ssize_t)total - 7);
    cr_assert_eq(memcmp(all, "1 x\n2 x\n3 yyyy\n", 15), 0);
    free(all);
    cr_assert_eq(curio_file_read_all(f, &all, &len), 0);
    free(all);
    cr_assert_eq(curio_file_close(f), 0);
    return 0;
}

Test(file, write_lines_then_read_them_back) { run_io(lines, NULL); }

/* A write after buffered reads lands at the file's position, not the descriptor's. */
static long write_after_readline(void *arg)
{
    (void)arg;
    put("w", "aaa\nbbb\nccc\n");
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, at("w"), "r+"), 0);
    char line[8];
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 4);
    cr_assert_eq(curio_file_write(f, "BBB", 3, NULL), 3);
    cr_assert_eq(curio_file_tell(f), 7);
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 1);
    cr_assert_str_eq(line, "\n");
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 4);
    cr_assert_str_eq(line, "ccc\n");
    curio_file_close(f);
    cr_assert_str_eq(get("w"), "aaa\nBBB\nccc\n");
    return 0;
}

Test(file, write_after_readline_goes_to_the_position) { run_io(write_after_readline, NULL); }

static long writelines(void *arg)
{
    (void)arg;
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, at("wl"), "w"), 0);
    struct iovec iov[3] = {{"one\n", 4}, {NULL, 0}, {"two\n", 4}};
    size_t done = 0;
    cr_assert_eq(curio_file_writelines(f, iov, 3, &done), 8);
    cr_assert_eq(done, 8);
    cr_assert_eq(curio_file_tell(f), 8);
    cr_assert_eq(curio_file_writelines(f, NULL, 1, &done), -EINVAL);
    cr_assert_eq(done, 0);
    curio_file_close(f);
    cr_assert_str_eq(get("wl"), "one\ntwo\n");
    return 0;
}

Test(file, writelines_gathers) { run_io(writelines, NULL); }

/* ---- pread and pwrite ---- */

struct preader {
    curio_file *f;
    int64_t off;
    char buf[8];
    ssize_t rc;
};

static long do_pread(void *arg)
{
    struct preader *p = arg;
    p->rc = curio_file_pread(p->f, p->buf, 4, p->off);
    return 0;
}

static long pread_pwrite(void *arg)
{
    (void)arg;
    put("p", "0123456789");
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, at("p"), "r+"), 0);
    char buf[16];
    cr_assert_eq(curio_file_read(f, buf, 2), 2);
    cr_assert_eq(curio_file_pread(f, buf, 3, 5), 3);
    cr_assert_eq(memcmp(buf, "567", 3), 0);
    cr_assert_eq(curio_file_pread(f, buf, 8, 7), 3, "short at the end");
    cr_assert_eq(curio_file_pread(f, buf, 8, 10), 0, "at the end");
    cr_assert_eq(curio_file_pwrite(f, "AB", 2, 8), 2);
    cr_assert_eq(curio_file_pwrite(f, "Z", 1, 12), 1, "past the end: a hole");
    cr_assert_eq(curio_file_tell(f), 2, "the position did not move");
    cr_assert_eq(curio_file_pread(f, buf, 1, -1), -EINVAL);
    cr_assert_eq(curio_file_pwrite(f, buf, 1, -1), -EINVAL);
    cr_assert_eq(curio_file_pread(NULL, buf, 1, 0), -EINVAL);
    /* Any number of tasks may pread one file at once. */
    struct preader r[4];
    curio_task *t[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (struct preader){.f = f, .off = 2 * i};
        t[i] = curio_spawn(do_pread, &r[i]);
    }
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(curio_join(t[i], NULL), 0);
        cr_assert_eq(r[i].rc, 4, "task %d: %s", i, ename(r[i].rc));
        curio_task_release(t[i]);
    }
    cr_assert_eq(memcmp(r[3].buf, "67AB", 4), 0);
    curio_file_close(f);
    int fd = open(at("p"), O_RDONLY | O_CLOEXEC);
    cr_assert_eq(read(fd, buf, sizeof buf), 13);
    close(fd);
    cr_assert_eq(memcmp(buf, "01234567AB\0\0Z", 13), 0);
    return 0;
}

Test(file, pread_and_pwrite_leave_the_position) { run_io(pread_pwrite, NULL); }

/* ---- seek and tell ---- */

static long seek_tell(void *arg)
{
    (void)arg;
    put("s", "line one\nline two\nline three\n");
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, at("s"), "r"), 0);
    char line[32];
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 9);
    cr_assert_eq(curio_file_tell(f), 9);
    /* Inside the buffer: no operation, same bytes again. */
    uint64_t cycles = curio_task_cycles(curio_current());
    cr_assert_eq(curio_file_seek(f, 0, SEEK_SET), 0);
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 9);
    cr_assert_str_eq(line, "line one\n");
    cr_assert_eq(curio_file_seek(f, 5, SEEK_CUR), 14);
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 4);
    cr_assert_str_eq(line, "two\n");
    cr_assert_eq(curio_task_cycles(curio_current()), cycles);
    cr_assert_eq(curio_file_seek(f, -6, SEEK_END), 23);
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 6);
    cr_assert_str_eq(line, "three\n");
    cr_assert_eq(curio_file_seek(f, 100, SEEK_SET), 100, "past the end is allowed");
    cr_assert_eq(curio_file_read(f, line, sizeof line), 0);
    cr_assert_eq(curio_file_seek(f, -200, SEEK_CUR), -EINVAL);
    cr_assert_eq(curio_file_seek(f, -1, SEEK_SET), -EINVAL);
    cr_assert_eq(curio_file_seek(f, 0, 42), -EINVAL);
    cr_assert_eq(curio_file_tell(f), 100, "unchanged by the failures");
    cr_assert_eq(curio_file_seek(NULL, 0, SEEK_SET), -EINVAL);
    cr_assert_eq(curio_file_tell(NULL), -EINVAL);
    curio_file_close(f);
    return 0;
}

Test(file, seek_and_tell) { run_io(seek_tell, NULL); }

/* ---- fsync, stat, truncate ---- */

static long sync_stat_truncate(void *arg)
{
    (void)arg;
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, at("t"), "w+"), 0);
    cr_assert_eq(curio_file_write(f, "hello\nworld\n", 12, NULL), 12);
    cr_assert_eq(curio_file_flush(f), 0);
    cr_assert_eq(curio_file_fsync(f), 0);
    cr_assert_eq(curio_file_datasync(f), 0);
    struct stat st, ref;
    cr_assert_eq(curio_file_stat(f, &st), 0);
    cr_assert_eq(fstat(curio_file_fd(f), &ref), 0);
    cr_assert_eq(st.st_size, 12);
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(st.st_ino, ref.st_ino);
    cr_assert_eq(st.st_dev, ref.st_dev);
    cr_assert_eq(st.st_mode, ref.st_mode);
    cr_assert_eq(st.st_nlink, ref.st_nlink);
    cr_assert_eq(st.st_uid, ref.st_uid);
    cr_assert_eq(st.st_mtim.tv_sec, ref.st_mtim.tv_sec);
    cr_assert_eq(st.st_mtim.tv_nsec, ref.st_mtim.tv_nsec);
    cr_assert_eq(curio_file_stat(f, NULL), -EINVAL);
    /* Truncate after a buffered read: the position stays, the stale bytes go. */
    cr_assert_eq(curio_file_seek(f, 0, SEEK_SET), 0);
    char line[16];
    cr_assert_eq(curio_file_readline(f, line, sizeof line), 6);
    cr_assert_eq(curio_file_truncate(f, 8), 0);
    cr_assert_eq(curio_file_tell(f), 6);
    cr_assert_eq(curio_file_read(f, line, sizeof line), 2);
    cr_assert_eq(memcmp(line, "wo", 2), 0);
    cr_assert_eq(curio_file_truncate(f, 100), 0);
    cr_assert_eq(curio_file_stat(f, &st), 0);
    cr_assert_eq(st.st_size, 100);
    cr_assert_eq(curio_file_truncate(f, -1), -EINVAL);
    curio_file_close(f);
    return 0;
}

Test(file, fsync_stat_and_truncate) { run_io(sync_stat_truncate, NULL); }

Test(file, truncate_without_the_io_uring_operation)
{
    curio__op_deny(CURIO__OP_FTRUNCATE); /* as on kernels before 6.9 */
    run_io(sync_stat_truncate, NULL);
    curio__op_probe_reset();
}

static long probe_once(void *arg)
{
    (void)arg;
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, at("probe"), "w"), 0);
    cr_assert_eq(curio_file_truncate(f, 10), 0);
    curio_file_close(f);
    return 0;
}

Test(file, truncate_probes_the_kernel)
{
    curio__op_probe_reset();
    run_io(probe_once, NULL);
    bool have = curio__op_supported(CURIO__OP_FTRUNCATE);
    struct utsname_like { int major, minor; } v = {0, 0};
    FILE *p = fopen("/proc/sys/kernel/osrelease", "r");
    cr_assert_not_null(p);
    cr_assert_eq(fscanf(p, "%d.%d", &v.major, &v.minor), 2);
    fclose(p);
    bool new_kernel = v.major > 6 || (v.major == 6 && v.minor >= 9);
    cr_log_info("kernel %d.%d: IORING_OP_FTRUNCATE %s", v.major, v.minor,
                have ? "present" : "absent");
    if (new_kernel)
        cr_assert(have, "6.9 and later have it");
}

/* ---- FIFOs: opens and reads that wait ---- */

static long fifo_open_timeout(void *arg)
{
    (void)arg;
    cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
    curio_file *f = (curio_file *)1;
    curio_scope sc;
    int64_t t0 = curio_clock();
    curio_timeout_after(&sc, 0.05);
    ev("open=%s", ename(curio_aopen(&f, at("fifo"), "r")));
    cr_assert_geq(secs_since(t0), 0.05);
    ev("close=%s", ename(curio_scope_close(&sc)));
    cr_assert_null(f);
    return 0;
}

Test(file, open_of_a_fifo_times_out)
{
    ev_reset();
    run_io(fifo_open_timeout, NULL);
    cr_assert_str_eq(evlog, "open=ETIMEDOUT close=ETIMEDOUT");
}

struct opener {
    const char *path;
    curio_file *f;
    int rc;
};

static long fifo_opener(void *arg)
{
    struct opener *o = arg;
    o->rc = curio_aopen(&o->f, o->path, "r");
    return o->rc;
}

static long fifo_read_cancel(void *arg)
{
    (void)arg;
    cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
    /* Cancel a blocked open. */
    struct opener o = {at("fifo"), NULL, 0};
    curio_task *t = curio_spawn(fifo_opener, &o);
    until_in_flight(t);
    cr_assert_str_eq(curio_task_state(t), "OPEN_WAIT");
    curio_cancel(t);
    ev("open=%s", ename(o.rc));
    curio_task_release(t);
    /* Open with a writer arriving. */
    t = curio_spawn(fifo_opener, &o);
    until_in_flight(t);
    int w = open(at("fifo"), O_WRONLY | O_CLOEXEC);
    cr_assert_geq(w, 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    curio_file *f = o.f;
    ev("seek=%s tell=%s", ename(curio_file_seek(f, 0, SEEK_SET)),
       ename(curio_file_tell(f)));
    /* Cancel a blocked read; the bytes written afterwards are all there. */
    struct preader r = {.f = f};
    t = curio_spawn(do_pread, &r); /* pread on a FIFO: -ESPIPE at once */
    cr_assert_eq(curio_join(t, NULL), 0);
    ev("pread=%s", ename(r.rc));
    curio_task_release(t);
    curio_scope sc;
    curio_timeout_after(&sc, 0.02);
    char line[16];
    ev("read=%s", ename(curio_file_readline(f, line, sizeof line)));
    curio_scope_close(&sc);
    cr_assert_eq(write(w, "fi", 2), 2);
    cr_assert_eq(write(w, "fo\n", 3), 3);
    ev("line=%s", ename(curio_file_readline(f, line, sizeof line)));
    cr_assert_str_eq(line, "fifo\n");
    close(w);
    ev("eof=%s", ename(curio_file_readline(f, line, sizeof line)));
    cr_assert_eq(curio_file_close(f), 0);
    return 0;
}

Test(file, fifo_open_and_read_wait_and_can_be_interrupted)
{
    ev_reset();
    run_io(fifo_read_cancel, NULL);
    cr_assert_str_eq(evlog, "open=ECANCELED seek=ESPIPE tell=ESPIPE pread=ESPIPE "
                            "read=ETIMEDOUT line=5 eof=0");
}

/* Opens racing a cancellation: the open either failed or returned a file; never a
 * descriptor without an owner. */
static long open_for_race(void *arg)
{
    struct opener *o = arg;
    o->rc = curio_aopen(&o->f, o->path, "r");
    if (o->rc == 0)
        curio_file_close(o->f);
    return 0;
}

static long open_races_cancel(void *arg)
{
    int *outcomes = arg;
    put("race", "x");
    for (int i = 0; i < 300; i++) {
        struct opener o = {at("race"), NULL, 1};
        curio_task *t = curio_spawn(open_for_race, &o);
        if (i % 3 == 1)
            until_blocked(t); /* queued, not yet submitted */
        else if (i % 3 == 2)
            until_submitted();
        curio_cancel(t);
        cr_assert(o.rc == 0 || o.rc == -ECANCELED, "open: %s", ename(o.rc));
        outcomes[o.rc == 0]++;
        curio_task_release(t);
    }
    return 0;
}

Test(file, open_racing_a_cancellation_leaks_nothing)
{
    int outcomes[2] = {0, 0};
    run_io(open_races_cancel, outcomes);
    cr_log_info("cancelled %d, opened %d", outcomes[0], outcomes[1]);
}

/* ---- a descriptor closed behind the file's back ---- */

static long bad_fd(void *arg)
{
    (void)arg;
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, at("b"), "w+"), 0);
    close(curio_file_fd(f));
    char buf[4];
    struct stat st;
    ev("read=%s", ename(curio_file_read(f, buf, sizeof buf)));
    ev("write=%s", ename(curio_file_write(f, "x", 1, NULL)));
    ev("pread=%s", ename(curio_file_pread(f, buf, 1, 0)));
    ev("fsync=%s", ename(curio_file_fsync(f)));
    ev("stat=%s", ename(curio_file_stat(f, &st)));
    ev("truncate=%s", ename(curio_file_truncate(f, 0)));
    ev("tell=%s", ename(curio_file_tell(f)));
    ev("close=%s", ename(curio_file_close(f)));
    return 0;
}

Test(file, closed_descriptor_is_ebadf_everywhere)
{
    ev_reset();
    run_io(bad_fd, NULL);
    cr_assert_str_eq(evlog, "read=EBADF write=EBADF pread=EBADF fsync=EBADF stat=EBADF "
                            "truncate=EBADF tell=EBADF close=EBADF");
}

/* ---- one positioned call at a time ---- */

static long fifo_reader(void *arg)
{
    curio_file *f = arg;
    char buf[4];
    return curio_file_read(f, buf, sizeof buf);
}

static long position_busy(void *arg)
{
    (void)arg;
    cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
    int w = open(at("fifo"), O_RDWR | O_CLOEXEC); /* a FIFO opened both ways never blocks */
    curio_file *f;
    cr_assert_eq(curio_aopen(&f, at("fifo"), "r"), 0);
    curio_task *t = curio_spawn(fifo_reader, f);
    until_in_flight(t);
    char buf[4];
    struct stat st;
    ev("read=%s", ename(curio_file_read(f, buf, sizeof buf)));
    ev("seek=%s", ename(curio_file_seek(f, 0, SEEK_CUR)));
    ev("stat=%s", ename(curio_file_stat(f, &st)));
    cr_assert_eq(write(w, "abc", 3), 3);
    long r;
    cr_assert_eq(curio_join(t, &r), 0);
    ev("reader=%ld", r);
    curio_task_release(t);
    curio_file_close(f);
    close(w);
    return 0;
}

Test(file, positioned_calls_exclude_each_other)
{
    ev_reset();
    run_io(position_busy, NULL);
    cr_assert_str_eq(evlog, "read=EBUSY seek=EBUSY stat=0 reader=3");
}
