/*
 * where: the C call stack of a task blocked in a sleep, a read and a join shows the chain of
 * functions it is in, in order, with file:line (with libdw), or with its file and address
 * and the names dladdr knows (without); the right line of a call, and a call inlined into
 * its caller as a frame of its own; a library without debugging information or symbol
 * table, one loaded after the first lookup, one whose file is gone; lookups from several
 * threads at once, and no descriptor left open; a child forked while another thread is in
 * a lookup; the running task (the session itself);
 * bad ids, an ended task, a task not started yet; the task is untouched (its sleep ends on
 * time, its read gets its byte); a task with too little stack.
 *
 * The test's own functions are exported (the executable is linked with export_dynamic),
 * so that dladdr names them in a build without libdw too.
 */
#include "montest.h"

#include "monitor.h"

#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sys/wait.h>
#include <execinfo.h>

/* Chains of functions that neither get inlined nor end in a tail call (the work after
 * each call keeps every frame on the stack). */
#define KEEP __attribute__((noinline))

static double sleep_for = 100;

KEEP long level3(void)
{
    int64_t r = curio_sleep(sleep_for);
    return r < 0 ? r : 3;
}

KEEP long level2(void)
{
    long r = level3();
    return r < 0 ? r : r + 2;
}

KEEP long level1(void *arg)
{
    (void)arg;
    long r = level2();
    return r < 0 ? r : r + 1;
}

static int pipefd[2];

KEEP long read_inner(void)
{
    char c = 0;
    ssize_t n = curio_read(pipefd[0], &c, 1);
    return n == 1 ? c : (n < 0 ? n : -EIO);
}

KEEP long read_outer(void *arg)
{
    (void)arg;
    long r = read_inner();
    return r < 0 ? r : r + 1000;
}

KEEP long join_outer(void *arg)
{
    long r = curio_join(arg, NULL);
    return r < 0 ? r : 7;
}

static curio_task *spawn_named(curio_task_fn fn, void *arg, const char *name)
{
    curio_task *t;
    curio_spawn_options o = {.name = name};
    cr_assert_eq(curio_spawn_ex(&t, fn, arg, &o), 0);
    return t;
}

/* Every needle appears in text, in this order. */
static void expect_in_order(const char *text, const char *const *needles)
{
    const char *at = text;
    for (; *needles; needles++) {
        const char *p = strstr(at, *needles);
        cr_assert(p, "'%s' missing (or out of order) in:\n%s", *needles, text);
        at = p + strlen(*needles);
    }
}

static const char *where(mon_conn *c, curio_task *t)
{
    char cmd[32];
    snprintf(cmd, sizeof cmd, "where %llu", (unsigned long long)curio_task_id(t));
    return mon_cmd(c, cmd);
}

static long chains_main(void *arg)
{
    (void)arg;
    cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
    curio_task *sleeper = spawn_named(level1, NULL, "sleeper");
    curio_task *reader = spawn_named(read_outer, NULL, "reader");
    curio_task *joiner = spawn_named(join_outer, sleeper, "joiner");
    wait_state(joiner, "TASK_JOIN");
    mon_conn *c = mon_open();

    const char *w = where(c, sleeper);
    char head[128];
    snprintf(head, sizeof head, "Stack for Task(id=%llu, name='sleeper', state='TIME_SLEEP') "
             "(most recent call last):\n", (unsigned long long)curio_task_id(sleeper));
    cr_assert(strncmp(w, head, strlen(head)) == 0, "%s", w);
#if CURIO_LIBDW
    expect_in_order(w, (const char *const[]){"in level1\n", "in level2\n", "in level3\n",
                                             "in curio_sleep\n", "in curio__park\n", NULL});
    cr_assert(!strstr(w, "capture_probe") && !strstr(w, "serve_probes") &&
              !strstr(w, "curio__suspend") && !strstr(w, "reap_exited") &&
              !strstr(w, " in run\n") && !strstr(w, "task_entry"),
              "machinery shown:\n%s", w);
    expect_in_order(w, (const char *const[]){"tests/monitor/test_where.c\", line ",
                                             "kernel/time.c\", line ", NULL});
    cr_assert(!strstr(w, "/../"), "paths are tidied:\n%s", w);
    cr_assert(!strstr(w, "(no file:line"), "%s", w);
#else
    /* The executable's file and addresses; its exported functions named; no file:line. */
    cr_assert(strstr(w, "  File \"test_monitor_where\" +0x"), "%s", w);
    expect_in_order(w, (const char *const[]){"in level1\n", "in level2\n", "in level3\n",
                                             NULL});
    cr_assert(strstr(w, "(no file:line: that needs debugging information"), "%s", w);
    cr_assert(!strstr(w, ".c\", line "), "%s", w);
#endif

    w = where(c, reader);
#if CURIO_LIBDW
    expect_in_order(w, (const char *const[]){"state='READ_WAIT'", "in read_outer\n",
                                             "in read_inner\n", "in curio_read\n",
                                             "in curio__op_wait\n", NULL});
#else
    expect_in_order(w, (const char *const[]){"state='READ_WAIT'", "in read_outer\n",
                                             "in read_inner\n", NULL});
#endif
    w = where(c, joiner);
#if CURIO_LIBDW
    expect_in_order(w, (const char *const[]){"state='TASK_JOIN'", "in join_outer\n",
                                             "in curio_join\n", "in curio__waitq_wait\n",
                                             NULL}); /* curio_task_wait between: clang inlines it */
    /* The main task, waiting for this very reply. */
    w = where(c, curio_current());
    expect_in_order(w, (const char *const[]){"state='READ_WAIT'", "in chains_main\n",
                                             "in curio_recv\n", NULL});
#else
    expect_in_order(w, (const char *const[]){"state='TASK_JOIN'", "in join_outer\n", NULL});
#endif

    mon_close(c);
    curio_cancel(sleeper);
    curio_cancel(reader);
    long r = 0;
    cr_assert_eq(curio_join(joiner, &r), 0);
    cr_assert_eq(r, CURIO_ETASKCANCELLED, "the joiner saw the sleeper cancelled");
    curio_task_release(sleeper);
    curio_task_release(reader);
    curio_task_release(joiner);
    close(pipefd[0]);
    close(pipefd[1]);
    return 0;
}

Test(where, sleep_read_join_chains)
{
    cr_assert_eq(run_monitored(chains_main, NULL), 0);
}

/* ---- the line of a call; a call inlined into its caller ---- */

/* The lines of the calls, noted as they run (on the call's own line). */
static int outer_line, helper_line;

__attribute__((always_inline)) static inline long sleep_helper(void)
{
    int64_t r; helper_line = __LINE__; r = curio_sleep(sleep_for);
    return r < 0 ? r : 1;
}

KEEP long inlining_outer(void *arg)
{
    (void)arg;
    long r; outer_line = __LINE__; r = sleep_helper();
    return r < 0 ? r : r + 1;
}

static long inline_main(void *arg)
{
    (void)arg;
    curio_task *t = spawn_named(inlining_outer, NULL, "inliner");
    wait_state(t, "TIME_SLEEP");
    mon_conn *c = mon_open();
    const char *w = where(c, t);
#if CURIO_LIBDW
    /* inlining_outer at the line calling sleep_helper, then sleep_helper (a frame of its
     * own, though it has no code of its own) at the line calling curio_sleep. */
    char outer[128], helper[128];
    snprintf(outer, sizeof outer, "tests/monitor/test_where.c\", line %d, in inlining_outer\n",
             outer_line);
    snprintf(helper, sizeof helper, "tests/monitor/test_where.c\", line %d, in sleep_helper\n",
             helper_line);
    expect_in_order(w, (const char *const[]){outer, helper, "kernel/time.c\", line ",
                                             "in curio_sleep\n", NULL});
    /* Both frames come from one return address: the same file address. */
    cr_assert(!strstr(w, "+0x"), "%s", w);
#else
    expect_in_order(w, (const char *const[]){"in inlining_outer\n", NULL});
    cr_assert(!strstr(w, "sleep_helper"), "%s", w);
#endif
    mon_close(c);
    curio_cancel(t);
    curio_task_release(t);
    return 0;
}

Test(where, lines_and_inlined_calls)
{
    sleep_for = 100;
    cr_assert_eq(run_monitored(inline_main, NULL), 0);
}

/* ---- libraries: without debugging information, loaded late, gone ---- */

typedef long (*lib_call_fn)(long (*fn)(void *), void *arg);

static lib_call_fn lib_call; /* where_lib_call of the library the task runs in */

KEEP long lib_callback(void *arg)
{
    (void)arg;
    int64_t r = curio_sleep(sleep_for);
    return r < 0 ? r : 1;
}

KEEP long lib_task(void *arg)
{
    (void)arg;
    long r = lib_call(lib_callback, NULL);
    return r < 0 ? r : r + 1;
}

static void *load(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert(h, "dlopen %s: %s", path, dlerror());
    lib_call = (lib_call_fn)(uintptr_t)dlsym(h, "where_lib_call");
    cr_assert(lib_call);
    return h;
}

static const char *base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* where on a task calling through the library; the task is cancelled after. */
static const char *where_in_lib(mon_conn *c, curio_task **out)
{
    curio_task *t = spawn_named(lib_task, NULL, "lib");
    wait_state(t, "TIME_SLEEP");
    *out = t;
    return where(c, t);
}

static void end_task(curio_task *t)
{
    curio_cancel(t);
    curio_task_release(t);
}

static long stripped_main(void *arg)
{
    (void)arg;
    const char *path = getenv("WHERE_LIB_STRIPPED");
    cr_assert(path);
    void *h = load(path);
    mon_conn *c = mon_open();
    curio_task *t;
    const char *w = where_in_lib(c, &t);
    /* The library: its file and addresses; the exported function named (.dynsym), the
     * file-local one not; the executable's frames around them as ever. */
    char file[128];
    snprintf(file, sizeof file, "  File \"%s\" +0x", base(path));
    expect_in_order(w, (const char *const[]){"in lib_task\n", file, ", in where_lib_call\n",
                                             file, ", in ??\n", "in lib_callback\n", NULL});
#if CURIO_LIBDW
    expect_in_order(w, (const char *const[]){"test_where.c\", line ", "in lib_task\n",
                                             "test_where.c\", line ", "in lib_callback\n",
                                             NULL});
#endif
    mon_close(c);
    end_task(t);
    dlclose(h);
    return 0;
}

Test(where, a_library_stripped_of_its_symbols)
{
    sleep_for = 100;
    cr_assert_eq(run_monitored(stripped_main, NULL), 0);
}

static long late_main(void *arg)
{
    (void)arg;
    mon_conn *c = mon_open();
    /* A first lookup, before the library is there. */
    curio_task *t = spawn_named(level1, NULL, "early");
    wait_state(t, "TIME_SLEEP");
    expect_in_order(where(c, t), (const char *const[]){"in level1\n", NULL});
    end_task(t);

    const char *path = getenv("WHERE_LIB_DEBUG");
    cr_assert(path);
    void *h = load(path);
    const char *w = where_in_lib(c, &t);
#if CURIO_LIBDW
    expect_in_order(w, (const char *const[]){"in lib_task\n",
                                             "tests/monitor/where_lib.c\", line ",
                                             "in where_lib_call\n",
                                             "tests/monitor/where_lib.c\", line ",
                                             "in where_lib_inner\n", "in lib_callback\n",
                                             NULL});
#else
    char file[128];
    snprintf(file, sizeof file, "  File \"%s\" +0x", base(path));
    expect_in_order(w, (const char *const[]){"in lib_task\n", file, "in where_lib_call\n",
                                             "in lib_callback\n", NULL});
#endif
    end_task(t);
    mon_close(c);
    dlclose(h);
    return 0;
}

Test(where, a_library_loaded_after_the_first_lookup)
{
    sleep_for = 100;
    cr_assert_eq(run_monitored(late_main, NULL), 0);
}

/* A library whose file is removed once loaded: the file's name and addresses, the
 * exported name (dladdr reads the loaded copy); nothing read from the file. */
static long gone_main(void *arg)
{
    char *copy = arg;
    void *h = load(copy);
    cr_assert_eq(unlink(copy), 0);
    mon_conn *c = mon_open();
    curio_task *t;
    const char *w = where_in_lib(c, &t);
    char file[128];
    snprintf(file, sizeof file, "  File \"%s\" +0x", base(copy));
    expect_in_order(w, (const char *const[]){"in lib_task\n", file, "in where_lib_call\n",
                                             file, "in ??\n", "in lib_callback\n", NULL});
    cr_assert(!strstr(w, "where_lib.c"), "%s", w);
    mon_close(c);
    end_task(t);
    dlclose(h);
    return 0;
}

Test(where, a_library_whose_file_is_gone)
{
    const char *path = getenv("WHERE_LIB_DEBUG");
    cr_assert(path);
    char copy[] = "/tmp/curio-where-gone-XXXXXX.so";
    int out = mkstemps(copy, 3);
    cr_assert_geq(out, 0);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(in, 0);
    char buf[8192];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        cr_assert_eq(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
    sleep_for = 100;
    cr_assert_eq(run_monitored(gone_main, copy), 0);
}

/* ---- symbolising from several threads; what it keeps open ---- */

struct sym_job {
    void *const *pcs;
    size_t n;
    curio__frames frames;
};

static void *sym_thread(void *arg)
{
    struct sym_job *j = arg;
    for (int i = 0; i < 20; i++) {
        curio__frames_free(&j->frames);
        curio__symbolise(j->pcs, j->n, &j->frames);
    }
    return NULL;
}

KEEP static int take_stack(void **pcs, int max)
{
    int n = backtrace(pcs, max);
    return n > 0 ? n : -1; /* no tail call: take_stack is the first frame */
}

/* The frame of take_stack's call to backtrace (under AddressSanitizer, its backtrace
 * interceptor comes first). */
__attribute__((unused)) static const curio__frame *top_frame(const curio__frames *f)
{
    return &f->v[f->n > 1 && f->v[0].func && strstr(f->v[0].func, "backtrace") ? 1 : 0];
}

static void same_frames(const curio__frames *a, const curio__frames *b)
{
    cr_assert_eq(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const curio__frame *x = &a->v[i], *y = &b->v[i];
        cr_assert_eq(x->index, y->index);
        cr_assert_eq(x->line, y->line);
        cr_assert_eq(x->offset, y->offset);
        cr_assert((x->func == NULL) == (y->func == NULL));
        cr_assert(!x->func || strcmp(x->func, y->func) == 0);
        cr_assert((x->file == NULL) == (y->file == NULL));
        cr_assert(!x->file || strcmp(x->file, y->file) == 0);
    }
}

/* The descriptors open now, as a set (fd < 1024). */
static void open_fds(bool set[1024])
{
    memset(set, 0, 1024);
    DIR *d = opendir("/proc/self/fd");
    cr_assert(d);
    int own = dirfd(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd != own && fd < 1024)
            set[fd] = true;
    }
    closedir(d);
}

Test(where, symbolising_from_threads_at_once)
{
    curio__symbolise_release();
    bool before[1024], after[1024];
    open_fds(before);
    void *pcs[32];
    int n = take_stack(pcs, 32);
    cr_assert_gt(n, 2);
    curio__frames ref;
    curio__symbolise(pcs, (size_t)n, &ref);
    cr_assert(!ref.failed);
    cr_assert(ref.n >= (size_t)n);
#if CURIO_LIBDW
    const curio__frame *top = top_frame(&ref);
    cr_assert(top->func && strcmp(top->func, "take_stack") == 0, "%s",
              top->func ? top->func : "(null)");
    cr_assert(top->file && strstr(top->file, "tests/monitor/test_where.c"));
#endif
    pthread_t th[4];
    struct sym_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct sym_job){.pcs = pcs, .n = (size_t)n};
        cr_assert_eq(pthread_create(&th[i], NULL, sym_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        same_frames(&ref, &jobs[i].frames);
        curio__frames_free(&jobs[i].frames);
    }
    curio__frames_free(&ref);
    /* A file looked into is mapped and closed; a separate debugging file found for one
     * (/usr/lib/debug) stays open until the session is released, close-on-exec. */
    open_fds(after);
    for (int fd = 0; fd < 1024; fd++) {
        if (after[fd] && !before[fd]) {
            char link[64], to[512];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t len = readlink(link, to, sizeof to - 1);
            to[len > 0 ? len : 0] = 0;
            cr_assert(strstr(to, ".debug"), "fd %d (%s) left open", fd, to);
            cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd %d (%s)", fd, to);
        }
    }
    curio__symbolise_release();
    open_fds(after);
    cr_assert(memcmp(before, after, sizeof before) == 0, "descriptors left open");
}

/* A child forked while another thread is in a lookup symbolises too (it does not wait
 * for a lock that thread, absent in the child, holds). */
static int hold_pipe[2], release_pipe[2];

static void *hold_lookup(void *arg)
{
    (void)arg;
    bool failed = false;
    curio__dwarf *d = curio__dwarf_take(&failed);
    char c = 'h';
    cr_assert_eq(write(hold_pipe[1], &c, 1), 1);
    cr_assert_eq(read(release_pipe[0], &c, 1), 1);
    curio__dwarf_give(d);
    return NULL;
}

Test(where, a_child_forked_during_a_lookup)
{
    void *pcs[32];
    int n = take_stack(pcs, 32);
    curio__frames f;
    curio__symbolise(pcs, (size_t)n, &f); /* the session made, atfork set */
    curio__frames_free(&f);
    cr_assert_eq(pipe2(hold_pipe, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(release_pipe, O_CLOEXEC), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, hold_lookup, NULL), 0);
    char c;
    cr_assert_eq(read(hold_pipe[0], &c, 1), 1);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(30); /* a child stuck on the lock ends by SIGALRM */
        curio__symbolise(pcs, (size_t)n, &f);
        bool named = f.n > 0 && !f.failed;
#if CURIO_LIBDW
        const curio__frame *top = top_frame(&f);
        named = named && top->func && strcmp(top->func, "take_stack") == 0;
#endif
        _exit(named ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    cr_assert_eq(write(release_pipe[1], "r", 1), 1);
    cr_assert_eq(pthread_join(th, NULL), 0);
    for (int i = 0; i < 2; i++) {
        close(hold_pipe[i]);
        close(release_pipe[i]);
    }
}

/* ---- the monitor's task asking about itself: its own stack, running ---- */

static long self_main(void *arg)
{
    (void)arg;
    mon_conn *c = mon_open();
    const char *ps = mon_cmd(c, "ps");
    const char *run = strstr(ps, "RUNNING");
    cr_assert(run, "%s", ps);
    while (run > ps && run[-1] != '\n')
        run--;
    unsigned long long id = strtoull(run, NULL, 10);
    char cmd[32];
    snprintf(cmd, sizeof cmd, "where %llu", id);
    const char *w = mon_cmd(c, cmd);
    /* The task running while `where` is served is the monitor's agent on this kernel. */
#if CURIO_LIBDW
    expect_in_order(w, (const char *const[]){"state='RUNNING'", "in curio__mon_agent\n",
                                             NULL});
#else
    expect_in_order(w, (const char *const[]){"state='RUNNING'", "  File \"test_monitor_where\" +0x",
                                             NULL});
#endif
    cr_assert(!strstr(w, "capture_self"), "%s", w);
    mon_close(c);
    return 0;
}

Test(where, the_running_agent_itself)
{
    cr_assert_eq(run_monitored(self_main, NULL), 0);
}

/* ---- what is not a stack ---- */

static long quick(void *arg)
{
    (void)arg;
    return 5;
}

static long errors_main(void *arg)
{
    (void)arg;
    curio_task *ended = spawn_named(quick, NULL, "ended");
    cr_assert_eq(curio_join(ended, NULL), 0);
    mon_conn *c = mon_open();
    cr_assert_str_eq(mon_cmd(c, "where 999"), "Error: no task 999\n");
    cr_assert_str_eq(mon_cmd(c, "where x"), "Error: where needs a task id (a number), not "
                                            "'x'\n");
    cr_assert_str_eq(mon_cmd(c, "where -1"), "Error: where needs a task id (a number), not "
                                             "'-1'\n");
    cr_assert_str_eq(mon_cmd(c, "where"), "Error: usage: where taskid\n");
    cr_assert_str_eq(mon_cmd(c, "where 1 2"), "Error: usage: where taskid\n");
    char cmd[32], want[96];
    snprintf(cmd, sizeof cmd, "where %llu", (unsigned long long)curio_task_id(ended));
    snprintf(want, sizeof want, "Error: task %llu has ended: it has no stack\n",
             (unsigned long long)curio_task_id(ended));
    cr_assert_str_eq(mon_cmd(c, cmd), want);
    mon_close(c);
    curio_task_release(ended);

    /* A task that has not run yet cannot be seen through a connection (it runs before the
     * monitor answers), so the command is run here directly. */
    curio__task *late = spawn_named(quick, NULL, "late");
    curio__mon_session s = {.mon = curio_kernel_current()->monitor, .task = curio__self()};
    static curio__mon_req r;
    snprintf(r.arg, sizeof r.arg, "%llu", (unsigned long long)late->id);
    curio__mon_where_capture(&s, &r);
    snprintf(want, sizeof want, "Error: task %llu has not started yet: it has no stack to "
             "show\n", (unsigned long long)late->id);
    cr_assert_str_eq(s.out.p, want);
    curio__text_free(&s.out);
    curio_join(late, NULL);
    curio_task_release(late);
    return 0;
}

Test(where, bad_ids_ended_and_not_started)
{
    cr_assert_eq(run_monitored(errors_main, NULL), 0);
}

/* ---- the task looked at is untouched ---- */

static long untouched_main(void *arg)
{
    (void)arg;
    cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
    sleep_for = 1.5; /* longer than the where calls take, also under a sanitizer */
    int64_t t0 = curio_clock();
    curio_task *sleeper = spawn_named(level1, NULL, "sleeper");
    curio_task *reader = spawn_named(read_outer, NULL, "reader");
    wait_state(reader, "READ_WAIT");
    uint64_t cycles_s = curio_task_cycles(sleeper), cycles_r = curio_task_cycles(reader);
    mon_conn *c = mon_open();
    int64_t deadline = ((curio__task *)sleeper)->sleep_until;
    for (int i = 0; i < 2; i++) {
        where(c, sleeper);
        where(c, reader);
    }
    /* (On a machine so loaded that the where calls outlast the sleep, the sleeper has
     * woken, normally: only its return value and time are checked then.) */
    if (curio_clock() < deadline) {
        cr_assert_str_eq(curio_task_state(sleeper), "TIME_SLEEP");
        cr_assert_eq(curio_task_cycles(sleeper), cycles_s);
        cr_assert_eq(((curio__task *)sleeper)->sleep_until, deadline);
    }
    cr_assert_str_eq(curio_task_state(reader), "READ_WAIT");
    cr_assert_eq(curio_task_cycles(reader), cycles_r);
    mon_close(c);
    cr_assert_eq(write(pipefd[1], "x", 1), 1);
    long r = 0;
    cr_assert_eq(curio_join(reader, &r), 0);
    cr_assert_eq(r, 'x' + 1000);
    cr_assert_eq(curio_join(sleeper, &r), 0);
    cr_assert_eq(r, 6, "the sleep returned normally");
    cr_assert_geq(secs_since(t0), 1.5);
    curio_task_release(sleeper);
    curio_task_release(reader);
    close(pipefd[0]);
    close(pipefd[1]);
    return 0;
}

Test(where, leaves_the_task_as_it_was)
{
    cr_assert_eq(run_monitored(untouched_main, NULL), 0);
}

/* ---- a task near the end of its stack ---- */

KEEP static long deep(void *arg)
{
    /* 24 KiB of a 32 KiB stack in use while it sleeps. */
    volatile char big[24 * 1024];
    big[0] = 1;
    big[sizeof big - 1] = (char)(intptr_t)arg;
    __asm__ volatile("" : : "r"(big) : "memory"); /* escapes: clang would keep 8 bytes */
    int64_t r = curio_sleep(100);
    return r < 0 ? r : big[0] + big[sizeof big - 1];
}

static long stack_main(void *arg)
{
    (void)arg;
    curio_task *t;
    curio_spawn_options o = {.name = "deep", .stack_size = 32 * 1024};
    cr_assert_eq(curio_spawn_ex(&t, deep, NULL, &o), 0);
    wait_state(t, "TIME_SLEEP");
    mon_conn *c = mon_open();
    char want[128];
    snprintf(want, sizeof want, "Error: task %llu has less than 16 KiB of stack left: too "
             "little to unwind it safely\n", (unsigned long long)curio_task_id(t));
    cr_assert_str_eq(where(c, t), want);
    mon_close(c);
    curio_cancel(t);
    curio_task_release(t);
    return 0;
}

Test(where, refuses_a_stack_nearly_full)
{
    cr_assert_eq(run_monitored(stack_main, NULL), 0);
}

/* ---- a chain deeper than what is captured ---- */

KEEP long recurse(long n)
{
    if (n == 0) {
        int64_t r = curio_sleep(100);
        return r < 0 ? r : 0;
    }
    long r = recurse(n - 1);
    return r < 0 ? r : r + 1;
}

static long recurse_task(void *arg)
{
    (void)arg;
    return recurse(100);
}

static long deep_chain_main(void *arg)
{
    (void)arg;
    curio_task *t = spawn_named(recurse_task, NULL, "recursive");
    wait_state(t, "TIME_SLEEP");
    mon_conn *c = mon_open();
    const char *w = where(c, t);
    cr_assert(strstr(w, "(only the innermost 64 calls are shown)\n"), "%s", w);
    cr_assert(!strstr(w, "in recurse_task\n"), "%s", w);
#if CURIO_LIBDW
    expect_in_order(w, (const char *const[]){"in recurse\n", "in recurse\n", "in curio_sleep\n",
                                             NULL});
#else
    expect_in_order(w, (const char *const[]){"in recurse\n", "in recurse\n", NULL});
#endif
    mon_close(c);
    curio_cancel(t);
    curio_task_release(t);
    return 0;
}

Test(where, a_chain_deeper_than_64_calls)
{
    cr_assert_eq(run_monitored(deep_chain_main, NULL), 0);
}
