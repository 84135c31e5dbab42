/*
 * proc/reap.c - reaping children that were killed because their process object went
 * away (curio_process_destroy) or their worker was retired (process_pool.c).
 *
 * A child that was sent SIGKILL ends at once, unless it is in an uninterruptible sleep
 * in the kernel (a hung NFS mount). The caller of a releasing call must not wait for that,
 * so a child that has not ended yet is handed to a short-lived detached thread that waits
 * for it (with waitid on its pidfd, which reaps exactly that child) and closes the pidfd.
 * The thread blocks every asynchronous signal, as the worker pool's threads do.
 */
#include "proc.h"

#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static void reap_blocking(int pidfd)
{
    siginfo_t si;
    while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
        ;
    close(pidfd);
}

static void *reaper(void *arg)
{
    reap_blocking((int)(intptr_t)arg);
    return NULL;
}

void curio__reap_in_background(int pidfd)
{
    int code;
    if (curio__pidfd_try_reap(pidfd, false, &code) != -EBUSY) {
        close(pidfd); /* ended (now reaped), or not ours to reap */
        return;
    }
    sigset_t all, old;
    sigfillset(&all);
    static const int own[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGPIPE};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        sigdelset(&all, own[i]);
    pthread_attr_t a;
    pthread_t t;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 256 * 1024);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&t, &a, reaper, (void *)(intptr_t)pidfd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
    if (rc != 0)
        reap_blocking(pidfd); /* no thread to spare: the killed child ends in a moment */
}

void curio__kill_and_reap_now(int pidfd)
{
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    reap_blocking(pidfd);
}
