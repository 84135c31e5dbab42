/*
 * The kernel's probe (curio__probe_run), which `where` is built on: the function runs on
 * the suspended task's own stack, as k->current, and the task goes on exactly as before:
 * its state, cycles, sleep deadline, wait-queue place and in-flight read are untouched.
 * Errors for a task that cannot be probed. How much stack backtrace() takes there.
 */
#include "montest.h"

#include <execinfo.h>

struct seen {
    curio__task *task;
    uintptr_t sp;          /* a frame address of the probe function */
    curio__task *current;  /* k->current while it ran */
    int calls;
    size_t used;           /* bytes of stack backtrace() wrote below the probe's frame */
    int frames;
};

static void note(curio__probe *p)
{
    struct seen *s = p->arg;
    s->sp = (uintptr_t)__builtin_frame_address(0);
    s->current = curio_kernel_current()->current;
    s->calls++;
}

static bool on_stack(const curio__task *t, uintptr_t sp)
{
    uintptr_t lo = (uintptr_t)t->stack->base;
    return sp >= lo && sp < lo + t->stack->size;
}

static curio_event go = CURIO_EVENT_INIT;
static int pipefd[2];

static long sleeper(void *arg)
{
    int64_t r = curio_sleep(*(double *)arg);
    return r < 0 ? r : 1;
}

static long event_waiter(void *arg)
{
    (void)arg;
    return curio_event_wait(&go) == 0 ? 2 : -1;
}

static long reader(void *arg)
{
    (void)arg;
    char c = 0;
    ssize_t n = curio_read(pipefd[0], &c, 1);
    return n == 1 ? c : -1;
}

static void probe_twice(curio__task *t)
{
    const char *state = t->state;
    uint64_t cycles = t->cycles;
    struct seen s = {0};
    curio__probe p = {.task = t, .fn = note, .arg = &s};
    cr_assert_eq(curio__probe_run(&p), 0);
    cr_assert_eq(curio__probe_run(&p), 0);
    cr_assert_eq(s.calls, 2);
    cr_assert(on_stack(t, s.sp), "the probe ran on the task's own stack");
    cr_assert_eq(s.current, t, "k->current names the task while the probe runs");
    cr_assert_eq(curio_kernel_current()->current, curio__self());
    cr_assert_eq(t->state, state);
    cr_assert_eq(t->cycles, cycles);
    cr_assert_null(curio_kernel_current()->probe);
}

static long untouched_main(void *arg)
{
    (void)arg;
    cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
    double d = 0.2;
    int64_t t0 = curio_clock();
    curio_task *ts = curio_spawn(sleeper, &d), *te = curio_spawn(event_waiter, NULL);
    curio_task *tr = curio_spawn(reader, NULL);
    wait_state(tr, "READ_WAIT");
    probe_twice(ts);
    probe_twice(te);
    probe_twice(tr);
    cr_assert_eq(write(pipefd[1], "r", 1), 1);
    curio_event_set(&go);
    long r;
    cr_assert_eq(curio_join(tr, &r), 0);
    cr_assert_eq(r, 'r', "the read in flight while probed got its byte");
    cr_assert_eq(curio_join(te, &r), 0);
    cr_assert_eq(r, 2, "the event waiter was still on the event's queue");
    cr_assert_eq(curio_join(ts, &r), 0);
    cr_assert_eq(r, 1);
    cr_assert_geq(secs_since(t0), 0.2, "the sleep kept its deadline");
    curio_task_release(ts);
    curio_task_release(te);
    curio_task_release(tr);
    close(pipefd[0]);
    close(pipefd[1]);
    return 0;
}

Test(probe, the_task_goes_on_as_before)
{
    cr_assert_eq(run_main(untouched_main, NULL), 0);
}

/* A probed task can still be cancelled and timed out as usual. */
static long scoped_reader(void *arg)
{
    (void)arg;
    curio_scope s;
    curio_timeout_after(&s, 0.1);
    char c;
    ssize_t n = curio_read(pipefd[0], &c, 1);
    int rc = curio_scope_close(&s);
    return n == -ETIMEDOUT && rc == -ETIMEDOUT ? 10 : -1;
}

static long interrupted_main(void *arg)
{
    (void)arg;
    cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
    double d = 100;
    curio_task *ts = curio_spawn(sleeper, &d), *tr = curio_spawn(scoped_reader, NULL);
    wait_state(tr, "READ_WAIT");
    probe_twice(ts);
    probe_twice(tr);
    cr_assert_eq(curio_cancel(ts), 0);
    cr_assert(curio_task_cancelled(ts));
    long r;
    cr_assert_eq(curio_join(tr, &r), 0);
    cr_assert_eq(r, 10, "the probed read timed out with its scope");
    curio_task_release(ts);
    curio_task_release(tr);
    close(pipefd[0]);
    close(pipefd[1]);
    return 0;
}

Test(probe, cancel_and_timeout_still_work)
{
    cr_assert_eq(run_main(interrupted_main, NULL), 0);
}

static long quick(void *arg)
{
    (void)arg;
    return 0;
}

static long errors_main(void *arg)
{
    (void)arg;
    struct seen s = {0};
    curio__probe p = {.task = curio__self(), .fn = note, .arg = &s};
    cr_assert_eq(curio__probe_run(&p), -EINVAL, "the caller itself");
    p.task = NULL;
    cr_assert_eq(curio__probe_run(&p), -EINVAL);
    cr_assert_eq(curio__probe_run(NULL), -EINVAL);
    curio_task *t = curio_spawn(quick, NULL);
    p.task = t;
    cr_assert_eq(curio__probe_run(&p), -EAGAIN, "not started: no stack to look at");
    cr_assert_eq(curio_join(t, NULL), 0);
    cr_assert_eq(curio__probe_run(&p), -EINVAL, "ended");
    cr_assert_eq(s.calls, 0);
    curio_task_release(t);
    return 0;
}

Test(probe, errors)
{
    cr_assert_eq(run_main(errors_main, NULL), 0);
    curio__probe p = {0};
    cr_assert_eq(curio__probe_run(&p), -EPERM, "outside a task");
}

/* The room `where` asks for (16 KiB) against what backtrace() takes on a task's stack:
 * the stack below the probe's frame is painted, backtrace() runs, and the lowest byte
 * changed tells. */
#define PAINT 0xa5

__attribute__((noinline)) static void measure(curio__probe *p)
{
    struct seen *s = p->arg;
    unsigned char *lo = s->task->stack->base;
    unsigned char *sp = __builtin_frame_address(0);
    size_t room = (size_t)(sp - lo) - 1024; /* this function's own frame stays unpainted */
    memset(lo + 4096, PAINT, room - 4096);
    void *pcs[64];
    s->frames = backtrace(pcs, 64);
    size_t i = 4096;
    while (i < room && lo[i] == PAINT)
        i++;
    s->used = room - i;
}

static long measure_main(void *arg)
{
    (void)arg;
    double d = 100;
    curio_task *t = curio_spawn(sleeper, &d);
    wait_state(t, "TIME_SLEEP");
    struct seen s = {.task = t};
    curio__probe p = {.task = t, .fn = measure, .arg = &s};
    cr_assert_eq(curio__probe_run(&p), 0);
    cr_assert_geq(s.frames, 4);
    cr_log_info("backtrace() used %zu bytes of the task's stack (%d frames)", s.used,
                s.frames);
    cr_assert_lt(s.used, 8 * 1024, "backtrace() took %zu bytes", s.used);
    curio_cancel(t);
    curio_task_release(t);
    return 0;
}

Test(probe, backtrace_fits_in_the_room_where_asks_for)
{
    void *warm[2];
    backtrace(warm, 2); /* load the unwinder first, as the monitor does */
    cr_assert_eq(run_main(measure_main, NULL), 0);
}
