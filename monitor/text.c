/*
 * monitor/text.c - the growing string a reply is built in.
 */
#include "monitor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and a NUL. */
static bool reserve(curio__text *t, size_t n)
{
    if (t->failed)
        return false;
    if (t->len + n + 1 <= t->cap)
        return true;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + n + 1)
        cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
        t->failed = true;
        return false;
    }
    t->p = p;
    t->cap = cap;
    return true;
}

void curio__text_put(curio__text *t, const char *s, size_t n)
{
    if (!reserve(t, n))
        return;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = 0;
}

void curio__text_printf(curio__text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        curio__text_put(t, small, (size_t)n);
        return;
    }
    if (!reserve(t, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void curio__text_clear(curio__text *t)
{
    t->len = 0;
    t->failed = false;
    if (t->p)
        t->p[0] = 0;
}

void curio__text_free(curio__text *t)
{
    free(t->p);
    *t = (curio__text){0};
}

void curio__text_json(curio__text *t, const char *s)
{
    curio__text_put(t, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        switch (*p) {
        case '"': curio__text_put(t, "\\\"", 2); break;
        case '\\': curio__text_put(t, "\\\\", 2); break;
        case '\n': curio__text_put(t, "\\n", 2); break;
        case '\r': curio__text_put(t, "\\r", 2); break;
        case '\t': curio__text_put(t, "\\t", 2); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                curio__text_printf(t, "\\u%04x", *p);
            else
                curio__text_put(t, (const char *)p, 1);
        }
    }
    curio__text_put(t, "\"", 1);
}
