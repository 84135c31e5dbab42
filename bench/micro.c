/*
 * bench/micro.c - curio's kernel micro-benchmarks (see docs/benchmarks.md).
 *
 *     curio-micro [--switches N] [--spawns N] [--tasks N] [--sleepers N] [--repeat R]
 *                 [--stack-cache N] [--only pingpong|bare|spawn|sleep1|sleep1_16k|deadline|touch]
 *
 * Prints one JSON object per line, {"impl": ..., "metric": ..., "value": ...}, for
 * bench/run-micro to put beside bench/asyncio_micro.py's. Figures:
 *   switch_ns          yield ping-pong between two tasks, per curio_yield()
 *   bare_switch_ns     the same ping-pong on a six-register swap, no scheduler (x86-64)
 *   spawn_join_ns      curio_spawn + curio_join + curio_task_release of an empty task
 *   sleep1_*           N tasks each sleeping 1 s at once (default and 16 KiB stacks)
 *   deadline_*         N sleeps with distinct deadlines, spawned in shuffled order
 *
 * Each benchmark runs in a forked child, so VmHWM (a high-water mark that never falls)
 * measures that benchmark alone; and timed loops keep the best of R runs, because on a
 * shared machine noise only ever adds time.
 */
#include <curio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static long opt_switches = 1000000; /* yields per task */
static long opt_spawns = 1000000;
static long opt_tasks = 1000000;
static long opt_sleepers = 100000;
static int opt_repeat = 3;
static unsigned opt_stack_cache; /* 0: the library's default */

/* Deadlines of the ordering benchmark: the first one BASE after the start, then STEP
 * apart. BASE must leave every task time to start sleeping before the first deadline
 * (asyncio needs the most: ~10 us a task on a busy machine), or the order is moot; the
 * rule is the same in asyncio_micro.py so that wall times compare. */
#define DEADLINE_STEP_NS 2000LL
static int64_t deadline_base_ns(long n)
{
    int64_t b = (int64_t)n * 20000;
    return b > 1000000000 ? b : 1000000000;
}

static void emit(const char *metric, double value)
{
    printf("{\"impl\": \"curio\", \"metric\": \"%s\", \"value\": %.9g}\n", metric, value);
}

/* A field of /proc/self/status in KiB (VmHWM, VmRSS, VmPTE), or -1. */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

static int run_kernel(curio_task_fn fn, void *arg, size_t stack_size)
{
    curio_options o = {.stack_size = stack_size, .stack_cache = opt_stack_cache};
    long result = -1;
    int rc = curio_run(fn, arg, &o, &result);
    if (rc < 0 || result < 0) {
        fprintf(stderr, "curio-micro: run failed: %s / result %ld\n", curio_strerror(rc),
                result);
        return 1;
    }
    return 0;
}

/* ---- 1. yield ping-pong --------------------------------------------------------------- */

static long yielder(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        if (curio_yield() < 0)
            return -1;
    return 0;
}

static long pingpong_main(void *arg)
{
    (void)arg;
    double best = 1e30;
    for (int r = 0; r < opt_repeat; r++) {
        int64_t t0 = curio_clock();
        curio_task *a = curio_spawn(yielder, &opt_switches);
        curio_task *b = curio_spawn(yielder, &opt_switches);
        long ra = -1, rb = -1;
        if (!a || !b || curio_join(a, &ra) < 0 || curio_join(b, &rb) < 0 || ra || rb)
            return -1;
        double ns = (double)(curio_clock() - t0) / (2.0 * (double)opt_switches);
        if (ns < best)
            best = ns;
        curio_task_release(a);
        curio_task_release(b);
    }
    emit("switch_ns", best);
    return 0;
}

/*
 * The floor a task switch is measured against: two stacks handing the CPU back and forth
 * with the least a correct switch must do (save the six callee-saved registers, swap rsp,
 * restore), called out of line like curio's. curio's own swap also saves MXCSR and the x87
 * control word; this one does not, on purpose: it is the bare minimum.
 */
#if defined(__x86_64__)
void bench_bare_swap(void **save_sp, void *new_sp) __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".p2align 4\n"
        ".globl bench_bare_swap\n"
        ".hidden bench_bare_swap\n"
        ".type bench_bare_swap, @function\n"
        "bench_bare_swap:\n"
        "    pushq %rbp\n    pushq %rbx\n    pushq %r12\n"
        "    pushq %r13\n    pushq %r14\n    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    popq %r15\n    popq %r14\n    popq %r13\n"
        "    popq %r12\n    popq %rbx\n    popq %rbp\n"
        "    ret\n"
        ".size bench_bare_swap, .-bench_bare_swap\n");

static void *bare_main_sp, *bare_sp_a, *bare_sp_b;
static long bare_n;

static void bare_a(void)
{
    for (long i = 0; i < bare_n; i++)
        bench_bare_swap(&bare_sp_a, bare_sp_b);
    bench_bare_swap(&bare_sp_a, bare_main_sp);
    __builtin_unreachable();
}

static void bare_b(void)
{
    for (;;)
        bench_bare_swap(&bare_sp_b, bare_sp_a);
}

/* A stack whose first switch-in "returns" into entry with the ABI's alignment. */
static void *bare_stack(void *mem, size_t size, void (*entry)(void))
{
    void **sp = (void **)(((uintptr_t)mem + size) & ~(uintptr_t)15);
    *--sp = NULL;                      /* entry's return address: it never returns */
    *--sp = (void *)(uintptr_t)entry;  /* popped by the swap's ret */
    for (int i = 0; i < 6; i++)
        *--sp = NULL;                  /* rbp rbx r12 r13 r14 r15 */
    return sp;
}

static int bench_bare(void)
{
    static char stack_a[65536] __attribute__((aligned(16)));
    static char stack_b[65536] __attribute__((aligned(16)));
    double best = 1e30;
    bare_n = opt_switches;
    for (int r = 0; r < opt_repeat; r++) {
        bare_sp_a = bare_stack(stack_a, sizeof stack_a, bare_a);
        bare_sp_b = bare_stack(stack_b, sizeof stack_b, bare_b);
        int64_t t0 = curio_clock();
        bench_bare_swap(&bare_main_sp, bare_sp_a);
        double ns = (double)(curio_clock() - t0) / (2.0 * (double)bare_n);
        if (ns < best)
            best = ns;
    }
    emit("bare_switch_ns", best);
    return 0;
}
#else
static int bench_bare(void)
{
    printf("{\"impl\": \"curio\", \"metric\": \"bare_switch_ns\", \"value\": null, "
           "\"note\": \"skipped: the bare swap loop is x86-64 only\"}\n");
    return 0;
}
#endif

static int bench_pingpong(void)
{
    return run_kernel(pingpong_main, NULL, 0);
}

/* ---- 2. spawn + join + release ---------------------------------------------------------- */

static long empty_task(void *arg)
{
    (void)arg;
    return 0;
}

static int spawn_join(long n)
{
    for (long i = 0; i < n; i++) {
        curio_task *t = curio_spawn(empty_task, NULL);
        if (!t || curio_join(t, NULL) < 0)
            return -1;
        curio_task_release(t);
    }
    return 0;
}

static long spawn_main(void *arg)
{
    (void)arg;
    if (spawn_join(10000) < 0) /* warm the stack pool and malloc */
        return -1;
    double best = 1e30;
    for (int r = 0; r < opt_repeat; r++) {
        int64_t t0 = curio_clock();
        if (spawn_join(opt_spawns) < 0)
            return -1;
        double ns = (double)(curio_clock() - t0) / (double)opt_spawns;
        if (ns < best)
            best = ns;
    }
    emit("spawn_join_ns", best);
    return 0;
}

static int bench_spawn(void)
{
    return run_kernel(spawn_main, NULL, 0);
}

/* ---- 3. a million tasks sleeping 1 s ------------------------------------------------------ */

static long sleeper(void *arg)
{
    (void)arg;
    return curio_sleep(1.0) < 0 ? -1 : 0;
}

static const char *sleep1_prefix;

/* Spawn n sleepers, wait until all are asleep, join them all. Returns the wall time. */
static double sleep1_round(curio_task **h, long n, double *asleep, long *pte_asleep, long *bad)
{
    int64_t t0 = curio_clock();
    for (long i = 0; i < n; i++)
        if (!(h[i] = curio_spawn(sleeper, NULL))) {
            fprintf(stderr, "curio-micro: spawn %ld of %ld failed\n", i, n);
            exit(1);
        }
    /* This yield returns after one pass over every new task: all of them are asleep now,
     * which is when page tables (not part of VmHWM) are largest. */
    curio_yield();
    *asleep = (double)(curio_clock() - t0) / 1e9;
    *pte_asleep = status_kib("VmPTE");
    for (long i = 0; i < n; i++) {
        long r = -1;
        if (curio_join(h[i], &r) < 0 || r != 0)
            (*bad)++;
        curio_task_release(h[i]);
    }
    return (double)(curio_clock() - t0) / 1e9;
}

static long sleep1_main(void *arg)
{
    (void)arg;
    long n = opt_tasks;
    long hwm0 = status_kib("VmHWM");
    long pte0 = status_kib("VmPTE");
    curio_task **h = malloc((size_t)n * sizeof *h);
    if (!h)
        return -1;
    long bad = 0, pte1 = 0, pte2 = 0;
    double asleep, asleep2;
    double wall = sleep1_round(h, n, &asleep, &pte1, &bad);
    long hwm1 = status_kib("VmHWM");
    /* A second round in the same kernel reuses the stacks and records the first one made
     * (the pages are already resident): the kernel's own cost, without first-touch page
     * faults, which on a VM can cost more than everything else together. */
    double wall2 = sleep1_round(h, n, &asleep2, &pte2, &bad);
    free(h);
    char m[64];
    snprintf(m, sizeof m, "%s_wall_s", sleep1_prefix);
    emit(m, wall);
    snprintf(m, sizeof m, "%s_asleep_s", sleep1_prefix);
    emit(m, asleep);
    snprintf(m, sizeof m, "%s_again_wall_s", sleep1_prefix);
    emit(m, wall2);
    snprintf(m, sizeof m, "%s_again_asleep_s", sleep1_prefix);
    emit(m, asleep2);
    snprintf(m, sizeof m, "%s_rss_per_task_kib", sleep1_prefix);
    emit(m, (double)(hwm1 - hwm0) / (double)n);
    snprintf(m, sizeof m, "%s_pte_per_task_kib", sleep1_prefix);
    emit(m, (double)(pte1 - pte0) / (double)n);
    snprintf(m, sizeof m, "%s_failed", sleep1_prefix);
    emit(m, (double)bad);
    return bad ? -1 : 0;
}

static int bench_sleep1(void)
{
    sleep1_prefix = "sleep1";
    return run_kernel(sleep1_main, NULL, 0);
}

static int bench_sleep1_16k(void)
{
    sleep1_prefix = "sleep1_16k";
    return run_kernel(sleep1_main, NULL, 16384);
}

/* ---- 4. distinct deadlines, woken in order ---------------------------------------------- */

static struct {
    int64_t t0;
    long *order;       /* deadline ranks in the order the tasks woke */
    long nwoken;
    long late_starts;  /* tasks that started after their deadline: their order is moot */
    int64_t last_wake;
    double late_sum_ns;
} dl;

static int64_t deadline_of(long rank)
{
    return dl.t0 + deadline_base_ns(opt_sleepers) + rank * DEADLINE_STEP_NS;
}

/*
 * Each task sleeps until its absolute deadline: an ignore_at scope around a long sleep
 * (Curio's `async with ignore_at(d): await sleep(big)`). A plain curio_sleep(d - now) would
 * add, to each deadline, the moment between reading the clock and the sleep reading it
 * again; one preemption there (tens of us on a VM) outweighs the 2 us spacing, and the
 * order check would then measure the machine's jitter instead of the timer's order.
 */
static long dl_sleeper(void *arg)
{
    long rank = (long)(intptr_t)arg;
    int64_t deadline = deadline_of(rank);
    if (deadline <= curio_clock())
        dl.late_starts++;
    curio_scope s;
    if (curio_ignore_at(&s, deadline) < 0)
        return -1;
    int64_t rc = curio_sleep(3600.0);
    if (curio_scope_close(&s) != 0 || rc != -ETIMEDOUT)
        return -1;
    int64_t now = curio_clock();
    dl.order[dl.nwoken++] = rank;
    dl.late_sum_ns += (double)(now - deadline);
    dl.last_wake = now;
    return 0;
}

/* Pairs out of order, by merge sort: O(n log n), so checking 100k wake-ups is instant. */
static long long inversions(long *a, long *tmp, long n)
{
    if (n < 2)
        return 0;
    long h = n / 2;
    long long inv = inversions(a, tmp, h) + inversions(a + h, tmp, n - h);
    long i = 0, j = h, k = 0;
    while (i < h && j < n) {
        if (a[i] <= a[j]) {
            tmp[k++] = a[i++];
        } else {
            inv += h - i; /* a[j] precedes every one of a[i..h) */
            tmp[k++] = a[j++];
        }
    }
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, (size_t)n * sizeof *a);
    return inv;
}

static long deadline_main(void *arg)
{
    (void)arg;
    long n = opt_sleepers;
    long *perm = malloc((size_t)n * sizeof *perm);
    curio_task **h = malloc((size_t)n * sizeof *h);
    dl.order = malloc((size_t)n * sizeof *dl.order);
    if (!perm || !h || !dl.order)
        return -1;
    /* Spawn in a shuffled order so that waking in deadline order is the timer's doing,
     * not the ready queue's. Fixed seed: the same permutation every run. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (long i = 0; i < n; i++)
        perm[i] = i;
    for (long i = n - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        long j = (long)(x % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    dl.t0 = curio_clock();
    for (long i = 0; i < n; i++)
        if (!(h[i] = curio_spawn(dl_sleeper, (void *)(intptr_t)perm[i])))
            return -1;
    curio_yield(); /* returns once every task has run up to its sleep */
    double asleep = (double)(curio_clock() - dl.t0) / 1e9;
    for (long i = 0; i < n; i++) {
        long r = -1;
        if (curio_join(h[i], &r) < 0 || r != 0)
            return -1;
        curio_task_release(h[i]);
    }
    double wall = (double)(curio_clock() - dl.t0) / 1e9;
    emit("deadline_wall_s", wall);
    emit("deadline_asleep_s", asleep);
    emit("deadline_inversions", (double)inversions(dl.order, perm, n));
    emit("deadline_last_late_ms", (double)(dl.last_wake - deadline_of(n - 1)) / 1e6);
    emit("deadline_mean_late_us", dl.late_sum_ns / (double)n / 1e3);
    emit("deadline_late_starts", (double)dl.late_starts);
    free(perm);
    free(h);
    free(dl.order);
    return 0;
}

static int bench_deadline(void)
{
    return run_kernel(deadline_main, NULL, 0);
}

/* ---- 6. the page-fault floor -------------------------------------------------------------- */

/*
 * No curio here: a plain loop writing one byte into each of N pages of a fresh mapping,
 * 16 KiB apart (huge pages off), which is what getting N sleeping tasks onto their own
 * stacks costs at least. Runs last, in its own process like every benchmark.
 */
static int bench_touch(void)
{
    const size_t stride = 16384, n = (size_t)opt_tasks;
    char *p = mmap(NULL, n * stride, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        perror("curio-micro: touch: mmap");
        return 1;
    }
    madvise(p, n * stride, MADV_NOHUGEPAGE);
    int64_t t0 = curio_clock();
    for (size_t i = 0; i < n; i++)
        ((volatile char *)p)[i * stride] = 1;
    emit("touch_pages_s", (double)(curio_clock() - t0) / 1e9);
    munmap(p, n * stride);
    return 0;
}

/* ---- driver ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    int (*fn)(void);
} benches[] = {
    {"pingpong", bench_pingpong}, {"bare", bench_bare},         {"spawn", bench_spawn},
    {"sleep1", bench_sleep1},     {"sleep1_16k", bench_sleep1_16k}, {"deadline", bench_deadline},
    {"touch", bench_touch},
};

static void usage(void)
{
    fprintf(stderr, "usage: curio-micro [--switches N] [--spawns N] [--tasks N] "
                    "[--sleepers N] [--repeat R] [--stack-cache N] [--only NAME]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        const char *o = argv[i], *v = argv[++i];
        if (!strcmp(o, "--switches"))
            opt_switches = atol(v);
        else if (!strcmp(o, "--spawns"))
            opt_spawns = atol(v);
        else if (!strcmp(o, "--tasks"))
            opt_tasks = atol(v);
        else if (!strcmp(o, "--sleepers"))
            opt_sleepers = atol(v);
        else if (!strcmp(o, "--repeat"))
            opt_repeat = atoi(v);
        else if (!strcmp(o, "--stack-cache"))
            opt_stack_cache = (unsigned)atol(v);
        else if (!strcmp(o, "--only"))
            only = v;
        else
            usage();
    }
    if (opt_switches < 1 || opt_spawns < 1 || opt_tasks < 1 || opt_sleepers < 1 ||
        opt_repeat < 1)
        usage();
    int failed = 0;
    for (size_t i = 0; i < sizeof benches / sizeof *benches; i++) {
        if (only && strcmp(only, benches[i].name))
            continue;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            int rc = benches[i].fn();
            fflush(stdout);
            _exit(rc);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
            fprintf(stderr, "curio-micro: benchmark %s failed (status %#x)\n", benches[i].name,
                    st);
            failed = 1;
        }
    }
    return failed;
}
