/*
 * monitor/symbols.c - from return addresses to frames: which file each address lies in
 * (dladdr1 with the link map, whose l_addr is the load bias, so that a file address works
 * for PIE executables and libraries alike), then its function, file:line and inlined
 * calls from libdw (dwarf.c) where the build has it and the file's debugging information
 * or symbol table says; else the name dladdr gives, which only exported functions have.
 *
 * A return address points after the call; address - 1 is inside the call instruction, so
 * it is what is looked up (the call's line, and the right function even when the call was
 * the last instruction of a function that does not return).
 */
#include "monitor.h"

#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool curio__frames_add(curio__frames *f, size_t index, char *func, char *file, unsigned line,
                       const char *module, uintptr_t offset)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        curio__frame *v = realloc(f->v, cap * sizeof *v);
        if (!v) {
            free(func);
            free(file);
            f->failed = true;
            return false;
        }
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (curio__frame){.index = index, .func = func, .file = file, .line = line,
                                  .module = module, .offset = offset};
    return true;
}

void curio__frames_free(curio__frames *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].func);
        free(f->v[i].file);
    }
    free(f->v);
    for (size_t i = 0; i < f->nmodules; i++)
        free(f->modules[i]);
    free(f->modules);
    *f = (curio__frames){0};
}

/* The files the stack passes through, by their link-map name (l_name, "" for the
 * executable), and the name shown for each: the path, the executable's through
 * /proc/self/exe (right even if it was started through a relative path). */
struct modules {
    char **key;
    char **shown;           /* moved into the frame set */
    size_t n;
};

static bool grow(char ***arr, size_t n)
{
    char **a = realloc(*arr, (n + 1) * sizeof *a);
    if (a)
        *arr = a;
    return a != NULL;
}

static int module_index(struct modules *m, const char *name, bool *failed)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->key[i], name) == 0)
            return (int)i;
    if (!grow(&m->key, m->n) || !grow(&m->shown, m->n)) {
        *failed = true;
        return -1;
    }
    char shown[PATH_MAX];
    if (name[0]) {
        snprintf(shown, sizeof shown, "%s", name);
    } else {
        ssize_t len = readlink("/proc/self/exe", shown, sizeof shown - 1);
        shown[len > 0 ? len : 0] = 0;
        if (len <= 0)
            snprintf(shown, sizeof shown, "/proc/self/exe");
    }
    char *k = strdup(name), *s = strdup(shown);
    if (!k || !s) {
        free(k);
        free(s);
        *failed = true;
        return -1;
    }
    m->key[m->n] = k;
    m->shown[m->n] = s;
    return (int)m->n++;
}

/* Append the frames of one return address. */
static void symbolise_one(void *pc, size_t index, struct modules *m, curio__dwarf *dw,
                          curio__frames *f)
{
    uintptr_t at = (uintptr_t)pc - 1, offset = 0;
    const char *module = NULL, *dlname = NULL;
    Dl_info info;
    struct link_map *lm = NULL;
    if (dladdr1((void *)at, &info, (void **)&lm, RTLD_DL_LINKMAP) && lm) {
        int i = module_index(m, lm->l_name ? lm->l_name : "", &f->failed);
        module = i >= 0 ? m->shown[i] : NULL;
        offset = at - (uintptr_t)lm->l_addr;
        dlname = info.dli_saddr ? info.dli_sname : NULL;
    }
    if (dw && module && curio__dwarf_frames(dw, at, index, module, offset, f) > 0) {
        curio__frame *outer = &f->v[f->n - 1];
        if (!outer->func && dlname && (outer->func = strdup(dlname)) == NULL)
            f->failed = true;
        return;
    }
    char *func = dlname ? strdup(dlname) : NULL;
    if (dlname && !func)
        f->failed = true;
    curio__frames_add(f, index, func, NULL, 0, module, offset);
}

void curio__symbolise(void *const *pcs, size_t n, curio__frames *f)
{
    *f = (curio__frames){0};
    struct modules m = {0};
    curio__dwarf *dw = curio__dwarf_take(&f->failed);
    for (size_t j = 0; j < n; j++)
        symbolise_one(pcs[j], j, &m, dw, f);
    curio__dwarf_give(dw);
    /* The frame set owns the names shown. */
    f->modules = m.shown;
    f->nmodules = m.n;
    for (size_t i = 0; i < m.n; i++)
        free(m.key[i]);
    free(m.key);
}
