/*
 * proc/errors.c - the strings of proc's error codes (include/curio/proc.h).
 */
#include "../kernel/errstr.h"

const struct curio__errstr curio__proc_errors[] = {
    {CURIO_EPROCESS, "Process exited with a non-zero status"},
    {CURIO_EWORKERDIED, "Worker process died"},
    CURIO__ERRSTR_END,
};
