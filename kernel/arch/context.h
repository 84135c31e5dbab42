/*
 * kernel/arch/context.h - switching between task stacks.
 *
 * The assembly versions (switch_x86_64.S, switch_aarch64.S) save only the callee-saved
 * registers on the old stack and swap stack pointers; a context is then just that stack
 * pointer. Other architectures, or -Dcontext=ucontext, use ucontext(3), which is slower
 * (it saves the signal mask with a system call on every switch).
 */
#ifndef CURIO_ARCH_CONTEXT_H
#define CURIO_ARCH_CONTEXT_H

#include <stddef.h>

#if !defined(CURIO_CTX_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define CURIO_CTX_UCONTEXT 1
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CURIO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CURIO_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define CURIO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CURIO_TSAN 1
#endif
#endif

#ifdef CURIO_CTX_UCONTEXT
#include <ucontext.h>
#endif

typedef struct curio__ctx {
#ifdef CURIO_CTX_UCONTEXT
    ucontext_t uc;
#else
    void *sp;
#endif
#ifdef CURIO_ASAN
    const void *stack_lo; /* the stack this context runs on, for ASan's fiber switching */
    size_t stack_size;
    void *fake_stack;
#endif
#ifdef CURIO_TSAN
    void *tsan_fiber;     /* TSan's record of this context, so it tracks each stack apart */
#endif
} curio__ctx;

/* Describe the running thread's own context (the scheduler's) to the sanitizers. */
void curio__ctx_init_current(curio__ctx *c) __attribute__((visibility("hidden")));

/* Release what curio__ctx_make set up, once the context will never run again. */
void curio__ctx_destroy(curio__ctx *c) __attribute__((visibility("hidden")));

/* Prepare c so that switching to it calls entry(arg) on the stack [lo, lo+size).
 * entry must never return. */
void curio__ctx_make(curio__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg)
    __attribute__((visibility("hidden")));

/* Save the running context in from and resume to. `final` says from will never be resumed
 * (its stack is about to be freed). */
void curio__ctx_switch(curio__ctx *from, curio__ctx *to, int final)
    __attribute__((visibility("hidden")));

/* For the task entry: tell the sanitizer the switch into a fresh context has finished. */
void curio__ctx_started(void) __attribute__((visibility("hidden")));

#endif
