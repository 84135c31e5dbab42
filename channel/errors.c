/*
 * channel/errors.c - the strings of Channel's error codes (include/curio/channel.h).
 */
#include "../kernel/errstr.h"

const struct curio__errstr curio__channel_errors[] = {
    {CURIO_EAUTH, "Channel authentication failed"},
    {CURIO_ECLOSED, "The peer closed the connection"},
    {CURIO_EAUTH_LEGACY, "The peer uses the legacy HMAC-MD5 authentication, not enabled"},
    CURIO__ERRSTR_END,
};
