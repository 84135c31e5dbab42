/*
 * io/errors.c - the strings of io's error codes (include/curio/io.h).
 */
#include "../kernel/errstr.h"

const struct curio__errstr curio__io_errors[] = {
    {CURIO_EINCOMPLETE, "End of stream before the requested bytes"},
    {CURIO_EUNFLUSHED, "Unsent buffered bytes were discarded"},
    CURIO__ERRSTR_END,
};
