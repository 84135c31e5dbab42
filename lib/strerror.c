/*
 * lib/strerror.c - curio_strerror, which belongs to the library as a whole: it asks each
 * layer's table of codes and strings (its errors.c) in turn, then describes a negative
 * errno value. A new layer with codes of its own adds its table to the list below.
 */
#include "../kernel/errstr.h"

#include <string.h>

CURIO__HIDDEN extern const struct curio__errstr curio__io_errors[];
CURIO__HIDDEN extern const struct curio__errstr curio__tls_errors[];
CURIO__HIDDEN extern const struct curio__errstr curio__channel_errors[];
CURIO__HIDDEN extern const struct curio__errstr curio__proc_errors[];

static const struct curio__errstr *const tables[] = {
    curio__kernel_errors,
    curio__io_errors,
    curio__tls_errors,
    curio__channel_errors,
    curio__proc_errors,
};

const char *curio_strerror(int err)
{
    if (err == 0)
        return "Success";
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        for (const struct curio__errstr *e = tables[i]; e->text; e++)
            if (e->code == err)
                return e->text;
    const char *s = err < 0 ? strerrordesc_np(-err) : NULL;
    return s ? s : "Unknown error";
}
