/*
 * kernel/gate.h - the one lifetime rule of every handle that tasks block on (sockets,
 * listening sockets, channels and their connections, streams and files, processes,
 * signal watchers).
 *
 * The rule. A handle lives until its owner has closed it *and* every call in progress on
 * it has returned. Closing wakes the tasks blocked in those calls; each of them, and
 * every other call in progress at the close, returns -EBADF, even one whose operation
 * completed meanwhile (its result is dropped: whoever closed the handle has no further
 * use for it, and a task that saw a success would call again on a handle about to be
 * freed). The last of them to leave frees the handle. So a task may use its pointer
 * until a call on it returns -EBADF, and never after: that call may have freed it.
 *
 * The gate is embedded in the handle:
 *
 *     rc = curio__gate_enter(&h->gate, self, dirs);   -EBADF, -EBUSY, or 0
 *     ... the blocking call ...
 *     if (curio__gate_leave(&h->gate, dirs, &rc))     rc became -EBADF if closed meanwhile
 *         handle_free(h);                             the last one out after close
 *
 *     close:  if (curio__gate_close(&h->gate)) handle_free(h);   else the last user frees
 *
 * Besides the count, the gate holds one task per direction (Curio's ResourceBusy: a
 * second reader gets -EBUSY instead of interleaving with the first) and the refusal of
 * a handle lent out by a blocking() escape. Handles whose descriptor is claimed in the
 * kernel's table instead (plain sockets: curio__op_begin_fd) enter with dirs = 0.
 *
 * Cost: enter is a few loads, two compares and two stores; leave one decrement and one
 * predictable branch. Nothing here allocates or blocks.
 */
#ifndef CURIO_KERNEL_GATE_H
#define CURIO_KERNEL_GATE_H

#include "kernel.h"

#include <fcntl.h>

enum { CURIO__GATE_READ = 1, CURIO__GATE_WRITE = 2, CURIO__GATE_BOTH = 3 };

typedef struct curio__gate {
    unsigned users;        /* calls in progress (a nested call of the same task counts
                              again); the handle is freed only once this is 0 */
    bool closing;          /* the owner closed it: every call in progress returns -EBADF,
                              and the last one to leave frees it */
    bool lent;             /* handed out by a blocking() escape: calls get -EBUSY */
    bool lent_nonblock;    /* O_NONBLOCK was set when lent: unlend sets it again */
    curio__task *reader;   /* the task in a read-side call, or NULL */
    curio__task *writer;   /* the task in a write-side call, or NULL */
    const void *home;      /* the kernel of a curio_cores_run that first entered it
                              (curio__tls_core), or NULL: calls from another kernel of
                              a run get -EXDEV (kernel/cores.c) */
} curio__gate;

/* Enter g for the directions in dirs (CURIO__GATE_*, or 0 for none) as task self:
 * 0, -EBADF (closed), -EBUSY (lent, or another task holds one of the directions). A task
 * holding a direction is not refused it again, but the claim is not counted: the first
 * leave releases it, so calls on one handle must not nest (sendall enters once for all
 * its sends; a stream's read that flushes borrows the writer slot by hand). */
static inline int curio__gate_enter(curio__gate *g, curio__task *self, unsigned dirs)
{
    if (__builtin_expect(g->closing, 0))
        return -EBADF;
    /* A handle in use belongs to one kernel of a run: the first to enter it. Outside a
     * run curio__tls_core is NULL and nothing is checked. */
    const void *core = curio__tls_core;
    if (__builtin_expect(core != NULL, 0)) {
        if (!g->home)
            g->home = core;
        else if (g->home != core)
            return -EXDEV;
    }
    if (__builtin_expect(g->lent, 0))
        return -EBUSY;
    if ((dirs & CURIO__GATE_READ) && g->reader && g->reader != self)
        return -EBUSY;
    if ((dirs & CURIO__GATE_WRITE) && g->writer && g->writer != self)
        return -EBUSY;
    if (dirs & CURIO__GATE_READ)
        g->reader = self;
    if (dirs & CURIO__GATE_WRITE)
        g->writer = self;
    g->users++;
    return 0;
}

/* Leave what curio__gate_enter entered. If the handle was closed meanwhile, *rc becomes
 * -EBADF; returns true when the caller was the last one out of a closed handle and must
 * free it now (and touch it no more). */
static inline bool curio__gate_leave_rc(curio__gate *g, unsigned dirs, int *rc)
{
    if (dirs & CURIO__GATE_READ)
        g->reader = NULL;
    if (dirs & CURIO__GATE_WRITE)
        g->writer = NULL;
    g->users--;
    if (__builtin_expect(!g->closing, 1))
        return false;
    *rc = -EBADF;
    return g->users == 0;
}

/* The same for calls that return a count. */
static inline bool curio__gate_leave(curio__gate *g, unsigned dirs, ssize_t *rc)
{
    int r = 0;
    bool last = curio__gate_leave_rc(g, dirs, &r);
    if (__builtin_expect(r < 0, 0))
        *rc = r;
    return last;
}

/* Hold g without being in a call: counted as a user, so that the handle outlives the
 * hold. For a closer whose own close may yield (closing a stream inside a task waits for
 * its io_uring close: a user leaving meanwhile must not free the handle under it), and
 * for a layer that keeps a handle around user code (a server around its handler). */
static inline void curio__gate_hold(curio__gate *g) { g->users++; }

/* Release a hold: true when the caller must free the handle now (closed, last out). */
static inline bool curio__gate_release(curio__gate *g)
{
    int rc = 0;
    return curio__gate_leave_rc(g, 0, &rc);
}

/* The owner closes g: the calls in progress will return -EBADF, and the tasks in the
 * read and write directions are woken now (an operation they wait for is cancelled; its
 * own completion is still awaited, so no buffer is left in flight). Other users (a
 * handle without directions) are woken by the caller, who knows where they wait.
 * Returns true when nobody is inside: the caller frees the handle now. */
static inline bool curio__gate_close(curio__gate *g)
{
    g->closing = true;
    if (g->users == 0)
        return true;
    if (g->reader)
        curio__interrupt(g->reader, -EBADF);
    if (g->writer && g->writer != g->reader)
        curio__interrupt(g->writer, -EBADF);
    return false;
}

/* The blocking() escape: lend the handle's descriptor fd out for blocking use by the
 * caller's own code. Clears O_NONBLOCK (remembered) and refuses every call until
 * curio__gate_unlend. The caller has checked that nobody waits on fd and nothing is
 * buffered. Returns fd, or -errno (nothing changed). */
static inline int curio__gate_lend(curio__gate *g, int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if ((fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
        return -errno;
    g->lent = true;
    g->lent_nonblock = fl & O_NONBLOCK;
    return fd;
}

/* Take it back (fd < 0: the descriptor is gone; nothing to restore). */
static inline void curio__gate_unlend(curio__gate *g, int fd)
{
    g->lent = false;
    if (g->lent_nonblock && fd >= 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
    g->lent_nonblock = false;
}

#endif
