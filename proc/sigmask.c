/*
 * proc/sigmask.c - which signals curio keeps blocked, and the mask children start with.
 *
 * Watching a signal means blocking it in the kernel's thread (signal.c reads it from a
 * signalfd). The counts here are per thread, as masks are: the first watcher of a signal
 * blocks it unless it was blocked already, and the last one unblocks it again only in
 * that case. curio_enable_signals blocks signals for the whole program's future threads;
 * it is remembered process-wide so that children (curio_popen, run_in_process workers)
 * start with those signals unblocked, as they would be in a program without curio.
 */
#include "proc.h"

#include <stdatomic.h>

static _Atomic uint64_t enabled;           /* bit sig-1: blocked by curio_enable_signals */
static __thread unsigned watchers[NSIG];   /* watchers of each signal on this thread */
static __thread uint64_t blocked_here;     /* bit sig-1: blocked by the first watcher */

static uint64_t bit(int sig) { return (uint64_t)1 << (sig - 1); }

bool curio__signal_watchable(int sig)
{
    if (sig < 1 || sig >= NSIG || sig > 64)
        return false;
    switch (sig) {
    case SIGKILL: case SIGSTOP:
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL:
        return false;
    }
    return sig < 32 || sig >= SIGRTMIN; /* 32 and 33 are glibc's own */
}

int curio__signals_set(const int *signals, size_t n, sigset_t *set)
{
    if (!signals || n == 0)
        return -EINVAL;
    sigemptyset(set);
    for (size_t i = 0; i < n; i++) {
        if (!curio__signal_watchable(signals[i]))
            return -EINVAL;
        sigaddset(set, signals[i]);
    }
    return 0;
}

void curio__signals_watch(const sigset_t *set)
{
    sigset_t now, block;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    sigemptyset(&block);
    for (int s = 1; s < NSIG && s <= 64; s++) {
        if (!sigismember(set, s) || watchers[s]++ > 0)
            continue;
        if (!sigismember(&now, s)) {
            sigaddset(&block, s);
            blocked_here |= bit(s);
        }
    }
    pthread_sigmask(SIG_BLOCK, &block, NULL);
}

void curio__signals_unwatch(const sigset_t *set)
{
    sigset_t unblock;
    sigemptyset(&unblock);
    for (int s = 1; s < NSIG && s <= 64; s++) {
        if (!sigismember(set, s) || watchers[s] == 0 || --watchers[s] > 0)
            continue;
        if (blocked_here & bit(s)) {
            sigaddset(&unblock, s);
            blocked_here &= ~bit(s);
        }
    }
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
}

void curio__child_sigmask(sigset_t *mask)
{
    pthread_sigmask(SIG_SETMASK, NULL, mask);
    uint64_t ours = atomic_load_explicit(&enabled, memory_order_relaxed);
    for (int s = 1; s < NSIG && s <= 64; s++)
        if ((ours & bit(s)) || watchers[s])
            sigdelset(mask, s);
}

int curio_enable_signals(const int *signals, size_t n)
{
    sigset_t set;
    int rc = curio__signals_set(signals, n, &set);
    if (rc < 0)
        return rc;
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++)
        bits |= bit(signals[i]);
    atomic_fetch_or_explicit(&enabled, bits, memory_order_relaxed);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    return 0;
}
