/*
 * The seeds' SSL examples run as programs: the tutorial's SSL server (examples/ssl_server)
 * with the test certificates, queried by the tutorial's SSL client (examples/ssl_client)
 * trusting the test CA, by the same client trusting only the system's CAs (which must
 * refuse), and by OpenSSL's s_client.
 */
#include "tlstest.h"
#include "exampletest.h"

#if CURIO_TEST_TLS

TestSuite(tls_examples, .fini = xkill_started, .timeout = 30);

static const char answer[] = "HTTP/1.0 200 OK\r\n"
                             "Content-type: text/plain\r\n"
                             "\r\n"
                             "If you're seeing this, it probably worked. Yay!\n";

static int start_server(xproc *srv)
{
    const char *args[] = {cert("server.pem"), cert("server.key"), "127.0.0.1", "0", NULL};
    xstart(srv, "ssl_server", args);
    return xport(srv, "Server");
}

Test(tls_examples, client_and_server)
{
    TLS_REQUIRE();
    xproc srv, cl;
    int port = start_server(&srv);
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *args[] = {"localhost", portstr, cert("ca.pem"), NULL};
    cr_assert_eq(xrun(&cl, "ssl_client", args), 0, "output: %s", cl.buf);
    cr_assert(strncmp(cl.buf, answer, sizeof answer - 1) == 0, "%s", cl.buf);
    const char *date = cl.buf + sizeof answer - 1; /* then time.asctime(): "Tue Dec  1 ..." */
    cr_assert_eq(strlen(date), 24, "%s", date);
    cr_assert_eq(date[3], ' ');
    xexpect(&srv, "GET / HTTP/1.0\nHost: localhost\n"); /* the request's lines, stripped */

    /* ssl=True: the system's CAs do not know the test CA. */
    const char *strict[] = {"localhost", portstr, NULL};
    cr_assert_eq(xrun(&cl, "ssl_client", strict), 1);
    cr_assert(strstr(cl.buf, "ssl_client: localhost:"), "%s", cl.buf);
    cr_assert(strstr(cl.buf, ": The peer's certificate is not trusted\n"), "%s", cl.buf);
    xexpect(&srv, "TLS handshake failed: received alert fatal error (alert from the peer: ");
    xstop(&srv);
}

Test(tls_examples, server_with_openssl_s_client)
{
    TLS_REQUIRE();
    xproc srv;
    int port = start_server(&srv);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | openssl s_client -connect 127.0.0.1:%d "
             "-CAfile '%s' -verify_return_error -verify_hostname localhost -quiet "
             "2>/dev/null",
             port, cert("ca.pem"));
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    char out[1024] = {0};
    size_t n = fread(out, 1, sizeof out - 1, f);
    pclose(f);
    out[n] = 0;
    cr_assert(strstr(out, "If you're seeing this, it probably worked. Yay!"), "%s", out);
    xstop(&srv);
}

Test(tls_examples, server_with_a_bad_certificate_file)
{
    TLS_REQUIRE();
    xproc srv;
    const char *args[] = {cert("server.key"), cert("server.key"), NULL};
    cr_assert_eq(xrun(&srv, "ssl_server", args), 1);
    cr_assert(strstr(srv.buf, ": Invalid argument\n"), "%s", srv.buf);
}

#else
TLS_SKIPPED(tls_examples)
#endif
