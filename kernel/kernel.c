/*
 * kernel/kernel.c - creating, running and destroying a kernel (Curio's Kernel and run()).
 */
#include "core.h"
#include "bufring.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

__thread curio_kernel *curio__tls_kernel __attribute__((tls_model("initial-exec")));

static void apply_defaults(curio_options *o)
{
    if (!o->stack_size)
        o->stack_size = 128 * 1024;
    if (o->stack_size < 16384)
        o->stack_size = 16384;
    o->stack_size = (o->stack_size + 4095) & ~(size_t)4095;
    if (!o->ring_entries)
        o->ring_entries = 256;
    if (o->ring_entries > 32768)
        o->ring_entries = 32768;
    if (!o->stack_cache)
        o->stack_cache = 4096;
}

/* The services the layers above registered (curio__service_register). Constructors run
 * before main on one thread; the lock is for a library loaded later by dlopen while
 * kernels run. */
static struct service {
    const char *name;
    int (*start)(curio_kernel *k);
} services[4];
static unsigned nservices;
static pthread_mutex_t services_lock = PTHREAD_MUTEX_INITIALIZER;

void curio__service_register(const char *name, int (*start)(curio_kernel *k))
{
    pthread_mutex_lock(&services_lock);
    bool known = false;
    for (unsigned i = 0; i < nservices; i++)
        known |= services[i].start == start;
    if (!known && nservices < sizeof services / sizeof services[0])
        services[nservices++] = (struct service){name, start};
    pthread_mutex_unlock(&services_lock);
}

bool curio__env_no(const char *value)
{
    static const char *const no[] = {"", "0", "no", "off", "false"};
    if (!value)
        return true;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcasecmp(value, no[i]) == 0)
            return true;
    return false;
}

/* Start every registered service; one that cannot start is no failure. A monitor asked
 * for (curio_options.monitor, CURIO_MONITOR) in a program that does not have one is said
 * once per kernel. */
static void start_services(curio_kernel *k)
{
    pthread_mutex_lock(&services_lock);
    unsigned n = nservices;
    struct service copy[sizeof services / sizeof services[0]];
    memcpy(copy, services, sizeof copy);
    pthread_mutex_unlock(&services_lock);
    bool monitor = false;
    for (unsigned i = 0; i < n; i++) {
        copy[i].start(k);
        monitor |= strcmp(copy[i].name, "monitor") == 0;
    }
    if (!monitor && (k->opts.monitor || !curio__env_no(getenv("CURIO_MONITOR"))))
        fprintf(stderr, "curio: the monitor was asked for but is not linked into this "
                        "program (a static link that names no monitor call; link with "
                        "-Wl,-u,curio_monitor_address)\n");
}

int curio_kernel_create(curio_kernel **out, const curio_options *opts)
{
    if (curio__tls_kernel)
        return -EBUSY;
    curio_kernel *k = calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    if (opts)
        k->opts = *opts;
    apply_defaults(&k->opts);
    pthread_mutex_init(&k->post_lock, NULL);
    pthread_mutex_init(&k->tasks_lock, NULL);
    int rc = curio__ring_init(k);
    if (rc < 0) {
        free(k);
        return rc;
    }
    rc = curio__stacks_create(k);
    if (rc < 0) {
        curio__ring_exit(k);
        free(k);
        return rc;
    }
    curio__ctx_init_current(&k->sched_ctx);
    curio__overflow_handler_install(k);
    curio__tls_kernel = k;
    start_services(k);
    *out = k;
    return 0;
}

curio_kernel *curio_kernel_current(void) { return curio__tls_kernel; }

int curio_kernel_run(curio_kernel *k, curio_task_fn fn, void *arg, long *result)
{
    if (!k || !fn)
        return -EINVAL;
    if (curio__tls_kernel != k || k->current || k->running)
        return -EBUSY;
    curio_spawn_options o = {.name = "main"};
    curio__task *main_task;
    int rc = curio__spawn(k, NULL, &main_task, fn, arg, &o);
    if (rc < 0)
        return rc;
    k->running = true;
    curio__loop_until(k, main_task);
    k->running = false;
    rc = curio_task_result(main_task, result);
    main_task->handles--;
    curio__task_maybe_free(main_task);
    return rc;
}

/* Cancel the newest live task and run until it has ended; repeat while any is left
 * (cleanup code may spawn more). */
static void shutdown_tasks(curio_kernel *k)
{
    while (!curio__list_empty(&k->all)) {
        curio__task *t = curio__list_entry(curio__list_last(&k->all), curio__task, all_node);
        t->handles++; /* keep the record alive until we have seen it end */
        curio_cancel_nowait(t);
        curio__loop_until(k, t);
        t->handles--;
        curio__task_maybe_free(t);
    }
}

void curio_kernel_destroy(curio_kernel *k)
{
    if (!k || curio__tls_kernel != k || k->current || k->running)
        return;
    shutdown_tasks(k);
    /* Posts still pending run now, while every task record is still valid. */
    curio__posts_run(k);
    /* A service's own end (the monitor's thread stops reading this kernel). */
    for (size_t i = 0; i < sizeof k->on_destroy / sizeof k->on_destroy[0]; i++)
        if (k->on_destroy[i])
            k->on_destroy[i](k);
    /* Records of ended tasks whose handles were never released die with the kernel. */
    while (!curio__list_empty(&k->zombies)) {
        curio__task *t = curio__list_entry(curio__list_first(&k->zombies), curio__task,
                                           all_node);
        t->handles = 0;
        t->group = NULL;
        curio__task_maybe_free(t);
    }
    while (k->free_tasks) {
        curio__task *t = k->free_tasks;
        k->free_tasks = t->ready_next;
        free(t);
    }
    curio__ring_exit(k);
    curio__bufring_free(k);
    curio__pipes_destroy(k);
    pthread_mutex_lock(&k->post_lock);
    for (curio__post *p = k->posts_head, *n; p; p = n) {
        n = p->next;
        if (p->heap)
            free(p);
    }
    pthread_mutex_unlock(&k->post_lock);
    pthread_mutex_destroy(&k->post_lock);
    pthread_mutex_destroy(&k->tasks_lock);
    curio__stacks_destroy(k);
    curio__overflow_handler_release(k);
    free(k->heap);
    free(k->claims);
    free(k->ended);
    curio__tls_kernel = NULL;
    free(k);
}

int curio_run(curio_task_fn fn, void *arg, const curio_options *opts, long *result)
{
    curio_kernel *k;
    int rc = curio_kernel_create(&k, opts);
    if (rc < 0)
        return rc;
    rc = curio_kernel_run(k, fn, arg, result);
    curio_kernel_destroy(k);
    return rc;
}
