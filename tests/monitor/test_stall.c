/*
 * The stall detector: a task that runs past the threshold without a blocking call is
 * reported once on stderr, with its name, how long, and its C stack (which names the
 * spinning function). stderr goes to a file the spinning task reads, so that it spins
 * exactly until the report is out (at most 10 s).
 */
#include "montest.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>

/* A static link has the stall detector with the monitor's object, which it takes when the
 * program names a monitor call. */
int (*const take_monitor)(curio_kernel *, curio_addr *) = curio_monitor_address;

static char path[] = "/tmp/curio-stall-XXXXXX";
static int saved_stderr = -1;

static void capture(void)
{
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    fflush(stderr);
    saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}

/* What was written to stderr since capture(). */
static char *captured(void)
{
    static char buf[65536];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static void release(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    unlink(path);
}

static off_t stderr_size(void)
{
    struct stat st;
    return fstat(2, &st) == 0 ? st.st_size : 0;
}

/* Spins (never trapping) until stderr has grown or `limit` seconds passed. */
/* Not static, and the test is linked with export_dynamic: a build without libdw names it
 * through dladdr. */
__attribute__((noinline)) void stall_spin_here(double limit)
{
    int64_t end = curio_clock() + (int64_t)(limit * 1e9);
    while (stderr_size() == 0 && curio_clock() < end)
        ;
}

long hog(void *arg)
{
    stall_spin_here(*(double *)arg);
    return 0;
}

static long main_one(void *arg)
{
    curio_task *t;
    curio_spawn_options o = {.name = "hog"};
    cr_assert_eq(curio_spawn_ex(&t, hog, arg, &o), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    /* Short blocking calls after it: no second report. */
    for (int i = 0; i < 20; i++)
        curio_sleep(0.005);
    return 0;
}

static void expect_report(const char *err)
{
    const char *p = strstr(err, "curio: stall: task 2 (hog) has run for ");
    cr_assert(p, "%s", err);
    cr_assert_geq(atof(p + strlen("curio: stall: task 2 (hog) has run for ")), 0.1, "%s", err);
    cr_assert(strstr(err, "without a blocking call (threshold 100 ms)"), "%s", err);
    const char *a = strstr(err, "in hog\n"), *b = strstr(err, "in stall_spin_here\n");
    cr_assert(a && b && a < b, "hog, then stall_spin_here:\n%s", err);
    cr_assert(!strstr(p + 1, "curio: stall:"), "reported once:\n%s", err);
}

Test(stall, reported_once_with_the_spinning_function)
{
    capture();
    double limit = 10;
    curio_options o = {.stall_ms = 100};
    long r;
    int rc = curio_run(main_one, &limit, &o, &r);
    char *err = captured();
    release();
    cr_assert_eq(rc, 0);
    expect_report(err);
}

Test(stall, from_the_environment)
{
    setenv("CURIO_STALL_MS", "100", 1);
    capture();
    double limit = 10;
    long r;
    int rc = curio_run(main_one, &limit, NULL, &r);
    char *err = captured();
    release();
    unsetenv("CURIO_STALL_MS");
    cr_assert_eq(rc, 0);
    expect_report(err);
}

Test(stall, off_by_default)
{
    unsetenv("CURIO_STALL_MS");
    capture();
    double limit = 0.3;
    long r;
    int rc = curio_run(main_one, &limit, NULL, &r);
    char *err = captured();
    release();
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(err, "");
}

Test(stall, a_bad_environment_value_is_said)
{
    setenv("CURIO_STALL_MS", "soon", 1);
    capture();
    double limit = 0.2;
    long r;
    int rc = curio_run(main_one, &limit, NULL, &r);
    char *err = captured();
    release();
    unsetenv("CURIO_STALL_MS");
    cr_assert_eq(rc, 0);
    cr_assert(strstr(err, "curio: stall: CURIO_STALL_MS=soon is not a number of milliseconds; "
                          "the stall detector is off\n"), "%s", err);
}
