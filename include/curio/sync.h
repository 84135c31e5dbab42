/*
 * curio/sync.h - synchronisation primitives and queues (Curio's Event, Lock, RLock,
 * Semaphore, BoundedSemaphore, Condition, Queue, LifoQueue, PriorityQueue, UniversalQueue,
 * UniversalEvent and abide). Included by <curio.h>; do not include it directly.
 *
 * The same primitives as Python's `threading` module, for tasks: a wait is a blocking call
 * like any other (a cancellation point that honours timeout scopes), and what it waits
 * for is handed over in FIFO order. The rules that hold for every call below:
 *
 *  - Results are 0 (or a count) or a negative code, as everywhere in curio. A blocking call
 *    returns -ECANCELED / -ETIMEDOUT when the task is cancelled or an enclosing timeout
 *    scope expires, and -EPERM outside a task (the universal objects, which plain threads
 *    use too, have their own rule below). A call whose wait is already over (an event that
 *    is set, a lock that is free, a queue with an item) returns at once without waiting
 *    and is then not a cancellation point, as in Curio.
 *  - Releasing never blocks and is never a cancellation point: set, clear, release,
 *    notify, task_done, and a put that does not have to wait.
 *  - Hand-off: whatever a waiter waits for goes to the first waiter in line at the moment
 *    it becomes available (the lock to the first waiting acquirer; for queues, an item is
 *    promised to the first waiting getter, see Queues), before any other task can take it.
 *    A waiter interrupted (cancelled,
 *    timed out) before that moment is skipped and leaves the line. A waiter that was handed
 *    what it waited for and is then cancelled before it ran still gets it: the call
 *    succeeds and the cancellation arrives at its next blocking call, so no lock and no
 *    item is ever lost.
 *  - A NULL object is -EINVAL (accessors return false or 0).
 *
 * Two families:
 *
 *  - Task primitives (curio_event, curio_lock, curio_rlock, curio_semaphore,
 *    curio_condition, curio_queue) are for the tasks of one kernel. They belong to the
 *    thread that first uses them (tasks of the kernel running there, functions posted to
 *    it, or code on that thread outside any kernel); from any other thread every call
 *    returns -EPERM and changes nothing, and accessors answer false/0. A primitive must be
 *    idle (nobody holding or waiting) when its kernel is destroyed; a new kernel on the
 *    same thread may then go on using it. The small ones are value types with static
 *    initializers: put them anywhere (a global, a struct, a task's stack frame that
 *    outlives every wait on them); their fields are private.
 *  - Universal objects (curio_universal_queue, curio_universal_event) are thread-safe:
 *    tasks of any kernels and plain pthreads use one object at the same time. In a task a
 *    wait is a blocking call as above; on a thread without a kernel it blocks the thread.
 *
 * Lifetimes: an object must outlive every call on it; while a task waits, the object is
 * in use. Memory: queues allocate at creation and grow their storage as items arrive (a
 * bounded queue up to maxsize), universal objects at creation, abide one small record per
 * wait on a busy mutex; nothing else allocates, except that a wait inside a timeout scope
 * may need the kernel's timer heap to grow (-ENOMEM, the wait not begun).
 */
#ifndef CURIO_SYNC_H
#define CURIO_SYNC_H
#ifndef CURIO_H
#error "include <curio.h>, not <curio/sync.h>"
#endif

#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------ */
/* Event                                                                                */
/* ------------------------------------------------------------------------------------ */

/*
 * A flag tasks can wait for (Curio's Event):
 *
 *     static curio_event start_evt = CURIO_EVENT_INIT;
 *     ...  curio_event_wait(&start_evt);     // in the kid: waits until set
 *     ...  curio_event_set(&start_evt);      // in the parent: wakes every waiter
 *
 * Zero-initialised memory is a valid, clear event; CURIO_EVENT_INIT says so.
 */
typedef struct curio_event {
    /* private */
    void *thread;                 /* the thread it belongs to; NULL until first used */
    curio__waitq waiters;
    bool set;
} curio_event;
#define CURIO_EVENT_INIT {0}

/* Set the event and wake every task waiting on it, in the order they began waiting. Never
 * blocks. Returns 0, or -EPERM (another thread's event), -EINVAL. */
CURIO_API int curio_event_set(curio_event *e);
/* Clear it; tasks woken by an earlier set still return 0. Returns 0, -EPERM, -EINVAL. */
CURIO_API int curio_event_clear(curio_event *e);
/* Whether it is set (false for NULL or another thread's event). */
CURIO_API bool curio_event_is_set(const curio_event *e);
/* Wait until it is set (blocking: state EVENT_WAIT); at once if it is. Returns 0,
 * -ECANCELED, -ETIMEDOUT, -EPERM (outside a task, another thread's event), -EINVAL,
 * -ENOMEM (no room for the deadline of an enclosing timeout scope). */
CURIO_API int curio_event_wait(curio_event *e);

/* ------------------------------------------------------------------------------------ */
/* Lock and RLock                                                                       */
/* ------------------------------------------------------------------------------------ */

/*
 * A mutual-exclusion lock for tasks (Curio's Lock). Like threading.Lock it has no owner:
 * any task of its kernel may release it. Release with waiters hands the lock straight to
 * the first of them, so a task that releases and at once acquires again queues behind
 * them. A task holding a lock must not end or be cancelled without releasing it.
 *
 *     static curio_lock lock = CURIO_LOCK_INIT;
 *     if (curio_lock_acquire(&lock) == 0) { ... critical section ...;
 *                                           curio_lock_release(&lock); }
 */
typedef struct curio_lock {
    /* private */
    void *thread;
    curio__waitq waiters;
    bool locked;
} curio_lock;
#define CURIO_LOCK_INIT {0}

/* Acquire (blocking: state LOCK_ACQUIRE); at once if free. Returns 0 (held), -ECANCELED,
 * -ETIMEDOUT, -EPERM, -EINVAL, -ENOMEM (as for curio_event_wait). */
CURIO_API int curio_lock_acquire(curio_lock *l);
/* Release it, to the first waiter if any. Never blocks. Returns 0, -EPERM if it is not
 * locked (Python's RuntimeError) or belongs to another thread, -EINVAL. */
CURIO_API int curio_lock_release(curio_lock *l);
/* Whether it is held. */
CURIO_API bool curio_lock_locked(const curio_lock *l);

/*
 * A reentrant lock (Curio's RLock): the task holding it may acquire it again, and must
 * release it as many times. Only the holder may release it.
 */
typedef struct curio_rlock {
    /* private */
    void *thread;
    curio__waitq waiters;
    uint64_t holder;              /* the holder's task id, 0 when free */
    unsigned count;               /* acquisitions by the holder not yet released */
} curio_rlock;
#define CURIO_RLOCK_INIT {0}

/* Acquire (blocking: LOCK_ACQUIRE); at once if free or held by the caller. Returns 0,
 * -ECANCELED, -ETIMEDOUT, -EPERM, -EINVAL, -ENOMEM, -EOVERFLOW (UINT_MAX nested
 * acquisitions). */
CURIO_API int curio_rlock_acquire(curio_rlock *l);
/* Undo one acquisition; the last one frees the lock (to the first waiter, if any). Never
 * blocks. Returns 0, -EPERM if the calling task does not hold it (or outside a task, or
 * another thread's lock), -EINVAL. */
CURIO_API int curio_rlock_release(curio_rlock *l);
CURIO_API bool curio_rlock_locked(const curio_rlock *l);

/* ------------------------------------------------------------------------------------ */
/* Semaphore and BoundedSemaphore                                                       */
/* ------------------------------------------------------------------------------------ */

/*
 * A counter of free slots (Curio's Semaphore): acquire takes one, waiting while there are
 * none; release gives one back, to the first waiter if any. A bounded semaphore (Curio's
 * BoundedSemaphore) refuses a release that would raise its value above the initial one.
 *
 *     static curio_semaphore slots = CURIO_SEMAPHORE_INIT(2);
 *     static curio_semaphore bslots = CURIO_BOUNDED_SEMAPHORE_INIT(2);
 *     curio_semaphore *s = malloc(sizeof *s);
 *     *s = (curio_semaphore)CURIO_SEMAPHORE_INIT(n);      // at run time
 *
 * Zero-initialised memory is an unbounded semaphore of value 0.
 */
typedef struct curio_semaphore {
    /* private */
    void *thread;
    curio__waitq waiters;
    unsigned value;
    unsigned bound;               /* the initial value of a bounded semaphore */
    bool bounded;
} curio_semaphore;
#define CURIO_SEMAPHORE_INIT(n) {NULL, {{NULL, NULL}}, (n), 0, false}
#define CURIO_BOUNDED_SEMAPHORE_INIT(n) {NULL, {{NULL, NULL}}, (n), (n), true}

/* Take a slot (blocking: SEMA_ACQUIRE); at once if the value is positive. Returns 0,
 * -ECANCELED, -ETIMEDOUT, -EPERM, -EINVAL, -ENOMEM. */
CURIO_API int curio_semaphore_acquire(curio_semaphore *s);
/* Give a slot back. Never blocks. Returns 0, -EOVERFLOW (a bounded semaphore already at
 * its initial value, Python's ValueError; or UINT_MAX), -EPERM, -EINVAL. */
CURIO_API int curio_semaphore_release(curio_semaphore *s);
/* The value (free slots), and whether it is 0 (Curio's locked()). */
CURIO_API unsigned curio_semaphore_value(const curio_semaphore *s);
CURIO_API bool curio_semaphore_locked(const curio_semaphore *s);

/* ------------------------------------------------------------------------------------ */
/* Condition                                                                            */
/* ------------------------------------------------------------------------------------ */

/*
 * A condition variable (Curio's Condition) over a curio_lock: its own (CURIO_CONDITION_INIT,
 * or all zero), or one given with CURIO_CONDITION_INIT_LOCK(&lock), which must outlive it.
 * wait, wait_for and notify require the lock to be held (-EPERM otherwise, Python's
 * RuntimeError), and wait returns with it held again, on every path:
 *
 *     curio_condition_acquire(&c);
 *     rc = curio_condition_wait_for(&c, queue_not_empty, q);  // waits, re-acquires
 *     if (rc == 0) take_one(q);
 *     curio_condition_release(&c);
 */
typedef struct curio_condition {
    /* private */
    void *thread;
    curio__waitq waiters;
    curio_lock *lock;             /* NULL: own_lock */
    curio_lock own_lock;
} curio_condition;
#define CURIO_CONDITION_INIT {0}
#define CURIO_CONDITION_INIT_LOCK(lockp) {NULL, {{NULL, NULL}}, (lockp), CURIO_LOCK_INIT}

/* The lock: acquire (blocking: LOCK_ACQUIRE), release, locked, as for curio_lock. */
CURIO_API int curio_condition_acquire(curio_condition *c);
CURIO_API int curio_condition_release(curio_condition *c);
CURIO_API bool curio_condition_locked(const curio_condition *c);
/*
 * Release the lock, wait to be notified (blocking: COND_WAIT), then take the lock again
 * (LOCK_ACQUIRE). Re-taking the lock is not interruptible, as in Curio (it runs under
 * disable_cancellation there): a cancellation or timeout that ends the wait is returned
 * once the lock is held again. A call that finds the task already cancelled or timed out
 * returns at once without releasing the lock. Returns 0 (notified), -ECANCELED,
 * -ETIMEDOUT, -ENOMEM (with the lock held in every case), or -EPERM (lock not held,
 * outside a task, another thread's condition), -EINVAL.
 */
CURIO_API int curio_condition_wait(curio_condition *c);
/* Wait until pred(arg) is true (Curio's wait_for): checks it first, and again each time
 * the task is notified, with the lock held. Returns 0 once it is true, or what
 * curio_condition_wait returned; the lock is held on return unless -EPERM/-EINVAL. */
CURIO_API int curio_condition_wait_for(curio_condition *c, bool (*pred)(void *arg), void *arg);
/* Wake up to n waiters / every waiter, in the order they began waiting. Never blocks.
 * Returns the number woken, or -EPERM (lock not held, another thread's), -EINVAL. */
CURIO_API int curio_condition_notify(curio_condition *c, unsigned n);
CURIO_API int curio_condition_notify_all(curio_condition *c);

/* ------------------------------------------------------------------------------------ */
/* Queues                                                                               */
/* ------------------------------------------------------------------------------------ */

/*
 * Queues of pointers between the tasks of one kernel (Curio's Queue, LifoQueue and
 * PriorityQueue), with an optional maximum size (0: unbounded).
 *
 * Items are `void *` values. The queue stores the pointer and never reads, copies or frees
 * what it points to; any value, NULL included, may be queued. An item belongs to the queue
 * from a successful put until a get returns it, and then to the getter; a put that fails
 * (-ECANCELED, -ETIMEDOUT, -ENOMEM ...) leaves it with the caller, and a get that fails
 * leaves *item untouched. Destroying a queue drops the items still in it without touching
 * them: take them out first (curio_queue_get_nowait) if they own memory.
 *
 *  - FIFO (curio_queue_create): first in, first out.
 *  - LIFO (curio_lifo_queue_create): the last item put comes out first.
 *  - Priority (curio_priority_queue_create): the item with the lowest int priority comes
 *    out first (as with Python's heapq), and items of equal priority in the order they
 *    were put. curio_queue_put uses priority 0.
 *
 * Every put adds one to the count of unfinished items, and task_done takes one off; join
 * waits until it is 0 (Curio's join/task_done). A put on a full queue waits; a put on an
 * unbounded queue never waits and never switches to another task.
 *
 * Back-pressure, as in Curio: an item is in the queue until a getter has run and taken it
 * out. A put that wakes a waiting getter leaves the item in the queue, promised to that
 * getter: it counts in curio_queue_size and toward maxsize (a put into a queue holding
 * maxsize items waits, even if they are all promised), and no other get can have it
 * (get_nowait returns -EAGAIN while every item is promised). The woken getter takes the
 * next item in the queue's order when it runs: the one that woke it, unless other tasks
 * took items meanwhile. Exactly once: a getter woken and then cancelled or timed out before
 * it ran still takes an item and succeeds (the interruption comes at its next blocking
 * call); a putter interrupted while waiting never gets its item in.
 */
typedef struct curio_queue curio_queue;

/* Create a queue that belongs to the calling thread (see the family rules above). Does not
 * block. Returns 0 and *out, or -EINVAL (out is NULL), -ENOMEM. */
CURIO_API int curio_queue_create(curio_queue **out, size_t maxsize);
CURIO_API int curio_lifo_queue_create(curio_queue **out, size_t maxsize);
CURIO_API int curio_priority_queue_create(curio_queue **out, size_t maxsize);
/* Free it. Returns 0, or -EBUSY (a task waits on it, or a woken getter has yet to take
 * its item: nothing is freed), -EPERM (another thread's), -EINVAL. Items still queued are
 * dropped, as said above. */
CURIO_API int curio_queue_destroy(curio_queue *q);

/* Put an item, waiting while the queue is full (blocking: QUEUE_PUT). If a task waits in
 * get, the first such task is woken and the item promised to it. Returns 0, -ECANCELED,
 * -ETIMEDOUT, -ENOMEM (the storage could not grow, or no room for a scope's deadline),
 * -EPERM (outside a task; another thread's queue), -EINVAL. */
CURIO_API int curio_queue_put(curio_queue *q, void *item);
/* The same with a priority; -EINVAL on a FIFO or LIFO queue. */
CURIO_API int curio_queue_put_prio(curio_queue *q, void *item, int priority);
/* Take the next item into *item, waiting while the queue is empty (blocking: QUEUE_GET).
 * If a task waits in put on a full queue, its item moves into the queue as the first such
 * task's put completes. Returns 0, -ECANCELED, -ETIMEDOUT, -ENOMEM, -EPERM, -EINVAL. */
CURIO_API int curio_queue_get(curio_queue *q, void **item);
/* put and get that never wait and are never cancellation points (not Curio's, but handy
 * in posted functions, outside tasks on the queue's thread, and to drain a queue): as
 * above, or -EAGAIN when they would have to wait. */
CURIO_API int curio_queue_put_nowait(curio_queue *q, void *item);
CURIO_API int curio_queue_get_nowait(curio_queue *q, void **item);
/* Mark one item done; the last one wakes every task in join. Never blocks. Returns 0,
 * -EINVAL (no unfinished item: Python's ValueError; or NULL), -EPERM. */
CURIO_API int curio_queue_task_done(curio_queue *q);
/* Wait until every item put has been marked done (blocking: QUEUE_JOIN); at once if none
 * is unfinished. Returns 0, -ECANCELED, -ETIMEDOUT, -EPERM, -EINVAL, -ENOMEM. */
CURIO_API int curio_queue_join(curio_queue *q);
/* Items in it, promised ones included (Curio's qsize()), whether there are none, whether
 * it holds maxsize (never for an unbounded queue). */
CURIO_API size_t curio_queue_size(const curio_queue *q);
CURIO_API bool curio_queue_empty(const curio_queue *q);
CURIO_API bool curio_queue_full(const curio_queue *q);

/* ------------------------------------------------------------------------------------ */
/* UniversalQueue and UniversalEvent                                                    */
/* ------------------------------------------------------------------------------------ */

/*
 * Thread-safe versions (Curio's UniversalQueue and UniversalEvent): one object shared by
 * tasks of any number of kernels and by plain pthreads, in any mix, at the same time.
 *
 *  - In a task, a call that has to wait is a blocking call (cancellation point, timeout
 *    scopes), and other tasks of its kernel run meanwhile. A task is woken from another
 *    thread through its kernel's post mechanism, with a wake-up record on its own stack,
 *    so a wake-up cannot fail or be lost.
 *  - On a thread without a kernel, a call that has to wait blocks the thread.
 *  - On a kernel's thread outside its tasks (main() around curio_kernel_run, a posted
 *    function), a call that would have to wait returns -EPERM rather than stall the
 *    kernel. Calls that need not wait work everywhere.
 *
 * The _timeout forms give up after `seconds` (a pthread's only way to time out; in a task
 * they work like a timeout scope around the call, and scopes and cancellation apply as
 * well): -ETIMEDOUT. 0 means "only if there is no need to wait"; negative or NaN is
 * -EINVAL; INFINITY never gives up.
 *
 * Back-pressure as for curio_queue: an item is in the queue until a getter has taken it
 * out. A put that wakes a waiting getter (task or thread) leaves the item in the queue,
 * promised to that getter, until it runs: it counts in size and toward maxsize, and no
 * other get can have it. The queue never holds more than maxsize items.
 *
 * An interrupted wait and the other side racing to satisfy it (a task timed out or
 * cancelled at the moment another thread wakes it; no caller can order the two): a getter
 * that was interrupted gives up the item promised to it, which stays in the queue (at the
 * front, or promised to the next waiting getter), and get returns the interruption; a put,
 * join or event wait that was satisfied succeeds, and the interruption is delivered at the
 * next blocking call. Every item is delivered exactly once.
 *
 * Items and ownership are as for curio_queue. The queue is FIFO.
 *
 * create/destroy: destroy only once no thread or task can still call the object (join
 * your threads first): -EBUSY (and nothing is freed) while anything waits on it, or a
 * woken getter has yet to take its item.
 */
typedef struct curio_universal_queue curio_universal_queue;
typedef struct curio_universal_event curio_universal_event;

/* Returns 0 and *out, or -EINVAL, -ENOMEM. Callable anywhere. */
CURIO_API int curio_universal_queue_create(curio_universal_queue **out, size_t maxsize);
CURIO_API int curio_universal_queue_destroy(curio_universal_queue *q);

/* Put, waiting while full (task state QUEUE_PUT). The first waiting getter, if any, is
 * woken and the item promised to it. Returns 0, -ECANCELED, -ETIMEDOUT, -EPERM (see
 * above), -ENOMEM (the ring could not grow, or no room for a scope's deadline), -EINVAL. */
CURIO_API int curio_universal_queue_put(curio_universal_queue *q, void *item);
CURIO_API int curio_universal_queue_put_timeout(curio_universal_queue *q, void *item,
                                                double seconds);
/* Get, waiting while empty (task state QUEUE_GET). Returns 0 and *item, or -ECANCELED,
 * -ETIMEDOUT, -EPERM, -ENOMEM, -EINVAL (*item untouched). */
CURIO_API int curio_universal_queue_get(curio_universal_queue *q, void **item);
CURIO_API int curio_universal_queue_get_timeout(curio_universal_queue *q, void **item,
                                                double seconds);
/* As curio_queue_task_done / join (task state QUEUE_JOIN). */
CURIO_API int curio_universal_queue_task_done(curio_universal_queue *q);
CURIO_API int curio_universal_queue_join(curio_universal_queue *q);
CURIO_API int curio_universal_queue_join_timeout(curio_universal_queue *q, double seconds);
/* Snapshots: other threads may change them at once. */
CURIO_API size_t curio_universal_queue_size(curio_universal_queue *q);
CURIO_API bool curio_universal_queue_empty(curio_universal_queue *q);
CURIO_API bool curio_universal_queue_full(curio_universal_queue *q);

/* An event shared by tasks and threads. Returns 0 and *out, -EINVAL, -ENOMEM. */
CURIO_API int curio_universal_event_create(curio_universal_event **out);
CURIO_API int curio_universal_event_destroy(curio_universal_event *e);
/* Set it and wake every waiter (tasks and threads). Never blocks on anything but the
 * object's own short-held mutex. Returns 0, -EINVAL. */
CURIO_API int curio_universal_event_set(curio_universal_event *e);
CURIO_API int curio_universal_event_clear(curio_universal_event *e);
CURIO_API bool curio_universal_event_is_set(curio_universal_event *e);
/* Wait until set (task state EVENT_WAIT). Returns 0, -ECANCELED, -ETIMEDOUT, -EPERM,
 * -ENOMEM, -EINVAL. */
CURIO_API int curio_universal_event_wait(curio_universal_event *e);
CURIO_API int curio_universal_event_wait_timeout(curio_universal_event *e, double seconds);

/* ------------------------------------------------------------------------------------ */
/* abide: a pthread mutex shared with threads                                           */
/* ------------------------------------------------------------------------------------ */

/*
 * Take a pthread mutex that plain threads also use, without blocking the kernel (Curio's
 * `async with abide(lock)`):
 *
 *     static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;   // shared with threads
 *     if (curio_abide_lock(&m) == 0) { ... critical section ...; curio_abide_unlock(&m); }
 *
 * The mutex ends up owned by the kernel's thread (a pthread mutex belongs to the thread
 * that locked it), so release it with curio_abide_unlock (or pthread_mutex_unlock) from
 * the same task, and never hold it across the task's end. The task may block while it
 * holds it; other tasks of the kernel go on running, and one of them that abides the same
 * mutex waits like any other contender.
 *
 * How it waits: a trylock on the kernel's thread; while the mutex is busy, a thread of the
 * pool waits for it to become free (locks and at once unlocks it), and the task tries
 * again. So the task takes it only on its own thread and never blocks the kernel. What it
 * guarantees:
 *  - Cancellation and timeouts: the wait is a blocking call (state LOCK_ACQUIRE) and
 *    returns -ECANCELED/-ETIMEDOUT promptly, without the mutex. The pool thread may still
 *    be waiting for the mutex then (it gives up within 10 ms, or takes and releases it
 *    once if it becomes free first): the mutex must stay valid that long.
 *  - No fairness: threads that lock the mutex in a tight loop may take it many times
 *    before the task does; tasks abiding the same mutex are not served in order either.
 *  - The mutex must not be recursive (a recursive trylock by the kernel's thread would let
 *    two tasks hold it at once), nor robust or priority-protected.
 *  - Taking a mutex the calling task already holds waits forever, as pthread_mutex_lock
 *    would (until cancelled or timed out here).
 * A free mutex is taken at once, without being a cancellation point. Returns 0 (held),
 * -ECANCELED, -ETIMEDOUT, -EPERM (outside a task), -EINVAL (NULL), -ENOMEM, -EAGAIN (no
 * pool thread could be started), or the negated pthread error of pthread_mutex_trylock
 * (or of the pool thread's pthread_mutex_timedlock) other than EBUSY/ETIMEDOUT.
 */
CURIO_API int curio_abide_lock(pthread_mutex_t *m);
/* pthread_mutex_unlock(m) as a curio result: 0, -EPERM (an error-checking mutex the
 * caller's thread does not hold), -EINVAL. Never blocks. */
CURIO_API int curio_abide_unlock(pthread_mutex_t *m);

#ifdef __cplusplus
}
#endif
#endif /* CURIO_SYNC_H */
