/*
 * Task stacks given back to the pool: when the kernel is idle, a used stack's pages below
 * its top one are returned to the system (so a later idle task on it holds one page, not
 * the depth of an earlier one), the top page is kept, and the stack works in full after:
 * its pages read as zeros and take a deep call again. Guarded and slab (canary) stacks.
 */
#include "testutil.h"
#include "core.h" /* the task's stack descriptor */

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define DEEP (64 * 1024)

struct seen {
    char *base;
    size_t size;
    long result;
};

static volatile int depth_limit = INT32_MAX;

/* Touch about n bytes of stack below the caller in 512-byte frames; returns a checksum. */
__attribute__((noinline)) static long dive(size_t n, unsigned depth)
{
    volatile char pad[512];
    /* pad's address escapes, so that the compiler keeps its 512 bytes in the frame (clang
     * otherwise keeps only the eight bytes that are used, and the dive stays shallow). */
    __asm__ volatile("" : : "r"(pad) : "memory");
    for (size_t i = 0; i < sizeof pad; i += 64)
        pad[i] = (char)(depth + i);
    long below = n > sizeof pad && (int)depth < depth_limit ? dive(n - sizeof pad, depth + 1) : 0;
    long sum = below;
    for (size_t i = 0; i < sizeof pad; i += 64)
        sum += pad[i] == (char)(depth + i); /* still what was written: no one else's page */
    return sum;
}

static long expected_dive(void) { return (DEEP / 512) * (512 / 64); }

static long deep_task(void *arg)
{
    struct seen *s = arg;
    curio__task *t = curio__self();
    s->base = t->stack->base;
    s->size = t->stack->size;
    s->result = dive(DEEP, 0);
    return 0;
}

/* Resident pages of [from, to), both page-aligned. */
static size_t resident(char *from, char *to)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (size_t)(to - from) / page, count = 0;
    unsigned char vec[1024];
    cr_assert_leq(n, sizeof vec);
    cr_assert_eq(mincore(from, (size_t)(to - from), vec), 0);
    for (size_t i = 0; i < n; i++)
        count += vec[i] & 1;
    return count;
}

/* The stack's top page (the one that holds its last usable byte) and the span below it,
 * as trimming sees them. */
static void spans(const struct seen *s, char **low, char **top)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    *top = (char *)(((uintptr_t)s->base + s->size - 1) & ~(page - 1));
    *low = s->base;
}

/* Spawn, join and release one task. */
static void run_task(curio_task_fn fn, void *arg)
{
    curio_task *t;
    cr_assert_eq(curio_spawn_ex(&t, fn, arg, NULL), 0);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
}

/* The second task checks that the trimmed pages of its stack read as zeros before it goes
 * deep on them. */
struct again {
    struct seen *first;
    struct seen mine;
    size_t nonzero;
};

static long deep_again(void *arg)
{
    struct again *a = arg;
    char *low, *top;
    spans(a->first, &low, &top);
    /* Below this frame, well under the top page: memory no frame uses yet. */
    for (volatile char *p = low; p < top - 4096; p += 64)
        a->nonzero += *p != 0;
    return deep_task(&a->mine);
}

static long trim_then_reuse(void *arg)
{
    (void)arg;
    struct seen first = {0};
    run_task(deep_task, &first);
    ev("first=%s", first.result == expected_dive() ? "ok" : "bad");
    char *low, *top;
    spans(&first, &low, &top);
    cr_assert_gt(resident(low, top), (size_t)(DEEP / 4096 / 2), "the dive made pages resident");
    /* Idle: the kernel trims the pool while this task sleeps. */
    cr_assert_geq(curio_sleep(0.02), 0);
    ev("below-top=%zu top=%zu", resident(low, top), resident(top, top + sysconf(_SC_PAGESIZE)));
    struct again a = {.first = &first};
    run_task(deep_again, &a);
    ev("same-stack=%d zeros=%s second=%s", a.mine.base == first.base,
       a.nonzero == 0 ? "yes" : "no", a.mine.result == expected_dive() ? "ok" : "bad");
    return 0;
}

Test(stack_trim, guarded_stack_trimmed_at_idle_and_deep_again)
{
    ev_reset();
    cr_assert_eq(run_main(trim_then_reuse, NULL), 0);
    cr_assert_str_eq(evlog, "first=ok below-top=0 top=1 same-stack=1 zeros=yes second=ok");
}

Test(stack_trim, slab_stack_trimmed_at_idle_and_deep_again)
{
    ev_reset();
    curio_options o = {.guarded_stacks = 1}; /* the main task takes the only guarded one */
    long r = -1;
    cr_assert_eq(curio_run(trim_then_reuse, NULL, &o, &r), 0);
    cr_assert_eq(r, 0);
    cr_assert_str_eq(evlog, "first=ok below-top=0 top=1 same-stack=1 zeros=yes second=ok");
}

/* Neighbouring slab stacks, trimmed, then run again side by side, switching back and forth:
 * each one's canary (in the top page of the slot below) survived the trim. */
static long deep_yielding(void *arg)
{
    long *ok = arg;
    for (int i = 0; i < 4; i++) {
        *ok += dive(DEEP / 2, 0) == (DEEP / 2 / 512) * (512 / 64);
        curio_yield();
    }
    return 0;
}

static long neighbours(void *arg)
{
    (void)arg;
    long ok = 0;
    for (int round = 0; round < 2; round++) {
        curio_task *t[4];
        for (int i = 0; i < 4; i++)
            cr_assert_eq(curio_spawn_ex(&t[i], deep_yielding, &ok, NULL), 0);
        for (int i = 0; i < 4; i++) {
            cr_assert_eq(curio_join(t[i], NULL), 0);
            curio_task_release(t[i]);
        }
        cr_assert_geq(curio_sleep(0.02), 0); /* trimmed here */
    }
    ev("ok=%ld", ok);
    return 0;
}

Test(stack_trim, neighbouring_slab_stacks_keep_their_canaries)
{
    ev_reset();
    curio_options o = {.guarded_stacks = 1};
    long r = -1;
    cr_assert_eq(curio_run(neighbours, NULL, &o, &r), 0);
    cr_assert_eq(r, 0);
    cr_assert_str_eq(evlog, "ok=32");
}
