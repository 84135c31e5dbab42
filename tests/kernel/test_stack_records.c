/*
 * Records on a task's own stack (curio__spawn_on_stack, kernel/task.c) and a guarded
 * stack's descriptor in its own top bytes (kernel/stack.c): where they lie, that a record
 * stays readable after its task ended for as long as a handle or a group holds it (its
 * stack is kept and not handed to another task meanwhile), that the stack goes back to
 * the pool when the record is freed, and that an overflow of such a task is still
 * reported naming it (the report reads the record, at the top of the overflowing stack).
 */
#include "testutil.h"
#include "dive.h"
#include "child.h"
#include "core.h" /* the task's record and stack descriptor */

#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
/* As in test_stack.c: let curio's SIGSEGV handler name the task. */
const char *__asan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void)
{
    return "allow_user_segv_handler=1";
}
#endif

struct room {
    char bytes[200];
};

struct where {
    char *lo, *hi;     /* the task's usable stack */
    char *sp;          /* an address in its first frame */
    void *self;        /* curio_current() */
    void *arg;
    int room_zeroed;
};

static long record_task(void *arg)
{
    struct room *r = arg;
    struct where *w = (struct where *)(void *)r->bytes;
    /* The caller wrote w into the room before this task ran; the rest is still zero. */
    volatile char probe = 0;
    curio__task *t = curio__self();
    w->lo = t->stack->base;
    w->hi = (char *)t->stack->base + t->stack->size;
    w->sp = (char *)&probe;
    w->self = curio_current();
    w->arg = arg;
    int zero = 1;
    for (size_t i = sizeof *w; i < sizeof r->bytes; i++)
        zero &= r->bytes[i] == 0;
    w->room_zeroed = zero;
    return 42;
}

static bool inside(const void *p, size_t n, const char *lo, const char *hi)
{
    return (const char *)p >= lo && (const char *)p + n <= hi;
}

static long placement(void *arg)
{
    (void)arg;
    curio_task *t;
    void *room;
    cr_assert_eq(curio__spawn_on_stack(&t, record_task, sizeof(struct room), &room, NULL), 0);
    cr_assert_eq((uintptr_t)room % 16, 0);
    struct where *w = room; /* the room is the caller's until the task runs */
    memset(w, 0, sizeof *w);
    cr_assert_eq(curio_join(t, NULL), 0);
    /* Record and room in the stack's top bytes, above every frame of the task; the record
     * in the page that holds the stack's last usable byte. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *top_page = (char *)(((uintptr_t)w->hi - 1) & ~(uintptr_t)(page - 1));
    ev("record-in-stack=%d record-in-top-page=%d room-below-record=%d frames-below-room=%d",
       inside(t, sizeof(curio__task), w->lo, w->hi),
       inside(t, sizeof(curio__task), top_page, w->hi),
       (char *)room + sizeof(struct room) <= (char *)t, w->sp < (char *)room);
    ev("self=%d arg=%d zeroed=%d", w->self == t, w->arg == room, w->room_zeroed);
    curio_task_release(t);

    /* A plain spawn's record is not on its stack. */
    curio_task *p = curio_spawn(record_task, room = calloc(1, sizeof(struct room)));
    w = room;
    cr_assert_eq(curio_join(p, NULL), 0);
    ev("plain-record-in-stack=%d", inside(p, sizeof(curio__task), w->lo, w->hi));
    curio_task_release(p);
    free(room);
    return 0;
}

Test(stack_records, record_and_room_at_the_top_of_the_stack)
{
    expect_log(placement, NULL,
               "record-in-stack=1 record-in-top-page=1 room-below-record=1 frames-below-room=1 "
               "self=1 arg=1 zeroed=1 plain-record-in-stack=0");
}

/* A guarded stack's descriptor lies in the top bytes of its mapping, above the stack. */
static long descriptor(void *arg)
{
    (void)arg;
    curio__task *t = curio__self();
    struct curio__stack *s = t->stack;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *end = (char *)(((uintptr_t)s->base + s->size + page - 1) & ~(uintptr_t)(page - 1));
    ev("guarded=%d above-stack=%d in-top-page=%d", s->guarded,
       (char *)s >= (char *)s->base + s->size, inside(s, sizeof *s, end - page, end));
    return 0;
}

Test(stack_records, guarded_stack_descriptor_in_its_top_page)
{
    expect_log(descriptor, NULL, "guarded=1 above-stack=1 in-top-page=1");
}

/* Ended, with a handle held: the record reads as it did, its stack is not given to a new
 * task, and joining works; released, the stack goes back to the pool (the next spawn, of
 * the most recently used stacks first, gets it). */
static long short_task(void *arg)
{
    (void)arg;
    curio_task_set_name(curio_current(), "short-lived");
    return 7;
}

static long after_exit(void *arg)
{
    (void)arg;
    curio_task *t;
    void *room;
    cr_assert_eq(curio__spawn_on_stack(&t, short_task, 64, &room, NULL), 0);
    struct curio__stack *home = ((curio__task *)t)->home;
    cr_assert_eq(curio_task_wait(t), 0);
    /* Other tasks come and go meanwhile, on other stacks. */
    for (int i = 0; i < 4; i++) {
        curio_task *o = curio_spawn(short_task, NULL);
        ev("other-stack-%d=%s", i, ((curio__task *)o)->stack != home ? "other" : "SAME");
        cr_assert_eq(curio_join(o, NULL), 0);
        curio_task_release(o);
    }
    long r = 0;
    ev("done=%d name=%s", curio_task_done(t), curio_task_name(t));
    int rc = curio_join(t, &r);
    ev("join=%d result=%ld", rc, r);
    curio_task_release(t);
    curio_task *n;
    cr_assert_eq(curio__spawn_on_stack(&n, short_task, 64, &room, NULL), 0);
    ev("reused=%d", ((curio__task *)n)->stack == home);
    cr_assert_eq(curio_join(n, NULL), 0);
    curio_task_release(n);
    return 0;
}

Test(stack_records, record_readable_after_exit_until_released)
{
    expect_log(after_exit, NULL,
               "other-stack-0=other other-stack-1=other other-stack-2=other "
               "other-stack-3=other done=1 name=short-lived join=0 result=7 reused=1");
}

/* A task group holds the record of an ended member until the group is destroyed. */
static long in_group(void *arg)
{
    (void)arg;
    curio_group *g;
    cr_assert_eq(curio_group_create(&g, CURIO_WAIT_ALL), 0);
    curio_task *t;
    void *room;
    cr_assert_eq(curio__spawn_on_stack(&t, short_task, 0, &room, NULL), 0);
    cr_assert_eq(curio_group_add_task(g, t), 0);
    curio_task_release(t); /* only the group holds it now */
    curio_task *d;
    cr_assert_eq(curio_group_next_done(g, &d), 0);
    cr_assert_eq(curio_yield(), 0); /* the ended member is reaped; its stack stays */
    long r = 0;
    int rc = curio_task_result(d, &r);
    ev("same=%d name=%s result=%d,%ld", d == t, curio_task_name(d), rc, r);
    cr_assert_eq(curio_group_join(g), 0);
    curio_group_destroy(g);
    return 0;
}

Test(stack_records, group_holds_an_on_stack_record)
{
    expect_log(in_group, NULL, "same=1 name=short-lived result=0,7");
}

/* Ended records still held when the kernel ends are freed with it, stacks included (the
 * sanitizer build checks that nothing leaks). */
static long held_at_end(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        curio_task *t;
        void *room;
        cr_assert_eq(curio__spawn_on_stack(&t, short_task, 32, &room, NULL), 0);
    }
    return 0;
}

Test(stack_records, held_records_freed_with_the_kernel)
{
    cr_assert_eq(run_main(held_at_end, NULL), 0);
}

/* Bad input. */
static long bad_input(void *arg)
{
    (void)arg;
    curio_task *t = NULL;
    void *room = NULL;
    ev("fn=%d", curio__spawn_on_stack(&t, NULL, 0, &room, NULL));
    ev("room=%d", curio__spawn_on_stack(&t, short_task, 1u << 20, &room, NULL));
    return 0;
}

Test(stack_records, bad_input)
{
    expect_log(bad_input, NULL, "fn=-22 room=-22");
    curio_task *t;
    void *room;
    cr_assert_eq(curio__spawn_on_stack(&t, short_task, 0, &room, NULL), -EPERM);
}

/* Deep tasks on records' stacks: a parked on-stack task keeps one resident page, even on a
 * stack a deep task used before (trimmed at idle, record page kept). */
static long go_deep(void *arg)
{
    (void)arg;
    volatile char big[48 * 1024];
    for (size_t i = 0; i < sizeof big; i += 512)
        big[i] = 1;
    return big[0];
}

static long parked(void *arg)
{
    return curio_sleep(*(double *)arg) < 0 ? 0 : 1; /* arg: the room, holding the time */
}

static size_t resident(const char *lo, const char *hi)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    lo = (const char *)((uintptr_t)lo & ~(uintptr_t)(page - 1));
    size_t n = (size_t)(hi - lo + (ptrdiff_t)page - 1) / page, count = 0;
    unsigned char vec[256];
    cr_assert_leq(n, sizeof vec);
    cr_assert_eq(mincore((void *)lo, (size_t)(hi - lo), vec), 0);
    for (size_t i = 0; i < n; i++)
        count += vec[i] & 1;
    return count;
}

static long one_page(void *arg)
{
    (void)arg;
    curio_task *t;
    void *room;
    cr_assert_eq(curio__spawn_on_stack(&t, go_deep, 0, &room, NULL), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_geq(curio_sleep(0.02), 0); /* idle: the pool is trimmed */
    cr_assert_eq(curio__spawn_on_stack(&t, parked, sizeof(double), &room, NULL), 0);
    *(double *)room = 10;
    cr_assert_geq(curio_sleep(0.01), 0);
    struct curio__stack *s = ((curio__task *)t)->stack;
    ev("pages=%zu", resident(s->base, (char *)s->base + s->size));
    curio_cancel(t);
    curio_task_release(t);
    return 0;
}

Test(stack_records, parked_task_holds_one_page)
{
    expect_log(one_page, NULL, "pages=1");
}

/* ---- overflows ---- */

static long spawn_diver_on_stack(void *arg)
{
    (void)arg;
    curio_task *t;
    void *room;
    curio_spawn_options o = {.name = "on-stack-diver"};
    int rc = curio__spawn_on_stack(&t, diver, 100, &room, &o);
    if (rc < 0)
        return rc;
    long r = 0;
    rc = curio_join(t, &r);
    curio_task_release(t);
    return rc < 0 ? rc : r;
}

static long overflow_child(void *guarded)
{
    curio_options opts = {.guarded_stacks = guarded ? 0 : 1}; /* 1: main takes the only one */
    long result = 0;
    int rc = curio_run(spawn_diver_on_stack, NULL, &opts, &result);
    return rc < 0 ? rc : result;
}

static void expect_overflow_report(bool guarded)
{
    child_report rep;
    run_in_child(overflow_child, guarded ? (void *)1 : NULL, &rep);
    cr_assert(WIFSIGNALED(rep.status), "exit %d, returned %ld, stderr: %s",
              WIFEXITED(rep.status) ? WEXITSTATUS(rep.status) : -1, rep.value, rep.err);
    cr_assert(WTERMSIG(rep.status) == SIGSEGV || WTERMSIG(rep.status) == SIGABRT,
              "died of signal %d, stderr: %s", WTERMSIG(rep.status), rep.err);
    cr_assert_not_null(strstr(rep.err, "stack overflow in task"), "stderr: %s", rep.err);
    cr_assert_not_null(strstr(rep.err, "on-stack-diver"), "stderr: %s", rep.err);
}

Test(stack_records, overflow_of_a_guarded_stack_names_the_task, .timeout = 60)
{
    expect_overflow_report(true);
}

Test(stack_records, overflow_of_a_slab_stack_names_the_task, .timeout = 60)
{
    expect_overflow_report(false);
}
