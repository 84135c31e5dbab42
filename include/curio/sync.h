/*
 * curio/sync.h - included by <curio.h>; do not include it directly.
 */
#ifndef CURIO_SYNC_H
#define CURIO_SYNC_H
#ifndef CURIO_H
#error "include <curio.h>, not <curio/sync.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* CURIO_SYNC_H */
