/*
 * kernel/errstr.h - the record of a layer's error-code table. Each layer keeps the strings
 * of its own codes (defined in its public header) in its errors.c, a table of these
 * records ended by CURIO__ERRSTR_END; lib/strerror.c (curio_strerror) asks each table in
 * turn. kernel/errors.c holds the kernel's.
 */
#ifndef CURIO_ERRSTR_H
#define CURIO_ERRSTR_H

#include "kernel.h"

struct curio__errstr {
    int code;          /* a CURIO_E* code, negative */
    const char *text;  /* NULL in the last record */
};

#define CURIO__ERRSTR_END {0, NULL}

/* The kernel's codes (include/curio.h): CURIO_ETASKCANCELLED ... CURIO_ETASKFAILED. */
CURIO__HIDDEN extern const struct curio__errstr curio__kernel_errors[];

#endif
