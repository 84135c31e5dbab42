/*
 * kernel/access.c - the accessors kernel.h gives the layers in place of the fields of the
 * task and kernel records (kernel/core.h).
 */
#include "core.h"

#include <stddef.h>

/* The views of kernel.h's fast paths match the records. */
#define SAME_FIELD(view, rec, f)                                                            \
    _Static_assert(offsetof(view, f) == offsetof(rec, f) &&                                 \
                       sizeof(((view *)0)->f) == sizeof(((rec *)0)->f),                     \
                   #rec "." #f " is where " #view " reads it")
SAME_FIELD(curio__task_fast, struct curio_task, cancel_requested);
SAME_FIELD(curio__task_fast, struct curio_task, nscopes);
SAME_FIELD(curio__kernel_fast, struct curio_kernel, current);

curio_kernel *curio__task_kernel(const curio__task *t) { return t->k; }
uint64_t curio__task_id(const curio__task *t) { return t->id; }
bool curio__task_parked(const curio__task *t) { return t->parked; }
bool curio__task_in_io(const curio__task *t) { return t->op != NULL; }
void curio__task_set_internal(curio__task *t)
{
    pthread_mutex_lock(&t->k->tasks_lock);
    t->internal = true;
    pthread_mutex_unlock(&t->k->tasks_lock);
}
