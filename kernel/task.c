/*
 * kernel/task.c - spawning, joining, cancelling, identity and task-local storage.
 *
 * A task record is freed when the task has ended and no handle to it is held (the
 * spawner's, or a group's). The stack goes back to the pool as soon as the task ends,
 * unless it holds the record itself (curio__spawn_on_stack): then it goes with the record.
 */
#include "core.h"
#include "waitq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef CURIO_ASAN
#include <sanitizer/asan_interface.h>
#endif

static int copy_locals(curio__task *t, const curio__task *parent)
{
    if (!parent || parent->nlocals == 0)
        return 0;
    t->locals = malloc(parent->nlocals * sizeof(*t->locals));
    if (!t->locals)
        return -ENOMEM;
    memcpy(t->locals, parent->locals, parent->nlocals * sizeof(*t->locals));
    t->nlocals = t->cap_locals = parent->nlocals;
    return 0;
}

/* Clear a pooled record with plain 16-byte stores: for 320 bytes, `rep stos` (what gcc
 * makes of memset here) has a start-up cost of its own that was a tenth of a spawn. The
 * attribute keeps the compiler from turning the loop back into a memset call. */
#if defined(__clang__)
#define NO_MEMSET_IDIOM __attribute__((no_builtin("memset")))
#elif defined(__GNUC__)
#define NO_MEMSET_IDIOM __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_MEMSET_IDIOM
#endif
NO_MEMSET_IDIOM static void clear_record(curio__task *t)
{
    typedef long long v2 __attribute__((vector_size(16), may_alias));
    v2 *p = (v2 *)(void *)t;
    size_t i, n = sizeof(*t) / sizeof(v2);
#pragma GCC unroll 32
    for (i = 0; i < n; i++)
        p[i] = (v2){0, 0};
    if (sizeof(*t) % sizeof(v2))
        memset(p + n, 0, sizeof(*t) % sizeof(v2));
}

/* Everything a spawn does once t has a record and a stack (t->stack), and `reserved`
 * bytes at the stack's top are taken (by the record itself and the caller's room). */
static int spawn_finish(curio_kernel *k, curio__task *parent, curio__task *t,
                        curio_task_fn fn, void *arg, const curio_spawn_options *o,
                        size_t reserved)
{
    if (copy_locals(t, parent) < 0)
        return -ENOMEM;
    t->k = k;
    t->id = ++k->next_id;
    t->parent_id = parent ? parent->id : 0;
    if (o && o->name)
        snprintf(t->name, sizeof t->name, "%s", o->name);
    /* else the default name "task-<id>" is made when first asked for: formatting it here
     * would be a third of the cost of a spawn. */
    t->fn = fn;
    t->arg = arg;
    t->daemon = o && o->daemon;
    t->handles = 1;
    t->heap_index = SIZE_MAX;
    t->sleep_until = CURIO__NO_DEADLINE;
    pthread_mutex_lock(&k->tasks_lock);
    curio__list_push_back(&k->all, &t->all_node);
    pthread_mutex_unlock(&k->tasks_lock);
    k->ntasks++;
    curio__task_start_ctx(t, reserved);
    curio__ready(t);
    return 0;
}

int curio__spawn(curio_kernel *k, curio__task *parent, curio__task **out, curio_task_fn fn,
                 void *arg, const curio_spawn_options *o)
{
    if (!fn)
        return -EINVAL;
    curio__task *t = k->free_tasks;
    if (t) {
        k->free_tasks = t->ready_next;
        k->nfree_tasks--;
        clear_record(t);
    } else if (!(t = calloc(1, sizeof(*t)))) {
        return -ENOMEM;
    }
    t->stack = curio__stack_get(k, o ? o->stack_size : 0);
    if (!t->stack || spawn_finish(k, parent, t, fn, arg, o, 0) < 0) {
        if (t->stack)
            curio__stack_put(k, t->stack);
        free(t);
        return -ENOMEM;
    }
    *out = t;
    return 0;
}

/* An on-stack record takes this much of its stack's top: a multiple of 64 bytes, so that
 * the record starts a cache line and the caller's room under it stays 16-byte aligned. */
#define RECORD_ROOM ((sizeof(curio__task) + 63) & ~(size_t)63)

int curio__spawn_on_stack(curio__task **out, curio_task_fn fn, size_t room, void **roomp,
                          const curio_spawn_options *o)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (!fn)
        return -EINVAL;
    curio_kernel *k = self->k;
    room = (room + 15) & ~(size_t)15;
    struct curio__stack *s = curio__stack_get(k, o ? o->stack_size : 0);
    if (!s)
        return -ENOMEM;
    size_t reserved = RECORD_ROOM + room;
    if (room > s->size / 4) {
        curio__stack_put(k, s);
        return -EINVAL;
    }
    /* The top is 64-byte aligned: a page boundary, or a slab slot's end under the next
     * slot's canary bytes (kernel/stack.c). */
    char *top = (char *)s->base + s->size;
    curio__task *t = (curio__task *)(void *)(top - RECORD_ROOM);
    char *mine = top - reserved;
#ifdef CURIO_ASAN
    /* Frames of earlier tasks on this stack may have left these bytes poisoned. */
    __asan_unpoison_memory_region(mine, reserved);
#endif
    clear_record(t);
    memset(mine, 0, room);
    t->stack = t->home = s;
    if (spawn_finish(k, self, t, fn, mine, o, reserved) < 0) {
        curio__stack_put(k, s);
        return -ENOMEM;
    }
    *roomp = mine;
    *out = t;
    return 0;
}

int curio_spawn_ex(curio_task **out, curio_task_fn fn, void *arg,
                   const curio_spawn_options *opts)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    return curio__spawn(self->k, self, out, fn, arg, opts);
}

curio_task *curio_spawn(curio_task_fn fn, void *arg)
{
    curio_task *t = NULL;
    return curio_spawn_ex(&t, fn, arg, NULL) == 0 ? t : NULL;
}

/* Records are kept for reuse, up to as many as the stack cache holds stacks. A record on
 * its stack goes back with that stack (to the pool, where its page stays warm for the next
 * task), and must not be touched afterwards. */
static void task_free(curio__task *t)
{
    curio_kernel *k = t->k;
    k->ntasks--;
    if (t->locals)
        free(t->locals);
    if (t->scopes)
        free(t->scopes);
    if (t->home) {
        curio__stack_put(k, t->home);
        return;
    }
    if (k->nfree_tasks < k->opts.stack_cache) {
        t->ready_next = k->free_tasks;
        k->free_tasks = t;
        k->nfree_tasks++;
    } else {
        free(t);
    }
}

void curio__task_maybe_free(curio__task *t)
{
    if (!t->done || t->handles || t->group || t->stack)
        return;
    if (t->zombie) {
        pthread_mutex_lock(&t->k->tasks_lock);
        curio__list_remove(&t->k->zombies, &t->all_node);
        pthread_mutex_unlock(&t->k->tasks_lock);
    }
    task_free(t);
}

void curio_task_release(curio_task *t)
{
    if (!t || t->handles == 0)
        return;
    t->handles--;
    curio__task_maybe_free(t);
}

curio_task *curio_task_retain(curio_task *t)
{
    if (t)
        t->handles++;
    return t;
}

static int outcome(const curio__task *t, long *result)
{
    if (t->cancelled)
        return CURIO_ETASKCANCELLED;
    if (result)
        *result = t->result;
    return 0;
}

int curio_task_result(const curio_task *t, long *result)
{
    if (!t)
        return -EINVAL;
    return t->done ? outcome(t, result) : -EBUSY;
}

int curio_task_wait(curio_task *t)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (!t || t->k != self->k)
        return -EINVAL;
    if (t == self)
        return -EDEADLK;
    while (!t->done) {
        curio__waiter w;
        int rc = curio__waitq_wait(&t->joiners, &w, "TASK_JOIN");
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Joining collects the outcome, so t leaves its task group (Curio's Task.join()); a bare
 * curio_task_wait does not. */
int curio_join(curio_task *t, long *result)
{
    int rc = curio_task_wait(t);
    if (rc < 0)
        return rc;
    curio__group_discard(t);
    return outcome(t, result);
}

int curio_cancel_nowait(curio_task *t)
{
    if (!t)
        return -EINVAL;
    if (curio__tls_kernel != t->k)
        return -EPERM;
    if (t->done || t->cancel_requested)
        return 0;
    t->cancel_requested = true;
    curio__task *by = curio__self();
    t->cancel_by = by ? by->id : 0;
    curio__scopes_drop_deadlines(t);
    if (t->nocancel == 0)
        curio__interrupt(t, -ECANCELED);
    return 0;
}

int curio_cancel(curio_task *t)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    if (!t)
        return -EINVAL;
    if (t == self)
        return -EDEADLK;
    int rc = curio_cancel_nowait(t);
    return rc < 0 ? rc : curio_task_wait(t);
}

curio_task *curio_current(void) { return curio__self(); }
uint64_t curio_task_id(const curio_task *t) { return t->id; }
uint64_t curio_task_parent_id(const curio_task *t) { return t->parent_id; }
const char *curio_task_name(const curio_task *t)
{
    curio__task *m = (curio__task *)t; /* the lazily made default is a cache, not a change */
    if (!m->name[0]) {
        pthread_mutex_lock(&m->k->tasks_lock);
        snprintf(m->name, sizeof m->name, "task-%llu", (unsigned long long)m->id);
        pthread_mutex_unlock(&m->k->tasks_lock);
    }
    return m->name;
}
const char *curio_task_state(const curio_task *t) { return t->state ? t->state : "READY"; }
uint64_t curio_task_cycles(const curio_task *t) { return t->cycles; }
bool curio_task_daemon(const curio_task *t) { return t->daemon; }
bool curio_task_done(const curio_task *t) { return t->done; }
bool curio_task_cancelled(const curio_task *t) { return t->cancelled; }
bool curio_task_cancel_requested(const curio_task *t) { return t->cancel_requested; }
curio_group *curio_task_group(const curio_task *t) { return t->group; }

int curio_task_set_name(curio_task *t, const char *name)
{
    if (!t || !name)
        return -EINVAL;
    pthread_mutex_lock(&t->k->tasks_lock);
    snprintf(t->name, sizeof t->name, "%s", name);
    pthread_mutex_unlock(&t->k->tasks_lock);
    return 0;
}

/* ---- task-local storage ---- */

static curio__local_slot *find_local(curio__task *t, const curio_local *key)
{
    for (unsigned i = 0; i < t->nlocals; i++)
        if (t->locals[i].key == key)
            return &t->locals[i];
    return NULL;
}

void *curio_local_get(const curio_local *key)
{
    curio__task *self = curio__self();
    curio__local_slot *s = self ? find_local(self, key) : NULL;
    return s ? s->value : NULL;
}

int curio_local_set(const curio_local *key, void *value)
{
    curio__task *self = curio__self();
    if (!self)
        return -EPERM;
    curio__local_slot *s = find_local(self, key);
    if (s) {
        if (value) {
            s->value = value;
        } else {
            *s = self->locals[--self->nlocals];
        }
        return 0;
    }
    if (!value)
        return 0;
    if (curio__grow(&self->locals, &self->cap_locals, self->nlocals, sizeof(*self->locals)))
        return -ENOMEM;
    self->locals[self->nlocals++] = (curio__local_slot){key, value};
    return 0;
}
