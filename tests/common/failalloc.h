/*
 * failalloc.h - the failing allocator of the out-of-memory tests, for one test file per
 * binary linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (which reaches the
 * static library's calls too).
 *
 *   arm(n);      the n-th allocation from now fails (0: the next one), and only that one
 *   disarm();    no allocation fails
 *   injected     true once the armed allocation has failed
 *   fail_now()   for other allocators of the test (wolfSSL's): counts like malloc does
 *
 * Single-threaded. A test whose allocations come from several threads (the monitor's, the
 * sync layer's) defines FAILALLOC_OWN and its own fail_now(), arm(), disarm() and
 * injected before including this; it then gets only the declarations and the wrappers.
 */
#ifndef CURIO_TEST_FAILALLOC_H
#define CURIO_TEST_FAILALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

#ifndef FAILALLOC_OWN
static long countdown = -1; /* allocations left before the one that fails; -1: off */
static bool injected;

static inline bool fail_now(void)
{
    if (countdown < 0)
        return false;
    if (countdown-- == 0) {
        injected = true;
        return true;
    }
    return false;
}

static inline void arm(long n)
{
    injected = false;
    countdown = n;
}

static inline void disarm(void) { countdown = -1; }
#endif

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return fail_now() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }

#endif
