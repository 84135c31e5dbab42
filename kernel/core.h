/*
 * kernel/core.h - the kernel's records: tasks, the kernel, timers, stacks, scopes,
 * task-local slots, descriptor claims. For the files of kernel/ only (and tests of the
 * kernel's internals): the layers above see tasks and kernels through kernel.h (its calls,
 * its accessors, and the fast-path views of the records' first fields), and tools such as
 * the monitor through kernel/introspect.h.
 */
#ifndef CURIO_KERNEL_CORE_H
#define CURIO_KERNEL_CORE_H

#include "kernel.h"

/* Task-local values: a small array copied at spawn. */
typedef struct curio__local_slot {
    const curio_local *key;
    void *value;
} curio__local_slot;

/* An open scope, kept in the task's record (the user's curio_scope only names it). */
typedef struct curio__scope_rec {
    int64_t deadline;            /* absolute ns; CURIO__NO_DEADLINE for none */
    uint64_t id;
    uint8_t kind;                /* enum curio__scope_kind */
    uint32_t expired;            /* 0, or the number of the delivery (task->deliveries) that
                                    told a blocking call -ETIMEDOUT because of it */
} curio__scope_rec;

enum curio__scope_kind {
    CURIO__SCOPE_TIMEOUT = 1,
    CURIO__SCOPE_IGNORE = 2,
    CURIO__SCOPE_NOCANCEL = 3,
};

struct curio_task {
    /* --- read by the inline fast paths (curio__trap_check) through curio__task_fast:
     *     first, in this order --- */
    bool cancel_requested;       /* sticky from the request until the end */
    uint32_t nscopes;            /* open scopes (see scopes) */

    /* --- scheduling --- */
    curio__task *ready_next;     /* ready-queue link; valid while on the ready queue */
    curio__ctx ctx;              /* saved stack pointer while not running */
    curio_kernel *k;
    /* state and cycles are atomic since another thread reads them (the monitor's, through
     * kernel/introspect.h); the kernel's switch path stores them relaxed (a plain store) */
    _Atomic(const char *) state; /* static string: READY, RUNNING, a trap state, TERMINATED */
    _Atomic uint64_t cycles;

    /* --- identity --- */
    uint64_t id, parent_id;
    char name[32];
    bool internal;               /* curio's own machinery (the monitor's tasks, the signal
                                    reader, channel authenticators), set by its spawner: the
                                    monitor refuses to cancel it */

    /* --- body --- */
    curio_task_fn fn;
    void *arg;
    long result;                 /* valid once done */

    /* --- lifetime: freed when done, handles == 0 and not in a group (or at kernel
     *     destroy) --- */
    unsigned handles;            /* handles: spawn's, curio_task_retain's, and one held by
                                    every group the task was ever a member of, until that
                                    group is destroyed */
    bool daemon;
    bool done;
    bool on_ready;               /* on the ready queue (so a second wake is a no-op) */
    bool zombie;                 /* on k->zombies */
    bool parked;                 /* blocked in curio__park (not in I/O) */

    /* --- cancellation (also cancel_requested and nscopes, first) --- */
    bool cancel_delivered;       /* some blocking call returned -ECANCELED */
    bool cancelled;              /* ended by cancellation (outcome) */
    unsigned nocancel;           /* open disable_cancellation scopes */
    curio__scope_rec *scopes;    /* open scopes, outermost first (scopes[nscopes-1] is the
                                    innermost) */
    size_t cap_scopes;
    uint64_t scope_ids;
    uint32_t deliveries;         /* scope deadlines delivered so far (curio__expire_scopes) */
    uint64_t cancel_by;          /* the task that requested the cancellation (0: none, or
                                    not a task: the kernel's shutdown, a post) */

    /* --- blocking: parked (a wait queue's waiter record, on the task's stack, says what
     *     for: kernel/waitq.h), or in I/O --- */
    curio__op *op;               /* in-flight io_uring operation, or NULL */
    int wake_result;             /* what the blocking call returns when woken */
    size_t heap_index;           /* position in the timer heap, or SIZE_MAX */
    int64_t sleep_until;         /* the sleep's own deadline (CURIO__NO_DEADLINE if none) */
    const void *waits_on;        /* the wait queue it is parked in (curio__waitq_wait), or
                                    NULL: for the monitor's `waits` */

    /* --- waiting for this task's end (kernel/waitq.h) --- */
    curio__waitq joiners;

    /* --- stack --- */
    struct curio__stack *stack;  /* the task's stack until it is reaped, then NULL */
    struct curio__stack *home;   /* the stack whose top bytes hold this record (a record
                                    placed by curio__spawn_on_stack), or NULL for a pooled
                                    heap record: given back when the record is freed */

    /* --- task-local storage --- */
    curio__local_slot *locals;
    size_t nlocals, cap_locals;

    /* --- live tasks of the kernel, k->all, oldest first (shutdown cancels newest first);
     *     once ended with a handle held, the same node puts it on k->zombies --- */
    curio__list_node all_node;

    /* --- task group membership: group is the group the task is a member of, or NULL
     *     once it has left (next_done, curio_join, cancel_remaining) or was never in one;
     *     a task is a member of at most one group at a time --- */
    curio_group *group;
    curio__list_node done_node;  /* the group's queue of ended members that neither
                                    next_done nor join has taken yet */
    bool done_queued;            /* on that queue */
    bool reap;                   /* cancelled by cancel_remaining: leaves its group when it
                                    ends instead of being queued */
};

/* A timer heap entry. */
typedef struct curio__timer {
    int64_t when;
    uint64_t seq;                /* FIFO among equal deadlines */
    curio__task *task;
} curio__timer;

/* Who waits on each direction of a descriptor (kernel/fdclaim.c). */
typedef struct curio__fd_claims {
    curio__task *by[2];          /* [CURIO__FD_READ], [CURIO__FD_WRITE]; NULL: free */
} curio__fd_claims;

struct curio_kernel {
    /* read by the inline fast path (curio__self) through curio__kernel_fast: first */
    curio__task *current;

    struct io_uring ring;
    curio_options opts;

    curio__ctx sched_ctx;        /* the scheduler's own context (the thread's stack) */
    curio__task *exited;         /* a task that just ended; its stack is freed by whoever
                                    runs next on another stack. CURIO__PROBING while a
                                    probe is being served (curio__probe_run) */
    curio__task *ready_head, *ready_tail;
    size_t nready;
    size_t pass_budget;          /* switches left in this pass before control returns to the
                                    scheduler (so yields cannot starve I/O) */

    uint64_t next_id;
    size_t ntasks;               /* live task records */
    curio__list all;             /* live tasks, oldest first (by all_node) */
    curio__list zombies;         /* ended tasks whose handle is still held (by all_node) */
    curio__task *free_tasks;     /* records kept for reuse, linked by ready_next */
    unsigned nfree_tasks;

    size_t inflight;             /* operations whose CQE is still due (incl. the wake read) */

    curio__timer *heap;
    size_t heap_len, heap_cap;
    uint64_t timer_seq;

    /* the latest reading of the clock on this thread (curio__now), and whether it was
     * taken during the current pass or just before it, after the scheduler's last look at
     * the ring: the trap check then uses it instead of reading the clock again */
    int64_t now;
    bool now_fresh;

    /* cross-thread posts */
    int wake_fd;
    uint64_t wake_buf;
    bool wake_armed;
    pthread_mutex_t post_lock;
    curio__post *posts_head, *posts_tail;
    _Atomic bool posted;
    _Atomic bool sleeping;
    unsigned msg_inflight;       /* MSG_RING wake-ups this kernel sent whose CQE is due
                                    (curio__post_node; kernel/cores.c) */
    const void *run;             /* its curio_cores_run, or NULL (kernel/cores.c) */
    bool msg_ring;               /* posts to kernels of the same run wake them with
                                    IORING_OP_MSG_RING */

    /* stacks */
    struct curio__stack_pool *stacks;
    void *altstack;              /* the signal stack this kernel gave its thread, or NULL */

    /* descriptors being waited on, indexed by fd (kernel/fdclaim.c) */
    curio__fd_claims *claims;
    size_t nclaims;

    bool running;                /* inside curio_kernel_run */

    /* the monitor (monitor/): the probe being served by a suspended task (see
     * curio__probe_run), else NULL; and the monitor's state, or NULL */
    struct curio__probe *probe;
    struct curio__monitor *monitor;

    /* for threads other than the kernel's (the monitor's, kernel/introspect.h):
     * tasks_lock guards the lists all and zombies, task names and the internal mark (taken
     * on spawn, on a task's end, and for those rare changes); running_id (the task running,
     * 0 in the scheduler) and switches (counted at every switch and self-resumption) are
     * stored relaxed on the switch path; on_destroy (up to 2) are called by curio_kernel_destroy once
     * every task has ended */
    pthread_mutex_t tasks_lock;
    _Atomic uint64_t running_id;
    _Atomic uint64_t switches;
    void (*on_destroy[2])(curio_kernel *k);
    struct curio__stall *stall;          /* the stall detector (monitor/stall.c), or NULL */
    /* recently ended tasks (kernel/introspect.c), under tasks_lock: a ring of ended_cap
     * records, allocated by the monitor (curio__kernel_keep_ended), or NULL; nended
     * counts every task that has ended */
    struct curio__ended_info *ended;
    unsigned ended_cap;
    uint64_t nended;

    /* the provided-buffer ring (kernel/bufring.h), registered on first use, or NULL */
    struct curio__bufring *bufring;
    /* empty pipes kept for splicing (kernel/pipes.c) */
    curio__pipe pipes[CURIO__PIPES];
    unsigned npipes;
};

/* --- stacks (stack.c) --- */
struct curio__stack {
    struct curio__stack *next_free;
    void *base;                  /* lowest usable byte */
    size_t size;                 /* usable bytes */
    bool guarded;                /* a PROT_NONE page lies just below base */
    bool single;                 /* unguarded, odd-sized, a mapping of its own */
    uint64_t *canary;            /* just below base, for unguarded stacks; else NULL */
};
CURIO__HIDDEN int curio__stacks_create(curio_kernel *k);
CURIO__HIDDEN void curio__stacks_destroy(curio_kernel *k);
CURIO__HIDDEN struct curio__stack *curio__stack_get(curio_kernel *k, size_t size);
CURIO__HIDDEN void curio__stack_put(curio_kernel *k, struct curio__stack *s);
/* At idle: unmap free stacks past the cache, then give back the pages below the top one
 * of free stacks that were used, up to max stacks in all; true if work is left. */
CURIO__HIDDEN bool curio__stacks_trim(curio_kernel *k, unsigned max);
#define CURIO__CANARY 0x6375726963616e31ull /* "curican1" */
CURIO__HIDDEN void curio__stack_overflowed(curio__task *t) __attribute__((noreturn, cold));
/* Called whenever a task switches out: an unguarded stack's canary must be intact. */
static inline void curio__stack_check(curio__task *t)
{
    const uint64_t *c = t->stack->canary;
    if (__builtin_expect(c && *c != CURIO__CANARY, 0))
        curio__stack_overflowed(t);
}
CURIO__HIDDEN void curio__overflow_handler_install(curio_kernel *k);
CURIO__HIDDEN void curio__overflow_handler_release(curio_kernel *k);

/* A blocking call is returning rc: a -ECANCELED returned is a cancellation delivered (the
 * task's outcome is "cancelled" if it then ends with it). */
static inline int curio__delivered(curio__task *self, int rc)
{
    if (rc == -ECANCELED)
        self->cancel_delivered = true;
    return rc;
}

#endif
