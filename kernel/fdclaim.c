/*
 * kernel/fdclaim.c - one waiting task per direction per descriptor (Curio's ResourceBusy).
 *
 * Curio refuses a second task reading (or writing) a socket another task is already
 * waiting on, instead of letting their data interleave. Here every read-side or write-side
 * blocking call on a descriptor claims that direction for the duration of the call. The
 * table is indexed by descriptor number (descriptors are small and dense), so a claim is
 * two loads and a store; it grows on demand and is freed with the kernel.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

int curio__fd_claim(curio__task *self, int fd, int dir)
{
    if (fd < 0)
        return -EBADF;
    curio_kernel *k = self->k;
    if ((size_t)fd >= k->nclaims) {
        size_t n = k->nclaims ? k->nclaims : 64;
        while (n <= (size_t)fd)
            n *= 2;
        curio__fd_claims *c = realloc(k->claims, n * sizeof(*c));
        if (!c)
            return -ENOMEM;
        memset(c + k->nclaims, 0, (n - k->nclaims) * sizeof(*c));
        k->claims = c;
        k->nclaims = n;
    }
    curio__task **slot = &k->claims[fd].by[dir];
    if (*slot == self)
        return 1;
    if (*slot)
        return -EBUSY;
    *slot = self;
    return 0;
}

void curio__fd_unclaim(curio__task *self, int fd, int dir)
{
    curio_kernel *k = self->k;
    if (fd >= 0 && (size_t)fd < k->nclaims && k->claims[fd].by[dir] == self)
        k->claims[fd].by[dir] = NULL;
}

curio__task *curio__fd_claimant(curio_kernel *k, int fd, int dir)
{
    if (fd < 0 || (size_t)fd >= k->nclaims)
        return NULL;
    return k->claims[fd].by[dir];
}
