/*
 * curio_strerror: every layer's codes, 0, negative errno values, unknown codes.
 */
#include <curio.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

static const struct {
    int code;
    const char *text;
} codes[] = {
    {CURIO_ETASKCANCELLED, "Task was cancelled"},
    {CURIO_ETIMEOUT_OUTER, "An enclosing timeout expired"},
    {CURIO_ETIMEOUT_LEAKED, "An inner timeout expired and was not handled"},
    {CURIO_ETASKFAILED, "A task group member failed"},
    {CURIO_EINCOMPLETE, "End of stream before the requested bytes"},
    {CURIO_EUNFLUSHED, "Unsent buffered bytes were discarded"},
    {CURIO_ETLS, "TLS protocol failure"},
    {CURIO_ETLS_CERT, "The peer's certificate is not trusted"},
    {CURIO_ETLS_EXPIRED, "The peer's certificate has expired or is not valid yet"},
    {CURIO_ETLS_HOSTNAME, "The peer's certificate does not match the host name"},
    {CURIO_EAUTH, "Channel authentication failed"},
    {CURIO_ECLOSED, "The peer closed the connection"},
    {CURIO_EAUTH_LEGACY, "The peer uses the legacy HMAC-MD5 authentication, not enabled"},
    {CURIO_EPROCESS, "Process exited with a non-zero status"},
    {CURIO_EWORKERDIED, "Worker process died"},
};

Test(errors, every_layers_codes)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        cr_assert_str_eq(curio_strerror(codes[i].code), codes[i].text, "code %d",
                         codes[i].code);
}

Test(errors, success)
{
    cr_assert_str_eq(curio_strerror(0), "Success");
}

Test(errors, negative_errno)
{
    cr_assert_str_eq(curio_strerror(-ETIMEDOUT), "Connection timed out");
    cr_assert_str_eq(curio_strerror(-ECANCELED), "Operation canceled");
    cr_assert_str_eq(curio_strerror(-ENOMEM), strerror(ENOMEM));
}

Test(errors, unknown)
{
    cr_assert_str_eq(curio_strerror(-999999), "Unknown error");
    cr_assert_str_eq(curio_strerror(-5000), "Unknown error");
    cr_assert_str_eq(curio_strerror(-5007), "Unknown error");
    cr_assert_str_eq(curio_strerror(ENOMEM), "Unknown error");  /* positive: not a code */
    cr_assert_str_eq(curio_strerror(1), "Unknown error");
}
