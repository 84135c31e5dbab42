/*
 * sync/owner.c - the tag that ties a task primitive to its thread (see sync.h).
 */
#include "sync.h"

__thread char curio__sync_thread_tag __attribute__((tls_model("initial-exec")));
