/*
 * curio/net.h - included by <curio.h>; do not include it directly.
 */
#ifndef CURIO_NET_H
#define CURIO_NET_H
#ifndef CURIO_H
#error "include <curio.h>, not <curio/net.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* CURIO_NET_H */
