/*
 * net/resolve.c - name resolution on the worker-thread pool.
 *
 * getaddrinfo(3) may wait for a name server for many seconds and cannot be interrupted, so
 * it runs as an orphanable pool job: the job is heap memory holding copies of everything
 * the look-up reads and the result it writes, and a cancelled or timed-out caller walks
 * away at once; the worker then frees the job and whatever it found (orphan).
 */
#include "net.h"

#include <stdlib.h>
#include <string.h>

struct resolve_job {
    curio__job job;              /* first: the pool hands back &job */
    struct addrinfo hints;       /* only flags, family, socktype, protocol are set */
    bool has_hints;
    const char *host, *service;  /* into text[], or NULL */
    struct addrinfo *res;
    int gai;                     /* getaddrinfo's return */
    int sys_errno;               /* errno for EAI_SYSTEM, read on the worker's thread */
    char text[];
};

static void resolve_work(curio__job *j)
{
    struct resolve_job *r = (struct resolve_job *)j;
    r->gai = getaddrinfo(r->host, r->service, r->has_hints ? &r->hints : NULL, &r->res);
    r->sys_errno = errno;
}

static void resolve_orphan(curio__job *j)
{
    struct resolve_job *r = (struct resolve_job *)j;
    if (r->gai == 0 && r->res)
        freeaddrinfo(r->res);
    free(r);
}

static int gai_to_errno(int gai, int sys_errno)
{
    switch (gai) {
    case 0:
        return 0;
    case EAI_NONAME:
    case EAI_NODATA:
    case EAI_ADDRFAMILY:
        return -ENOENT;
    case EAI_AGAIN:
        return -EAGAIN;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_FAMILY:
        return -EAFNOSUPPORT;
    case EAI_SOCKTYPE:
    case EAI_SERVICE:
        return -ESOCKTNOSUPPORT;
    case EAI_BADFLAGS:
        return -EINVAL;
    case EAI_SYSTEM:
        return sys_errno > 0 ? -sys_errno : -EIO;
    default:
        return -EIO;
    }
}

static char *copy_in(char **dst, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *at = memcpy(*dst, s, n);
    *dst += n;
    return at;
}

int curio_getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                      struct addrinfo **res)
{
    if (res)
        *res = NULL;
    int rc = curio__trap_check(curio__self());
    if (rc < 0)
        return rc;
    if ((!host && !service) || !res)
        return -EINVAL;
    size_t n = (host ? strlen(host) + 1 : 0) + (service ? strlen(service) + 1 : 0);
    struct resolve_job *r = calloc(1, sizeof *r + n);
    if (!r)
        return -ENOMEM;
    r->job.work = resolve_work;
    r->job.orphan = resolve_orphan;
    char *p = r->text;
    r->host = copy_in(&p, host);
    r->service = copy_in(&p, service);
    if (hints) {
        r->has_hints = true;
        r->hints.ai_flags = hints->ai_flags;
        r->hints.ai_family = hints->ai_family;
        r->hints.ai_socktype = hints->ai_socktype;
        r->hints.ai_protocol = hints->ai_protocol;
    }
    rc = curio__job_run(&r->job, "RESOLVE_WAIT");
    if (rc < 0)
        return rc; /* the job is no longer ours: the pool frees it */
    rc = gai_to_errno(r->gai, r->sys_errno);
    *res = rc == 0 ? r->res : NULL;
    free(r);
    return rc;
}
