/*
 * kernel/cores.c - a kernel per core (curio/cores.h): curio_cores_run starts N threads,
 * each with a kernel running the same main task; posts and spawns between them.
 *
 * A run goes through these steps on every kernel's thread ("member"):
 *  1. create the kernel; wait at the `created` barrier with the others and the caller,
 *     so that every kernel exists before any main starts (a failure on one: none runs);
 *  2. run the main task, which calls the user's main; a main that ended with stop_all
 *     set and a negative result cancels the other mains (a heap post to each);
 *  3. the main task, its user main done, waits (deaf to cancellation) for the `end`
 *     post that the last main to end sends to every member: until then the kernel keeps
 *     serving its other tasks and the posts and spawns of the others;
 *  4. it closes the member (posts and spawns to it now fail with -ESRCH, and a spawn post
 *     that was already queued makes no task), cancels every other task of its kernel and
 *     waits for each, and waits until the MSG_RING wake-ups it sent have completed;
 *  5. it waits at the `ended` barrier for every member to be there: from then on no task
 *     of the run is left that could post, and no MSG_RING is in flight towards a ring,
 *     so each thread destroys its kernel with no other kernel touching it.
 *
 * The caller's thread (the "runner") blocks SIGINT and SIGTERM, starts the threads (which
 * inherit the block), and waits in poll(2) on a signalfd for those two and on an eventfd
 * that the last thread to finish writes. A signal is read there, once, and fanned out:
 * every member's main is cancelled by a post.
 */
#include "core.h"
#include "introspect.h"
#include "waitq.h"
#include "curio/cores.h"

#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

struct run;

struct member {
    struct run *run;
    unsigned index;
    pthread_t thread;
    bool started;                /* the thread was created */
    curio_kernel *k;             /* its kernel, from step 1 until the thread destroys it */
    int create_rc;
    pthread_mutex_t lock;        /* guards open (posts from every thread read it) */
    bool open;                   /* posts and spawns accepted (steps 2 and 3) */
    /* the member's own thread only: */
    bool closing;                /* step 4 begun: a spawn post makes no task */
    bool ended;                  /* the end post arrived */
    bool stop;                   /* a stop (cancel the main) was asked for */
    bool fn_done;                /* the user's main has returned */
    curio__task *main;           /* the main task */
    long result;
    curio__post end_post;
    /* the registry the monitor reads (curio__cores_visit), under the run's reg_lock */
    curio_kernel *live;          /* k while it may be read from another thread, else NULL */
    int tid;                     /* the member's thread (gettid) */
};

struct run {
    curio_core_fn fn;
    void *arg;
    curio_cores_options o;
    const curio_options *kopts;
    unsigned n;
    struct member *m;
    pthread_mutex_t reg_lock;    /* guards every member's live and tid */
    pthread_mutex_t gate_lock;   /* step 1's gate: threads count in, the runner opens it */
    pthread_cond_t gate_cond;
    unsigned arrived;
    bool go;
    pthread_barrier_t ended;
    _Atomic bool create_failed;
    _Atomic unsigned running;    /* mains not yet ended */
    _Atomic unsigned threads;    /* threads not yet finished */
    _Atomic long first_failure;  /* the first negative main result, or 0 */
    _Atomic bool signalled;
    int done_fd;                 /* eventfd: the last thread to finish writes it */
    bool msg_ring;               /* wake-ups by IORING_OP_MSG_RING */
    cpu_set_t cpus;
    int ncpus;
};

static __thread struct member *tls_member;
__thread const void *curio__tls_core __attribute__((tls_model("initial-exec")));

/* ---- posts between members ---- */

/* Queue p on member t's kernel: -ESRCH once t is closed. From a member of the same run
 * the wake-up goes by MSG_RING when the run uses it. */
static int member_post(struct member *t, curio__post *p)
{
    pthread_mutex_lock(&t->lock);
    if (!t->open) {
        pthread_mutex_unlock(&t->lock);
        return -ESRCH;
    }
    curio__post_node(t->k, p); /* by MSG_RING from a kernel of the run (ring.c) */
    pthread_mutex_unlock(&t->lock);
    return 0;
}

static int heap_post(struct member *t, void (*fn)(void *), void *arg)
{
    curio__post *p = malloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    p->fn = fn;
    p->arg = arg;
    p->heap = true;
    int rc = member_post(t, p);
    if (rc < 0)
        free(p);
    return rc;
}

int curio_core_index(void) { return tls_member ? (int)tls_member->index : -1; }
unsigned curio_core_count(void) { return tls_member ? tls_member->run->n : 0; }

curio_kernel *curio_core_kernel(unsigned index)
{
    struct member *me = tls_member;
    return me && index < me->run->n ? me->run->m[index].k : NULL;
}

int curio_core_post(unsigned index, void (*fn)(void *), void *arg)
{
    struct member *me = tls_member;
    if (!me)
        return -EPERM;
    if (!fn || index >= me->run->n)
        return -EINVAL;
    return heap_post(&me->run->m[index], fn, arg);
}

/* ---- stopping mains ---- */

/* On member m's thread: cancel its main (now, or as it starts). */
static void stop_main(void *arg)
{
    struct member *m = arg;
    m->stop = true;
    if (m->main && !m->fn_done)
        curio_cancel_nowait(m->main);
}

/* Cancel every main but skip's (NULL: all). Heap posts, since a stop may be asked for
 * several times; a member already closed has no main to stop. */
static void stop_mains(struct run *r, struct member *skip)
{
    for (unsigned i = 0; i < r->n; i++)
        if (&r->m[i] != skip)
            heap_post(&r->m[i], stop_main, &r->m[i]);
}

static void end_arrived(void *arg)
{
    struct member *m = arg;
    m->ended = true;
    if (m->main && m->main->parked)
        curio__ready_with(m->main, 0);
}

/* Step 4: cancel every task of the kernel but the caller, and wait for each; tasks that
 * cleanup code spawns are cancelled in turn. Then wait for the MSG_RINGs sent. */
static void close_member(struct member *m, curio__task *self)
{
    m->closing = true;
    pthread_mutex_lock(&m->lock);
    m->open = false;
    pthread_mutex_unlock(&m->lock);
    curio_scope sc;
    bool nocancel = curio_disable_cancellation(&sc) == 0;
    for (;;) {
        curio__task *t = curio__tasks_first(m->k);
        while (t && (t == self || t->done))
            t = curio__tasks_next(t);
        if (!t)
            break;
        curio_task_retain(t);
        curio_cancel_nowait(t);
        while (!t->done) {
            curio__waiter w;
            curio__waitq_wait(&t->joiners, &w, "CORES_CLOSE");
        }
        curio_task_release(t);
    }
    while (m->k->msg_inflight)
        curio_sleep(0);
    if (nocancel)
        curio_scope_close(&sc);
}

static long member_main(void *arg)
{
    struct member *m = arg;
    struct run *r = m->run;
    curio__task *self = curio__self();
    m->main = self;
    long res = -ECANCELED;
    if (!m->stop)
        res = r->fn(m->index, r->arg);
    m->fn_done = true;
    m->result = res;
    if (res < 0) {
        long zero = 0, f = res < INT_MIN ? INT_MIN : res;
        atomic_compare_exchange_strong(&r->first_failure, &zero, f);
        if (r->o.stop_all)
            stop_mains(r, m);
    }
    if (atomic_fetch_sub(&r->running, 1) == 1)
        for (unsigned i = 0; i < r->n; i++)
            member_post(&r->m[i], &r->m[i].end_post);
    while (!m->ended)
        curio__park_nointr(self, "CORES_END");
    close_member(m, self);
    m->main = NULL;
    pthread_barrier_wait(&r->ended);
    return res;
}

/* ---- the threads ---- */

static void member_finish(struct member *m)
{
    struct run *r = m->run;
    tls_member = NULL;
    curio__tls_core = NULL;
    if (atomic_fetch_sub(&r->threads, 1) == 1) {
        uint64_t one = 1;
        ssize_t w = write(r->done_fd, &one, sizeof one);
        (void)w;
    }
}

static void *member_thread(void *arg)
{
    struct member *m = arg;
    struct run *r = m->run;
    tls_member = m;
    curio__tls_core = m;
    if (r->o.pin && r->ncpus > 0) {
        int want = (int)(m->index % (unsigned)r->ncpus), seen = 0;
        for (int c = 0; c < CPU_SETSIZE; c++) {
            if (!CPU_ISSET(c, &r->cpus))
                continue;
            if (seen++ == want) {
                cpu_set_t one;
                CPU_ZERO(&one);
                CPU_SET(c, &one);
                pthread_setaffinity_np(pthread_self(), sizeof one, &one);
                break;
            }
        }
    }
    m->create_rc = curio_kernel_create(&m->k, r->kopts);
    if (m->create_rc < 0) {
        m->k = NULL;
        atomic_store(&r->create_failed, true);
    } else {
        m->k->run = r;
        m->k->msg_ring = r->msg_ring;
        pthread_mutex_lock(&r->reg_lock);
        m->live = m->k;
        m->tid = (int)syscall(SYS_gettid);
        pthread_mutex_unlock(&r->reg_lock);
    }
    pthread_mutex_lock(&r->gate_lock);
    r->arrived++;
    pthread_cond_broadcast(&r->gate_cond);
    while (!r->go)
        pthread_cond_wait(&r->gate_cond, &r->gate_lock);
    pthread_mutex_unlock(&r->gate_lock);
    if (m->k && !atomic_load(&r->create_failed)) {
        long res = 0;
        curio_kernel_run(m->k, member_main, m, &res);
    }
    pthread_mutex_lock(&r->reg_lock);
    m->live = NULL;
    pthread_mutex_unlock(&r->reg_lock);
    if (m->k)
        curio_kernel_destroy(m->k);
    m->k = NULL;
    member_finish(m);
    return NULL;
}

/* ---- the runner ---- */

/* Wait for the threads to finish, reading SIGINT/SIGTERM from sfd meanwhile (-1: none). */
static void runner_wait(struct run *r, int sfd)
{
    struct pollfd p[2] = {{.fd = r->done_fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    for (;;) {
        int n = poll(p, sfd >= 0 ? 2 : 1, -1);
        if (n < 0)
            continue; /* EINTR */
        if (p[0].revents)
            return;
        if (sfd >= 0 && p[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (atomic_load(&r->running) == 0)
                    continue; /* every main has ended: nothing to stop */
                if (r->o.signo)
                    *r->o.signo = (int)si.ssi_signo;
                atomic_store(&r->signalled, true);
                stop_mains(r, NULL);
            }
        }
    }
}

int curio_cores_run(curio_core_fn fn, void *arg, const curio_cores_options *opts)
{
    curio_cores_options none = {0};
    const curio_cores_options *o = opts ? opts : &none;
    if (!fn || o->kernels > CURIO_CORES_MAX)
        return -EINVAL;
    if (tls_member)
        return -EBUSY;
    unsigned n = o->kernels;
    if (!n) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c < 1 ? 1 : c > CURIO_CORES_MAX ? CURIO_CORES_MAX : (unsigned)c;
    }
    if (o->signo)
        *o->signo = 0;
    struct run *r = calloc(1, sizeof *r);
    struct member *m = calloc(n, sizeof *m);
    if (!r || !m) {
        free(r);
        free(m);
        return -ENOMEM;
    }
    r->fn = fn;
    r->arg = arg;
    r->o = *o;
    r->kopts = o->kernel;
    r->n = n;
    r->m = m;
    atomic_init(&r->running, n);
    atomic_init(&r->threads, n);
    const char *env = getenv("CURIO_MSG_RING");
    r->msg_ring = curio__op_supported(IORING_OP_MSG_RING) && !(env && curio__env_no(env));
    if (o->pin && sched_getaffinity(0, sizeof r->cpus, &r->cpus) == 0)
        r->ncpus = CPU_COUNT(&r->cpus);
    r->done_fd = eventfd(0, EFD_CLOEXEC);
    if (r->done_fd < 0) {
        int rc = -errno;
        free(m);
        free(r);
        return rc;
    }
    for (unsigned i = 0; i < n; i++) {
        m[i].run = r;
        m[i].index = i;
        m[i].open = true;
        pthread_mutex_init(&m[i].lock, NULL);
        m[i].end_post = (curio__post){.fn = end_arrived, .arg = &m[i]};
    }
    pthread_mutex_init(&r->gate_lock, NULL);
    pthread_mutex_init(&r->reg_lock, NULL);
    pthread_cond_init(&r->gate_cond, NULL);
    pthread_barrier_init(&r->ended, NULL, n);

    sigset_t sigs, old;
    sigemptyset(&sigs);
    int sfd = -1;
    if (!o->no_signals) {
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &sigs, &old);
        sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    }
    int rc = 0;
    unsigned started = 0;
    for (; started < n; started++) {
        int e = pthread_create(&m[started].thread, NULL, member_thread, &m[started]);
        if (e) {
            rc = -EAGAIN;
            break;
        }
        m[started].started = true;
    }
    if (started < n) {
        /* None runs its main; the threads that started destroy their kernels. */
        atomic_store(&r->create_failed, true);
        atomic_fetch_sub(&r->threads, n - started);
        for (unsigned i = started; i < n; i++)
            m[i].create_rc = rc;
    }
    /* Every started thread has created its kernel (or failed to): open the gate. */
    pthread_mutex_lock(&r->gate_lock);
    while (r->arrived < started)
        pthread_cond_wait(&r->gate_cond, &r->gate_lock);
    r->go = true;
    pthread_cond_broadcast(&r->gate_cond);
    pthread_mutex_unlock(&r->gate_lock);
    if (started)
        runner_wait(r, sfd);
    for (unsigned i = 0; i < n; i++)
        if (m[i].started)
            pthread_join(m[i].thread, NULL);
    if (sfd >= 0) {
        close(sfd);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    close(r->done_fd);
    if (rc == 0)
        for (unsigned i = 0; i < n; i++)
            if (m[i].create_rc < 0) {
                rc = m[i].create_rc;
                break;
            }
    if (rc == 0) {
        if (atomic_load(&r->signalled))
            rc = -EINTR;
        else
            rc = (int)atomic_load(&r->first_failure);
    }
    for (unsigned i = 0; i < n; i++) {
        if (o->results)
            o->results[i] = m[i].result;
        pthread_mutex_destroy(&m[i].lock);
    }
    pthread_mutex_destroy(&r->gate_lock);
    pthread_mutex_destroy(&r->reg_lock);
    pthread_cond_destroy(&r->gate_cond);
    pthread_barrier_destroy(&r->ended);
    free(m);
    free(r);
    return rc;
}

/* ---- tasks spawned on another kernel ----
 *
 * The handle lives on the spawning kernel ("origin"); the task on the target. They talk by
 * posts whose nodes are in the record: the spawn and the cancel go to the target, the
 * end comes back to the origin. Two references keep the record: the handle's and the
 * target side's (dropped when the end has reached the origin, or could not: the origin
 * closed), and one more for a cancel post on its way. Fields are written on one side
 * before a post and read on the other after it: the post lock orders them.
 */
struct curio_core_task {
    _Atomic unsigned refs;
    struct member *origin, *target;
    curio_task_fn fn;
    void *arg;
    curio__task *task;           /* target's thread: the task while it runs */
    long result;                 /* the task's return value, and how it ended */
    int status;                  /* 0, CURIO_ETASKCANCELLED, -ESRCH, -ENOMEM */
    bool done;                   /* origin's thread: the end arrived */
    bool cancel_sent;            /* origin's thread */
    curio__waitq joiners;        /* origin's thread */
    curio__post spawn_post, done_post, cancel_post;
};

static void core_task_unref(curio_core_task *f)
{
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
        free(f);
}

/* On the origin's thread: the task's end arrived. */
static void core_task_done(void *arg)
{
    curio_core_task *f = arg;
    f->done = true;
    curio__waitq_wake_all(&f->joiners);
    core_task_unref(f);
}

/* On the target's thread: tell the origin how the task ended. */
static void core_task_finish(curio_core_task *f, int status, long result)
{
    f->status = status;
    f->result = result;
    if (member_post(f->origin, &f->done_post) < 0)
        core_task_unref(f); /* the origin is closing: nobody will join */
}

static long core_task_main(void *arg)
{
    curio_core_task *f = arg;
    curio__task *self = curio__self();
    long r = f->fn(f->arg);
    f->task = NULL;
    bool cancelled = r == -ECANCELED && self->cancel_requested;
    core_task_finish(f, cancelled ? CURIO_ETASKCANCELLED : 0, r);
    return r;
}

static void core_task_start(void *arg)
{
    curio_core_task *f = arg;
    struct member *m = f->target;
    if (m->closing) {
        core_task_finish(f, -ESRCH, 0);
        return;
    }
    curio_spawn_options o = {.name = "core-task"};
    curio__task *t;
    int rc = curio__spawn(m->k, NULL, &t, core_task_main, f, &o);
    if (rc < 0) {
        core_task_finish(f, rc, 0);
        return;
    }
    f->task = t;
    curio_task_release(t); /* f->task is cleared by the task itself as it ends */
}

static void core_task_cancel(void *arg)
{
    curio_core_task *f = arg;
    if (f->task)
        curio_cancel_nowait(f->task);
    core_task_unref(f);
}

int curio_core_spawn(curio_core_task **out, unsigned index, curio_task_fn fn, void *arg)
{
    struct member *me = tls_member;
    if (!me || !curio__self())
        return -EPERM;
    if (!out || !fn || index >= me->run->n)
        return -EINVAL;
    curio_core_task *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    atomic_init(&f->refs, 2);
    f->origin = me;
    f->target = &me->run->m[index];
    f->fn = fn;
    f->arg = arg;
    f->spawn_post = (curio__post){.fn = core_task_start, .arg = f};
    f->done_post = (curio__post){.fn = core_task_done, .arg = f};
    f->cancel_post = (curio__post){.fn = core_task_cancel, .arg = f};
    int rc = member_post(f->target, &f->spawn_post);
    if (rc < 0) {
        free(f);
        return rc;
    }
    *out = f;
    return 0;
}

int curio_core_join(curio_core_task *f, long *result)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (!f)
        return -EINVAL;
    if (tls_member != f->origin)
        return -EXDEV;
    while (!f->done) {
        curio__waiter w;
        int rc = curio__waitq_wait(&f->joiners, &w, "CORE_JOIN");
        if (rc < 0)
            return rc;
    }
    if (f->status == 0 && result)
        *result = f->result;
    return f->status;
}

int curio_core_cancel(curio_core_task *f)
{
    if (!f)
        return -EINVAL;
    if (tls_member != f->origin)
        return -EXDEV;
    if (f->done || f->cancel_sent)
        return 0;
    f->cancel_sent = true;
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    if (member_post(f->target, &f->cancel_post) < 0)
        core_task_unref(f); /* the target is closing: it cancels its tasks itself */
    return 0;
}

bool curio_core_done(const curio_core_task *f) { return f && f->done; }

void curio_core_release(curio_core_task *f)
{
    if (f)
        core_task_unref(f);
}

/* ---- the registry the monitor reads ---- */

const void *curio__core_run(void) { return tls_member ? tls_member->run : NULL; }

unsigned curio__cores_visit(const void *run,
                            void (*fn)(void *arg, unsigned index, int tid, curio_kernel *k),
                            void *arg)
{
    struct run *r = (struct run *)run;
    pthread_mutex_lock(&r->reg_lock);
    for (unsigned i = 0; i < r->n; i++)
        if (r->m[i].live)
            fn(arg, i, r->m[i].tid, r->m[i].live);
    pthread_mutex_unlock(&r->reg_lock);
    return r->n;
}
