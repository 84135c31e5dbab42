/*
 * A standalone check of kernel/arch's context switch, with no io_uring: two contexts ping-pong,
 * an argument reaches the entry function, and callee-saved integer and floating-point values
 * survive switches. Built natively by the test suite, and cross-built for other
 * architectures by tests/arch/cross-check.sh (run under qemu-user), since the kernel itself
 * cannot run under qemu.
 */
#include "context.h"

#include <stdio.h>
#include <stdlib.h>

static curio__ctx main_ctx, a_ctx;
static long counter;

static void entry(void *arg)
{
    curio__ctx_started();
    long *seen = arg;
    *seen = 42;
    for (;;) {
        counter++;
        curio__ctx_switch(&a_ctx, &main_ctx, 0);
    }
}

static double keep_float(double x, int rounds)
{
    /* Values live across the switch in callee-saved registers (d8-d15 / rbx...). */
    double acc = x;
    register long r = 7;
    for (int i = 0; i < rounds; i++) {
        curio__ctx_switch(&main_ctx, &a_ctx, 0);
        acc = acc * 1.5 + (double)r;
    }
    return acc + (double)r;
}

int main(void)
{
    static char stack[65536] __attribute__((aligned(16)));
    long seen = 0;
    curio__ctx_init_current(&main_ctx); /* for the sanitizers' fiber tracking */
    curio__ctx_make(&a_ctx, stack, sizeof stack, entry, &seen);
    double got = keep_float(1.0, 10);
    double want = 1.0;
    for (int i = 0; i < 10; i++)
        want = want * 1.5 + 7;
    want += 7;
    if (seen != 42 || counter != 10 || got != want) {
        printf("switch_check: FAIL seen=%ld counter=%ld got=%f want=%f\n", seen, counter, got,
               want);
        return 1;
    }
    printf("1 passed, 0 failed\n");
    return 0;
}
