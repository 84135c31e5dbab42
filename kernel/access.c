/*
 * kernel/access.c - the accessors kernel.h gives the layers in place of the fields of the
 * task and kernel records (kernel/core.h).
 */
#include "kernel.h"

void curio__task_set_internal(curio__task *t) { t->internal = true; }
