/*
 * kernel/introspect.h - reading a kernel's tasks from outside kernel/: what a tool such as
 * the monitor (monitor/) uses instead of the kernel's records (kernel/core.h).
 *
 * A tool walks the tasks with curio__tasks_first/next, or looks one up by id, and reads
 * each through a snapshot: a copy of what it shows, taken at once, which stays valid
 * whatever the task does next. Task pointers are valid until the caller's task next
 * blocks (a task may end and its record be freed meanwhile): a tool that blocks keeps its
 * id, and looks the task up again, or holds a handle (curio_task_retain).
 *
 * The stack of a suspended task is reached through a probe (kernel.h, curio__probe_run),
 * addressed by the task pointer; the snapshot gives the stack's range for it.
 */
#ifndef CURIO_KERNEL_INTROSPECT_H
#define CURIO_KERNEL_INTROSPECT_H

#include "kernel.h"

/* A task as it is at the moment of curio__task_snapshot. */
typedef struct curio__task_info {
    uint64_t id, parent_id;        /* parent_id 0 for a main task */
    char name[32];                 /* curio_task_name: the given name or "task-<id>" */
    const char *state;             /* curio_task_state: READY, RUNNING, a trap state,
                                      TERMINATED (a static string) */
    uint64_t cycles;               /* times scheduled */
    long result;                   /* the task function's result, once done */
    int64_t deadline;              /* the nearest deadline of its open timeout scopes
                                      (also those a disable_cancellation scope defers), or
                                      CURIO__NO_DEADLINE */
    bool daemon;
    bool internal;                 /* curio's own machinery (curio__task_set_internal) */
    bool done;                     /* has ended */
    bool cancelled;                /* ended by cancellation */
    bool cancel_requested;         /* a cancellation was requested (sticky) */
    bool nocancel;                 /* inside a disable_cancellation scope */
    bool has_stack;                /* a stack is allocated to it: from its spawn until it
                                      ends */
    const void *stack_lo, *stack_hi; /* the usable bytes of that stack, [lo, hi), or NULL */
    uint64_t cancel_by;            /* who requested its cancellation: a task id, or 0 */
    int fd;                        /* in I/O: the descriptor its operation waits on, or -1 */
    const void *waits_on;          /* parked in a wait queue: the queue's address (inside
                                      the sync object, group, task ... waited on), or NULL */
} curio__task_info;

CURIO__HIDDEN void curio__task_snapshot(curio__task *t, curio__task_info *out);

/* The live tasks of k in spawn order (which is id order): the first, or NULL; the one
 * after t, or NULL. */
CURIO__HIDDEN curio__task *curio__tasks_first(curio_kernel *k);
CURIO__HIDDEN curio__task *curio__tasks_next(curio__task *t);
/* How many live tasks k has. */
CURIO__HIDDEN size_t curio__tasks_live(curio_kernel *k);
/* A live task of k by id, or an ended one whose record is still held (a handle is kept:
 * its state is TERMINATED), or NULL. */
CURIO__HIDDEN curio__task *curio__task_lookup(curio_kernel *k, uint64_t id);

/* The options k was created with (defaults filled in). */
CURIO__HIDDEN const curio_options *curio__kernel_options(const curio_kernel *k);
/* The stall detector of k (monitor/stall.c), or NULL. */
CURIO__HIDDEN struct curio__stall **curio__kernel_stall(curio_kernel *k);
/* The monitor of k (monitor/), or NULL; the monitor sets it once it is started. */
CURIO__HIDDEN struct curio__monitor *curio__kernel_monitor(const curio_kernel *k);
CURIO__HIDDEN void curio__kernel_set_monitor(curio_kernel *k, struct curio__monitor *m);

/* ---- from another thread (the monitor's thread, the stall detector) ----
 *
 * Safe to call from any thread while k's thread runs: the lists of tasks and the names are
 * read under k's tasks lock (which the kernel takes only when a task is spawned or ends,
 * and for a rename), state and cycles are atomics. Nothing else of a task may be read from
 * another thread. k must outlive the calls (curio__kernel_on_destroy). */
typedef struct curio__task_peek {
    uint64_t id, parent_id;
    char name[32];
    const char *state;
    uint64_t cycles;
    bool internal, daemon;
} curio__task_peek;
/* Copy up to cap of k's live tasks, in id order, into out; returns how many live tasks k
 * has (more than cap: the rest were left out). */
CURIO__HIDDEN size_t curio__tasks_peek(curio_kernel *k, curio__task_peek *out, size_t cap);
/* The id of the task running on k (0: none, k is in its scheduler) and how many times k
 * has scheduled a task so far. A task that runs on with switches unchanged has not
 * trapped meanwhile. */
CURIO__HIDDEN void curio__kernel_activity(curio_kernel *k, uint64_t *running,
                                          uint64_t *switches);
/* Call fn(k) in curio_kernel_destroy once every task of k has ended (before anything else
 * goes): where a service stops the threads that read k. Two per kernel (the monitor, the
 * stall detector); registering fn again is a no-op. */
CURIO__HIDDEN void curio__kernel_on_destroy(curio_kernel *k, void (*fn)(curio_kernel *k));

/* ---- the kernels of a curio_cores_run (kernel/cores.c) ---- */

/* The run the calling thread's kernel belongs to (an address unique to it while it
 * lasts), or NULL on a thread that is no kernel of a run. */
CURIO__HIDDEN const void *curio__core_run(void);
/* Call fn for each kernel of run that can be read, in index order, with the run's
 * registry lock held: from the creation of a kernel until its thread begins to destroy
 * it. fn may read k with the thread-safe calls above and curio__kernel_monitor, and must
 * neither block long nor call this again. Returns the number of kernels of the run. The
 * run lasts while any of its kernels does. */
CURIO__HIDDEN unsigned curio__cores_visit(const void *run,
                                          void (*fn)(void *arg, unsigned index, int tid,
                                                     curio_kernel *k),
                                          void *arg);

/* ---- what the monitor shows beyond tasks: ended tasks, counters ---- */

/* A task that has ended, as curio__task_exit recorded it. */
typedef struct curio__ended_info {
    uint64_t id, parent_id;
    uint64_t cancel_by;            /* who requested its cancellation (a task id), or 0 */
    char name[32];
    long result;
    int64_t when;                  /* curio__now() when it ended */
    bool cancelled;                /* ended by cancellation */
    bool cancel_requested;         /* a cancellation was requested (it may have ended
                                      otherwise) */
    bool internal;
} curio__ended_info;

/* On k's thread, before another thread reads k: keep the last n ended tasks (a ring).
 * Returns 0 or -ENOMEM. The ring goes with the kernel. */
CURIO__HIDDEN int curio__kernel_keep_ended(curio_kernel *k, unsigned n);
/* From any thread (under k's tasks lock): copy up to cap of the ended tasks kept, newest
 * first, into out; returns how many were copied, and *total, how many tasks of k have
 * ended so far. */
CURIO__HIDDEN size_t curio__tasks_ended(curio_kernel *k, curio__ended_info *out, size_t cap,
                                        uint64_t *total);
/* For kernel/sched.c: record t's end (tasks lock held, k->ended set). */
CURIO__HIDDEN void curio__ended_record(curio_kernel *k, curio__task *t);

/* A kernel's counters, read on its own thread. */
typedef struct curio__kernel_stats {
    uint64_t tasks;                /* live tasks */
    uint64_t ready;                /* on the ready queue */
    uint64_t zombies;              /* ended, record held by a handle */
    uint64_t switches;             /* times a task was scheduled */
    uint64_t ended;                /* tasks ended so far */
    uint64_t inflight;             /* io_uring operations whose completion is due */
    uint64_t sq_entries, sq_ready; /* submission ring: size, queued and not submitted */
    uint64_t cq_entries, cq_ready; /* completion ring: size, completions not reaped */
    uint64_t cq_overflow;          /* completions the ring dropped (the kernel's counter) */
    uint64_t timers;               /* entries in the timer heap */
    uint64_t posts_pending;        /* posts from other threads not run yet */
} curio__kernel_stats;
CURIO__HIDDEN void curio__kernel_stats_read(curio_kernel *k, curio__kernel_stats *out);

/* On k's thread: the descriptors tasks wait on (kernel/fdclaim.c's claims), a pair per
 * claimed direction, up to cap into out; returns how many there are. */
typedef struct curio__fd_claim_info {
    const curio__task *task;
    int fd;
    int dir;                       /* CURIO__FD_READ or CURIO__FD_WRITE */
} curio__fd_claim_info;
CURIO__HIDDEN size_t curio__fd_claims_list(curio_kernel *k, curio__fd_claim_info *out,
                                           size_t cap);

#endif
