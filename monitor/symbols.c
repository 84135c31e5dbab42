/*
 * monitor/symbols.c - from return addresses to frames: which file each address lies in
 * (dladdr1 with the link map, whose l_addr is the load bias, so that a file address works
 * for PIE executables and libraries alike), its function from that file's symbol table
 * (elf.c), then file:line and inlined calls from addr2line (addr2line.c), one run per file.
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

/* What is known of one captured address. */
struct where_pc {
    int module;             /* index into the module lists, or -1 */
    uintptr_t offset;       /* file address of pc - 1 */
    char *func;             /* from the symbol table, or NULL */
};

/* The files the stack passes through, by their link-map name (l_name, "" for the
 * executable): the name to show and the path to read. The executable is read through
 * /proc/<pid>/exe, which stays right even if the file was replaced or the program was
 * started through a relative path (and, unlike /proc/self/exe, also means this process to
 * addr2line). */
struct modules {
    char **key;
    char **shown;           /* moved into the frame set */
    char **open;
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
    if (!grow(&m->key, m->n) || !grow(&m->shown, m->n) || !grow(&m->open, m->n)) {
        *failed = true;
        return -1;
    }
    char shown[PATH_MAX], open[64];
    if (name[0]) {
        snprintf(shown, sizeof shown, "%s", name);
    } else {
        snprintf(open, sizeof open, "/proc/%ld/exe", (long)getpid());
        ssize_t len = readlink(open, shown, sizeof shown - 1);
        shown[len > 0 ? len : 0] = 0;
        if (len <= 0)
            snprintf(shown, sizeof shown, "%s", open);
    }
    char *k = strdup(name), *s = strdup(shown), *o = strdup(name[0] ? name : open);
    if (!k || !s || !o) {
        free(k);
        free(s);
        free(o);
        *failed = true;
        return -1;
    }
    m->key[m->n] = k;
    m->shown[m->n] = s;
    m->open[m->n] = o;
    return (int)m->n++;
}

/* Where pc lies: module and file address (dladdr1), function (symbol table). */
static void locate(void *pc, struct modules *m, curio__elf_cache **cache, struct where_pc *w,
                   bool *failed)
{
    w->module = -1;
    w->func = NULL;
    uintptr_t at = (uintptr_t)pc - 1;
    Dl_info info;
    struct link_map *lm = NULL;
    if (!dladdr1((void *)at, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
        return;
    w->module = module_index(m, lm->l_name ? lm->l_name : "", failed);
    w->offset = at - (uintptr_t)lm->l_addr;
    if (w->module >= 0)
        w->func = curio__elf_function(cache, m->open[w->module], w->offset);
}

/* addr2line over the addresses that lie in module i; their frames go to lines. */
static void lines_for(const struct modules *m, size_t i, const struct where_pc *w, size_t n,
                      curio__frames *lines, curio__frames *f)
{
    uintptr_t *offs = malloc(n * sizeof *offs);
    size_t *which = malloc(n * sizeof *which);
    if (!offs || !which) {
        free(offs);
        free(which);
        f->failed = true;
        return;
    }
    size_t k = 0;
    for (size_t j = 0; j < n; j++) {
        if (w[j].module == (int)i) {
            offs[k] = w[j].offset;
            which[k++] = j;
        }
    }
    size_t before = lines->n;
    if (curio__addr2line(m->open[i], offs, k, m->shown[i], lines) == 0) {
        for (size_t j = before; j < lines->n; j++)
            lines->v[j].index = which[lines->v[j].index]; /* back to the stack's order */
    }
    free(offs);
    free(which);
}

/* The final list, in the stack's order: addr2line's frames of an address where it gave
 * some (with the symbol table's name where it had none), else the symbol table's one.
 * Within the inlined calls of one address, a frame naming the same function as the one
 * inside it is left out: after gcc split a function (ipa-split) and merged it back, the
 * debugging information says it was inlined into itself, at its first line. */
static void merge(const struct where_pc *w, size_t n, curio__frames *lines,
                  const struct modules *m, curio__frames *f)
{
    for (size_t j = 0; j < n; j++) {
        const char *module = w[j].module >= 0 ? m->shown[w[j].module] : NULL;
        const char *inner = NULL;
        bool any = false;
        for (size_t i = 0; i < lines->n; i++) {
            curio__frame *l = &lines->v[i];
            if (l->index != j)
                continue;
            bool repeat = inner && l->func && strcmp(inner, l->func) == 0;
            inner = l->func;
            if (repeat)
                continue;
            char *func = l->func;
            if (!func && !any && w[j].func)
                func = strdup(w[j].func);
            if (curio__frames_add(f, j, func, l->file, l->line, module, w[j].offset))
                inner = f->v[f->n - 1].func;
            else
                inner = NULL;
            l->func = l->file = NULL;
            any = true;
        }
        if (!any)
            curio__frames_add(f, j, w[j].func ? strdup(w[j].func) : NULL, NULL, 0, module,
                              w[j].offset);
    }
}

void curio__symbolise(void *const *pcs, size_t n, curio__frames *f)
{
    *f = (curio__frames){0};
    struct where_pc *w = calloc(n ? n : 1, sizeof *w);
    if (!w) {
        f->failed = true;
        return;
    }
    struct modules m = {0};
    curio__elf_cache *cache = NULL;
    bool failed = false;
    for (size_t j = 0; j < n; j++)
        locate(pcs[j], &m, &cache, &w[j], &failed);
    curio__elf_close(cache);
    curio__frames lines = {0};
    for (size_t i = 0; i < m.n; i++)
        lines_for(&m, i, w, n, &lines, f);
    /* The frame set owns the names shown; the paths opened go now. */
    f->modules = m.shown;
    f->nmodules = m.n;
    merge(w, n, &lines, &m, f);
    for (size_t i = 0; i < m.n; i++) {
        free(m.open[i]);
        free(m.key[i]);
    }
    free(m.open);
    free(m.key);
    for (size_t j = 0; j < n; j++)
        free(w[j].func);
    free(w);
    f->failed |= failed | lines.failed;
    curio__frames_free(&lines);
}
