/*
 * net/reuseport.c - a server on every kernel of a curio_cores_run (curio/cores.h).
 *
 * The kernels meet at a "share", one per run and server address, in a process-wide list:
 * the first of them to come makes it, kernel 0 makes its listening socket and publishes
 * the result in it (the port it got, or its error, and for a Unix socket the descriptor),
 * and the others wait for that on a UniversalEvent, the one waiting object that works
 * across kernels. Each kernel lets go of the share once it has read it; the last frees it,
 * so the same address can be served again later in the same run.
 */
#include "net.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct share {
    struct share *next;
    const void *run;             /* kernel 0 of the run: the run's identity while it lasts */
    char key[CURIO_ADDR_STRLEN + 160];
    unsigned refs;               /* kernels that have not let go yet */
    curio_universal_event *ready;
    int rc;                      /* kernel 0's: 0, or its listening socket's error */
    uint16_t port;               /* TCP: the port kernel 0 got */
    int fd;                      /* Unix: kernel 0's listening descriptor (a duplicate) */
};

static pthread_mutex_t shares_lock = PTHREAD_MUTEX_INITIALIZER;
static struct share *shares;

static int share_get(struct share **out, const char *key)
{
    const void *run = curio_core_kernel(0);
    pthread_mutex_lock(&shares_lock);
    struct share *s = shares;
    while (s && !(s->run == run && strcmp(s->key, key) == 0))
        s = s->next;
    int rc = 0;
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) {
            rc = -ENOMEM;
        } else if ((rc = curio_universal_event_create(&s->ready)) < 0) {
            free(s);
        } else {
            s->run = run;
            snprintf(s->key, sizeof s->key, "%s", key);
            s->refs = curio_core_count();
            s->fd = -1;
            s->next = shares;
            shares = s;
        }
    }
    pthread_mutex_unlock(&shares_lock);
    *out = s;
    return rc;
}

static void share_put(struct share *s)
{
    pthread_mutex_lock(&shares_lock);
    bool last = --s->refs == 0;
    if (last) {
        struct share **p = &shares;
        while (*p != s)
            p = &(*p)->next;
        *p = s->next;
    }
    pthread_mutex_unlock(&shares_lock);
    if (last) {
        curio_universal_event_destroy(s->ready);
        if (s->fd >= 0)
            close(s->fd);
        free(s);
    }
}

/* Kernel 0 tells the others what it got. */
static void share_publish(struct share *s, int rc, uint16_t port, int fd)
{
    s->rc = rc;
    s->port = port;
    s->fd = fd;
    curio_universal_event_set(s->ready); /* its mutex orders the fields for the readers */
}

static int share_wait(struct share *s)
{
    int rc = curio_universal_event_wait(s->ready);
    return rc < 0 ? rc : s->rc;
}

static int enter(const char *kind, const char *name, unsigned port, curio_client_fn handler,
                 struct share **s)
{
    int rc = curio__trap_check(curio__self());
    if (rc < 0)
        return rc;
    if (curio_core_index() < 0)
        return -EPERM;
    if (!handler)
        return -EINVAL;
    char key[sizeof (*s)->key];
    snprintf(key, sizeof key, "%s|%s|%u", kind, name ? name : "", port);
    return share_get(s, key);
}

int curio_cores_tcp_server(const char *host, uint16_t port, curio_client_fn handler,
                           void *arg, const curio_server_options *opts)
{
    struct share *s;
    int rc = enter("tcp", host, port, handler, &s);
    if (rc < 0)
        return rc;
    curio_server_options o = {0};
    if (opts)
        o = *opts;
    o.reuse_port = true;
    curio_socket *ls = NULL;
    if (curio_core_index() == 0) {
        rc = curio_tcp_server_socket(&ls, host, port, &o);
        share_publish(s, rc, rc == 0 ? (uint16_t)curio_socket_port(ls) : 0, -1);
    } else if ((rc = share_wait(s)) == 0) {
        rc = curio_tcp_server_socket(&ls, host, s->port, &o);
    }
    share_put(s);
    return rc < 0 ? rc : curio_run_server(ls, handler, arg, &o);
}

int curio_cores_unix_server(const char *path, curio_client_fn handler, void *arg,
                            const curio_server_options *opts)
{
    struct share *s;
    int rc = enter("unix", path, 0, handler, &s);
    if (rc < 0)
        return rc;
    curio_socket *ls = NULL;
    if (curio_core_index() == 0) {
        rc = curio_unix_server_socket(&ls, path, opts);
        int fd = -1;
        if (rc == 0 && (fd = fcntl(curio_socket_fd(ls), F_DUPFD_CLOEXEC, 0)) < 0) {
            rc = -errno;
            curio_socket_close(ls);
        }
        share_publish(s, rc, 0, fd);
    } else if ((rc = share_wait(s)) == 0) {
        int fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            rc = -errno;
        else if ((rc = curio_socket_wrap(&ls, fd)) < 0)
            close(fd);
    }
    share_put(s);
    return rc < 0 ? rc : curio_run_server(ls, handler, arg, opts);
}
