/*
 * tls/errors.c - the strings of TLS's error codes (include/curio/tls.h). Built with or
 * without wolfSSL: the codes are public either way.
 */
#include "../kernel/errstr.h"

const struct curio__errstr curio__tls_errors[] = {
    {CURIO_ETLS, "TLS protocol failure"},
    {CURIO_ETLS_CERT, "The peer's certificate is not trusted"},
    {CURIO_ETLS_EXPIRED, "The peer's certificate has expired or is not valid yet"},
    {CURIO_ETLS_HOSTNAME, "The peer's certificate does not match the host name"},
    CURIO__ERRSTR_END,
};
