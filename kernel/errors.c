/*
 * kernel/errors.c - the strings of the kernel's error codes (include/curio.h).
 */
#include "errstr.h"

const struct curio__errstr curio__kernel_errors[] = {
    {CURIO_ETASKCANCELLED, "Task was cancelled"},
    {CURIO_ETIMEOUT_OUTER, "An enclosing timeout expired"},
    {CURIO_ETIMEOUT_LEAKED, "An inner timeout expired and was not handled"},
    {CURIO_ETASKFAILED, "A task group member failed"},
    CURIO__ERRSTR_END,
};
