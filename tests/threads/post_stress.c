/*
 * Threads reaching a kernel: several pthreads post work to a kernel while its tasks wait,
 * time out and are cancelled. A plain program (criterion cannot run under ThreadSanitizer,
 * which this is built for in ./dev test) that checks every post runs exactly once, on the
 * kernel's thread.
 */
#include "kernel.h"
#include "waitq.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 4
#define POSTS 100000

static curio_kernel *kernel;
static pthread_t kernel_thread;
static unsigned char seen[THREADS * POSTS];
static long delivered, wrong_thread, duplicates;
static curio__waitq waiters;

static void on_kernel(void *arg)
{
    long i = (long)(intptr_t)arg;
    if (!pthread_equal(pthread_self(), kernel_thread))
        wrong_thread++;
    if (seen[i]++)
        duplicates++;
    delivered++;
    curio__waitq_wake_all(&waiters);
}

static void *poster(void *arg)
{
    long base = (long)(intptr_t)arg * POSTS;
    for (long i = 0; i < POSTS; i++) {
        while (curio_kernel_post(kernel, on_kernel, (void *)(intptr_t)(base + i)) == -ENOMEM)
            ;
        (void)curio_clock();
    }
    return NULL;
}

/* Tasks that wait for posts under short timeouts and get cancelled now and then. */
static long fidget(void *arg)
{
    (void)arg;
    for (;;) {
        curio_scope s;
        curio_timeout_after(&s, 0.0005);
        int rc = curio__waitq_wait(&waiters, &(curio__waiter){0}, "FUTURE_WAIT");
        curio_scope_close(&s);
        if (rc == -ECANCELED)
            return rc;
    }
}

static long main_task(void *arg)
{
    (void)arg;
    pthread_t th[THREADS];
    curio_task *f[8];
    for (int i = 0; i < 8; i++)
        f[i] = curio_spawn(fidget, NULL);
    for (long i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, poster, (void *)(intptr_t)i);
    int round = 0;
    while (delivered < THREADS * POSTS) {
        curio_scope s; /* wait for a post, 1 ms at most */
        curio_timeout_after(&s, 0.001);
        curio__waitq_wait(&waiters, &(curio__waiter){0}, "FUTURE_WAIT");
        curio_scope_close(&s);
        if (++round % 64 == 0) { /* replace a fidgeting task by a new one */
            int j = round / 64 % 8;
            curio_cancel(f[j]);
            curio_task_release(f[j]);
            f[j] = curio_spawn(fidget, NULL);
        }
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++) {
        curio_cancel(f[i]);
        curio_task_release(f[i]);
    }
    return 0;
}

int main(void)
{
    kernel_thread = pthread_self();
    if (curio_kernel_create(&kernel, NULL) < 0)
        return 1;
    long r = -1;
    int rc = curio_kernel_run(kernel, main_task, NULL, &r);
    curio_kernel_destroy(kernel);
    long missing = 0;
    for (long i = 0; i < THREADS * POSTS; i++)
        missing += !seen[i];
    int ok = rc == 0 && r == 0 && delivered == THREADS * POSTS && !missing && !duplicates &&
             !wrong_thread;
    if (!ok)
        fprintf(stderr, "post_stress: rc=%d delivered=%ld missing=%ld duplicates=%ld "
                        "wrong_thread=%ld\n", rc, delivered, missing, duplicates, wrong_thread);
    printf("%d passed, %d failed\n", ok, !ok);
    return !ok;
}
