/*
 * monitor/elf.c - function names from an ELF file's symbol table.
 *
 * dladdr(3) only knows the dynamic symbol table: exported names. Library-internal
 * functions (hidden visibility, static functions) are not there, and dladdr then names
 * the nearest exported symbol before the address, which is wrong. The full table
 * (.symtab) of an unstripped file has every function with its size, so an address is
 * named only by the function that really contains it. A stripped file falls back to
 * .dynsym, still with sizes. The file is mapped read-only for one symbolisation.
 */
#include "monitor.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct curio__elf_cache {
    curio__elf_cache *next;
    char *path;
    void *map;                   /* the whole file, or NULL if it could not be read */
    size_t size;
    const ElfW(Sym) *syms;       /* the symbol table chosen, inside map */
    size_t nsyms;
    const char *strtab;          /* its string table, inside map */
    size_t strsize;
};

/* The section header i, if the file really has it. */
static const ElfW(Shdr) *section(const curio__elf_cache *e, size_t i)
{
    const ElfW(Ehdr) *eh = e->map;
    if (i >= eh->e_shnum)
        return NULL;
    size_t at = (size_t)eh->e_shoff + i * sizeof(ElfW(Shdr));
    if (at < (size_t)eh->e_shoff || at + sizeof(ElfW(Shdr)) > e->size ||
        at % _Alignof(ElfW(Shdr)))
        return NULL;
    return (const ElfW(Shdr) *)((const char *)e->map + at);
}

static bool inside(const curio__elf_cache *e, const ElfW(Shdr) *sh)
{
    return sh->sh_type != SHT_NOBITS && sh->sh_offset <= e->size &&
           sh->sh_size <= e->size - sh->sh_offset;
}

/* Find the symbol table of the given type and its strings. */
static bool pick_table(curio__elf_cache *e, uint32_t type)
{
    const ElfW(Ehdr) *eh = e->map;
    for (size_t i = 0; i < eh->e_shnum; i++) {
        const ElfW(Shdr) *sh = section(e, i);
        if (!sh || sh->sh_type != type || !inside(e, sh) ||
            sh->sh_entsize != sizeof(ElfW(Sym)) || sh->sh_offset % _Alignof(ElfW(Sym)))
            continue;
        const ElfW(Shdr) *st = section(e, sh->sh_link);
        if (!st || st->sh_type != SHT_STRTAB || !inside(e, st))
            continue;
        e->syms = (const ElfW(Sym) *)((const char *)e->map + sh->sh_offset);
        e->nsyms = sh->sh_size / sizeof(ElfW(Sym));
        e->strtab = (const char *)e->map + st->sh_offset;
        e->strsize = st->sh_size;
        return true;
    }
    return false;
}

static bool valid_header(const void *map, size_t size)
{
    const ElfW(Ehdr) *eh = map;
    return size >= sizeof *eh && memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
           eh->e_ident[EI_CLASS] == (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) &&
           eh->e_shentsize == sizeof(ElfW(Shdr));
}

static void load(curio__elf_cache *e)
{
    int fd = open(e->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map != MAP_FAILED) {
            e->map = map;
            e->size = (size_t)st.st_size;
        }
    }
    close(fd);
    if (e->map && (!valid_header(e->map, e->size) ||
                   (!pick_table(e, SHT_SYMTAB) && !pick_table(e, SHT_DYNSYM)))) {
        munmap(e->map, e->size);
        e->map = NULL;
    }
}

static curio__elf_cache *find(curio__elf_cache **cache, const char *path)
{
    for (curio__elf_cache *e = *cache; e; e = e->next)
        if (strcmp(e->path, path) == 0)
            return e;
    curio__elf_cache *e = calloc(1, sizeof *e);
    if (!e || !(e->path = strdup(path))) {
        free(e);
        return NULL;
    }
    load(e);
    e->next = *cache;
    *cache = e;
    return e;
}

char *curio__elf_function(curio__elf_cache **cache, const char *path, uintptr_t off)
{
    curio__elf_cache *e = find(cache, path);
    if (!e || !e->map)
        return NULL;
    for (size_t i = 0; i < e->nsyms; i++) {
        const ElfW(Sym) *s = &e->syms[i];
        int type = ELF64_ST_TYPE(s->st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF)
            continue;
        if (off < s->st_value || off - s->st_value >= (s->st_size ? s->st_size : 1))
            continue;
        if (s->st_name >= e->strsize)
            continue;
        const char *name = e->strtab + s->st_name;
        size_t len = strnlen(name, e->strsize - s->st_name);
        if (len == 0 || len == e->strsize - s->st_name)
            continue; /* empty, or not terminated inside the table */
        return strndup(name, len);
    }
    return NULL;
}

void curio__elf_close(curio__elf_cache *cache)
{
    while (cache) {
        curio__elf_cache *next = cache->next;
        if (cache->map)
            munmap(cache->map, cache->size);
        free(cache->path);
        free(cache);
        cache = next;
    }
}
