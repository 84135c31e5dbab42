/*
 * Name resolution on the worker pool: localhost, errors, and a name server that does not
 * answer: a timeout or cancellation returns at once, the look-up finishes on its thread and
 * frees what it found (checked by ASan's leak check and by counting).
 *
 * getaddrinfo and freeaddrinfo are wrapped (-Wl,--wrap): names ending in ".hang" wait until
 * the test releases them; everything else goes to the real resolver.
 */
#include "nettest.h"

#include <pthread.h>
#include <stdatomic.h>

int __real_getaddrinfo(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);
void __real_freeaddrinfo(struct addrinfo *);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool released;
static atomic_int hanging, hang_done, freed;

int __wrap_getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res)
{
    size_t n = host ? strlen(host) : 0;
    if (n < 5 || strcmp(host + n - 5, ".hang") != 0)
        return __real_getaddrinfo(host, service, hints, res);
    atomic_fetch_add(&hanging, 1);
    pthread_mutex_lock(&lock);
    while (!released)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    /* Answer with a real result, so that the orphaned job has something to free. */
    int rc = __real_getaddrinfo("127.0.0.1", service, hints, res);
    atomic_fetch_add(&hang_done, 1);
    return rc;
}

void __wrap_freeaddrinfo(struct addrinfo *ai)
{
    atomic_fetch_add(&freed, 1);
    __real_freeaddrinfo(ai);
}

static void release_hangs(void)
{
    pthread_mutex_lock(&lock);
    released = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

unsigned curio__pool_busy(void); /* kernel/kernel.h */

/* Sleep until every pool thread is idle: the look-ups given up on have finished and their
 * workers have freed them (LeakSanitizer looks as the test's process exits). */
static void until_pool_idle(void)
{
    while (curio__pool_busy() != 0)
        curio_sleep(0.001);
}

/* Wait (without blocking the kernel) until n hung look-ups finished and were freed. */
static void wait_freed(int n)
{
    while (atomic_load(&hang_done) < n || atomic_load(&freed) < n)
        curio_sleep(0.001);
    until_pool_idle(); /* the worker frees the job itself right after */
}

static long localhost(void *arg)
{
    (void)arg;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    cr_assert_eq(curio_getaddrinfo("localhost", "80", &hints, &res), 0);
    cr_assert_not_null(res);
    cr_assert_eq(res->ai_family, AF_INET);
    struct sockaddr_in *in = (struct sockaddr_in *)res->ai_addr;
    cr_assert_eq(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);
    cr_assert_eq(ntohs(in->sin_port), 80);
    freeaddrinfo(res);
    /* No hints, numeric host, service only. */
    cr_assert_eq(curio_getaddrinfo("::1", NULL, NULL, &res), 0);
    cr_assert_eq(res->ai_family, AF_INET6);
    freeaddrinfo(res);
    cr_assert_eq(curio_getaddrinfo(NULL, "443", &hints, &res), 0);
    freeaddrinfo(res);
    return 0;
}

Test(resolve, localhost_and_numeric) { run_main(localhost, NULL); }

static long errors(void *arg)
{
    (void)arg;
    struct addrinfo *res = (struct addrinfo *)1;
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST};
    cr_assert_eq(curio_getaddrinfo("not-a-number", "1", &hints, &res), -ENOENT);
    cr_assert_null(res);
    hints = (struct addrinfo){.ai_family = 12345};
    cr_assert_eq(curio_getaddrinfo("localhost", "1", &hints, &res), -EAFNOSUPPORT);
    hints = (struct addrinfo){.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    cr_assert_eq(curio_getaddrinfo("localhost", "http", &hints, &res), -ENOENT);
    hints = (struct addrinfo){.ai_flags = 0x7fff0000};
    cr_assert_eq(curio_getaddrinfo("localhost", "1", &hints, &res), -EINVAL);
    cr_assert_eq(curio_getaddrinfo(NULL, NULL, NULL, &res), -EINVAL);
    cr_assert_eq(curio_getaddrinfo("localhost", NULL, NULL, NULL), -EINVAL);
    return 0;
}

Test(resolve, errors_become_negative_errno) { run_main(errors, NULL); }

Test(resolve, outside_a_task_is_eperm)
{
    struct addrinfo *res;
    cr_assert_eq(curio_getaddrinfo("localhost", "1", NULL, &res), -EPERM);
}

/* A look-up that hangs, under a timeout: the call returns at the deadline. */
static long hang_timeout(void *arg)
{
    (void)arg;
    struct addrinfo *res = (struct addrinfo *)1;
    curio_scope sc;
    int64_t t0 = curio_clock();
    curio_timeout_after(&sc, 0.05);
    int rc = curio_getaddrinfo("ns.hang", "80", NULL, &res);
    cr_assert_eq(curio_scope_close(&sc), -ETIMEDOUT);
    cr_assert_eq(rc, -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.05); /* not held by the look-up: it never ends */
    cr_assert_null(res, "set to NULL on an interruption too");
    cr_assert_eq(atomic_load(&hanging), 1, "the look-up was running");
    release_hangs();
    wait_freed(1);
    return 0;
}

Test(resolve, timeout_returns_while_the_name_server_hangs) { run_main(hang_timeout, NULL); }

/* The same through open_connection, cancelled by another task. */
struct opener {
    curio_socket *s;
    int rc;
};

static long opens(void *arg)
{
    struct opener *o = arg;
    o->rc = curio_open_connection(&o->s, "server.hang", 80, NULL);
    ev("open=%s", o->rc == -ECANCELED ? "ECANCELED" : curio_strerror(o->rc));
    return o->rc;
}

static long hang_cancel(void *arg)
{
    (void)arg;
    struct opener o = {0};
    curio_task *t = curio_spawn(opens, &o);
    while (atomic_load(&hanging) < 1)
        curio_sleep(0.001);
    cr_assert_str_eq(curio_task_state(t), "RESOLVE_WAIT");
    cr_assert_eq(curio_cancel(t), 0); /* it did not wait for the look-up: it never ends */
    cr_assert(curio_task_cancelled(t));
    cr_assert_null(o.s);
    curio_task_release(t);
    release_hangs();
    wait_freed(1);
    return 0;
}

Test(resolve, open_connection_cancelled_during_the_lookup)
{
    expect_log(hang_cancel, NULL, "open=ECANCELED");
}

/* Many look-ups cancelled at every stage (queued, running, finished): each one's memory
 * is freed exactly once, whoever frees it. */
static long resolves(void *arg)
{
    (void)arg;
    struct addrinfo *res;
    int rc = curio_getaddrinfo("localhost", "1", NULL, &res);
    if (rc == 0)
        freeaddrinfo(res);
    return rc;
}

static long cancel_storm(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        curio_task *t = curio_spawn(resolves, NULL);
        for (int y = 0; y < i % 4; y++)
            curio_yield();
        if (i % 5 == 0)
            curio_sleep(0.0002 * (i % 7));
        curio_cancel(t);
        curio_task_release(t);
    }
    until_pool_idle(); /* orphaned look-ups finish and free before the leak check */
    return 0;
}

Test(resolve, cancelled_at_every_stage_frees_everything) { run_main(cancel_storm, NULL); }
