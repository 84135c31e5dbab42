/*
 * The how-to's Channel producer ("How can two different Python interpreters send messages
 * to each other?"): accept one consumer that knows the key, send it ten messages, then an
 * empty one (Curio's None). Run channel_consumer in another shell.
 *
 *     ./channel_producer [host [port]]     (default: localhost 30000)
 *
 * Curio pickles Python objects; a C message is bytes, here the numbers as text.
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static long producer(void *arg)
{
    curio_channel *ch = arg;
    int rc = curio_channel_bind(ch); /* accept would bind by itself; this tells the port */
    if (rc < 0)
        return rc;
    curio_addr a;
    char text[CURIO_ADDR_STRLEN];
    curio_channel_address(ch, &a);
    curio_addr_format(&a, text, sizeof text);
    printf("Channel listening at %s\n", text);
    curio_connection *c;
    rc = curio_channel_accept(ch, &c, "peekaboo", 8); /* c = await ch.accept(authkey=b'peekaboo') */
    if (rc < 0)
        return rc;
    for (int i = 0; i < 10 && rc == 0; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "%d", i);
        rc = curio_connection_send(c, msg, (size_t)n); /* await c.send(i) */
    }
    if (rc == 0)
        rc = curio_connection_send(c, "", 0); /* await c.send(None) */
    curio_connection_close(c);
    return rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    curio_channel *ch; /* ch = Channel(('localhost', 30000)) */
    int rc = curio_channel_tcp(&ch, argc > 1 ? argv[1] : "localhost",
                               (uint16_t)(argc > 2 ? atoi(argv[2]) : 30000), NULL);
    long result = rc;
    if (rc == 0 && curio_run(producer, ch, NULL, &result) < 0)
        result = -1;
    curio_channel_close(ch);
    if (result < 0) {
        fprintf(stderr, "channel_producer: %s\n", curio_strerror((int)result));
        return 1;
    }
    return 0;
}
