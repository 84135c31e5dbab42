/*
 * kernel/stack.c - task stacks: a pool, guard pages, and the overflow report.
 *
 * Each guarded stack is its own mapping with a PROT_NONE page below it, which costs two
 * kernel VMAs. vm.max_map_count (65530 by default) caps VMAs per process, so only a budget
 * of stacks is guarded; past it, stacks are carved from large unguarded slabs (adjacent
 * anonymous mappings merge into one VMA) and protected by a canary checked whenever the
 * task switches out. Either way an overflow is reported naming the task.
 *
 * Memory is reserved with MAP_NORESERVE and only touched pages become resident, so a big
 * virtual stack costs little: a parked task typically holds one page. To keep it at one,
 * a slab stack's canary does not sit in the stack's own lowest page (writing it would make
 * that page resident too) but in the last bytes of the slot below it, just under this
 * stack's base, in that neighbour's top page, which is resident anyway while it is in use.
 * Guarded stacks have no canary: the guard page catches their overflows.
 *
 * A stack given back keeps the pages its task touched, and the next task on it would hold
 * them all while parked: one deep call (a TLS handshake, a parser) would make every later
 * idle connection on that stack cost its depth. So stacks given back go on a "used" list,
 * taken first (their pages are warm); when the kernel is idle, curio__stacks_trim returns
 * the pages of each used stack but its top one to the system (MADV_DONTNEED: they read as
 * zeros again when touched) and moves it to the "clean" list, a few at a time. Fresh
 * stacks start on the clean list.
 */
#include "core.h"

#include <signal.h>
#include <ucontext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLAB_STACKS 64
#define GUARD_BATCH 16 /* guarded stacks mapped at once */
#define CANARY_ROOM 64 /* bytes at the top of each slab slot that hold the next one's canary */
/* Bytes at the top of a guarded stack's mapping that hold its own descriptor: the page is
 * resident whenever the stack is in use (and kept by clean()), so the descriptor costs
 * no memory of its own. */
#define DESC_ROOM ((sizeof(struct curio__stack) + 63) & ~(size_t)63)

struct curio__slab {
    struct curio__slab *next;
    void *mem;
    size_t len;
    struct curio__stack descs[SLAB_STACKS];
};

struct curio__stack_pool {
    size_t size;                    /* the kernel's default stack size */
    struct curio__stack *free;      /* LIFO of free guarded stacks of the default size whose
                                       pages below the top one may be resident (used) */
    struct curio__stack *free_clean; /* ... whose pages below the top one are not */
    size_t nfree;                   /* on free and free_clean */
    struct curio__stack *free_slab; /* LIFO of free slab stacks (never unmapped alone), used */
    struct curio__stack *free_slab_clean; /* ... and clean */
    struct curio__slab *slabs;
    struct curio__slab *cur_slab;   /* the slab being carved */
    unsigned cur_used;
};

static size_t page_size;        /* set once, by the first kernel created in the process */
static pthread_once_t page_size_once = PTHREAD_ONCE_INIT;

static void page_size_init(void) { page_size = (size_t)sysconf(_SC_PAGESIZE); }
/* Guarded stacks alive in the process: VMAs are a per-process resource shared by all
 * kernels, so the budget is too. */
static _Atomic long guarded_live;
static _Atomic long guard_budget = -1; /* set once, by the first kernel created */

static long default_guard_budget(void)
{
    long max = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 65530;
        fclose(f);
    }
    /* Leave room for the program's own mappings (libraries, malloc arenas, slabs). */
    long b = max / 2 - 4096;
    return b > 0 ? b : 0;
}

int curio__stacks_create(curio_kernel *k)
{
    pthread_once(&page_size_once, page_size_init); /* kernels may start on two threads */
    long unset = -1;
    long want = k->opts.guarded_stacks ? (long)k->opts.guarded_stacks : default_guard_budget();
    atomic_compare_exchange_strong(&guard_budget, &unset, want);
    struct curio__stack_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->size = k->opts.stack_size;
    k->stacks = p;
    return 0;
}

static size_t round_size(size_t size)
{
    if (size < 16384)
        size = 16384;
    return (size + page_size - 1) & ~(page_size - 1);
}

/* Take up to `want` guarded stacks from the process's budget; returns how many. */
static long reserve_guards(long want)
{
    long cur = atomic_load(&guarded_live), n;
    do {
        long room = atomic_load(&guard_budget) - cur;
        if (room <= 0)
            return 0;
        n = want < room ? want : room;
    } while (!atomic_compare_exchange_weak(&guarded_live, &cur, cur + n));
    return n;
}

/*
 * Map n guarded stacks of `size` with one mmap (each then gets its guard page from an
 * mprotect, and is unmapped on its own later), and hand them out through *list. Mapping
 * them one by one would cost a second system call per stack. Returns how many were made.
 */
static long map_guarded(size_t size, long n, struct curio__stack **list)
{
    n = reserve_guards(n);
    if (n == 0)
        return 0;
    size_t span = size + page_size;
    char *mem = mmap(NULL, span * (size_t)n, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) {
        atomic_fetch_sub(&guarded_live, n);
        return 0;
    }
    long made = 0;
    for (long i = 0; i < n; i++) {
        char *at = mem + span * (size_t)i;
        if (mprotect(at, page_size, PROT_NONE) != 0) {
            munmap(at, span * (size_t)(n - i));
            atomic_fetch_sub(&guarded_live, n - i);
            break;
        }
        struct curio__stack *s = (struct curio__stack *)(void *)(at + span - DESC_ROOM);
        s->base = at + page_size;
        s->size = size - DESC_ROOM;
        s->guarded = true;
        s->single = false;
        s->canary = NULL;
        s->next_free = *list;
        *list = s;
        made++;
    }
    return made;
}

/* An odd-sized stack once the guard budget is spent: a mapping of its own with the canary
 * in its lowest bytes. It is unmapped when its task ends. */
static struct curio__stack *map_single(size_t size)
{
    struct curio__stack *s = malloc(sizeof(*s));
    char *mem = s ? mmap(NULL, size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0)
                  : MAP_FAILED;
    if (mem == MAP_FAILED) {
        free(s);
        return NULL;
    }
    s->base = mem + CANARY_ROOM;
    s->size = size - CANARY_ROOM;
    s->guarded = false;
    s->single = true;
    s->canary = (uint64_t *)(s->base - sizeof(uint64_t));
    return s;
}

static struct curio__stack *carve_unguarded(struct curio__stack_pool *p)
{
    if (!p->cur_slab || p->cur_used == SLAB_STACKS) {
        struct curio__slab *sl = calloc(1, sizeof(*sl));
        if (!sl)
            return NULL;
        sl->len = p->size * SLAB_STACKS + page_size; /* + a page for slot 0's canary */
        sl->mem = mmap(NULL, sl->len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (sl->mem == MAP_FAILED) {
            free(sl);
            return NULL;
        }
        sl->next = p->slabs;
        p->slabs = sl;
        p->cur_slab = sl;
        p->cur_used = 0;
    }
    struct curio__stack *s = &p->cur_slab->descs[p->cur_used];
    char *slot = (char *)p->cur_slab->mem + page_size + (size_t)p->cur_used * p->size;
    s->base = slot;
    s->size = p->size - CANARY_ROOM;
    s->guarded = false;
    s->single = false;
    s->canary = (uint64_t *)(slot - sizeof(uint64_t));
    p->cur_used++;
    return s;
}

static struct curio__stack *pop(struct curio__stack **list)
{
    struct curio__stack *s = *list;
    if (s)
        *list = s->next_free;
    return s;
}

static void push(struct curio__stack **list, struct curio__stack *s)
{
    s->next_free = *list;
    *list = s;
}

/* Reuse before mapping; guarded before unguarded. */
struct curio__stack *curio__stack_get(curio_kernel *k, size_t size)
{
    struct curio__stack_pool *p = k->stacks;
    struct curio__stack *s = NULL;
    size = size ? round_size(size) : p->size;
    if (size == p->size) {
        if (!p->free && !p->free_clean && !p->free_slab && !p->free_slab_clean)
            p->nfree += (size_t)map_guarded(size, GUARD_BATCH, &p->free_clean);
        if ((s = pop(&p->free)) || (s = pop(&p->free_clean)))
            p->nfree--;
        else if (!(s = pop(&p->free_slab)) && !(s = pop(&p->free_slab_clean)))
            s = carve_unguarded(p);
    } else if (map_guarded(size, 1, &s) == 0) {
        s = map_single(size);
    }
    if (!s)
        return NULL;
    s->next_free = NULL;
    if (s->canary)
        *s->canary = CURIO__CANARY;
    return s;
}

/* s itself lies in the mapping: gone with it. */
static void unmap_guarded(struct curio__stack *s)
{
    munmap((char *)s->base - page_size, s->size + DESC_ROOM + page_size);
    atomic_fetch_sub(&guarded_live, 1);
}

/* Never a system call here: a task's end must stay cheap even in a burst of a hundred
 * thousand. Guarded stacks past the cache are unmapped later, when the kernel is idle
 * (curio__stacks_trim). Slab stacks stay for reuse until the kernel is destroyed. */
void curio__stack_put(curio_kernel *k, struct curio__stack *s)
{
    struct curio__stack_pool *p = k->stacks;
    if (s->single) {
        munmap((char *)s->base - CANARY_ROOM, s->size + CANARY_ROOM);
        free(s);
    } else if (!s->guarded) {
        push(&p->free_slab, s);
    } else if (s->size + DESC_ROOM == p->size) {
        push(&p->free, s);
        p->nfree++;
    } else {
        unmap_guarded(s); /* an odd size: unlikely to be asked for again */
    }
}

/* Give back the pages of a used stack but its top one (which the next task touches
 * anyway, and which holds a guarded stack's own descriptor or a slab neighbour's canary in
 * its last bytes): the page that holds the stack's last usable byte. */
static void clean(struct curio__stack *s)
{
    char *top = (char *)(((uintptr_t)s->base + s->size - 1) & ~(uintptr_t)(page_size - 1));
    if (top > (char *)s->base)
        madvise(s->base, (size_t)(top - (char *)s->base), MADV_DONTNEED);
}

bool curio__stacks_trim(curio_kernel *k, unsigned max)
{
    struct curio__stack_pool *p = k->stacks;
    unsigned n = 0;
    while (p->nfree > k->opts.stack_cache && n++ < max) {
        struct curio__stack *s = pop(&p->free); /* used ones first: no clean() for them */
        unmap_guarded(s ? s : pop(&p->free_clean));
        p->nfree--;
    }
    struct curio__stack *s;
    while (n++ < max && ((s = pop(&p->free)) || (s = pop(&p->free_slab)))) {
        clean(s);
        push(s->guarded ? &p->free_clean : &p->free_slab_clean, s);
    }
    return p->nfree > k->opts.stack_cache || p->free || p->free_slab;
}

void curio__stacks_destroy(curio_kernel *k)
{
    struct curio__stack_pool *p = k->stacks;
    if (!p)
        return;
    for (struct curio__stack *s = p->free, *n; s; s = n) {
        n = s->next_free;
        unmap_guarded(s);
    }
    for (struct curio__stack *s = p->free_clean, *n; s; s = n) {
        n = s->next_free;
        unmap_guarded(s);
    }
    for (struct curio__slab *sl = p->slabs, *n; sl; sl = n) {
        n = sl->next;
        munmap(sl->mem, sl->len);
        free(sl);
    }
    free(p);
    k->stacks = NULL;
}

/* ---- overflow reports ---- */

static void put_str(char *buf, size_t *at, size_t cap, const char *s)
{
    while (*s && *at + 1 < cap)
        buf[(*at)++] = *s++;
}

static void put_u64(char *buf, size_t *at, size_t cap, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && *at + 1 < cap)
        buf[(*at)++] = tmp[--n];
}

/* Written with write(2) only: this runs in a signal handler. */
static void report_overflow(const curio__task *t, const char *how)
{
    char msg[256];
    size_t at = 0;
    put_str(msg, &at, sizeof msg, "curio: stack overflow in task ");
    put_u64(msg, &at, sizeof msg, t->id);
    put_str(msg, &at, sizeof msg, " \"");
    if (t->name[0]) {
        put_str(msg, &at, sizeof msg, t->name);
    } else {
        put_str(msg, &at, sizeof msg, "task-");
        put_u64(msg, &at, sizeof msg, t->id);
    }
    put_str(msg, &at, sizeof msg, "\" (stack of ");
    put_u64(msg, &at, sizeof msg, t->stack ? t->stack->size : 0);
    put_str(msg, &at, sizeof msg, " bytes; ");
    put_str(msg, &at, sizeof msg, how);
    put_str(msg, &at, sizeof msg, "). Raise curio_options.stack_size or "
                                  "curio_spawn_options.stack_size.\n");
    ssize_t r = write(2, msg, at);
    (void)r;
}

void curio__stack_overflowed(curio__task *t)
{
    report_overflow(t, "its canary was overwritten");
    abort();
}

static struct sigaction old_segv;

/* The interrupted stack pointer, where the architecture is known. */
static char *fault_sp(void *uctx)
{
    ucontext_t *uc = uctx;
#if defined(__x86_64__)
    return (char *)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (char *)uc->uc_mcontext.sp;
#else
    (void)uc;
    return NULL;
#endif
}

/* A SIGSEGV the kernel raised for a bad access (si_code > 0: SEGV_MAPERR, SEGV_ACCERR...)
 * rather than one sent by kill, tgkill, sigqueue or raise (SI_USER, SI_TKILL, SI_QUEUE,
 * all <= 0). Only a real fault repeats when the handler returns. */
static bool real_fault(const siginfo_t *si)
{
    return si->si_code > 0;
}

static void segv_handler(int sig, siginfo_t *si, void *uctx)
{
    curio_kernel *k = curio__tls_kernel;
    curio__task *t = k ? k->current : NULL;
    if (t && t->stack && real_fault(si)) {
        char *base = t->stack->base, *addr = si->si_addr, *sp = fault_sp(uctx);
        const char *how = NULL;
        if (t->stack->guarded && addr >= base - 2 * page_size && addr < base + 256)
            how = "it ran into the guard page";
        else if (sp && sp < base && sp > base - (16u << 20))
            how = "its stack pointer went below the stack";
        if (how) {
            report_overflow(t, how);
            signal(SIGSEGV, SIG_DFL);
            return; /* the access faults again and the process dies of SIGSEGV */
        }
    }
    if (old_segv.sa_flags & SA_SIGINFO) {
        if (old_segv.sa_sigaction) {
            old_segv.sa_sigaction(sig, si, uctx);
            return;
        }
    } else if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN) {
        old_segv.sa_handler(sig);
        return;
    }
    /* The default action: a real fault repeats once we return; a sent signal would not,
     * so it is sent again, now to the default action (SA_NODEFER: not blocked here). */
    signal(SIGSEGV, SIG_DFL);
    if (!real_fault(si))
        raise(SIGSEGV);
}

static void install_segv(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
}

/*
 * The handler runs on an alternate signal stack (the faulting stack is exhausted). A kernel
 * whose thread has none gets one, given back when the kernel is destroyed. The handler is
 * installed once per process and chains to whatever handler was there before for faults
 * that are not ours.
 */
#define ALTSTACK_SIZE 65536

void curio__overflow_handler_install(curio_kernel *k)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
        void *mem = malloc(ALTSTACK_SIZE);
        stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
        if (mem && sigaltstack(&ss, NULL) == 0)
            k->altstack = mem;
        else
            free(mem);
    }
    pthread_once(&once, install_segv);
}

void curio__overflow_handler_release(curio_kernel *k)
{
    if (!k->altstack)
        return;
    stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    free(k->altstack);
    k->altstack = NULL;
}
