/*
 * kernel/errors.c - describing error codes.
 */
#include "core.h"

#include <string.h>

const char *curio_strerror(int err)
{
    switch (err) {
    case 0:
        return "Success";
    case CURIO_ETASKCANCELLED:
        return "Task was cancelled";
    case CURIO_ETIMEOUT_OUTER:
        return "An enclosing timeout expired";
    case CURIO_ETIMEOUT_LEAKED:
        return "An inner timeout expired and was not handled";
    case CURIO_ETASKFAILED:
        return "A task group member failed";
    case CURIO_EINCOMPLETE:
        return "End of stream before the requested bytes";
    case CURIO_EUNFLUSHED:
        return "Unsent buffered bytes were discarded";
    case CURIO_ETLS:
        return "TLS protocol failure";
    case CURIO_ETLS_CERT:
        return "The peer's certificate is not trusted";
    case CURIO_ETLS_EXPIRED:
        return "The peer's certificate has expired or is not valid yet";
    case CURIO_ETLS_HOSTNAME:
        return "The peer's certificate does not match the host name";
    case CURIO_EAUTH:
        return "Channel authentication failed";
    case CURIO_ECLOSED:
        return "The peer closed the connection";
    case CURIO_EPROCESS:
        return "Process exited with a non-zero status";
    case CURIO_EWORKERDIED:
        return "Worker process died";
    }
    const char *s = err < 0 ? strerrordesc_np(-err) : NULL;
    return s ? s : "Unknown error";
}
