/*
 * A standalone check of what `where` needs from kernel/arch, with no io_uring: a task
 * suspended three calls deep, on a stack made by curio__ctx_make, is resumed in the way
 * curio__probe_run does it; on its own stack it takes a backtrace() and switches straight
 * back. The backtrace must hold the return address of each of the task's calls, in order,
 * and must stop at the stack's first frame (the trampoline) rather than run into garbage;
 * then the task, resumed for real, must finish its calls with its values intact.
 *
 * Built natively by the test suite (with whichever switch the build uses), and for aarch64
 * by tests/monitor/cross-check.sh under qemu-user, since the kernel itself (io_uring) cannot
 * run there. Prints "N passed, N failed".
 */
#include "context.h"

#include <execinfo.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define KEEP __attribute__((noinline))

static curio__ctx main_ctx, task_ctx;
static bool probing;            /* the kernel's k->probe */
static void *pcs[64];
static int npcs;
static void *ra[3];             /* where level1..3 return to, as each of them sees it */
static int failed, passed;

static void check(bool ok, const char *what)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("arch_where_check: FAIL %s\n", what);
    }
}

KEEP static void take_backtrace(void)
{
    npcs = backtrace(pcs, 64);
}

/* curio__suspend: switch out; resumed by a probe, serve it and switch back. */
KEEP static void suspend(void)
{
    curio__ctx_switch(&task_ctx, &main_ctx, 0);
    while (probing) {
        probing = false;
        take_backtrace();
        curio__ctx_switch(&task_ctx, &main_ctx, 0);
    }
}

KEEP static long level3(long x)
{
    ra[2] = __builtin_return_address(0);
    suspend();
    return x * 3;
}

KEEP static long level2(long x)
{
    ra[1] = __builtin_return_address(0);
    long r = level3(x + 1);
    return r + 2;
}

KEEP static long level1(long x)
{
    ra[0] = __builtin_return_address(0);
    long r = level2(x + 1);
    return r + 1;
}

static long result;

static void entry(void *arg)
{
    curio__ctx_started();
    result = level1((long)(intptr_t)arg);
    curio__ctx_switch(&task_ctx, &main_ctx, 1);
}

static int find(void *pc, int from)
{
    for (int i = from; i < npcs; i++)
        if (pcs[i] == pc)
            return i;
    return -1;
}

int main(void)
{
    static char stack[65536] __attribute__((aligned(16)));
    void *warm[2];
    backtrace(warm, 2); /* load the unwinder here, as the monitor does */
    curio__ctx_init_current(&main_ctx);
    curio__ctx_make(&task_ctx, stack, sizeof stack, entry, (void *)(intptr_t)10);
    curio__ctx_switch(&main_ctx, &task_ctx, 0); /* runs to the suspension */

    for (int round = 0; round < 2; round++) {
        probing = true;
        npcs = 0;
        curio__ctx_switch(&main_ctx, &task_ctx, 0);
        check(!probing, "the probe was served");
        int at2 = find(ra[2], 0), at1 = at2 < 0 ? -1 : find(ra[1], at2 + 1);
        int at0 = at1 < 0 ? -1 : find(ra[0], at1 + 1);
        check(at2 >= 0 && at1 >= 0 && at0 >= 0, "level3, level2, level1 in order");
        check(npcs > 0 && npcs < 64, "the backtrace stops at the task's first frame");
        /* Past level1's return into entry, at most the trampoline's frame remains. */
        check(at0 >= 0 && npcs - at0 <= 3, "nothing under entry and the trampoline");
    }
    curio__ctx_switch(&main_ctx, &task_ctx, 0); /* the real resumption */
    check(result == ((10 + 2) * 3 + 2) + 1, "the task finished its calls intact");
    curio__ctx_destroy(&task_ctx);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
