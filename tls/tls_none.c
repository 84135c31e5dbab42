/*
 * tls/tls_none.c - the TLS calls of a curio built without wolfSSL (meson option tls):
 * every public call says -ENOTSUP, and no socket ever carries TLS's transport table.
 */
#include "../net/net.h"

bool curio_tls_available(void) { return false; }

int curio_tls_context_new(curio_tls_context **out, const curio_tls_options *opts)
{
    (void)opts;
    if (out)
        *out = NULL;
    return -ENOTSUP;
}

void curio_tls_context_release(curio_tls_context *ctx) { (void)ctx; }

int curio_tls_wrap(curio_socket *s, curio_tls_context *ctx, const char *server_hostname)
{
    (void)s, (void)ctx, (void)server_hostname;
    return -ENOTSUP;
}

int curio_tls_handshake(curio_socket *s) { (void)s; return -ENOTSUP; }
int curio_tls_flush(curio_socket *s) { (void)s; return -ENOTSUP; }
bool curio_tls_active(const curio_socket *s) { (void)s; return false; }
size_t curio_tls_unsent(const curio_socket *s) { (void)s; return 0; }
const char *curio_tls_version(const curio_socket *s) { (void)s; return NULL; }
const char *curio_tls_cipher(const curio_socket *s) { (void)s; return NULL; }
const char *curio_tls_alpn(const curio_socket *s) { (void)s; return NULL; }
const char *curio_tls_server_name(const curio_socket *s) { (void)s; return NULL; }

int curio_tls_error(const curio_socket *s, char *buf, size_t cap)
{
    if (!s || (!buf && cap))
        return -EINVAL;
    if (cap)
        buf[0] = 0;
    return 0;
}

/* ---- what open_connection and tcp_server ask of TLS (net/net.h) ---- */

int curio__tls_client_start(curio_socket *s, const curio_connect_options *o, const char *host)
{
    (void)s, (void)o, (void)host;
    return -ENOTSUP;
}

int curio__tls_server_start(curio_socket *s, curio_tls_context *ctx, double timeout)
{
    (void)s, (void)ctx, (void)timeout;
    return -ENOTSUP;
}

int curio__tls_context_check_server(const curio_tls_context *ctx)
{
    (void)ctx;
    return -ENOTSUP;
}

curio_tls_context *curio__tls_context_retain(curio_tls_context *ctx) { return ctx; }
