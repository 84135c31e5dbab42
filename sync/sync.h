/*
 * sync/sync.h - the sync layer's private interface: the rule that ties a primitive to one
 * thread, and what the primitives share.
 *
 * Every task primitive (event, locks, semaphore, condition, queue) waits on the kernel's
 * wait queue with hand-off (kernel/waitq.h): a waiter that was granted what it waited for
 * (the lock, a slot, a promised item) has it even if it is cancelled before it runs, and an
 * interrupted waiter is skipped by the next grant.
 */
#ifndef CURIO_SYNC_PRIVATE_H
#define CURIO_SYNC_PRIVATE_H

#include "../kernel/waitq.h"

/* ---- the owning thread (owner.c) ---- */

/* The calling thread's tag: an address unique among live threads. */
extern __thread char curio__sync_thread_tag CURIO__HIDDEN
    __attribute__((tls_model("initial-exec")));

/* Bind *owner to the calling thread if it is unbound, and say whether it is the calling
 * thread's. The first use wins with a compare-and-swap, so a second thread touching a
 * primitive at the same moment sees someone else's tag and changes nothing. */
static inline bool curio__sync_mine(void **owner)
{
    void *me = &curio__sync_thread_tag;
    void *cur = __atomic_load_n(owner, __ATOMIC_ACQUIRE);
    if (__builtin_expect(cur == me, 1))
        return true;
    return cur == NULL &&
           __atomic_compare_exchange_n(owner, &cur, me, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

/* For accessors (which take const pointers and do not bind): whether *owner is the
 * calling thread's or still unbound. */
static inline bool curio__sync_readable(void *const *owner)
{
    void *cur = __atomic_load_n(owner, __ATOMIC_ACQUIRE);
    return cur == NULL || cur == (void *)&curio__sync_thread_tag;
}

/* ---- locks, for the condition (lock.c) ---- */

/* Take l for the calling task, not interruptibly (see curio__waitq_wait_nointr). */
CURIO__HIDDEN void curio__lock_acquire_nointr(curio__task *self, curio_lock *l);

#endif
