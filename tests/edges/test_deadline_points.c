/*
 * tests/edges/test_deadline_points.c - a deadline that passes at every possible moment of
 * every blocking call, and nothing is lost.
 *
 * The clock hook (kernel/time.c, curio__clock_hook) sees every reading of the clock. For
 * each blocking call below, and for N = 1, 2, ...: open a timeout scope, then make the
 * Nth reading of the clock jump an hour ahead, so that the deadline passes exactly
 * between two checks of the trap path (the begin of an operation, the parking on a
 * queue, the scheduler's timer pass...). The call gets a peer that completes it after a
 * few yields, so at every N it either completes or is told -ETIMEDOUT. Then:
 *   - the result is one of the two, and the scope agrees (expired exactly when the call
 *     was told -ETIMEDOUT: a deadline that passed after the call completed is no expiry);
 *   - what the call completed is the caller's, and what it did not is still where it was
 *     (the byte still in the socket, the item still in the queue, the lock still free);
 *   - no descriptor is left open (and, under ASan, no memory).
 * N grows until the call completes before the Nth reading: every moment was tried.
 *
 * The clock is read at most once per pass for the trap checks (kernel/trap.c): a jump at
 * the scheduler's reading reaches every later check of the pass, and one after a check
 * is caught by the wait. The 10 s deadline of an I/O operation is in the timer heap, whose
 * next pass sees the jump and cancels the operation in flight (completed or cancelled,
 * both are checked). A jump of the user-space clock does not move io_uring's own timer: a
 * near deadline's linked timeout races its operation in real time only, which is what
 * stress_deadlines.c and recv_under_microsecond_deadlines below drive (both also with
 * every deadline in the heap).
 */
#include "testutil.h"

#include "../../kernel/core.h"

#include <curio/channel.h>
#include <curio/io.h>
#include <curio/net.h>
#include <curio/proc.h>
#include <curio/sync.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* Seconds. Long, so that only the jump makes a deadline pass: every call has a peer that
 * completes it, and a slow machine must not turn a completion into a timeout. */
#define REAL_DEADLINE 10.0
#define MAX_POINTS 48       /* a call reading the clock more often than this fails the test */
#define HELPER_YIELDS 2     /* the peer completes the call after this many yields */

static long reads, jump_at;
static int64_t offset;

static int64_t jumping_clock(int64_t now)
{
    if (++reads == jump_at)
        offset = 3600 * (int64_t)1000000000;
    return now + offset;
}

/* ---- a case: set up (outside the scope), the call (inside it), the check, tear down ---- */

typedef struct state {
    int fd[2];
    int sv[2];
    curio_socket *s[2];
    curio_socket *ls;
    curio_addr addr;
    curio_stream *st;
    curio_queue *q;
    curio_universal_queue *uq;
    curio_event ev;
    curio_lock lock;
    curio_semaphore sem;
    curio_condition cond;
    curio_process *proc;
    curio_connection *conn[2];
    curio_group *group;
    curio_rlock rlock;
    curio_universal_event *uev;
    curio_signal_event *sigev;
    curio_file *file;
    curio_task *helper;
    bool flag;
    char buf[1 << 16];
    size_t filled;
} state;

typedef struct ecase {
    const char *name;
    void (*setup)(state *st);
    long (*call)(state *st);        /* its rc: >= 0 success, else a negative code */
    void (*check)(state *st, long rc); /* after the scope closed: nothing lost */
    void (*teardown)(state *st);
} ecase;

/* The peer's delay: yields, and a short sleep, which makes the scheduler go round its loop
 * (a ring poll and a timer pass, each reading the clock) while the call waits. */
static void yields(void)
{
    for (int i = 0; i < HELPER_YIELDS; i++) {
        curio_yield();
        curio_sleep(1e-6);
    }
}

static void spawn_helper(state *st, curio_task_fn fn)
{
    cr_assert_eq(curio_spawn_ex(&st->helper, fn, st, NULL), 0);
}

static void end_helper(state *st)
{
    if (st->helper) {
        curio_cancel(st->helper);
        curio_task_release(st->helper);
        st->helper = NULL;
    }
}

/* -- sleep -- */
static void no_setup(state *st) { (void)st; }
static long call_sleep(state *st) { (void)st; return (long)curio_sleep(0.0005); }
static void no_check(state *st, long rc) { (void)st, (void)rc; }
static void no_teardown(state *st) { (void)st; }

/* -- join a task that ends after a few yields -- */
static long short_task(void *arg) { (void)arg; yields(); return 7; }
static void setup_join(state *st) { spawn_helper(st, short_task); }
static long call_join(state *st)
{
    long r = 0;
    int rc = curio_join(st->helper, &r);
    return rc < 0 ? rc : r;
}
static void check_join(state *st, long rc)
{
    if (rc == 7)
        cr_assert(curio_task_done(st->helper));
}

/* -- an event set by the peer -- */
static long set_event(void *arg) { state *st = arg; yields(); return curio_event_set(&st->ev); }
static void setup_event(state *st) { spawn_helper(st, set_event); }
static long call_event(state *st) { return curio_event_wait(&st->ev); }

/* -- a lock released by the peer -- */
static long hold_lock(void *arg)
{
    state *st = arg;
    yields();
    return curio_lock_release(&st->lock);
}
static void setup_lock(state *st)
{
    cr_assert_eq(curio_lock_acquire(&st->lock), 0); /* the helper releases it for us */
    spawn_helper(st, hold_lock);
}
static long call_lock(state *st) { return curio_lock_acquire(&st->lock); }
static void check_lock(state *st, long rc)
{
    curio_task_wait(st->helper);
    cr_assert_eq(curio_lock_locked(&st->lock), rc == 0, "held exactly when acquired");
    if (rc == 0)
        curio_lock_release(&st->lock);
}

/* -- a semaphore released by the peer -- */
static long post_sem(void *arg)
{
    state *st = arg;
    yields();
    return curio_semaphore_release(&st->sem);
}
static void setup_sem(state *st)
{
    st->sem = (curio_semaphore)CURIO_SEMAPHORE_INIT(0);
    spawn_helper(st, post_sem);
}
static long call_sem(state *st) { return curio_semaphore_acquire(&st->sem); }
static void check_sem(state *st, long rc)
{
    curio_task_wait(st->helper);
    cr_assert_eq(curio_semaphore_value(&st->sem), rc == 0 ? 0u : 1u, "the unit is not lost");
}

/* -- a condition notified by the peer -- */
static long notify(void *arg)
{
    state *st = arg;
    yields();
    curio_condition_acquire(&st->cond);
    st->flag = true;
    curio_condition_notify_all(&st->cond);
    return curio_condition_release(&st->cond);
}
static void setup_cond(state *st) { spawn_helper(st, notify); }
static bool flag_set(void *arg) { return ((state *)arg)->flag; }
static long call_cond(state *st)
{
    int rc = curio_condition_acquire(&st->cond);
    if (rc < 0)
        return rc;
    rc = curio_condition_wait_for(&st->cond, flag_set, st);
    int r2 = curio_condition_release(&st->cond);
    return rc < 0 ? rc : r2;
}
static void check_cond(state *st, long rc)
{
    (void)rc;
    cr_assert_not(curio_condition_locked(&st->cond), "the condition's lock is not left held");
}

/* -- a queue item put by the peer -- */
static long put_item(void *arg)
{
    state *st = arg;
    yields();
    return curio_queue_put(st->q, (void *)(intptr_t)42);
}
static void setup_qget(state *st)
{
    cr_assert_eq(curio_queue_create(&st->q, 0), 0);
    spawn_helper(st, put_item);
}
static long call_qget(state *st)
{
    void *item = NULL;
    int rc = curio_queue_get(st->q, &item);
    return rc < 0 ? rc : (long)(intptr_t)item;
}
static void check_qget(state *st, long rc)
{
    curio_task_wait(st->helper);
    cr_assert_eq(curio_queue_size(st->q), rc == 42 ? 0u : 1u, "the item is not lost");
}
static void teardown_q(state *st)
{
    end_helper(st);
    void *item;
    while (curio_queue_get_nowait(st->q, &item) == 0)
        ;
    curio_queue_destroy(st->q);
}

/* -- a put into a full queue, room made by the peer -- */
static long take_item(void *arg)
{
    state *st = arg;
    yields();
    void *item;
    return curio_queue_get(st->q, &item);
}
static void setup_qput(state *st)
{
    cr_assert_eq(curio_queue_create(&st->q, 1), 0);
    cr_assert_eq(curio_queue_put(st->q, (void *)1), 0);
    spawn_helper(st, take_item);
}
static long call_qput(state *st) { return curio_queue_put(st->q, (void *)2); }
static void check_qput(state *st, long rc)
{
    curio_task_wait(st->helper);
    cr_assert_eq(curio_queue_size(st->q), rc == 0 ? 1u : 0u, "put exactly when it said so");
}

/* -- a universal queue item put by the peer -- */
static long uput_item(void *arg)
{
    state *st = arg;
    yields();
    return curio_universal_queue_put(st->uq, (void *)(intptr_t)42);
}
static void setup_uget(state *st)
{
    cr_assert_eq(curio_universal_queue_create(&st->uq, 0), 0);
    spawn_helper(st, uput_item);
}
static long call_uget(state *st)
{
    void *item = NULL;
    int rc = curio_universal_queue_get(st->uq, &item);
    return rc < 0 ? rc : (long)(intptr_t)item;
}
static void check_uget(state *st, long rc)
{
    curio_task_wait(st->helper);
    cr_assert_eq(curio_universal_queue_size(st->uq), rc == 42 ? 0u : 1u, "the item is not lost");
}
static void teardown_uq(state *st)
{
    end_helper(st);
    curio_universal_queue_destroy(st->uq);
}

/* -- a function on a worker thread -- */
static long thread_work(void *arg) { (void)arg; return 5; }
static long call_thread(state *st)
{
    (void)st;
    long r = 0;
    int rc = curio_run_in_thread(thread_work, NULL, &r);
    return rc < 0 ? rc : r;
}

/* -- descriptors: a pipe the peer writes to -- */
static long write_byte(void *arg)
{
    state *st = arg;
    yields();
    return curio_write(st->fd[1], "x", 1);
}
static void setup_pipe(state *st)
{
    cr_assert_eq(pipe2(st->fd, O_CLOEXEC), 0);
    spawn_helper(st, write_byte);
}
static long call_read(state *st)
{
    char c;
    return curio_read(st->fd[0], &c, 1);
}
static void check_read(state *st, long rc)
{
    curio_task_wait(st->helper);
    char c;
    int fl = fcntl(st->fd[0], F_GETFL);
    fcntl(st->fd[0], F_SETFL, fl | O_NONBLOCK);
    ssize_t n = read(st->fd[0], &c, 1);
    cr_assert_eq(n == 1, rc != 1, "the byte is read exactly once (rc %ld, left %zd)", rc, n);
}
static void teardown_fds(state *st)
{
    end_helper(st);
    close(st->fd[0]);
    close(st->fd[1]);
}

/* -- a write into a full pipe, drained by the peer -- */
static long drain_pipe(void *arg)
{
    state *st = arg;
    yields();
    return curio_read(st->fd[0], st->buf, sizeof st->buf);
}
static void setup_fullpipe(state *st)
{
    cr_assert_eq(pipe2(st->fd, O_CLOEXEC | O_NONBLOCK), 0);
    memset(st->buf, 'a', sizeof st->buf);
    while (write(st->fd[1], st->buf, sizeof st->buf) > 0)
        ;
    spawn_helper(st, drain_pipe);
}
static long call_write(state *st) { return curio_write(st->fd[1], "y", 1); }
static void check_write(state *st, long rc)
{
    curio_task_wait(st->helper);
    /* Drain everything: a 'y' is there exactly when the write said so. */
    size_t ys = 0;
    ssize_t n;
    while ((n = read(st->fd[0], st->buf, sizeof st->buf)) > 0)
        ys += memchr(st->buf, 'y', (size_t)n) != NULL;
    cr_assert_eq(ys, rc == 1 ? 1u : 0u, "written exactly when it said so (rc %ld)", rc);
}

/* -- a stream line written by the peer -- */
static long write_line(void *arg)
{
    state *st = arg;
    yields();
    return curio_write(st->fd[1], "line\n", 5);
}
static void setup_stream(state *st)
{
    cr_assert_eq(pipe2(st->fd, O_CLOEXEC), 0);
    cr_assert_eq(curio_stream_open(&st->st, st->fd[0], NULL), 0);
    spawn_helper(st, write_line);
}
static long call_readline(state *st)
{
    char line[16];
    return curio_stream_readline(st->st, line, sizeof line);
}
static void check_readline(state *st, long rc)
{
    curio_task_wait(st->helper);
    if (rc == 5)
        return;
    char line[16];
    cr_assert_eq(curio_stream_readline(st->st, line, sizeof line), 5, "the line is still there");
}
static void teardown_stream(state *st)
{
    end_helper(st);
    curio_stream_close(st->st); /* closes fd[0] */
    close(st->fd[1]);
}

/* -- sockets: a byte sent by the peer -- */
static long send_byte(void *arg)
{
    state *st = arg;
    yields();
    return curio_send(st->s[1], "z", 1, 0);
}
static void setup_sockpair(state *st)
{
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, st->s), 0);
    spawn_helper(st, send_byte);
}
static long call_recv(state *st)
{
    char c;
    return curio_recv(st->s[0], &c, 1, 0);
}
static void check_recv(state *st, long rc)
{
    curio_task_wait(st->helper);
    char c;
    ssize_t n = recv(curio_socket_fd(st->s[0]), &c, 1, MSG_DONTWAIT);
    cr_assert_eq(n == 1, rc != 1, "the byte is received exactly once (rc %ld, left %zd)", rc, n);
}
static void teardown_sockpair(state *st)
{
    end_helper(st);
    curio_socket_close(st->s[0]);
    curio_socket_close(st->s[1]);
}

/* -- a splice from a socket into a pipe (curio__op_begin_fd2; io_uring runs it in a worker,
 *    so its deadline is the timer heap's, not a linked timeout) -- */
static long write_sock_byte(void *arg)
{
    state *st = arg;
    yields();
    return write(st->sv[1], "s", 1) == 1 ? 0 : -errno;
}
static void setup_splice(state *st)
{
    cr_assert_eq(pipe2(st->fd, O_CLOEXEC), 0);
    cr_assert_eq(fcntl(st->fd[0], F_SETFL, O_NONBLOCK), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st->sv), 0);
    spawn_helper(st, write_sock_byte);
}
static long call_splice(state *st)
{
    curio__op op;
    struct io_uring_sqe *sqe;
    int rc = curio__op_begin_fd2(&op, &sqe, st->sv[0], CURIO__FD_READ, st->fd[1],
                                 CURIO__FD_WRITE);
    if (rc < 0)
        return rc;
    io_uring_prep_splice(sqe, st->sv[0], -1, st->fd[1], -1, 1, 0);
    return curio__op_wait(&op, sqe, "SPLICE_WAIT");
}
static void check_splice(state *st, long rc)
{
    curio_task_wait(st->helper);
    char c;
    ssize_t in_pipe = read(st->fd[0], &c, 1); /* the read end is non-blocking */
    ssize_t in_sock = recv(st->sv[0], &c, 1, MSG_DONTWAIT);
    cr_assert_eq(in_pipe == 1, rc == 1, "spliced exactly when told so (rc %ld)", rc);
    cr_assert_eq(in_sock == 1, rc != 1, "not spliced: still in the socket (rc %ld)", rc);
}
static void teardown_splice(state *st)
{
    end_helper(st);
    close(st->fd[0]);
    close(st->fd[1]);
    close(st->sv[0]);
    close(st->sv[1]);
}

/* -- a send into a full socket, drained by the peer -- */
/* All of it: a Unix socket is writable again only once its queue is down to a quarter. */
static long drain_sock(void *arg)
{
    state *st = arg;
    yields();
    ssize_t n;
    while ((n = recv(curio_socket_fd(st->s[1]), st->buf, sizeof st->buf, MSG_DONTWAIT)) > 0)
        ;
    return 0;
}
static void setup_fullsock(state *st)
{
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, st->s), 0);
    memset(st->buf, 'a', sizeof st->buf);
    while (send(curio_socket_fd(st->s[0]), st->buf, sizeof st->buf, MSG_DONTWAIT) > 0)
        ;
    spawn_helper(st, drain_sock);
}
static long call_send(state *st) { return curio_send(st->s[0], "y", 1, 0); }
static void check_send(state *st, long rc)
{
    curio_task_wait(st->helper);
    size_t ys = 0;
    ssize_t n;
    while ((n = recv(curio_socket_fd(st->s[1]), st->buf, sizeof st->buf, MSG_DONTWAIT)) > 0)
        ys += memchr(st->buf, 'y', (size_t)n) != NULL;
    cr_assert_eq(ys, rc == 1 ? 1u : 0u, "sent exactly when it said so (rc %ld)", rc);
}

/* -- accept a connection the peer makes -- */
static long connect_peer(void *arg)
{
    state *st = arg;
    yields();
    int rc = curio_socket_open(&st->s[1], AF_INET, SOCK_STREAM, 0);
    return rc < 0 ? rc : curio_connect(st->s[1], &st->addr);
}
static void setup_accept(state *st)
{
    cr_assert_eq(curio_socket_open(&st->ls, AF_INET, SOCK_STREAM, 0), 0);
    cr_assert_eq(curio_addr_ip(&st->addr, "127.0.0.1", 0), 0);
    cr_assert_eq(curio_socket_bind(st->ls, &st->addr), 0);
    cr_assert_eq(curio_socket_listen(st->ls, 8), 0);
    cr_assert_eq(curio_socket_getsockname(st->ls, &st->addr), 0);
    spawn_helper(st, connect_peer);
}
static long call_accept(state *st)
{
    return curio_accept(st->ls, &st->s[0], NULL);
}
static void check_accept(state *st, long rc)
{
    curio_task_wait(st->helper);
    if (rc == 0)
        return;
    /* Not accepted: the connection still waits in the backlog. */
    curio_scope sc;
    curio_timeout_after(&sc, 10);
    cr_assert_eq(curio_accept(st->ls, &st->s[0], NULL), 0, "the connection is still there");
    curio_scope_close(&sc);
}
static void teardown_accept(state *st)
{
    end_helper(st);
    if (st->s[0])
        curio_socket_close(st->s[0]);
    if (st->s[1])
        curio_socket_close(st->s[1]);
    curio_socket_close(st->ls);
}

/* -- a connect to a listener -- */
static void setup_connect(state *st)
{
    cr_assert_eq(curio_socket_open(&st->ls, AF_INET, SOCK_STREAM, 0), 0);
    cr_assert_eq(curio_addr_ip(&st->addr, "127.0.0.1", 0), 0);
    cr_assert_eq(curio_socket_bind(st->ls, &st->addr), 0);
    cr_assert_eq(curio_socket_listen(st->ls, 8), 0);
    cr_assert_eq(curio_socket_getsockname(st->ls, &st->addr), 0);
    cr_assert_eq(curio_socket_open(&st->s[1], AF_INET, SOCK_STREAM, 0), 0);
}
static long call_connect(state *st) { return curio_connect(st->s[1], &st->addr); }

/* -- a datagram sent by the peer -- */
static long send_dgram(void *arg)
{
    state *st = arg;
    yields();
    return curio_sendto(st->s[1], "d", 1, 0, &st->addr);
}
static void setup_dgram(state *st)
{
    cr_assert_eq(curio_socket_open(&st->s[0], AF_INET, SOCK_DGRAM, 0), 0);
    cr_assert_eq(curio_socket_open(&st->s[1], AF_INET, SOCK_DGRAM, 0), 0);
    cr_assert_eq(curio_addr_ip(&st->addr, "127.0.0.1", 0), 0);
    cr_assert_eq(curio_socket_bind(st->s[0], &st->addr), 0);
    cr_assert_eq(curio_socket_getsockname(st->s[0], &st->addr), 0);
    spawn_helper(st, send_dgram);
}
static long call_recvfrom(state *st)
{
    char c;
    return curio_recvfrom(st->s[0], &c, 1, 0, NULL);
}

/* -- a child process that exits once the peer closes its stdin (not before: a child that
 *    had already exited would be reaped without a blocking call) -- */
static long close_stdin(void *arg)
{
    state *st = arg;
    yields();
    return curio_process_close_stdin(st->proc);
}
static void setup_proc(state *st)
{
    static const char *const argv[] = {"cat", NULL};
    curio_process_options o = {.stdin_mode = CURIO_STDIO_PIPE};
    cr_assert_eq(curio_popen(&st->proc, argv, &o), 0);
    spawn_helper(st, close_stdin);
}
static long call_wait(state *st)
{
    int code = -1;
    int rc = curio_process_wait(st->proc, &code);
    return rc < 0 ? rc : code;
}
static void check_wait(state *st, long rc)
{
    if (rc == 0)
        return;
    int code = -1;
    cr_assert_eq(curio_process_wait(st->proc, &code), 0, "it can still be waited for");
    cr_assert_eq(code, 0);
}
static void teardown_proc(state *st)
{
    end_helper(st);
    curio_process_destroy(st->proc);
}

/* -- a Channel message sent by the peer: framing state survives an interrupted receive -- */
static long send_msg(void *arg)
{
    state *st = arg;
    yields();
    return curio_connection_send(st->conn[1], "hello", 5);
}
static void setup_conn(state *st)
{
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, st->s), 0);
    cr_assert_eq(curio_connection_open(&st->conn[0], st->s[0], NULL), 0);
    cr_assert_eq(curio_connection_open(&st->conn[1], st->s[1], NULL), 0);
    spawn_helper(st, send_msg);
}
static long call_conn_recv(state *st)
{
    char buf[16];
    return curio_connection_recv_into(st->conn[0], buf, sizeof buf);
}
static void check_conn_recv(state *st, long rc)
{
    curio_task_wait(st->helper);
    if (rc == 5)
        return;
    char buf[16];
    cr_assert_eq(curio_connection_recv_into(st->conn[0], buf, sizeof buf), 5,
                 "the message is still there, whole");
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
}
static void teardown_conn(state *st)
{
    end_helper(st);
    curio_connection_close(st->conn[0]); /* closes its socket */
    curio_connection_close(st->conn[1]);
}

/* -- a page-cached file read -- */
static void setup_file(state *st)
{
    char path[] = "/tmp/curio-edges-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "filedata", 8), 8);
    close(fd);
    cr_assert_eq(curio_aopen(&st->file, path, "r"), 0);
    unlink(path);
}
static long call_file_read(state *st)
{
    char buf[16];
    return curio_file_read(st->file, buf, sizeof buf);
}
static void check_file_read(state *st, long rc)
{
    if (rc == 8)
        return;
    char buf[16];
    cr_assert_eq(curio_file_read(st->file, buf, sizeof buf), 8, "the file position is intact");
}
static void teardown_file(state *st) { curio_file_close(st->file); }

/* -- a task group's next member to end -- */
static void setup_group(state *st)
{
    cr_assert_eq(curio_group_create(&st->group, CURIO_WAIT_ALL), 0);
    cr_assert_eq(curio_group_spawn(st->group, NULL, short_task, NULL, NULL), 0);
}
static long call_next_done(state *st)
{
    curio_task *t = NULL;
    long r = 0;
    int rc = curio_group_next_done(st->group, &t);
    if (rc == 0)
        rc = curio_task_result(t, &r);
    return rc < 0 ? rc : r;
}
static void check_next_done(state *st, long rc)
{
    if (rc == 7)
        return;
    curio_task *t = NULL;
    long r = 0;
    cr_assert_eq(curio_group_next_done(st->group, &t), 0, "the member is still to be reported");
    cr_assert_eq(curio_task_result(t, &r), 0);
    cr_assert_eq(r, 7);
}
static void teardown_group(state *st) { curio_group_destroy(st->group); }

/* -- an rlock released by the peer -- */
static long hold_rlock(void *arg)
{
    state *st = arg;
    curio_rlock_acquire(&st->rlock);
    yields();
    return curio_rlock_release(&st->rlock);
}
static void setup_rlock(state *st) { spawn_helper(st, hold_rlock); curio_yield(); }
static long call_rlock(state *st) { return curio_rlock_acquire(&st->rlock); }
static void check_rlock(state *st, long rc)
{
    curio_task_wait(st->helper);
    cr_assert_eq(curio_rlock_locked(&st->rlock), rc == 0, "held exactly when acquired");
    if (rc == 0)
        curio_rlock_release(&st->rlock);
}

/* -- a universal event set by the peer -- */
static long set_uevent(void *arg)
{
    state *st = arg;
    yields();
    return curio_universal_event_set(st->uev);
}
static void setup_uevent(state *st)
{
    cr_assert_eq(curio_universal_event_create(&st->uev), 0);
    spawn_helper(st, set_uevent);
}
static long call_uevent(state *st) { return curio_universal_event_wait(st->uev); }
static void teardown_uevent(state *st)
{
    end_helper(st);
    curio_universal_event_destroy(st->uev);
}

/* -- read_exactly across two writes of the peer: *done counts what was taken -- */
static long write_two(void *arg)
{
    state *st = arg;
    yields();
    curio_write(st->fd[1], "ab", 2);
    yields();
    return curio_write(st->fd[1], "cd", 2);
}
static void setup_exactly(state *st)
{
    cr_assert_eq(pipe2(st->fd, O_CLOEXEC), 0);
    cr_assert_eq(curio_stream_open(&st->st, st->fd[0], NULL), 0);
    spawn_helper(st, write_two);
}
static long call_exactly(state *st)
{
    size_t done = 0;
    ssize_t r = curio_stream_read_exactly(st->st, st->buf, 4, &done);
    st->filled = done;
    return r;
}
static void check_exactly(state *st, long rc)
{
    curio_task_wait(st->helper);
    if (rc == 4) {
        cr_assert_eq(memcmp(st->buf, "abcd", 4), 0);
        return;
    }
    /* What was taken is in buf[0..done); the rest is still in the stream, in order. */
    size_t done = st->filled, more = 0;
    cr_assert_leq(done, 4u);
    ssize_t r = curio_stream_read_exactly(st->st, st->buf + done, 4 - done, &more);
    cr_assert_eq(r, (ssize_t)(4 - done), "the rest is there (done %zu)", done);
    cr_assert_eq(memcmp(st->buf, "abcd", 4), 0, "nothing lost or repeated (done %zu)", done);
}

/* -- a host name look-up on the thread pool -- */
static long call_getaddrinfo(state *st)
{
    (void)st;
    struct addrinfo *res = NULL;
    int rc = curio_getaddrinfo("localhost", "80", NULL, &res);
    if (res)
        freeaddrinfo(res);
    return rc;
}

/* -- a function in a worker process -- */
static long in_worker(const void *arg, size_t len, void **out, size_t *out_len)
{
    (void)arg, (void)len, (void)out, (void)out_len;
    return 11;
}
static long call_in_process(state *st)
{
    (void)st;
    long r = 0;
    int rc = curio_run_in_process(in_worker, NULL, 0, &r, NULL, NULL);
    return rc < 0 ? rc : r;
}

/* -- a stream write into a full pipe, then its flush: *done is exact -- */
static void setup_swrite(state *st)
{
    setup_fullpipe(st);
    cr_assert_eq(curio_stream_open(&st->st, st->fd[1], NULL), 0);
}
static long call_swrite(state *st)
{
    size_t done = 0;
    ssize_t r = curio_stream_write(st->st, "y", 1, &done);
    st->filled = done;
    if (r < 0)
        return r;
    int f = curio_stream_flush(st->st);
    return f < 0 ? f : (long)done;
}
static void check_swrite(state *st, long rc)
{
    curio_task_wait(st->helper);
    /* Flushed: the 'y' is in the pipe. Not flushed: it is still in the stream's buffer
     * (accepted, *done 1), or was never taken (*done 0). Flush now without a deadline. */
    size_t ys = 0;
    ssize_t n;
    if (rc < 0 && st->filled == 1) {
        curio_scope sc;
        curio_timeout_after(&sc, 10);
        int f = curio_stream_flush(st->st);
        curio_scope_close(&sc);
        if (f == -EAGAIN || f < 0) { /* the pipe may be full again: drain, then flush */
            while ((n = read(st->fd[0], st->buf, sizeof st->buf)) > 0)
                ys += memchr(st->buf, 'y', (size_t)n) != NULL;
            cr_assert_eq(curio_stream_flush(st->st), 0);
        }
    }
    while ((n = read(st->fd[0], st->buf, sizeof st->buf)) > 0)
        ys += memchr(st->buf, 'y', (size_t)n) != NULL;
    cr_assert_eq(ys, st->filled, "written exactly as *done says (rc %ld, done %zu)", rc,
                 st->filled);
}
static void teardown_swrite(state *st)
{
    end_helper(st);
    curio_stream_close(st->st); /* closes fd[1] */
    close(st->fd[0]);
}

/* -- a watched signal sent by the peer -- */
static long send_signal(void *arg)
{
    (void)arg;
    yields();
    return pthread_kill(pthread_self(), SIGUSR1); /* to the kernel's thread */
}
static void setup_signal(state *st)
{
    int sig = SIGUSR1;
    cr_assert_eq(curio_signal_event_create(&st->sigev, &sig, 1), 0);
    spawn_helper(st, send_signal);
}
static long call_signal(state *st) { return curio_signal_event_wait(st->sigev); }
static void check_signal(state *st, long rc)
{
    (void)rc;
    curio_task_wait(st->helper);
    curio_scope sc;
    curio_timeout_after(&sc, 10);
    cr_assert_eq(curio_signal_event_wait(st->sigev), 0, "the signal is not lost");
    curio_scope_close(&sc);
}
static void teardown_signal(state *st)
{
    end_helper(st);
    curio_signal_event_destroy(st->sigev);
}

/* -- a subprocess run to its end, output captured -- */
static long call_check_output(state *st)
{
    (void)st;
    static const char *const argv[] = {"echo", "hi", NULL};
    char *out = NULL;
    size_t len = 0;
    int rc = curio_subprocess_check_output(argv, NULL, &out, &len);
    if (rc == 0)
        cr_assert(len == 3 && memcmp(out, "hi\n", 3) == 0);
    free(out);
    return rc;
}

/* -- opening a file -- */
static long call_aopen(state *st)
{
    int rc = curio_aopen(&st->file, "/dev/null", "r");
    if (rc == 0) {
        curio_file_close(st->file);
        st->file = NULL;
    }
    return rc;
}

/* The pool keeps its workers for later calls: end them, so descriptors can be counted. */
static void teardown_pool(state *st)
{
    (void)st;
    curio_process_pool_shutdown();
}

static const ecase cases[] = {
    {"sleep", no_setup, call_sleep, no_check, no_teardown},
    {"join", setup_join, call_join, check_join, (void (*)(state *))end_helper},
    {"event_wait", setup_event, call_event, no_check, (void (*)(state *))end_helper},
    {"lock_acquire", setup_lock, call_lock, check_lock, (void (*)(state *))end_helper},
    {"semaphore_acquire", setup_sem, call_sem, check_sem, (void (*)(state *))end_helper},
    {"condition_wait_for", setup_cond, call_cond, check_cond, (void (*)(state *))end_helper},
    {"queue_get", setup_qget, call_qget, check_qget, teardown_q},
    {"queue_put", setup_qput, call_qput, check_qput, teardown_q},
    {"universal_queue_get", setup_uget, call_uget, check_uget, teardown_uq},
    {"run_in_thread", no_setup, call_thread, no_check, no_teardown},
    {"read", setup_pipe, call_read, check_read, teardown_fds},
    {"write", setup_fullpipe, call_write, check_write, teardown_fds},
    {"stream_readline", setup_stream, call_readline, check_readline, teardown_stream},
    {"recv", setup_sockpair, call_recv, check_recv, teardown_sockpair},
    {"send", setup_fullsock, call_send, check_send, teardown_sockpair},
    {"accept", setup_accept, call_accept, check_accept, teardown_accept},
    {"connect", setup_connect, call_connect, no_check, teardown_accept},
    {"recvfrom", setup_dgram, call_recvfrom, no_check, teardown_sockpair},
    {"process_wait", setup_proc, call_wait, check_wait, teardown_proc},
    {"connection_recv", setup_conn, call_conn_recv, check_conn_recv, teardown_conn},
    {"file_read", setup_file, call_file_read, check_file_read, teardown_file},
    {"group_next_done", setup_group, call_next_done, check_next_done, teardown_group},
    {"rlock_acquire", setup_rlock, call_rlock, check_rlock, (void (*)(state *))end_helper},
    {"universal_event_wait", setup_uevent, call_uevent, no_check, teardown_uevent},
    {"stream_read_exactly", setup_exactly, call_exactly, check_exactly, teardown_stream},
    {"getaddrinfo", no_setup, call_getaddrinfo, no_check, no_teardown},
    {"run_in_process", no_setup, call_in_process, no_check, teardown_pool},
    {"stream_write_flush", setup_swrite, call_swrite, check_swrite, teardown_swrite},
    {"signal_event_wait", setup_signal, call_signal, check_signal, teardown_signal},
    {"subprocess_check_output", no_setup, call_check_output, no_check, no_teardown},
    {"aopen", no_setup, call_aopen, no_check, no_teardown},
    {"splice", setup_splice, call_splice, check_splice, teardown_splice},
};

/* ---- the driver ---- */

typedef struct run {
    const ecase *c;
    long point;
    long rc, close_rc;
    bool expired, jumped;
} run;

static long one_point(void *arg)
{
    run *r = arg;
    static state st;
    memset(&st, 0, sizeof st);
    r->c->setup(&st);
    curio_scope sc;
    cr_assert_eq(curio_timeout_after(&sc, REAL_DEADLINE), 0);
    reads = 0;
    jump_at = r->point;
    /* The scope's opening read the clock in this pass, and the call's first check would
     * use that reading, taken before any jump: begin the call as the first of a pass (as a
     * blocking call after a wake-up is), whose first check reads the clock. */
    curio_kernel_current()->now_fresh = false;
    r->rc = r->c->call(&st);
    r->close_rc = curio_scope_close(&sc);
    r->expired = curio_scope_expired(&sc);
    r->jumped = offset != 0;
    jump_at = 0;
    r->c->check(&st, r->rc);
    r->c->teardown(&st);
    return 0;
}

static void drive(const ecase *c)
{
    int fds = count_fds();
    long point, timed = 0, completed = 0;
    for (point = 1; point <= MAX_POINTS; point++) {
        run r = {.c = c, .point = point};
        offset = 0;
        curio__clock_hook = jumping_clock;
        long result = -1;
        int rc = curio_run(one_point, &r, NULL, &result);
        curio__clock_hook = NULL;
        cr_assert_eq(rc, 0, "%s@%ld: curio_run %s", c->name, point, curio_strerror(rc));
        cr_assert(r.rc >= 0 || r.rc == -ETIMEDOUT, "%s@%ld: the call returned %ld (%s)",
                  c->name, point, r.rc, curio_strerror((int)r.rc));
        if (r.rc == -ETIMEDOUT) {
            cr_assert_eq(r.close_rc, -ETIMEDOUT, "%s@%ld: told -ETIMEDOUT, close says %ld",
                         c->name, point, r.close_rc);
            cr_assert(r.expired, "%s@%ld", c->name, point);
        } else {
            cr_assert_eq(r.close_rc, 0, "%s@%ld: completed (%ld), close says %ld", c->name,
                         point, r.rc, r.close_rc);
            cr_assert_not(r.expired, "%s@%ld: completed, yet expired", c->name, point);
        }
        /* A look-up abandoned by its timeout goes on in a pool thread until it is done
         * (an orphaned job): its descriptors are counted once the pool is idle. */
        for (int i = 0; i < 20000 && curio__pool_busy() != 0; i++)
            usleep(1000);
        cr_assert_eq(count_fds(), fds, "%s@%ld: descriptors left open", c->name, point);
        if (r.rc == -ETIMEDOUT)
            timed++;
        else
            completed++;
        if (!r.jumped)
            break; /* it completed before the Nth reading: every point was tried */
    }
    cr_assert_leq(point, MAX_POINTS, "%s reads the clock more than %d times", c->name,
                  MAX_POINTS);
    /* Both outcomes must have been reached: the jump lands before the call's first check
     * (told -ETIMEDOUT) and, at the last point, after it completed. */
    cr_assert_gt(timed, 0, "%s: never timed out", c->name);
    cr_assert_gt(completed, 0, "%s: never completed", c->name);
    cr_log_info("%s: %ld points, %ld timed out, %ld completed", c->name, point, timed,
                completed);
}

Test(deadline_points, every_blocking_call_at_every_check, .timeout = 300)
{
    signal(SIGPIPE, SIG_IGN);
    /* Before any kernel or pool thread: with the ucontext switch a watched signal must be
     * blocked before the kernel starts (curio/proc.h). */
    int usr1 = SIGUSR1;
    cr_assert_eq(curio_enable_signals(&usr1, 1), 0);
    const char *only = getenv("EDGES_ONLY"); /* one case by name, when debugging */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!only || strcmp(only, cases[i].name) == 0)
            drive(&cases[i]);
}

/* The reproduction: recv on a socket pair that never gets data, under deadlines of
 * 0 to 3 microseconds; it crashed within 500 iterations (a deadline passing between the
 * two clock readings of the old begin left the operation unset). */
static long tiny_deadlines(void *arg)
{
    (void)arg;
    curio_socket *sp[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, sp), 0);
    for (long i = 0; i < 20000; i++) {
        curio_scope sc;
        curio_timeout_after(&sc, (double)(i % 3000) / 1e9);
        char b;
        ssize_t n = curio_recv(sp[0], &b, 1, 0);
        int rc = curio_scope_close(&sc);
        cr_assert_eq(n, -ETIMEDOUT, "iteration %ld: %zd", i, n);
        cr_assert_eq(rc, -ETIMEDOUT);
    }
    curio_socket_close(sp[0]);
    curio_socket_close(sp[1]);
    return 0;
}

Test(deadline_points, recv_under_microsecond_deadlines, .timeout = 120)
{
    run_main(tiny_deadlines, NULL);
}

/* The same with every deadline in the timer heap, as far ones are: the expiry is then a
 * cancel racing the receive. */
Test(deadline_points, recv_under_microsecond_deadlines_in_the_heap, .timeout = 120)
{
    curio__link_below = 0;
    run_main(tiny_deadlines, NULL);
}
