/*
 * curio_file_openat and curio_file_openat_fd: opens relative to a directory with
 * openat2(2)'s resolve rules, through IORING_OP_OPENAT2 and through the openat2 system call
 * on a pool thread (forced with curio__op_deny, as on a kernel without the opcode): "../",
 * absolute paths and symbolic links leading out refused, links inside refused with
 * NO_SYMLINKS, IN_ROOT, creating files, a FIFO's blocking open under a timeout, a
 * cancellation and a close of the directory, bad input, and no descriptor left behind.
 */
#include "iotest.h"

#include "io.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

TestSuite(openat, .timeout = 60);

/* top/outside.txt, top/root/sub/file.txt ("hello"), top/root/link_in -> sub/file.txt,
 * top/root/link_out -> ../outside.txt, top/root/link_abs -> top/outside.txt (absolute),
 * top/root/up -> .., top/root/fifo. */
static char top[64], root[96];

static void mk(const char *fmt, const char *arg, char *out, size_t cap)
{
    snprintf(out, cap, fmt, top, arg);
}

static void setup(void)
{
    strcpy(top, "/tmp/curio-openat-XXXXXX");
    cr_assert_not_null(mkdtemp(top));
    char p[256], q[256];
    snprintf(root, sizeof root, "%s/root", top);
    cr_assert_eq(mkdir(root, 0700), 0);
    mk("%s/%s", "root/sub", p, sizeof p);
    cr_assert_eq(mkdir(p, 0700), 0);
    mk("%s/%s", "root/sub/file.txt", p, sizeof p);
    FILE *f = fopen(p, "w");
    fputs("hello", f);
    fclose(f);
    mk("%s/%s", "outside.txt", p, sizeof p);
    f = fopen(p, "w");
    fputs("secret", f);
    fclose(f);
    mk("%s/%s", "root/link_in", q, sizeof q);
    cr_assert_eq(symlink("sub/file.txt", q), 0);
    mk("%s/%s", "root/link_out", q, sizeof q);
    cr_assert_eq(symlink("../outside.txt", q), 0);
    mk("%s/%s", "root/link_abs", q, sizeof q);
    cr_assert_eq(symlink(p, q), 0);
    mk("%s/%s", "root/up", q, sizeof q);
    cr_assert_eq(symlink("..", q), 0);
    mk("%s/%s", "root/fifo", q, sizeof q);
    cr_assert_eq(mkfifo(q, 0600), 0);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    cr_assert_eq(system(cmd), 0);
}

static void path(bool thread)
{
    curio__op_probe_reset();
    if (thread)
        curio__op_deny(IORING_OP_OPENAT2);
}

static curio_file *open_root(void)
{
    curio_file *d;
    cr_assert_eq(curio_file_open(&d, root, O_RDONLY | O_DIRECTORY, 0), 0);
    return d;
}

/* Open and read it: the content, or the error's name. */
static const char *try(curio_file *d, const char *p, uint64_t resolve)
{
    static char out[64];
    curio_file *f = (curio_file *)1;
    int rc = curio_file_openat(&f, d, p, O_RDONLY, 0, resolve);
    if (rc < 0) {
        cr_assert_null(f);
        snprintf(out, sizeof out, "%s", rc == -EXDEV ? "EXDEV"
                                        : rc == -ELOOP ? "ELOOP"
                                                       : ename(rc));
        return out;
    }
    ssize_t n = curio_file_read(f, out, sizeof out - 1);
    cr_assert_geq(n, 0);
    out[n] = 0;
    curio_file_close(f);
    return out;
}

static long rules(void *arg)
{
    path(*(bool *)arg);
    curio_file *d = open_root();
    const uint64_t B = CURIO_RESOLVE_BENEATH;
    /* Normal opens. */
    cr_assert_str_eq(try(d, "sub/file.txt", B), "hello");
    cr_assert_str_eq(try(d, "sub/../sub/file.txt", B), "hello", ".. that stays inside");
    cr_assert_str_eq(try(d, "link_in", B), "hello", "a link that stays inside");
    cr_assert_str_eq(try(d, "sub/missing", B), "ENOENT");
    /* Escapes. */
    cr_assert_str_eq(try(d, "../outside.txt", B), "EXDEV");
    cr_assert_str_eq(try(d, "sub/../../outside.txt", B), "EXDEV");
    cr_assert_str_eq(try(d, "/etc/hostname", B), "EXDEV", "absolute");
    cr_assert_str_eq(try(d, "link_out", B), "EXDEV", "a relative link leading out");
    cr_assert_str_eq(try(d, "link_abs", B), "EXDEV", "an absolute link");
    cr_assert_str_eq(try(d, "up/outside.txt", B), "EXDEV", "through a link to ..");
    /* Without the rules, the same path does leave (what they prevent). */
    cr_assert_str_eq(try(d, "../outside.txt", 0), "secret");
    /* No symbolic links at all. */
    cr_assert_str_eq(try(d, "link_in", B | CURIO_RESOLVE_NO_SYMLINKS), "ELOOP");
    cr_assert_str_eq(try(d, "sub/file.txt", B | CURIO_RESOLVE_NO_SYMLINKS), "hello");
    /* IN_ROOT: .. and absolute links stop at the root. */
    cr_assert_str_eq(try(d, "../sub/file.txt", CURIO_RESOLVE_IN_ROOT), "hello");
    cr_assert_str_eq(try(d, "/sub/file.txt", CURIO_RESOLVE_IN_ROOT), "hello");
    cr_assert_str_eq(try(d, "link_out", CURIO_RESOLVE_IN_ROOT), "ENOENT");
    /* Creating, with a mode. */
    curio_file *f;
    cr_assert_eq(curio_file_openat(&f, d, "sub/new.txt", O_CREAT | O_EXCL | O_WRONLY, 0640,
                                   B), 0);
    cr_assert_eq(curio_file_write(f, "xyz", 3, NULL), 3);
    struct stat st;
    cr_assert_eq(curio_file_stat(f, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0640 & ~umask(022));
    umask(022);
    curio_file_close(f);
    cr_assert_eq(curio_file_openat(&f, d, "sub/new.txt", O_CREAT | O_EXCL | O_WRONLY, 0640,
                                   B), -EEXIST);
    /* O_CLOEXEC is added. */
    cr_assert_eq(curio_file_openat(&f, d, "sub/file.txt", O_RDONLY, 0, B), 0);
    cr_assert(fcntl(curio_file_fd(f), F_GETFD) & FD_CLOEXEC);
    curio_file_close(f);
    /* The raw descriptor form, and AT_FDCWD. */
    cr_assert_eq(curio_file_openat_fd(&f, curio_file_fd(d), "link_out", O_RDONLY, 0, B),
                 -EXDEV);
    cr_assert_eq(curio_file_openat_fd(&f, curio_file_fd(d), "sub/file.txt", O_RDONLY, 0, B),
                 0);
    curio_file_close(f);
    cr_assert_eq(curio_file_openat_fd(&f, AT_FDCWD, root, O_RDONLY | O_DIRECTORY, 0, 0), 0);
    curio_file_close(f);
    cr_assert_eq(curio_file_openat_fd(&f, AT_FDCWD, "/etc/hostname", O_RDONLY, 0, B), -EXDEV);
    curio_file_close(d);
    return 0;
}

Test(openat, resolve_rules, .init = setup, .fini = teardown)
{
    bool thread = false;
    run_io(rules, &thread);
}

Test(openat, resolve_rules_on_a_pool_thread, .init = setup, .fini = teardown)
{
    bool thread = true;
    run_io(rules, &thread);
}

/* ---- a FIFO's open, which waits for a writer ---- */

struct opener {
    curio_file *d;
    int rc;
    curio_file *f;
};

static long opens_fifo(void *arg)
{
    struct opener *o = arg;
    o->rc = curio_file_openat(&o->f, o->d, "fifo", O_RDONLY, 0, CURIO_RESOLVE_BENEATH);
    ev("open=%s", ename(o->rc));
    return 0;
}

static int open_fifo_op(void *arg)
{
    struct opener *o = arg;
    return curio_file_openat(&o->f, o->d, "fifo", O_RDONLY, 0, CURIO_RESOLVE_BENEATH);
}

/* Open the FIFO for writing, once the blocked open has made itself its reader (an
 * O_NONBLOCK writer is refused, -ENXIO, until then). */
static int open_writer(void)
{
    char p[256];
    mk("%s/%s", "root/fifo", p, sizeof p);
    for (int i = 0;; i++) {
        int w = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (w >= 0)
            return w;
        cr_assert_eq(errno, ENXIO);
        cr_assert_lt(i, 5000);
        curio_sleep(0.001);
    }
}

/* Let an open abandoned on a pool thread go (if it got to run: it may have been dropped
 * while queued), and wait for the pool to be idle, so that the job has closed what it
 * opened. Nothing to do for an io_uring open. */
static void release_fifo(void)
{
    char p[256];
    mk("%s/%s", "root/fifo", p, sizeof p);
    int w = -1;
    for (int i = 0; curio__pool_busy(); i++) {
        if (w < 0)
            w = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        cr_assert_lt(i, 5000);
        curio_sleep(0.001);
    }
    if (w >= 0)
        close(w);
}

static long fifo_interrupts(void *arg)
{
    path(*(bool *)arg);
    struct opener o = {.d = open_root()};
    /* A timeout while blocked. */
    int closed;
    int64_t t0 = curio_clock();
    int rc = timeout_while_waiting(0.05, open_fifo_op, &o, &closed);
    cr_assert_eq(rc, -ETIMEDOUT, "%s", ename(rc));
    cr_assert_eq(closed, -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.05);
    cr_assert_null(o.f);
    release_fifo();
    /* A cancellation while blocked. */
    curio_task *t = curio_spawn(opens_fifo, &o);
    until_blocked(t);
    cr_assert_str_eq(curio_task_state(t), "OPEN_WAIT");
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);
    cr_assert_eq(o.rc, -ECANCELED);
    cr_assert_null(o.f);
    release_fifo();
    /* A writer comes: the open completes. */
    t = curio_spawn(opens_fifo, &o);
    until_blocked(t);
    int w = open_writer();
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(o.rc, 0);
    curio_file_close(o.f);
    o.f = NULL;
    close(w);
    /* The directory closed by another task while the open waits: -EBADF, and the
     * descriptor opened afterwards is closed. */
    t = curio_spawn(opens_fifo, &o);
    until_blocked(t);
    curio_file_close(o.d);
    w = open_writer();
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(o.rc, -EBADF);
    cr_assert_null(o.f);
    close(w);
    return 0;
}

Test(openat, fifo_timeout_cancel_and_close, .init = setup, .fini = teardown)
{
    bool thread = false;
    ev_reset();
    run_io(fifo_interrupts, &thread);
    cr_assert_str_eq(evlog, "open=ECANCELED open=0 open=EBADF");
}

Test(openat, fifo_timeout_cancel_and_close_on_a_pool_thread, .init = setup,
     .fini = teardown)
{
    bool thread = true;
    ev_reset();
    run_io(fifo_interrupts, &thread);
    cr_assert_str_eq(evlog, "open=ECANCELED open=0 open=EBADF");
}

/* ---- bad input ---- */

static long bad(void *arg)
{
    path(*(bool *)arg);
    curio_file *d = open_root(), *f = (curio_file *)1;
    cr_assert_eq(curio_file_openat(NULL, d, "sub/file.txt", O_RDONLY, 0, 0), -EINVAL);
    cr_assert_eq(curio_file_openat(&f, NULL, "sub/file.txt", O_RDONLY, 0, 0), -EINVAL);
    cr_assert_null(f);
    cr_assert_eq(curio_file_openat(&f, d, NULL, O_RDONLY, 0, 0), -EINVAL);
    cr_assert_eq(curio_file_openat(&f, d, "sub/file.txt", O_RDONLY, 0, 0x1000), -EINVAL);
    cr_assert_eq(curio_file_openat_fd(&f, -5, "sub/file.txt", O_RDONLY, 0, 0), -EBADF);
    cr_assert_eq(curio_file_openat_fd(NULL, AT_FDCWD, "x", O_RDONLY, 0, 0), -EINVAL);
    /* Not a directory. */
    curio_file *reg;
    cr_assert_eq(curio_file_openat(&reg, d, "sub/file.txt", O_RDONLY, 0, 0), 0);
    cr_assert_eq(curio_file_openat(&f, reg, "x", O_RDONLY, 0, 0), -ENOTDIR);
    curio_file_close(reg);
    /* Sticky cancellation. */
    curio_cancel_nowait(curio_current());
    cr_assert_eq(curio_file_openat(&f, d, "sub/file.txt", O_RDONLY, 0, 0), -ECANCELED);
    cr_assert_null(f);
    curio_file_close(d);
    return 0;
}

Test(openat, bad_input, .init = setup, .fini = teardown)
{
    bool thread = false;
    run_io(bad, &thread);
}

Test(openat, bad_input_on_a_pool_thread, .init = setup, .fini = teardown)
{
    bool thread = true;
    run_io(bad, &thread);
}

Test(openat, outside_a_task_is_eperm, .init = setup, .fini = teardown)
{
    curio_file *f = (curio_file *)1;
    cr_assert_eq(curio_file_openat_fd(&f, AT_FDCWD, root, O_RDONLY, 0, 0), -EPERM);
    cr_assert_null(f);
    curio__op_deny(IORING_OP_OPENAT2);
    cr_assert_eq(curio_file_openat_fd(&f, AT_FDCWD, root, O_RDONLY, 0, 0), -EPERM);
    curio__op_probe_reset();
}
