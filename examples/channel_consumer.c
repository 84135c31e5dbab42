/*
 * The how-to's Channel consumer: connect to the producer with the shared key (waiting
 * for it to listen, as Curio does) and print every message until an empty one (None).
 *
 *     ./channel_consumer [host [port]]     (default: localhost 30000)
 */
#include <curio.h>
#include <stdio.h>
#include <stdlib.h>

static long consumer(void *arg)
{
    curio_channel *ch = arg;
    curio_connection *c;
    int rc = curio_channel_connect(ch, &c, "peekaboo", 8); /* await ch.connect(authkey=...) */
    if (rc < 0)
        return rc;
    for (;;) {
        void *msg;
        size_t len;
        ssize_t n = curio_connection_recv(c, &msg, &len); /* msg = await c.recv() */
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (len == 0) { /* if msg is None: break */
            free(msg);
            break;
        }
        printf("Got: %.*s\n", (int)len, (char *)msg);
        free(msg);
    }
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
    if (rc == 0 && curio_run(consumer, ch, NULL, &result) < 0)
        result = -1;
    curio_channel_close(ch);
    if (result < 0) {
        fprintf(stderr, "channel_consumer: %s\n", curio_strerror((int)result));
        return 1;
    }
    return 0;
}
