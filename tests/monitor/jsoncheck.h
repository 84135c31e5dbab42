/*
 * tests/monitor/jsoncheck.h - a strict check that a text is one JSON value (RFC 8259:
 * objects, arrays, strings with their escapes, numbers, true, false, null), followed by
 * nothing but white space. For the replies of the monitor's `json` command.
 */
#ifndef CURIO_JSONCHECK_H
#define CURIO_JSONCHECK_H

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    for (;;) {
        unsigned char c = (unsigned char)*p++;
        if (c == '"')
            return p;
        if (c < 0x20)
            return NULL;
        if (c != '\\')
            continue;
        c = (unsigned char)*p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++)
                if (!isxdigit((unsigned char)*p++))
                    return NULL;
        } else if (!strchr("\"\\/bfnrt", c) || !c) {
            return NULL;
        }
    }
}

static const char *json_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (isdigit((unsigned char)*p))
            p++;
    else
        return NULL;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return p;
}

static const char *json_value(const char *p, int depth)
{
    if (depth > 64)
        return NULL;
    p = json_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool object = *p == '{';
        p = json_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (object) {
                if (!(p = json_string(json_ws(p))))
                    return NULL;
                p = json_ws(p);
                if (*p++ != ':')
                    return NULL;
            }
            if (!(p = json_value(p, depth + 1)))
                return NULL;
            p = json_ws(p);
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    if (*p == '"')
        return json_string(p);
    if (strncmp(p, "true", 4) == 0)
        return p + 4;
    if (strncmp(p, "false", 5) == 0)
        return p + 5;
    if (strncmp(p, "null", 4) == 0)
        return p + 4;
    return json_number(p);
}

/* Whether text is exactly one JSON value (and white space). */
static inline bool json_valid(const char *text)
{
    const char *end = json_value(text, 0);
    return end && !*json_ws(end);
}

#endif
