/*
 * proc/process_pool.c - Curio's run_in_process: a pool of forked worker processes per
 * thread (so per kernel), bounded in size, and the call that sends one function to one.
 *
 * A worker is a fork of the calling program (worker.c shows what the child does) with a
 * socket pair to its pool, read and written as a curio stream, and a pidfd. The pool
 * keeps idle workers for later calls, most recently used first. A call takes an idle
 * worker (checking first that it has not died meanwhile), or forks one if the pool is
 * below its size, or waits (state WORKER_WAIT) to be handed one by a call that ends:
 * either a worker, or, when a worker was retired, its place, for a fresh fork.
 *
 * A worker whose call was interrupted after any byte of the request went out is killed
 * and reaped before the call returns (Curio terminates it too): it may be running the
 * function, or hold half a request. A call interrupted before that gives the worker
 * back. A worker that dies during a call (end of stream) is reaped and the call fails
 * with CURIO_EWORKERDIED; the next call gets a fresh worker.
 */
#include "proc.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct worker {
    struct worker *next;      /* the idle list */
    pid_t pid;
    int pidfd;
    curio_stream *s;          /* over our end of the socket pair */
    uint64_t generation;      /* the pool's when forked: an older one retires on release */
};

static __thread struct {
    struct worker *idle;
    size_t live;              /* workers forked and not retired, plus places handed over */
    size_t max;               /* 0: the number of online CPUs */
    uint64_t generation;      /* bumped by shutdown */
    curio__waitq waiters;     /* calls waiting for a worker */
    bool registered;          /* the thread-exit destructor knows the pool */
} pool;

/* Handed to a waiter instead of a worker: "fork one in the place of a retired one". */
static char place_token;

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void on_thread_exit(void *unused)
{
    (void)unused;
    curio_process_pool_shutdown();
}

static void make_key(void) { pthread_key_create(&exit_key, on_thread_exit); }

static void register_pool(void)
{
    if (pool.registered)
        return;
    pthread_once(&exit_once, make_key);
    pthread_setspecific(exit_key, &pool); /* any non-NULL value runs the destructor */
    pool.registered = true;
}

static size_t pool_max(void)
{
    if (pool.max)
        return pool.max;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

static void worker_close(struct worker *w)
{
    curio_stream_close(w->s);
    free(w);
}

/* ---- starting a worker ---- */

static int fork_worker(struct worker **out)
{
    struct worker *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        int rc = -errno;
        free(w);
        return rc;
    }
    curio_stream_options so = {.buffer_size = 4096};
    int rc = curio_stream_open(&w->s, sv[0], &so);
    if (rc < 0) {
        close(sv[0]);
        close(sv[1]);
        free(w);
        return rc;
    }
    sigset_t mask;
    curio__child_sigmask(&mask);
    pid_t parent = getpid();
    fflush(stdout); /* or the worker would print what we had buffered, a second time */
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        curio__worker_main(sv[1], parent, &mask);
    rc = pid < 0 ? -errno : 0;
    close(sv[1]);
    if (rc == 0) {
        w->pid = pid;
        w->pidfd = curio__pidfd_open(pid);
        if (w->pidfd < 0) {
            rc = w->pidfd;
            kill(pid, SIGKILL);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
    }
    if (rc < 0) {
        worker_close(w);
        return rc;
    }
    w->generation = pool.generation;
    *out = w;
    return 0;
}

static bool has_died(const struct worker *w)
{
    struct pollfd p = {.fd = w->pidfd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/* ---- ending a worker ---- */

/* A worker was retired (or never forked): hand its place to the first call waiting,
 * unless the pool is above a lowered limit. */
static void place_freed(void)
{
    pool.live--;
    if (pool.live >= pool_max())
        return;
    curio__task *t = curio__waitq_pop(&pool.waiters);
    if (t) {
        pool.live++;
        curio__task_set_wake_value(t, &place_token);
        curio__ready_with(t, 0);
    }
}

/* Kill w and reap it before returning, in the calling task if there is one (the wait is
 * not a cancellation point: the task may be cancelled or past its deadline already). */
static void retire(struct worker *w)
{
    syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
    curio_scope nc;
    bool reaped = false;
    if (curio__self() && curio_disable_cancellation(&nc) == 0) {
        int code;
        reaped = curio__pidfd_reap(w->pidfd, &code) == 0;
        curio_scope_close(&nc);
    }
    if (reaped)
        close(w->pidfd);
    else
        curio__reap_in_background(w->pidfd);
    worker_close(w);
    place_freed();
}

/* A call is done with w, which is in order: to the first waiter, or back to the pool. */
static void release(struct worker *w)
{
    if (w->generation != pool.generation || pool.live > pool_max()) {
        retire(w);
        return;
    }
    curio__task *t = curio__waitq_pop(&pool.waiters);
    if (t) {
        curio__task_set_wake_value(t, w);
        curio__ready_with(t, 0);
        return;
    }
    w->next = pool.idle;
    pool.idle = w;
}

/* ---- taking a worker ---- */

static int acquire(curio__task *self, struct worker **out)
{
    while (pool.idle) {
        struct worker *w = pool.idle;
        pool.idle = w->next;
        if (!has_died(w)) {
            *out = w;
            return 0;
        }
        retire(w); /* killed from outside while idle */
    }
    if (pool.live >= pool_max()) {
        curio__task_set_wake_value(self, NULL);
        int rc = curio__wait_on(&pool.waiters, "WORKER_WAIT", CURIO__NO_DEADLINE);
        if (rc < 0)
            return rc;
        void *given = curio__task_wake_value(self);
        if (given != &place_token) {
            *out = given; /* handed over: ours even if we were cancelled since */
            return 0;
        }
    } else {
        pool.live++;
    }
    int rc = fork_worker(out);
    if (rc < 0)
        place_freed();
    return rc;
}

/* ---- one call ---- */

static ssize_t discard(curio_stream *s, uint64_t n)
{
    char scratch[4096];
    while (n) {
        size_t k = n < sizeof scratch ? (size_t)n : sizeof scratch;
        ssize_t r = curio_stream_read_exactly(s, scratch, k, NULL);
        if (r < 0)
            return r;
        n -= k;
    }
    return 0;
}

static int call(struct worker *w, curio_process_fn fn, const void *arg, size_t len,
                long *result, void **out, size_t *out_len)
{
    struct curio__work_req rq = {.fn = (uint64_t)(uintptr_t)fn, .len = len};
    struct iovec iov[2] = {{&rq, sizeof rq}, {(void *)arg, len}};
    size_t sent = 0;
    ssize_t r = curio_stream_writelines(w->s, iov, len ? 2 : 1, &sent);
    if (r < 0 && sent == 0 && r != -EPIPE && r != -ECONNRESET) {
        release(w); /* nothing went out: the worker is as it was */
        return (int)r;
    }
    struct curio__work_resp rs;
    if (r >= 0)
        r = curio_stream_read_exactly(w->s, &rs, sizeof rs, NULL);
    char *data = NULL;
    if (r >= 0 && rs.status == 0 && rs.len) {
        if (out && rs.len < SIZE_MAX && (data = malloc((size_t)rs.len + 1))) {
            r = curio_stream_read_exactly(w->s, data, (size_t)rs.len, NULL);
            data[rs.len] = 0;
        } else if (out) {
            r = -ENOMEM; /* the rest of the response stays unread: the worker goes */
        } else {
            r = discard(w->s, rs.len); /* nobody wants them, but they are in the way */
        }
    }
    if (r < 0) {
        free(data);
        retire(w);
        /* end of stream, or a reset: the worker died (or was killed) during the call */
        bool died = r == CURIO_EINCOMPLETE || r == -EPIPE || r == -ECONNRESET;
        return died ? CURIO_EWORKERDIED : (int)r;
    }
    release(w);
    if (rs.status < 0)
        return rs.status;
    if (result)
        *result = rs.result;
    if (out)
        *out = data;
    if (out_len)
        *out_len = data ? (size_t)rs.len : 0;
    return 0;
}

int curio_run_in_process(curio_process_fn fn, const void *arg, size_t len, long *result,
                         void **out, size_t *out_len)
{
    if (out)
        *out = NULL;
    if (out_len)
        *out_len = 0;
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (!fn || (len && !arg))
        return -EINVAL;
    int rc = curio__trap_check(self);
    if (rc < 0)
        return rc;
    register_pool();
    struct worker *w = NULL;
    rc = acquire(self, &w);
    if (rc < 0)
        return rc;
    return call(w, fn, arg, len, result, out, out_len);
}

int curio_process_pool_set_max(size_t max)
{
    pool.max = max;
    while (pool.idle && pool.live > pool_max()) {
        struct worker *w = pool.idle;
        pool.idle = w->next;
        curio__kill_and_reap_now(w->pidfd);
        worker_close(w);
        pool.live--;
    }
    return 0;
}

void curio_process_pool_shutdown(void)
{
    pool.generation++; /* busy workers retire when their call returns */
    while (pool.idle) {
        struct worker *w = pool.idle;
        pool.idle = w->next;
        curio__kill_and_reap_now(w->pidfd);
        worker_close(w);
        pool.live--;
    }
}
