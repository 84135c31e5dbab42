/*
 * kernel/list.h - the library's one doubly linked list, intrusive: a record that goes on
 * a list embeds a curio__list_node, and the list (curio__list: its first and last node)
 * never allocates. Every layer uses it for its lists of records (tasks of a kernel, ended
 * members of a group, jobs of the thread pool, connections of a server, watchers of the
 * signal hub, monitor sessions, waiters of a wait queue).
 *
 *     struct conn { curio__list_node node; int fd; };
 *     curio__list conns = {0};                          // all zero is empty
 *     curio__list_push_back(&conns, &c->node);
 *     curio__list_foreach_entry(c, &conns, struct conn, node)
 *         use(c->fd);
 *     curio__list_foreach_entry_safe(c, &conns, struct conn, node)
 *         if (done(c)) curio__list_remove(&conns, &c->node);   // may unlink c itself
 *     struct conn *first = curio__list_entry(curio__list_pop_front(&conns), struct conn, node);
 *
 * The list ends in NULL at both sides (it is not circular), so that all zero is an empty
 * list and a node needs no initialising before it is pushed: records that are calloc'ed,
 * cleared or statically initialised are ready, and the public value types that embed wait
 * queues keep their {0} initialisers. The list does not know whether a node is on it: a
 * record that needs to ask keeps a flag of its own (or knows it from its state). A node is
 * on one list at a time.
 *
 * The curio__list type itself is defined in include/curio.h (see there why).
 *
 * Some lists are singly linked and stay so, being simpler as they are: nothing is ever
 * unlinked from their middle, so a back link would be dead weight on every push and pop.
 * They are the kernel's ready queue (ready_next: FIFO, the hottest path), the free lists
 * of task records and stacks and the stack pool's slabs (LIFO), the posts from other
 * threads (FIFO under a lock), the wake-ups a universal object gathers under its mutex
 * (FIFO, walked once), the process pool's idle workers (LIFO), a channel's admitted
 * connections and a TLS connection's unsent chunks (FIFO), and the monitor's cache of
 * ELF files (pushed, walked, freed whole).
 */
#ifndef CURIO_KERNEL_LIST_H
#define CURIO_KERNEL_LIST_H

#include "curio.h"

#include <stddef.h>

typedef struct curio__list_node {
    struct curio__list_node *prev, *next;
} curio__list_node;

/* The record that embeds node n as its member `member`; NULL for a NULL node (so that
 * curio__list_entry(curio__list_first(l), ...) is NULL on an empty list). */
static inline void *curio__list_record(const curio__list_node *n, size_t offset)
{
    return n ? (void *)((char *)(uintptr_t)n - offset) : NULL;
}
#define curio__list_entry(n, type, member) \
    ((type *)curio__list_record((n), offsetof(type, member)))

static inline void curio__list_init(curio__list *l) { l->head = l->tail = NULL; }
static inline bool curio__list_empty(const curio__list *l) { return l->head == NULL; }
static inline curio__list_node *curio__list_first(const curio__list *l) { return l->head; }
static inline curio__list_node *curio__list_last(const curio__list *l) { return l->tail; }
static inline curio__list_node *curio__list_next(const curio__list_node *n) { return n->next; }
static inline curio__list_node *curio__list_prev(const curio__list_node *n) { return n->prev; }

static inline void curio__list_push_back(curio__list *l, curio__list_node *n)
{
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

static inline void curio__list_push_front(curio__list *l, curio__list_node *n)
{
    n->prev = NULL;
    n->next = l->head;
    if (l->head)
        l->head->prev = n;
    else
        l->tail = n;
    l->head = n;
}

/* Unlink n, which must be on l. Its links are left stale: nothing may follow them until
 * it is pushed again. */
static inline void curio__list_remove(curio__list *l, curio__list_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
}

/* Unlink and return the first node, or NULL if l is empty. */
static inline curio__list_node *curio__list_pop_front(curio__list *l)
{
    curio__list_node *n = l->head;
    if (n) {
        l->head = n->next; /* the first node has no prev */
        if (n->next)
            n->next->prev = NULL;
        else
            l->tail = NULL;
    }
    return n;
}

/* Iterate over the nodes of l, first to last. The body must not unlink n. */
#define curio__list_foreach(n, l) \
    for (curio__list_node *n = (l)->head; n; n = n->next)

/* Iterate over the records (of type `type`, linked by their member `member`) of l. The
 * body must not unlink var. */
#define curio__list_foreach_entry(var, l, type, member)                                    \
    for (type *var = curio__list_entry((l)->head, type, member); var;                      \
         var = curio__list_entry(var->member.next, type, member))

/* The same, safe against the body unlinking (or freeing) var: the next record is read
 * before the body runs. The body must not unlink that next record. */
#define curio__list_foreach_entry_safe(var, l, type, member)                               \
    for (type *var = curio__list_entry((l)->head, type, member),                           \
              *var##_next_ = var ? curio__list_entry(var->member.next, type, member) : NULL; \
         var; var = var##_next_,                                                           \
              var##_next_ = var ? curio__list_entry(var->member.next, type, member) : NULL)

#endif
