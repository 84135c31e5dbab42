/*
 * The how-to's Channel producer and consumer as two programs: the consumer started first
 * (it waits for the producer, retrying every second as Curio does), then the producer.
 */
#include "exampletest.h"
#include "nettest.h"

TestSuite(channel_examples, .fini = xkill_started, .timeout = 30);

Test(channel_examples, producer_and_consumer)
{
    xproc prod, cons;
    const char *pargs[] = {"127.0.0.1", "0", NULL};
    xstart(&prod, "channel_producer", pargs);
    int port = xport(&prod, "Channel");
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *cargs[] = {"127.0.0.1", portstr, NULL};
    cr_assert_eq(xrun(&cons, "channel_consumer", cargs), 0, "%s", cons.buf);
    cr_assert_str_eq(cons.buf, "Got: 0\nGot: 1\nGot: 2\nGot: 3\nGot: 4\n"
                               "Got: 5\nGot: 6\nGot: 7\nGot: 8\nGot: 9\n");
    cr_assert_eq(xwait(&prod), 0, "%s", prod.buf);
}

/* The consumer first: it waits until the producer listens. */
Test(channel_examples, consumer_first)
{
    /* A free port: bound a moment, then released for the producer. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", 0);
    cr_assert_eq(bind(fd, &a.u.sa, a.len), 0);
    a.len = sizeof a.u;
    getsockname(fd, &a.u.sa, &a.len);
    close(fd);
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", curio_addr_port(&a));
    xproc prod, cons;
    const char *args[] = {"127.0.0.1", portstr, NULL};
    xstart(&cons, "channel_consumer", args);
    usleep(200000); /* it has tried at least once */
    xstart(&prod, "channel_producer", args);
    cr_assert_eq(xwait(&cons), 0, "%s", cons.buf);
    cr_assert(strstr(cons.buf, "Got: 9\n"), "%s", cons.buf);
    cr_assert_eq(xwait(&prod), 0, "%s", prod.buf);
}
