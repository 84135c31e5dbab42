/*
 * tests/common/dive.h - a task function that recurses until its stack overflows, for the
 * tests of the overflow report (each frame holds a volatile 256-byte pad, used after the
 * call so that the compiler can neither drop it nor turn the recursion into a loop).
 */
#ifndef CURIO_TEST_DIVE_H
#define CURIO_TEST_DIVE_H

#include <limits.h>

static volatile int dive_limit = INT_MAX; /* never reached; keeps the recursion honest */

__attribute__((noinline)) static long dive(int depth)
{
    volatile char pad[256];
    pad[0] = (char)depth;
    pad[sizeof pad - 1] = (char)depth;
    long below = depth < dive_limit ? dive(depth + 1) : 0;
    return below + pad[depth & 255]; /* use pad after the call: no tail call */
}

/* A task function: dives until the guard page stops it. */
static long diver(void *arg)
{
    (void)arg;
    return dive(0);
}

#endif
