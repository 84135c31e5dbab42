/*
 * kernel/arch/context.c - preparing and switching contexts, with the sanitizer's fiber
 * annotations (ASan must be told which stack is live, or it reports false overflows).
 */
#include "context.h"

#include <stdint.h>
#include <string.h>

#ifdef CURIO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CURIO_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#include <pthread.h>

#ifndef CURIO_CTX_UCONTEXT
void curio__ctx_swap(void **save_sp, void *new_sp) __attribute__((visibility("hidden")));
void curio__ctx_trampoline(void) __attribute__((visibility("hidden")));

void curio__ctx_make(curio__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* Frame popped by curio__ctx_swap: mxcsr/fpucw word, r15, r14, r13, r12, rbx, rbp, ret.
     * After its ret, rsp == top: 16-byte aligned at the trampoline's call. */
    uint64_t *sp = (uint64_t *)top;
    *--sp = (uint64_t)(uintptr_t)curio__ctx_trampoline;
    *--sp = 0;                                  /* rbp */
    *--sp = 0;                                  /* rbx */
    *--sp = (uint64_t)(uintptr_t)entry;         /* r12 */
    *--sp = (uint64_t)(uintptr_t)arg;           /* r13 */
    *--sp = 0;                                  /* r14 */
    *--sp = 0;                                  /* r15 */
    uint32_t mxcsr;
    uint16_t fpucw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    *--sp = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);
    c->sp = sp;
#elif defined(__aarch64__)
    uint64_t *sp = (uint64_t *)(top - 160);
    memset(sp, 0, 160);
    sp[0] = (uint64_t)(uintptr_t)entry;                  /* x19 */
    sp[1] = (uint64_t)(uintptr_t)arg;                    /* x20 */
    sp[11] = (uint64_t)(uintptr_t)curio__ctx_trampoline; /* x30: where ret goes */
    c->sp = sp;
#endif
#ifdef CURIO_ASAN
    c->stack_lo = lo;
    c->stack_size = size;
    c->fake_stack = NULL;
#endif
#ifdef CURIO_TSAN
    c->tsan_fiber = __tsan_create_fiber(0);
#endif
}

static inline void swap_raw(curio__ctx *from, curio__ctx *to)
{
    curio__ctx_swap(&from->sp, to->sp);
}
#else
#include <stdlib.h>


/* makecontext passes int arguments only; split the pointer in two. */
static void uc_entry(unsigned hi, unsigned lo, unsigned fhi, unsigned flo)
{
    void *arg = (void *)(((uintptr_t)hi << 32) | lo);
    void (*fn)(void *) = (void (*)(void *))(((uintptr_t)fhi << 32) | flo);
    fn(arg);
    abort();
}

void curio__ctx_make(curio__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg)
{
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = lo;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL;
    uintptr_t a = (uintptr_t)arg, f = (uintptr_t)entry;
    makecontext(&c->uc, (void (*)(void))uc_entry, 4, (unsigned)(a >> 32), (unsigned)a,
                (unsigned)(f >> 32), (unsigned)f);
#ifdef CURIO_ASAN
    c->stack_lo = lo;
    c->stack_size = size;
    c->fake_stack = NULL;
#endif
#ifdef CURIO_TSAN
    c->tsan_fiber = __tsan_create_fiber(0);
#endif
}

static inline void swap_raw(curio__ctx *from, curio__ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}
#endif

void curio__ctx_init_current(curio__ctx *c)
{
#ifdef CURIO_ASAN
    pthread_attr_t a;
    void *lo = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstack(&a, &lo, &size);
        pthread_attr_destroy(&a);
    }
    c->stack_lo = lo;
    c->stack_size = size;
#endif
#ifdef CURIO_TSAN
    c->tsan_fiber = __tsan_get_current_fiber();
#endif
    (void)c;
}

void curio__ctx_destroy(curio__ctx *c)
{
#ifdef CURIO_TSAN
    if (c->tsan_fiber)
        __tsan_destroy_fiber(c->tsan_fiber);
    c->tsan_fiber = NULL;
#endif
    (void)c;
}

void curio__ctx_switch(curio__ctx *from, curio__ctx *to, int final)
{
#ifdef CURIO_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
#ifdef CURIO_ASAN
    __sanitizer_start_switch_fiber(final ? NULL : &from->fake_stack, to->stack_lo,
                                   to->stack_size);
    swap_raw(from, to);
    __sanitizer_finish_switch_fiber(from->fake_stack, NULL, NULL);
#else
    (void)final;
    swap_raw(from, to);
#endif
}

void curio__ctx_started(void)
{
#ifdef CURIO_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}
