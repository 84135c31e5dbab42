/*
 * proc/signal.c - reading signals for the watchers of one kernel (the "hub").
 *
 * One hub per kernel: a signalfd whose mask is the union of its watchers' signals, and a
 * daemon task ("curio.signals", Curio's kernel task that waits on its signal socket)
 * that polls it through the ring and reads what arrived. The read itself is a plain
 * non-blocking read(2) on the kernel's thread: a signalfd hands out the signals pending
 * for the thread that reads it (the process's, and this thread's own), so the read must
 * not be done by an io-wq worker. The poll only says when to read.
 *
 * Arrivals are read, and given to every watcher of the signal, whenever the reader wakes,
 * and also synchronously when a watcher comes (what was pending already) and goes (what
 * arrived but was not read yet, so that unblocking it afterwards does not deliver it with
 * its default action).
 *
 * Lifetime: the hub is referenced by each watcher and by its running reader. When the
 * last watcher goes, the hub stops (it reads nothing more: the old reader must not take
 * a signal that a newer hub's watchers wait for), the reader is cancelled, and the
 * thread's current hub is forgotten; a new watcher then makes a new hub. The last
 * reference frees it and closes the signalfd.
 */
#include "proc.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct curio__sighub {
    curio_kernel *k;
    int fd;                   /* the signalfd (non-blocking) */
    curio__task *reader;      /* the reader task while it runs (we hold no handle) */
    curio__list watchers;     /* attached, oldest first (delivery order), by node */
    unsigned refs;            /* watchers + the running reader */
    bool stopping;            /* no watcher left: read nothing more */
};

static __thread struct curio__sighub *current;

static void hub_unref(struct curio__sighub *h)
{
    if (--h->refs > 0)
        return;
    if (current == h)
        current = NULL;
    close(h->fd);
    free(h);
}

static void drain(struct curio__sighub *h)
{
    struct signalfd_siginfo si[16];
    for (;;) {
        ssize_t n = read(h->fd, si, sizeof si);
        if (n <= 0)
            return; /* -EAGAIN: nothing (more) pending */
        size_t count = (size_t)n / sizeof si[0];
        for (size_t i = 0; i < count; i++)
            curio__list_foreach_entry(w, &h->watchers, curio__sigwatch, node)
                if (sigismember(&w->set, (int)si[i].ssi_signo))
                    curio__sigwatch_deliver(w, (int)si[i].ssi_signo);
        if (count < sizeof si / sizeof si[0])
            return;
    }
}

static int poll_readable(int fd)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin(&op, &sqe);
    if (rc < 0)
        return rc;
    io_uring_prep_poll_add(sqe, fd, POLLIN);
    return curio__op_wait(&op, sqe, "READ_WAIT");
}

static long reader_main(void *arg)
{
    struct curio__sighub *h = arg;
    while (!h->stopping) {
        if (poll_readable(h->fd) < 0)
            break; /* cancelled: the last watcher went, or the kernel shuts down */
        if (!h->stopping)
            drain(h);
    }
    h->reader = NULL;
    hub_unref(h);
    return 0;
}

static int start_reader(struct curio__sighub *h)
{
    if (h->reader || h->stopping)
        return 0;
    curio_task *t;
    curio_spawn_options o = {.name = "curio.signals", .daemon = true};
    int rc = curio_spawn_ex(&t, reader_main, h, &o);
    if (rc < 0)
        return rc;
    h->reader = t;
    curio__task_set_internal(t); /* cancelled from outside, no watcher would hear a signal again */
    h->refs++;
    curio_task_release(t); /* h->reader stays valid until reader_main returns */
    return 0;
}

static int set_mask(struct curio__sighub *h)
{
    sigset_t all;
    sigemptyset(&all);
    curio__list_foreach_entry(w, &h->watchers, curio__sigwatch, node)
        sigorset(&all, &all, &w->set);
    return signalfd(h->fd, &all, 0) < 0 ? -errno : 0;
}

static void unlink_watch(struct curio__sighub *h, curio__sigwatch *w)
{
    curio__list_remove(&h->watchers, &w->node);
}

/* With the ucontext switch (-Dcontext=ucontext) every context carries a signal mask of its
 * own, which swapcontext restores: a signal blocked here would be unblocked again at the
 * next switch, and delivered with its default action. The signals must then have been
 * blocked before the kernel started (curio_enable_signals in main()). */
static int blocked_for_every_context(const sigset_t *set)
{
#ifdef CURIO_CTX_UCONTEXT
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    for (int s = 1; s < NSIG; s++)
        if (sigismember(set, s) == 1 && !sigismember(&now, s))
            return -ENOTSUP;
#else
    (void)set;
#endif
    return 0;
}

int curio__sigwatch_attach(curio__sigwatch *w)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    int rc = blocked_for_every_context(&w->set);
    if (rc < 0)
        return rc;
    struct curio__sighub *h = current;
    bool fresh = !h || h->k != curio__task_kernel(self); /* a hub left by an earlier kernel is not ours */
    if (fresh) {
        h = calloc(1, sizeof *h);
        if (!h)
            return -ENOMEM;
        h->k = curio__task_kernel(self);
        h->fd = signalfd(-1, &w->set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (h->fd < 0) {
            int rc = -errno;
            free(h);
            return rc;
        }
    }
    curio__signals_watch(&w->set);
    w->hub = h;
    curio__list_push_back(&h->watchers, &w->node);
    h->refs++;
    rc = set_mask(h);
    if (rc == 0)
        rc = start_reader(h);
    if (rc < 0) {
        unlink_watch(h, w);
        curio__signals_unwatch(&w->set);
        set_mask(h);
        if (fresh)
            h->stopping = true;
        hub_unref(h);
        return rc;
    }
    if (fresh)
        current = h;
    drain(h);
    return 0;
}

int curio__sigwatch_reading(curio__sigwatch *w) { return start_reader(w->hub); }

void curio__sigwatch_detach(curio__sigwatch *w)
{
    struct curio__sighub *h = w->hub;
    if (!h->stopping)
        drain(h);
    unlink_watch(h, w);
    set_mask(h);
    curio__signals_unwatch(&w->set);
    if (curio__list_empty(&h->watchers)) {
        h->stopping = true;
        if (current == h)
            current = NULL;
        if (h->reader)
            curio_cancel_nowait(h->reader);
    }
    w->hub = NULL;
    hub_unref(h);
}
