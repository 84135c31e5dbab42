/*
 * proc/spawn.c - starting a child (Curio's Popen) with its standard descriptors set up,
 * and the process object's life: accessors, closing stdin, destroy.
 *
 * The child is started with posix_spawnp: glibc runs it with clone(CLONE_VM|CLONE_VFORK),
 * so the calling thread waits only until the exec, and an exec that fails is reported by
 * posix_spawnp's return value instead of by a child exiting 127. The descriptors: every
 * one curio creates is close-on-exec and at a number >= 3 (so that the dup2s into 0, 1, 2
 * never clobber one another), and the child closes every descriptor from 3 up before the
 * exec (posix_spawn_file_actions_addclosefrom_np, glibc 2.34), so even descriptors the
 * program opened without O_CLOEXEC stay out of it.
 */
#include "proc.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int curio__pidfd_open(pid_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0); /* always close-on-exec */
    return fd < 0 ? -errno : fd;
}

/* pidfd_open exists (Linux 5.3): asked once, on the caller's own pid. */
static int pidfds_work(void)
{
    static _Atomic int known; /* 0 unknown, 1 yes, else the negative error */
    int v = atomic_load_explicit(&known, memory_order_relaxed);
    if (v == 0) {
        int fd = curio__pidfd_open(getpid());
        if (fd >= 0)
            close(fd);
        v = fd >= 0 ? 1 : fd;
        if (v == 1 || v == -ENOSYS)
            atomic_store_explicit(&known, v, memory_order_relaxed);
    }
    return v == 1 ? 0 : v;
}

int curio__fd_above_stdio(int fd)
{
    if (fd > STDERR_FILENO)
        return fd;
    int up = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    int err = errno;
    close(fd);
    return up < 0 ? -err : up;
}

/* What one of the child's descriptors becomes. */
struct slot {
    int mode;
    int child;        /* the descriptor to dup2 into the child, or -1 */
    int parent;       /* the parent's end of a pipe, or -1 */
};

static int slot_fd(const curio_process_options *o, int i)
{
    return i == 0 ? o->stdin_fd : i == 1 ? o->stdout_fd : o->stderr_fd;
}

static int slot_mode(const curio_process_options *o, int i)
{
    return i == 0 ? o->stdin_mode : i == 1 ? o->stdout_mode : o->stderr_mode;
}

static int pipe_for(int i, int *parent, int *child)
{
    int fds[2];
    if (i == STDIN_FILENO) {
        /* A socket pair: a child gone before it read its input makes our writes -EPIPE
         * (the stream sends with MSG_NOSIGNAL) instead of raising SIGPIPE. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
            return -errno;
        shutdown(fds[1], SHUT_WR);
        *parent = fds[0];
        *child = fds[1];
    } else {
        if (pipe2(fds, O_CLOEXEC) < 0)
            return -errno;
        *parent = fds[0];
        *child = fds[1];
    }
    *parent = curio__fd_above_stdio(*parent);
    *child = curio__fd_above_stdio(*child);
    if (*parent < 0 || *child < 0) {
        int rc = *parent < 0 ? *parent : *child;
        if (*parent >= 0)
            close(*parent);
        if (*child >= 0)
            close(*child);
        *parent = *child = -1;
        return rc;
    }
    return 0;
}

static int slot_prepare(struct slot *sl, const curio_process_options *o, int i)
{
    sl->mode = slot_mode(o, i);
    sl->child = sl->parent = -1;
    switch (sl->mode) {
    case CURIO_STDIO_INHERIT:
    case CURIO_STDIO_DEVNULL:
        return 0;
    case CURIO_STDIO_STDOUT:
        return i == STDERR_FILENO ? 0 : -EINVAL;
    case CURIO_STDIO_PIPE:
        return pipe_for(i, &sl->parent, &sl->child);
    case CURIO_STDIO_FD: {
        int fd = slot_fd(o, i);
        if (fd < 0)
            return -EINVAL;
        /* A private copy above 2: the user's descriptor may be 0, 1 or 2 itself. */
        sl->child = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        return sl->child < 0 ? -errno : 0;
    }
    }
    return -EINVAL;
}

static int file_actions(posix_spawn_file_actions_t *fa, const struct slot *sl, const char *cwd)
{
    int rc = 0;
    if (cwd)
        rc = posix_spawn_file_actions_addchdir_np(fa, cwd);
    for (int i = 0; i < 3 && rc == 0; i++) {
        switch (sl[i].mode) {
        case CURIO_STDIO_PIPE:
        case CURIO_STDIO_FD:
            rc = posix_spawn_file_actions_adddup2(fa, sl[i].child, i);
            break;
        case CURIO_STDIO_DEVNULL:
            rc = posix_spawn_file_actions_addopen(fa, i, "/dev/null",
                                                  i == 0 ? O_RDONLY : O_WRONLY, 0);
            break;
        case CURIO_STDIO_STDOUT:
            rc = posix_spawn_file_actions_adddup2(fa, STDOUT_FILENO, STDERR_FILENO);
            break;
        }
    }
#ifdef CURIO_HAVE_CLOSEFROM
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(fa, STDERR_FILENO + 1);
#endif
    return -rc;
}

static int spawn(pid_t *pid, const char *const argv[], const curio_process_options *o,
                 const struct slot *sl)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        return -rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -rc;
    }
    sigset_t mask;
    curio__child_sigmask(&mask);
    short flags = POSIX_SPAWN_SETSIGMASK;
    if (o->new_session)
        flags |= POSIX_SPAWN_SETSID;
    rc = -posix_spawnattr_setsigmask(&attr, &mask);
    if (rc == 0)
        rc = -posix_spawnattr_setflags(&attr, flags);
    if (rc == 0)
        rc = file_actions(&fa, sl, o->cwd);
    if (rc == 0)
        rc = -posix_spawnp(pid, argv[0], &fa, &attr, (char *const *)argv,
                           o->env ? (char *const *)o->env : environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

static void slots_close(struct slot *sl, bool parents)
{
    for (int i = 0; i < 3; i++) {
        if (sl[i].child >= 0)
            close(sl[i].child);
        sl[i].child = -1;
        if (parents && sl[i].parent >= 0)
            close(sl[i].parent);
        if (parents)
            sl[i].parent = -1;
    }
}

static int make_streams(curio_process *p, struct slot *sl)
{
    for (int i = 0; i < 3; i++) {
        if (sl[i].parent < 0)
            continue;
        int rc = curio_stream_open(&p->std[i], sl[i].parent, NULL);
        if (rc < 0)
            return rc;
        sl[i].parent = -1; /* the stream's now */
    }
    return 0;
}

static void streams_close(curio_process *p)
{
    for (int i = 0; i < 3; i++) {
        curio_stream *s = p->std[i];
        p->std[i] = NULL;
        curio_stream_close(s);
    }
}

int curio_popen(curio_process **out, const char *const argv[], const curio_process_options *opts)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!argv || !argv[0])
        return -EINVAL;
    curio_process_options d = {0};
    const curio_process_options *o = opts ? opts : &d;
    int rc = pidfds_work();
    if (rc < 0)
        return rc;
    curio_process *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->pidfd = -1;
    struct slot sl[3] = {{0, -1, -1}, {0, -1, -1}, {0, -1, -1}};
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = slot_prepare(&sl[i], o, i);
    if (rc == 0)
        rc = make_streams(p, sl);
    if (rc == 0)
        rc = spawn(&p->pid, argv, o, sl);
    slots_close(sl, true); /* the child has its copies now */
    if (rc == 0) {
        p->pidfd = curio__pidfd_open(p->pid);
        if (p->pidfd < 0) {
            /* Out of descriptors: we cannot watch it, so it must not live on. */
            rc = p->pidfd;
            kill(p->pid, SIGKILL);
            while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
    }
    if (rc < 0) {
        streams_close(p);
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

pid_t curio_process_pid(const curio_process *p) { return p ? p->pid : -1; }

curio_stream *curio_process_stdin(const curio_process *p) { return p ? p->std[0] : NULL; }

curio_stream *curio_process_stdout(const curio_process *p) { return p ? p->std[1] : NULL; }

curio_stream *curio_process_stderr(const curio_process *p) { return p ? p->std[2] : NULL; }

int curio_process_close_stdin(curio_process *p)
{
    if (!p || !p->std[0])
        return -EINVAL;
    curio_stream *s = p->std[0];
    p->std[0] = NULL;
    return curio_stream_close(s);
}

void curio__process_free(curio_process *p)
{
    streams_close(p);
    if (p->pidfd >= 0) {
        if (p->reaped || p->lost) {
            close(p->pidfd);
        } else {
            syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
            curio__reap_in_background(p->pidfd);
        }
    }
    free(p);
}

void curio_process_destroy(curio_process *p)
{
    if (!p || p->gate.closing)
        return;
    if (curio__gate_close(&p->gate)) {
        curio__process_free(p);
        return;
    }
    /* Tasks are inside calls on p: end the child at once (so that readers of its pipes
     * see end of file), close the streams (their users get -EBADF), and wake the
     * waiters (the gate makes their calls return -EBADF); the last of them to leave
     * frees p. Closing a stream may yield (its io_uring close), and a waiter woken
     * already may leave meanwhile: hold p till the end. */
    curio__gate_hold(&p->gate);
    if (!p->reaped && !p->lost)
        syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
    streams_close(p);
    if (p->reaper)
        curio__interrupt(p->reaper, -EBADF);
    curio__waitq_wake_all(&p->waiters);
    if (curio__gate_release(&p->gate))
        curio__process_free(p);
}
