/*
 * monitor/dwarf.c - function names, file:line and inlined calls from the debugging
 * information of the running program, through elfutils' libdw (built when meson finds
 * libdw: CURIO_LIBDW; without it the functions below know nothing, and symbols.c names
 * what dladdr can).
 *
 * One Dwfl session serves the whole process, made on first use and kept until exit (or
 * curio__symbolise_release), so that what it read (symbol tables, line tables, the DIEs
 * of the compilation units looked into) serves the next lookups. A mutex guards it: any
 * thread may symbolise. Its modules are the files loaded now, from dl_iterate_phdr: they
 * are reported again only when the loader's counts of loads and unloads have moved, and a
 * report keeps what was read of the modules still there and frees the others, so memory
 * follows what is loaded.
 *
 * libdw opens a module's file only when an address in it is looked up (find_elf below):
 * the file is mapped whole and its descriptor closed at once, so no descriptor stays open
 * for it. A separate debugging file (find_debuginfo below) stays open, close-on-exec.
 */
#include "monitor.h"

#if CURIO_LIBDW

#include <dwarf.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct curio__dwarf {
    Dwfl *dwfl;
    unsigned long long adds, subs;   /* the loader's counts when modules were reported */
    bool reported;
    char *exe;                       /* the executable's path: its module's name */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct curio__dwarf *session; /* under lock */
static bool busy;                    /* lock is held (read by a forked child) */
static bool at_exit_set;             /* under lock: atexit, pthread_atfork called */
static bool exiting;                 /* under lock: freed at exit, not made again */

static void take_lock(void)
{
    pthread_mutex_lock(&lock);
    busy = true;
}

static void give_lock(void)
{
    busy = false;
    pthread_mutex_unlock(&lock);
}

/* The executable is opened through /proc/self/exe, which stays this process's file even
 * if the path now names another (or none); the path is its name, and where libdw looks
 * for a .gnu_debuglink file beside it. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
                    char **file_name, Elf **elfp)
{
    (void)mod;
    (void)userdata;
    (void)base;
    const char *path = session && session->exe && strcmp(name, session->exe) == 0
                           ? "/proc/self/exe" : name;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    /* FDREAD reads into memory what is not mapped and, like FDDONE, lets go of fd. */
    if (elf && (elf_kind(elf) != ELF_K_ELF || elf_cntl(elf, ELF_C_FDREAD) != 0)) {
        elf_end(elf);
        elf = NULL;
    }
    close(fd);
    if (!elf)
        return -1;
    *file_name = strdup(name);
    *elfp = elf;
    return -1; /* no descriptor: *elfp is the file */
}

/* Does the file open on fd have the build ID of mod (or has mod none to check)? */
static bool same_build(Dwfl_Module *mod, int fd)
{
    const unsigned char *want;
    GElf_Addr vaddr;
    int wn = dwfl_module_build_id(mod, &want, &vaddr);
    if (wn <= 0)
        return true;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    const void *have = NULL;
    ssize_t hn = elf ? dwelf_elf_gnu_build_id(elf, &have) : -1;
    bool same = hn == wn && memcmp(have, want, (size_t)wn) == 0;
    elf_end(elf);
    return same;
}

/* The file a .gnu_debuglink names: beside the module's file, in .debug there, or under
 * /usr/lib/debug with the file's folder. */
static int by_debuglink(Dwfl_Module *mod, const char *file_name, const char *link,
                        char **debug_name)
{
    const char *slash = strrchr(file_name, '/');
    if (!slash || strchr(link, '/'))
        return -1;
    int dn = (int)(slash - file_name);
    struct stat main_st;
    if (stat(file_name, &main_st) != 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        char path[PATH_MAX];
        static const char *const forms[] = {"%s%.*s/%s", "%s%.*s/.debug/%s", "%s%.*s/%s"};
        int len = snprintf(path, sizeof path, forms[i], i == 2 ? "/usr/lib/debug" : "", dn,
                           file_name, link);
        if (len <= 0 || (size_t)len >= sizeof path)
            continue;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && !(st.st_dev == main_st.st_dev && st.st_ino == main_st.st_ino) &&
            same_build(mod, fd) && (*debug_name = strdup(path)) != NULL)
            return fd;
        close(fd);
    }
    return -1;
}

/* A separate debugging file, looked for on this machine only: by build ID under
 * /usr/lib/debug/.build-id (libdw's own search), then by its .gnu_debuglink name. Not
 * libdw's standard search, which finally asks debuginfod servers, and for that loads
 * libdebuginfod and libcurl into the process. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                          Dwarf_Addr base, const char *file_name, const char *debuglink,
                          GElf_Word crc, char **debug_name)
{
    int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name,
                                          debuglink, crc, debug_name);
    if (fd < 0 && file_name && debuglink)
        fd = by_debuglink(mod, file_name, debuglink, debug_name);
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

static char *no_path = NULL;

static const Dwfl_Callbacks callbacks = {
    .find_elf = find_elf,
    .find_debuginfo = find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &no_path,      /* libdw's default search path */
};

static void session_free(struct curio__dwarf *d)
{
    if (!d)
        return;
    if (d->dwfl)
        dwfl_end(d->dwfl);
    free(d->exe);
    free(d);
}

static void free_at_exit(void)
{
    /* A thread still in a lookup keeps it: the process is ending anyway. */
    if (pthread_mutex_trylock(&lock) != 0)
        return;
    exiting = true;
    session_free(session);
    session = NULL;
    pthread_mutex_unlock(&lock);
}

/* A child of fork() has the thread that forked alone. If another thread was in a lookup,
 * its session is left as it was, half way: the child drops it (without freeing what it
 * cannot trust) and starts a new one when it symbolises; the lock is made anew. */
static void forked_child(void)
{
    if (busy)
        session = NULL;
    busy = false;
    pthread_mutex_init(&lock, NULL);
}

static struct curio__dwarf *session_new(void)
{
    struct curio__dwarf *d = calloc(1, sizeof *d);
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        len = snprintf(exe, sizeof exe, "/proc/self/exe");
    exe[len] = 0;
    if (d)
        d->exe = strdup(exe);
    if (!d || !d->exe) {
        session_free(d);
        return NULL;
    }
    elf_version(EV_CURRENT);
    d->dwfl = dwfl_begin(&callbacks);
    if (!d->dwfl) {
        session_free(d);
        return NULL;
    }
    return d;
}

/* ---- the modules: the files loaded now ---- */

struct module_range {
    char *name;
    Dwarf_Addr start, end;
};

struct module_list {
    struct module_range *v;
    size_t n, cap;
    const char *exe;
    unsigned long long adds, subs;
    bool counted, failed;
};

/* Only the loader's counts. */
static int count_modules(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct module_list *l = arg;
    if (size < offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
        return 1;
    l->adds = info->dlpi_adds;
    l->subs = info->dlpi_subs;
    l->counted = true;
    return 1;
}

/* Every loaded file with its address range: from its first loadable segment's page (where
 * libdw expects a module to start, to find the load bias again) to its last byte. */
static int list_modules(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct module_list *l = arg;
    if (!l->counted)
        count_modules(info, size, arg);
    const char *name = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name
                       : l->n == 0 ? l->exe : NULL;
    if (!name)
        return 0;
    Dwarf_Addr lo = 0, hi = 0;
    bool first = true;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        if (first) {
            Dwarf_Addr align = ph->p_align ? ph->p_align : 1;
            lo = ph->p_vaddr & -align;
            first = false;
        }
        if (ph->p_vaddr + ph->p_memsz > hi)
            hi = ph->p_vaddr + ph->p_memsz;
    }
    if (first)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct module_range *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->failed = true;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        l->failed = true;
        return 1;
    }
    l->v[l->n++] = (struct module_range){copy, info->dlpi_addr + lo, info->dlpi_addr + hi};
    return 0;
}

/* Report the loaded files again if the set has changed since the last report. False
 * when it could not for want of memory. */
static bool refresh(struct curio__dwarf *d)
{
    struct module_list l = {.exe = d->exe};
    dl_iterate_phdr(count_modules, &l);
    if (d->reported && l.counted && l.adds == d->adds && l.subs == d->subs)
        return true;
    l.counted = false;
    dl_iterate_phdr(list_modules, &l);
    if (!l.failed) {
        dwfl_report_begin(d->dwfl);
        for (size_t i = 0; i < l.n; i++)
            if (!dwfl_report_module(d->dwfl, l.v[i].name, l.v[i].start, l.v[i].end))
                l.failed = true;
        dwfl_report_end(d->dwfl, NULL, NULL);
    }
    /* A report that failed part way is made again next time. */
    d->reported = !l.failed && l.counted;
    d->adds = l.adds;
    d->subs = l.subs;
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i].name);
    free(l.v);
    return !l.failed;
}

curio__dwarf *curio__dwarf_take(bool *failed)
{
    take_lock();
    if (!session && !exiting) {
        if (!at_exit_set) {
            at_exit_set = true;
            atexit(free_at_exit);
            pthread_atfork(NULL, NULL, forked_child);
        }
        session = session_new();
        if (!session)
            *failed = true;
    }
    if (!session) {
        give_lock();
        return NULL;
    }
    if (!refresh(session))
        *failed = true;
    return session;
}

void curio__dwarf_give(curio__dwarf *d)
{
    if (d)
        give_lock();
}

void curio__symbolise_release(void)
{
    take_lock();
    session_free(session);
    session = NULL;
    give_lock();
}

/* ---- one address ---- */

/* Drop "dir/../" and "./" segments of a path, as text: compilers record the build
 * directory and a relative source path, giving ".../build/../kernel/trap.c". */
static void tidy_path(char *p)
{
    char *out = p;
    for (char *in = p; *in;) {
        if (in[0] == '.' && in[1] == '/' && (in == p || in[-1] == '/')) {
            in += 2;
            continue;
        }
        if (in[0] == '.' && in[1] == '.' && in[2] == '/' && out > p + 1 && out[-1] == '/') {
            char *prev = out - 1;
            while (prev > p && prev[-1] != '/')
                prev--;
            if (!(prev[0] == '.' && prev[1] == '.' && prev[2] == '/')) {
                out = prev;
                in += 3;
                continue;
            }
        }
        *out++ = *in++;
    }
    *out = 0;
}

/* A source file's path as shown: made absolute with the compilation directory if it is
 * not, and tidied. malloc'd, or NULL. */
static char *source_path(Dwarf_Die *cu, const char *file)
{
    if (!file || !*file)
        return NULL;
    Dwarf_Attribute attr;
    const char *dir = file[0] == '/' ? NULL
                                     : dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr));
    size_t dn = dir ? strlen(dir) : 0, fn = strlen(file);
    char *p = malloc(dn + 1 + fn + 1);
    if (!p)
        return NULL;
    if (dir) {
        memcpy(p, dir, dn);
        p[dn++] = '/';
    }
    memcpy(p + dn, file, fn + 1);
    tidy_path(p);
    return p;
}

static bool is_function(Dwarf_Die *die)
{
    int tag = dwarf_tag(die);
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine;
}

/* Append one frame, unless it names the function of the frame just inside it (after gcc
 * split a function (ipa-split) and merged it back, the debugging information says it was
 * inlined into itself, at its first line). */
static void add(curio__frames *f, size_t first, size_t index, const char *name, char *file,
                unsigned line, const char *module, uintptr_t offset)
{
    if (name && f->n > first && f->v[f->n - 1].func && strcmp(f->v[f->n - 1].func, name) == 0) {
        free(file);
        return;
    }
    char *func = name ? strdup(name) : NULL;
    if (name && !func)
        f->failed = true;
    curio__frames_add(f, index, func, file, line, module, offset);
}

/* The compilation unit whose code holds at: by .debug_aranges (libdw's lookup), else by
 * asking each unit for its ranges, since clang writes no .debug_aranges and libdw 0.188
 * looks no further. */
static Dwarf_Die *unit_of(Dwfl_Module *mod, Dwarf_Addr at, Dwarf_Addr *bias)
{
    Dwarf_Die *cu = dwfl_module_addrdie(mod, at, bias);
    if (cu)
        return cu;
    while ((cu = dwfl_module_nextcu(mod, cu, bias)) != NULL)
        if (dwarf_haspc(cu, at - *bias) > 0)
            return cu;
    return NULL;
}

size_t curio__dwarf_frames(curio__dwarf *d, uintptr_t at, size_t index, const char *module,
                           uintptr_t offset, curio__frames *f)
{
    Dwfl_Module *mod = dwfl_addrmodule(d->dwfl, at);
    if (!mod)
        return 0;
    size_t first = f->n;
    GElf_Off symoff;
    GElf_Sym sym;
    const char *symname = dwfl_module_addrinfo(mod, at, &symoff, &sym, NULL, NULL, NULL);

    /* The innermost frame's line, from the line table. */
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = unit_of(mod, at, &bias);
    char *file = NULL;
    unsigned line = 0;
    Dwarf_Line *l = cu ? dwarf_getsrc_die(cu, at - bias) : NULL;
    int ln = 0;
    const char *src = l && dwarf_lineno(l, &ln) == 0 ? dwarf_linesrc(l, NULL, NULL) : NULL;
    if (src && ln > 0) {
        file = source_path(cu, src);
        line = file ? (unsigned)ln : 0;
    }

    /* The scopes around the address, innermost first: each inlined call is a frame, at
     * the line of the call (DW_AT_call_file, DW_AT_call_line) in the function around it,
     * up to the function the code really lies in. dwarf_getscopes finds the innermost
     * scope; dwarf_getscopes_die lists what contains it in the code as compiled. */
    Dwarf_Die *scopes = NULL, *chain = NULL;
    int nchain = 0;
    if (cu && dwarf_getscopes(cu, at - bias, &scopes) > 0)
        nchain = dwarf_getscopes_die(&scopes[0], &chain);
    free(scopes);
    Dwarf_Files *files = NULL;
    bool outermost = false;
    for (int i = 0; i < nchain && !outermost; i++) {
        if (!is_function(&chain[i]))
            continue;
        const char *name = dwarf_diename(&chain[i]);
        outermost = dwarf_tag(&chain[i]) == DW_TAG_subprogram;
        if (!name && outermost)
            name = symname;
        add(f, first, index, name, file, line, module, offset);
        file = NULL;
        line = 0;
        if (outermost)
            break;
        Dwarf_Attribute attr;
        Dwarf_Word cf = 0, cl = 0;
        if (dwarf_formudata(dwarf_attr(&chain[i], DW_AT_call_line, &attr), &cl) == 0 && cl &&
            dwarf_formudata(dwarf_attr(&chain[i], DW_AT_call_file, &attr), &cf) == 0 &&
            (files || dwarf_getsrcfiles(cu, &files, NULL) == 0)) {
            file = source_path(cu, dwarf_filesrc(files, cf, NULL, NULL));
            line = file ? (unsigned)cl : 0;
        }
    }
    free(chain);
    if (!outermost && (symname || file || f->n > first))
        add(f, first, index, symname, file, line, module, offset); /* where no DWARF says */
    else
        free(file);
    return f->n - first;
}

#else /* without libdw */

curio__dwarf *curio__dwarf_take(bool *failed)
{
    (void)failed;
    return NULL;
}

void curio__dwarf_give(curio__dwarf *d)
{
    (void)d;
}

size_t curio__dwarf_frames(curio__dwarf *d, uintptr_t at, size_t index, const char *module,
                           uintptr_t offset, curio__frames *f)
{
    (void)d;
    (void)at;
    (void)index;
    (void)module;
    (void)offset;
    (void)f;
    return 0;
}

void curio__symbolise_release(void) {}

#endif
