/*
 * curio/io.h - included by <curio.h>; do not include it directly.
 */
#ifndef CURIO_IO_H
#define CURIO_IO_H
#ifndef CURIO_H
#error "include <curio.h>, not <curio/io.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* CURIO_IO_H */
