/*
 * A library for tests/monitor/test_where.c, loaded with dlopen: one exported function
 * calling a file-local one, which calls back into the test. Built twice: with debugging
 * information (libwhere_debug.so), and without it and stripped of its symbol table
 * (libwhere_stripped.so), where only the exported name is left (in .dynsym).
 */
#define KEEP __attribute__((noinline))

long where_lib_call(long (*fn)(void *), void *arg);

KEEP static long where_lib_inner(long (*fn)(void *), void *arg)
{
    long r = fn(arg);
    return r < 0 ? r : r + 10;
}

KEEP long where_lib_call(long (*fn)(void *), void *arg)
{
    long r = where_lib_inner(fn, arg);
    return r < 0 ? r : r + 100;
}
