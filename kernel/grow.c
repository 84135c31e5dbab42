/*
 * kernel/grow.c - the doubling arrays of the kernel (timer heap, scopes, task-local values,
 * group members) all grow through this one function.
 */
#include "core.h"

#include <stdlib.h>

int curio__grow(void *arr, size_t *cap, size_t len, size_t elem)
{
    if (len < *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 8;
    void *p = realloc(*(void **)arr, n * elem);
    if (!p)
        return -ENOMEM;
    *(void **)arr = p;
    *cap = n;
    return 0;
}
