/*
 * Channels and their connections: messages of many sizes both ways, over TCP, a Unix
 * socket and a socketpair; the mutual authentication (good key, bad key, a server that
 * does not know the key, the legacy and foreign forms, a client that never answers); a
 * peer that stops in the middle of a message (timeout, then the rest), end of stream at
 * and inside a message, cancellation, interrupted sends that commit their message, the
 * size limit, two processes, hostile clients (silent, garbage, half-way) that must not delay
 * the others, the bound on authentications at once, and nothing left behind.
 */
#include "nettest.h"

#include <sys/wait.h>

TestSuite(channel, .timeout = 30);

static const char KEY[] = "peekaboo";
#define K KEY, sizeof KEY - 1

static uint8_t pattern(size_t i, size_t salt) { return (uint8_t)((i * 131 + salt * 7) >> 3); }

static char logbuf[4096];
static int nlogs;

static void on_log(const char *msg, void *arg)
{
    (void)arg;
    size_t n = strlen(logbuf);
    snprintf(logbuf + n, sizeof logbuf - n, "%s\n", msg);
    nlogs++;
}

/* Two connections over a socketpair. */
static void conn_pair(curio_connection **a, curio_connection **b, const curio_channel_options *o)
{
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    cr_assert_eq(curio_connection_open(a, p[0], o), 0);
    cr_assert_eq(curio_connection_open(b, p[1], o), 0);
}

/* ---- many sizes ---- */

static const size_t sizes[] = {0,     1,     3,     4,     5,     100,   4095,    4096,
                               16383, 16384, 16385, 65535, 65536, 65537, 1 << 20, 5 << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

struct sizes_run {
    curio_connection *tx, *rx;
    bool into;
    int errors;
};

static long send_all_sizes(void *arg)
{
    struct sizes_run *r = arg;
    for (size_t k = 0; k < NSIZES; k++) {
        uint8_t *m = malloc(sizes[k] + 1);
        for (size_t i = 0; i < sizes[k]; i++)
            m[i] = pattern(i, k);
        if (curio_connection_send(r->tx, m, sizes[k]) != 0)
            r->errors++;
        free(m);
    }
    return 0;
}

static void check_message(struct sizes_run *r, size_t k, const uint8_t *m, ssize_t n)
{
    if (n != (ssize_t)sizes[k]) {
        r->errors++;
        return;
    }
    for (size_t i = 0; i < sizes[k]; i++)
        if (m[i] != pattern(i, k)) {
            r->errors++;
            return;
        }
}

static long recv_all_sizes(void *arg)
{
    struct sizes_run *r = arg;
    uint8_t *buf = r->into ? malloc(5 << 20) : NULL;
    for (size_t k = 0; k < NSIZES; k++) {
        if (r->into) {
            check_message(r, k, buf, curio_connection_recv_into(r->rx, buf, 5 << 20));
        } else {
            void *m;
            size_t len;
            ssize_t n = curio_connection_recv(r->rx, &m, &len);
            cr_assert(n < 0 || (m && len == (size_t)n));
            check_message(r, k, m, n);
            free(m);
        }
    }
    free(buf);
    return 0;
}

static void exchange_sizes(curio_connection *tx, curio_connection *rx, bool into)
{
    struct sizes_run r = {tx, rx, into, 0};
    curio_task *s = curio_spawn(send_all_sizes, &r), *v = curio_spawn(recv_all_sizes, &r);
    curio_join(s, NULL);
    curio_join(v, NULL);
    curio_task_release(s);
    curio_task_release(v);
    cr_assert_eq(r.errors, 0);
}

static long sizes_main(void *arg)
{
    (void)arg;
    curio_connection *a, *b;
    conn_pair(&a, &b, NULL);
    exchange_sizes(a, b, false);
    exchange_sizes(b, a, true);
    curio_connection_close(a);
    curio_connection_close(b);
    return 0;
}

Test(channel, messages_of_many_sizes)
{
    int fds = count_fds();
    run_main(sizes_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- channels with a key, over TCP and a Unix socket ---- */

struct chan {
    curio_channel *ch;
    curio_channel_options opts;
    const char *key;                /* the client's */
    size_t keylen;
    int accept_rc, connect_rc;
    curio_connection *server_conn, *client_conn;
};

static long do_accept(void *arg)
{
    struct chan *c = arg;
    c->accept_rc = curio_channel_accept(c->ch, &c->server_conn, K);
    return 0;
}

static long do_connect(void *arg)
{
    struct chan *c = arg;
    curio_channel *to;
    curio_addr a;
    cr_assert_eq(curio_channel_address(c->ch, &a), 0);
    if (a.u.sa.sa_family == AF_UNIX) {
        char path[CURIO_ADDR_STRLEN];
        curio_addr_format(&a, path, sizeof path); /* "@name" for an abstract address */
        cr_assert_eq(curio_channel_unix(&to, path, &c->opts), 0);
    } else
        cr_assert_eq(curio_channel_tcp(&to, "localhost", (uint16_t)curio_addr_port(&a), &c->opts),
                     0);
    c->connect_rc = curio_channel_connect(to, &c->client_conn, c->key, c->keylen);
    curio_channel_close(to);
    return 0;
}

static void hello_both_ways(struct chan *c)
{
    cr_assert_eq(curio_connection_send(c->client_conn, "hello", 5), 0);
    char buf[16];
    cr_assert_eq(curio_connection_recv_into(c->server_conn, buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    cr_assert_eq(curio_connection_send(c->server_conn, "back", 4), 0);
    cr_assert_eq(curio_connection_recv_into(c->client_conn, buf, sizeof buf), 4);
}

static long chan_main(void *arg)
{
    struct chan *c = arg;
    cr_assert_eq(curio_channel_bind(c->ch), 0);
    curio_task *s = curio_spawn(do_accept, c), *k = curio_spawn(do_connect, c);
    curio_join(k, NULL);
    curio_join(s, NULL);
    curio_task_release(s);
    curio_task_release(k);
    cr_assert_eq(c->accept_rc, 0, "%s", curio_strerror(c->accept_rc));
    cr_assert_eq(c->connect_rc, 0, "%s", curio_strerror(c->connect_rc));
    hello_both_ways(c);
    curio_connection_close(c->server_conn);
    void *m;
    size_t len;
    cr_assert_eq(curio_connection_recv(c->client_conn, &m, &len), CURIO_ECLOSED);
    cr_assert_null(m);
    curio_connection_close(c->client_conn);
    curio_channel_close(c->ch);
    return 0;
}

Test(channel, tcp_with_a_key)
{
    int fds = count_fds();
    struct chan c = {.key = KEY, .keylen = sizeof KEY - 1};
    cr_assert_eq(curio_channel_tcp(&c.ch, "127.0.0.1", 0, NULL), 0);
    run_main(chan_main, &c);
    cr_assert_eq(count_fds(), fds);
}

Test(channel, unix_with_a_key)
{
    struct chan c = {.key = KEY, .keylen = sizeof KEY - 1};
    char path[64];
    snprintf(path, sizeof path, "@curio-channel-%d", getpid());
    cr_assert_eq(curio_channel_unix(&c.ch, path, NULL), 0);
    run_main(chan_main, &c);
}

/* A bad key: the client is told, the server logs and waits for the next client. */
static long badkey_main(void *arg)
{
    struct chan *c = arg;
    cr_assert_eq(curio_channel_bind(c->ch), 0);
    curio_task *s = curio_spawn(do_accept, c);
    c->key = "wrong";
    c->keylen = 5;
    do_connect(c);
    cr_assert_eq(c->connect_rc, CURIO_EAUTH, "%s", curio_strerror(c->connect_rc));
    cr_assert_null(c->client_conn);
    cr_assert(!curio_task_done(s), "accept goes on");
    c->key = KEY;
    c->keylen = sizeof KEY - 1;
    do_connect(c);
    cr_assert_eq(curio_join(s, NULL), 0);
    curio_task_release(s);
    cr_assert_eq(c->accept_rc, 0);
    cr_assert_eq(c->connect_rc, 0);
    hello_both_ways(c);
    curio_connection_close(c->server_conn);
    curio_connection_close(c->client_conn);
    curio_channel_close(c->ch);
    return 0;
}

Test(channel, bad_key)
{
    int fds = count_fds();
    logbuf[0] = 0;
    nlogs = 0;
    struct chan c = {0};
    curio_channel_options o = {.log = on_log};
    cr_assert_eq(curio_channel_tcp(&c.ch, "127.0.0.1", 0, &o), 0);
    run_main(badkey_main, &c);
    cr_assert_eq(nlogs, 1, "%s", logbuf);
    cr_assert(strstr(logbuf, "channel: client 127.0.0.1:"), "%s", logbuf);
    cr_assert(strstr(logbuf, ": Channel authentication failed; dropped\n"), "%s", logbuf);
    cr_assert_eq(count_fds(), fds);
}

/* A client that connects and never answers the challenge is dropped after auth_timeout. */
static long mute_main(void *arg)
{
    struct chan *c = arg;
    cr_assert_eq(curio_channel_bind(c->ch), 0);
    curio_task *s = curio_spawn(do_accept, c);
    curio_addr a;
    curio_channel_address(c->ch, &a);
    curio_socket *mute;
    cr_assert_eq(curio_open_connection(&mute, "127.0.0.1", (uint16_t)curio_addr_port(&a), NULL), 0);
    int64_t t0 = curio_clock();
    while (nlogs == 0)
        curio_sleep(0.01);
    cr_assert_geq(secs_since(t0), 0.09);
    char buf[128];
    ssize_t n = 0, r;
    while ((r = curio_recv(mute, buf + n, sizeof buf - (size_t)n, 0)) > 0)
        n += r; /* the challenge, then the server hangs up */
    cr_assert_eq(n, 4 + 11 + 8 + 40, "one framed challenge");
    cr_assert_eq(memcmp(buf + 4, "#CHALLENGE#{sha256}", 19), 0);
    curio_socket_close(mute);
    c->key = KEY;
    c->keylen = sizeof KEY - 1;
    do_connect(c);
    cr_assert_eq(curio_join(s, NULL), 0);
    curio_task_release(s);
    cr_assert_eq(c->accept_rc, 0);
    curio_connection_close(c->server_conn);
    curio_connection_close(c->client_conn);
    curio_channel_close(c->ch);
    return 0;
}

Test(channel, client_that_never_answers)
{
    logbuf[0] = 0;
    nlogs = 0;
    struct chan c = {0};
    curio_channel_options o = {.log = on_log, .auth_timeout = 0.1};
    cr_assert_eq(curio_channel_tcp(&c.ch, "127.0.0.1", 0, &o), 0);
    run_main(mute_main, &c);
    cr_assert(strstr(logbuf, ": no authentication within 0.1 s; dropped\n"), "%s", logbuf);
}

/* A server that does not know the key but pretends: the client's own challenge catches
 * it. And servers speaking other forms of the protocol. */
struct fake {
    curio_channel *ch;
    int mode;                 /* 0: pretends; 1: legacy MD5 challenge; 2: another digest;
                                 3: pretends in the legacy form to a client that allows it */
    int connect_rc;
    char last[32];            /* what the fake got last */
};

static long fake_server(void *arg)
{
    struct fake *f = arg;
    curio_connection *c;
    if (curio_channel_accept(f->ch, &c, NULL, 0) < 0) /* no authentication of its own */
        return -1;
    uint8_t msg[80], buf[256];
    size_t n;
    if (f->mode == 0) {
        memcpy(msg, "#CHALLENGE#{sha256}", 19);
        memset(msg + 19, 'x', 40);
        n = 59;
    } else if (f->mode == 1 || f->mode == 3) {
        memcpy(msg, "#CHALLENGE#", 11);
        memset(msg + 11, 'x', 20); /* multiprocessing before 3.12 */
        n = 31;
    } else {
        memcpy(msg, "#CHALLENGE#{sha3_256}", 21);
        memset(msg + 21, 'x', 40);
        n = 61;
    }
    curio_connection_send(c, msg, n);
    ssize_t r = curio_connection_recv_into(c, buf, sizeof buf); /* its answer: not checked */
    if ((f->mode == 0 || f->mode == 3) && r > 0) {
        curio_connection_send(c, "#WELCOME#", 9);
        r = curio_connection_recv_into(c, buf, sizeof buf);     /* the client's challenge */
        uint8_t answer[40] = "{sha256}";                        /* and a MAC it cannot make */
        curio_connection_send(c, answer, f->mode == 3 ? 16 : sizeof answer); /* 3: "MD5" */
        r = curio_connection_recv_into(c, buf, sizeof buf);
        if (r > 0)
            snprintf(f->last, sizeof f->last, "%.*s", (int)r, (char *)buf);
    }
    curio_connection_close(c);
    return 0;
}

static long fake_main(void *arg)
{
    struct fake *f = arg;
    cr_assert_eq(curio_channel_bind(f->ch), 0);
    curio_task *s = curio_spawn(fake_server, f);
    curio_addr a;
    curio_channel_address(f->ch, &a);
    curio_channel *to;
    curio_channel_options o = {.legacy_md5 = f->mode == 3};
    curio_channel_tcp(&to, "127.0.0.1", (uint16_t)curio_addr_port(&a), &o);
    curio_connection *c = (curio_connection *)1;
    f->connect_rc = curio_channel_connect(to, &c, K);
    cr_assert_null(c);
    curio_channel_close(to);
    curio_join(s, NULL);
    curio_task_release(s);
    curio_channel_close(f->ch);
    return 0;
}

Test(channel, server_without_the_key_is_caught)
{
    int fds = count_fds();
    for (int mode = 0; mode < 4; mode++) {
        struct fake f = {.mode = mode};
        cr_assert_eq(curio_channel_tcp(&f.ch, "127.0.0.1", 0, NULL), 0);
        run_main(fake_main, &f);
        /* The legacy form without legacy_md5: refused as such, before any answer. */
        cr_assert_eq(f.connect_rc, mode == 1 ? CURIO_EAUTH_LEGACY : CURIO_EAUTH, "mode %d: %s",
                     mode, curio_strerror(f.connect_rc));
        if (mode == 0 || mode == 3)
            cr_assert_str_eq(f.last, "#FAILURE#", "the client tells the fake it failed");
    }
    cr_assert_eq(count_fds(), fds);
}

/* The authentication on a connection made by hand; failures are sticky. */
struct auth_side {
    curio_connection *c;
    const char *key;
    int rc;
};

static long auth_server(void *arg)
{
    struct auth_side *a = arg;
    a->rc = curio_connection_authenticate_server(a->c, a->key, strlen(a->key));
    return 0;
}

static long byhand_main(void *arg)
{
    (void)arg;
    curio_connection *a, *b;
    conn_pair(&a, &b, NULL);
    struct auth_side srv = {a, KEY, 1};
    curio_task *t = curio_spawn(auth_server, &srv);
    cr_assert_eq(curio_connection_authenticate_client(b, "other", 5), CURIO_EAUTH);
    curio_join(t, NULL);
    curio_task_release(t);
    cr_assert_eq(srv.rc, CURIO_EAUTH);
    char buf[8];
    cr_assert_eq(curio_connection_send(b, "x", 1), CURIO_EAUTH, "unusable afterwards");
    cr_assert_eq(curio_connection_recv_into(a, buf, sizeof buf), CURIO_EAUTH);
    curio_connection_close(a);
    curio_connection_close(b);

    conn_pair(&a, &b, NULL);
    srv = (struct auth_side){a, KEY, 1};
    t = curio_spawn(auth_server, &srv);
    cr_assert_eq(curio_connection_authenticate_client(b, K), 0);
    curio_join(t, NULL);
    curio_task_release(t);
    cr_assert_eq(srv.rc, 0);
    cr_assert_eq(curio_connection_send(a, "ok", 2), 0);
    cr_assert_eq(curio_connection_recv_into(b, buf, sizeof buf), 2);
    cr_assert_eq(curio_connection_authenticate_client(NULL, K), -EINVAL);
    cr_assert_eq(curio_connection_authenticate_client(b, NULL, 0), -EINVAL);
    curio_connection_close(a);
    curio_connection_close(b);
    return 0;
}

Test(channel, authentication_by_hand)
{
    run_main(byhand_main, NULL);
}

/* ---- a peer that stops in the middle of a message ---- */

struct raw {
    curio_socket *raw;        /* the peer writes frames by hand */
    curio_connection *c;      /* and this side receives them */
};

static void raw_pair(struct raw *r)
{
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    r->raw = p[0];
    cr_assert_eq(curio_connection_open(&r->c, p[1], NULL), 0);
}

static void raw_send(struct raw *r, const void *p, size_t n)
{
    cr_assert_eq(curio_sendall(r->raw, p, n, 0, NULL), (ssize_t)n);
}

static long midframe_main(void *arg)
{
    bool into = arg != NULL;
    struct raw r;
    raw_pair(&r);
    uint8_t frame[4 + 1000];
    frame[0] = 0, frame[1] = 0, frame[2] = 0x03, frame[3] = 0xe8; /* 1000 */
    for (int i = 0; i < 1000; i++)
        frame[4 + i] = pattern((size_t)i, 1);
    for (int split = 2; split <= 500; split += 498) { /* inside the header, inside the body */
        raw_send(&r, frame, (size_t)split);
        curio_scope sc;
        curio_timeout_after(&sc, 0.05);
        uint8_t buf[1000];
        void *m = NULL;
        size_t len;
        ssize_t n = into ? curio_connection_recv_into(r.c, buf, sizeof buf)
                         : curio_connection_recv(r.c, &m, &len);
        cr_assert_eq(n, -ETIMEDOUT);
        cr_assert_eq(curio_scope_close(&sc), -ETIMEDOUT);
        raw_send(&r, frame + split, sizeof frame - (size_t)split);
        n = into ? curio_connection_recv_into(r.c, buf, sizeof buf)
                 : curio_connection_recv(r.c, &m, &len);
        cr_assert_eq(n, 1000, "the same message, whole: %s", curio_strerror((int)n));
        cr_assert_eq(memcmp(into ? buf : m, frame + 4, 1000), 0);
        free(m);
    }
    /* The end of the stream inside a message, and between two. */
    raw_send(&r, frame, 10);
    curio_socket_shutdown(r.raw, SHUT_WR);
    uint8_t buf[1000];
    cr_assert_eq(curio_connection_recv_into(r.c, buf, sizeof buf), CURIO_EINCOMPLETE);
    cr_assert_eq(curio_connection_recv_into(r.c, buf, sizeof buf), CURIO_EINCOMPLETE, "sticky");
    curio_connection_close(r.c);
    curio_socket_close(r.raw);
    raw_pair(&r);
    curio_socket_close(r.raw);
    cr_assert_eq(curio_connection_recv_into(r.c, buf, sizeof buf), CURIO_ECLOSED);
    curio_connection_close(r.c);
    return 0;
}

Test(channel, peer_stops_in_the_middle)
{
    int fds = count_fds();
    run_main(midframe_main, NULL);
    run_main(midframe_main, (void *)1);
    cr_assert_eq(count_fds(), fds);
}

/* The long form of the header, and bad headers. */
static long headers_main(void *arg)
{
    (void)arg;
    struct raw r;
    raw_pair(&r);
    uint8_t longform[12 + 3] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c'};
    raw_send(&r, longform, sizeof longform);
    char buf[8];
    cr_assert_eq(curio_connection_recv_into(r.c, buf, sizeof buf), 3);
    cr_assert_eq(memcmp(buf, "abc", 3), 0);
    uint8_t bad[4] = {0xff, 0xff, 0xff, 0xfe}; /* -2 */
    raw_send(&r, bad, 4);
    cr_assert_eq(curio_connection_recv_into(r.c, buf, sizeof buf), -EPROTO);
    curio_connection_close(r.c);
    curio_socket_close(r.raw);
    return 0;
}

Test(channel, header_forms)
{
    run_main(headers_main, NULL);
}

/* ---- limits ---- */

static long limits_main(void *arg)
{
    (void)arg;
    curio_connection *a, *b;
    curio_channel_options o = {.max_message = 1000};
    conn_pair(&a, &b, &o);
    static char big[1001];
    char small[10];
    cr_assert_eq(curio_connection_send(a, big, 500), 0);
    cr_assert_eq(curio_connection_recv_into(b, small, sizeof small), -EOVERFLOW);
    cr_assert_eq(curio_connection_recv_into(b, small, sizeof small), -EOVERFLOW, "still there");
    void *m;
    size_t len;
    cr_assert_eq(curio_connection_recv(b, &m, &len), 500, "and whole");
    free(m);
    cr_assert_eq(curio_connection_send(a, big, 1000), 0);
    cr_assert_eq(curio_connection_recv(b, &m, &len), 1000, "the limit itself is fine");
    free(m);
    cr_assert_eq(curio_connection_send(a, big, 1001), 0);
    cr_assert_eq(curio_connection_recv(b, &m, &len), -EMSGSIZE);
    cr_assert_null(m);
    cr_assert_eq(curio_connection_recv(b, &m, &len), -EMSGSIZE, "unusable afterwards");
    cr_assert_eq(curio_connection_send(b, "x", 1), -EMSGSIZE);
    curio_connection_close(a);
    curio_connection_close(b);
    return 0;
}

Test(channel, size_limits)
{
    run_main(limits_main, NULL);
}

/* ---- cancellation ---- */

struct blocked {
    curio_connection *c;
    ssize_t rc;
};

static long blocked_recv(void *arg)
{
    struct blocked *b = arg;
    void *m;
    size_t len;
    b->rc = curio_connection_recv(b->c, &m, &len);
    free(m);
    return 0;
}

static long cancel_main(void *arg)
{
    (void)arg;
    struct raw r;
    raw_pair(&r);
    struct blocked b = {r.c, 1};
    curio_task *t = curio_spawn(blocked_recv, &b);
    curio_yield();
    cr_assert_str_eq(curio_task_state(t), "READ_WAIT");
    void *m;
    size_t len;
    cr_assert_eq(curio_connection_recv(r.c, &m, &len), -EBUSY, "one receiver at a time");
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);
    cr_assert_eq(b.rc, -ECANCELED);
    /* Now in the middle of a message. */
    uint8_t frame[4 + 6] = {0, 0, 0, 6, 'a', 'b', 'c', 'd', 'e', 'f'};
    raw_send(&r, frame, 7);
    t = curio_spawn(blocked_recv, &b);
    curio_sleep(0.01);
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);
    cr_assert_eq(b.rc, -ECANCELED);
    raw_send(&r, frame + 7, 3);
    cr_assert_eq(curio_connection_recv(r.c, &m, &len), 6, "another task gets it whole");
    cr_assert_eq(memcmp(m, "abcdef", 6), 0);
    free(m);
    /* Closed under a blocked receiver. */
    t = curio_spawn(blocked_recv, &b);
    curio_yield();
    curio_connection_close(r.c);
    curio_join(t, NULL);
    curio_task_release(t);
    cr_assert_eq(b.rc, -EBADF);
    curio_socket_close(r.raw);
    return 0;
}

Test(channel, cancellation_and_close)
{
    int fds = count_fds();
    run_main(cancel_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- a send interrupted half-way commits its message ---- */

#define BIGMSG (4u << 20)

struct bigsend {
    curio_connection *c;
    uint8_t *data;
    bool timeout;         /* interrupt with a scope of its own; else the test cancels it */
    int rc;
};

static long big_sender(void *arg)
{
    struct bigsend *s = arg;
    curio_scope sc;
    if (s->timeout)
        curio_timeout_after(&sc, 0.05);
    s->rc = curio_connection_send(s->c, s->data, BIGMSG); /* nobody reads: it cannot all go */
    if (s->timeout)
        curio_scope_close(&sc);
    memset(s->data, 0, BIGMSG); /* the caller's buffer is free again: the rest was copied */
    return 0;
}

struct bigrecv {
    curio_connection *c;
    ssize_t rc;
    bool intact;
};

static long big_receiver(void *arg)
{
    struct bigrecv *r = arg;
    void *m;
    size_t len;
    r->rc = curio_connection_recv(r->c, &m, &len);
    r->intact = r->rc == (ssize_t)BIGMSG;
    for (size_t i = 0; r->intact && i < BIGMSG; i++)
        r->intact = ((uint8_t *)m)[i] == pattern(i, 9);
    free(m);
    return 0;
}

static long commit_main(void *arg)
{
    bool cancel = arg != NULL;
    curio_connection *a, *b;
    conn_pair(&a, &b, NULL);
    small_buffers(curio_socket_fd(curio_connection_socket(a)));
    small_buffers(curio_socket_fd(curio_connection_socket(b)));
    struct bigsend s = {a, malloc(BIGMSG), !cancel, 1};
    for (size_t i = 0; i < BIGMSG; i++)
        s.data[i] = pattern(i, 9);
    curio_task *t = curio_spawn(big_sender, &s);
    if (cancel) {
        curio_sleep(0.05);
        cr_assert_str_eq(curio_task_state(t), "WRITE_WAIT");
        cr_assert_eq(curio_cancel(t), 0);
    } else {
        curio_join(t, NULL);
    }
    curio_task_release(t);
    cr_assert_eq(s.rc, 0, "committed: %s", curio_strerror(s.rc));
    /* The next send waits for the first message's rest; interrupted before any byte of
     * it went, it fails and leaves things as they were. */
    curio_scope sc;
    curio_timeout_after(&sc, 0.05);
    cr_assert_eq(curio_connection_send(a, "next", 4), -ETIMEDOUT);
    curio_scope_close(&sc);
    struct bigrecv r = {b, 0, false};
    t = curio_spawn(big_receiver, &r);
    cr_assert_eq(curio_connection_send(a, "last", 4), 0);
    curio_join(t, NULL);
    curio_task_release(t);
    cr_assert_eq(r.rc, (ssize_t)BIGMSG, "%s", curio_strerror((int)r.rc));
    cr_assert(r.intact, "the big message, whole and unchanged");
    char buf[8];
    cr_assert_eq(curio_connection_recv_into(b, buf, sizeof buf), 4);
    cr_assert_eq(memcmp(buf, "last", 4), 0, "then the next message; the failed one never went");
    free(s.data);
    curio_connection_close(a);
    curio_connection_close(b);
    return 0;
}

Test(channel, interrupted_send_commits_its_message)
{
    run_main(commit_main, NULL);
}

Test(channel, cancelled_send_commits_its_message)
{
    run_main(commit_main, (void *)1);
}

/* ---- two processes ---- */

/* The child: connect (the server is not up yet: retries), then echo each message back
 * reversed until an empty one. Exits 0 on success. */
static long child_main(void *arg)
{
    int port = (int)(intptr_t)arg;
    curio_channel_options o = {.retry_interval = 0.02};
    curio_channel *ch;
    if (curio_channel_tcp(&ch, "127.0.0.1", (uint16_t)port, &o) < 0)
        return 1;
    curio_connection *c;
    int rc = curio_channel_connect(ch, &c, K);
    curio_channel_close(ch);
    if (rc < 0)
        return 2;
    for (;;) {
        void *m;
        size_t len;
        ssize_t n = curio_connection_recv(c, &m, &len);
        if (n < 0)
            return 3;
        char *p = m;
        for (size_t i = 0; i < len / 2; i++) {
            char x = p[i];
            p[i] = p[len - 1 - i];
            p[len - 1 - i] = x;
        }
        rc = curio_connection_send(c, m, len);
        free(m);
        if (rc < 0)
            return 4;
        if (len == 0)
            break;
    }
    curio_connection_close(c);
    return 0;
}

struct parent {
    int port;
    curio_channel *ch;
    int errors;
};

static long parent_main(void *arg)
{
    struct parent *p = arg;
    curio_sleep(0.1); /* the child is trying to connect meanwhile */
    cr_assert_eq(curio_channel_bind(p->ch), 0);
    curio_connection *c;
    cr_assert_eq(curio_channel_accept(p->ch, &c, K), 0);
    for (int i = 0; i <= 50; i++) {
        char msg[64], want[64];
        int n = i == 50 ? 0 : snprintf(msg, sizeof msg, "message %d", i);
        for (int j = 0; j < n; j++)
            want[j] = msg[n - 1 - j];
        cr_assert_eq(curio_connection_send(c, msg, (size_t)n), 0);
        char back[64];
        ssize_t r = curio_connection_recv_into(c, back, sizeof back);
        if (r != n || memcmp(back, want, (size_t)n))
            p->errors++;
    }
    void *m;
    size_t len;
    cr_assert_eq(curio_connection_recv(c, &m, &len), CURIO_ECLOSED, "the child has gone");
    curio_connection_close(c);
    curio_channel_close(p->ch);
    return 0;
}

Test(channel, two_processes)
{
    int fds = count_fds();
    /* A port nobody listens on yet, reserved by binding (not listening). */
    int hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(hold, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", 0);
    cr_assert_eq(bind(hold, &a.u.sa, a.len), 0);
    a.len = sizeof a.u;
    getsockname(hold, &a.u.sa, &a.len);
    int port = curio_addr_port(&a);
    close(hold);
    pid_t pid = fork(); /* before any kernel exists in this process */
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        long r = 9;
        curio_run(child_main, (void *)(intptr_t)port, NULL, &r);
        _exit((int)r);
    }
    struct parent p = {.port = port};
    cr_assert_eq(curio_channel_tcp(&p.ch, "127.0.0.1", (uint16_t)port, NULL), 0);
    run_main(parent_main, &p);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    cr_assert_eq(p.errors, 0);
    cr_assert_eq(count_fds(), fds);
}

/* ---- the caller's own timeouts and cancellation stop accept and connect ---- */

static long stop_main(void *arg)
{
    (void)arg;
    curio_channel *ch;
    cr_assert_eq(curio_channel_tcp(&ch, "127.0.0.1", 0, NULL), 0);
    curio_scope sc;
    curio_timeout_after(&sc, 0.05);
    curio_connection *c = (curio_connection *)1;
    cr_assert_eq(curio_channel_accept(ch, &c, K), -ETIMEDOUT);
    cr_assert_null(c);
    curio_scope_close(&sc);
    curio_addr a;
    cr_assert_eq(curio_channel_address(ch, &a), 0, "bound by accept");
    int port = curio_addr_port(&a);
    curio_channel_close(ch);
    /* Nobody listens any more: connect retries until the caller's deadline. */
    curio_channel_options o = {.retry_interval = 0.01};
    cr_assert_eq(curio_channel_tcp(&ch, "127.0.0.1", (uint16_t)port, &o), 0);
    curio_timeout_after(&sc, 0.1);
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_channel_connect(ch, &c, K), -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.09);
    curio_scope_close(&sc);
    cr_assert_eq(curio_channel_address(ch, &a), -ENOTCONN);
    curio_channel_close(ch);
    return 0;
}

Test(channel, caller_timeouts)
{
    int fds = count_fds();
    run_main(stop_main, NULL);
    cr_assert_eq(count_fds(), fds);
}

static long args_main(void *arg)
{
    (void)arg;
    curio_channel *ch;
    curio_connection *c;
    cr_assert_eq(curio_channel_tcp(NULL, "x", 1, NULL), -EINVAL);
    cr_assert_eq(curio_channel_unix(&ch, "", NULL), -EINVAL);
    cr_assert_eq(curio_channel_bind(NULL), -EINVAL);
    cr_assert_eq(curio_channel_accept(NULL, &c, K), -EINVAL);
    cr_assert_eq(curio_channel_connect(NULL, &c, K), -EINVAL);
    cr_assert_eq(curio_connection_open(&c, NULL, NULL), -EINVAL);
    cr_assert_eq(curio_connection_send(NULL, "x", 1), -EINVAL);
    cr_assert_eq(curio_connection_recv_into(NULL, NULL, 0), -EINVAL);
    void *m;
    size_t len;
    cr_assert_eq(curio_connection_recv(NULL, &m, &len), -EINVAL);
    cr_assert_eq(curio_connection_close(NULL), 0);
    curio_channel_close(NULL);
    return 0;
}

Test(channel, arguments)
{
    run_main(args_main, NULL);
    curio_connection *a, *b;
    (void)a, (void)b;
    char buf[4];
    cr_assert_eq(curio_connection_recv_into(NULL, buf, 4), -EINVAL);
    curio_channel *ch;
    cr_assert_eq(curio_channel_tcp(&ch, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(curio_channel_bind(ch), -EPERM, "a task's call");
    curio_channel_close(ch);
}

/* ---- hostile clients: each is authenticated by a task of its own ---- */

/* A client connection to c->ch that has not started its side of the authentication. */
static curio_connection *idle_client(struct chan *c)
{
    curio_addr a;
    cr_assert_eq(curio_channel_address(c->ch, &a), 0);
    curio_socket *s;
    cr_assert_eq(curio_open_connection(&s, "127.0.0.1", (uint16_t)curio_addr_port(&a), NULL), 0);
    curio_connection *conn;
    cr_assert_eq(curio_connection_open(&conn, s, NULL), 0);
    return conn;
}

/* Let the other tasks run until t is in state (bounded: 10 s). */
static void until_state(curio_task *t, const char *state)
{
    for (int i = 0; i < 1000 && strcmp(curio_task_state(t), state) != 0; i++)
        curio_sleep(0.01);
    cr_assert_str_eq(curio_task_state(t), state);
}

static void say_hello(curio_connection *from, curio_connection *to)
{
    cr_assert_eq(curio_connection_send(from, "hello", 5), 0);
    char buf[16];
    cr_assert_eq(curio_connection_recv_into(to, buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
}

/* A silent client, then one that sends garbage, then one that stops half-way through a
 * frame, then a real one: the real one is accepted while the silent and the half-way one
 * are still being authenticated (with no auth_timeout at all, so only their own tasks
 * wait for them). The silent one can still finish later; closing the channel ends the
 * half-way one. */
static long hostile_main(void *arg)
{
    struct chan *c = arg;
    cr_assert_eq(curio_channel_bind(c->ch), 0);
    curio_task *s = curio_spawn(do_accept, c);
    curio_connection *silent = idle_client(c);
    curio_connection *garbage = idle_client(c);
    curio_socket *gs = curio_connection_socket(garbage);
    cr_assert_eq(curio_sendall(gs, "\0\0\0\5junk!", 9, 0, NULL), 9);
    curio_connection *halfway = idle_client(c);
    cr_assert_eq(curio_sendall(curio_connection_socket(halfway), "\0\0\0\100abc", 7, 0, NULL), 7);
    curio_connection *real = idle_client(c);
    cr_assert_eq(curio_connection_authenticate_client(real, K), 0);
    cr_assert_eq(curio_join(s, NULL), 0);
    curio_task_release(s);
    cr_assert_eq(c->accept_rc, 0, "%s", curio_strerror(c->accept_rc));
    say_hello(c->server_conn, real);
    say_hello(real, c->server_conn);
    curio_connection_close(c->server_conn);
    for (int i = 0; i < 1000 && nlogs == 0; i++)
        curio_sleep(0.01); /* the garbage client's task may not have had its turn yet */
    cr_assert_eq(nlogs, 1, "only the garbage client was dropped: %s", logbuf);
    cr_assert(strstr(logbuf, "Channel authentication failed; dropped"), "%s", logbuf);
    /* The silent client was still in authentication all along: it finishes now, and the
     * next accept returns it without taking a new client. */
    cr_assert_eq(curio_connection_authenticate_client(silent, K), 0);
    curio_connection *server_side;
    cr_assert_eq(curio_channel_accept(c->ch, &server_side, K), 0);
    say_hello(server_side, silent);
    curio_connection_close(server_side);
    /* Closing the channel ends the half-way client's authentication: it is hung up on. */
    curio_channel_close(c->ch);
    char buf[128];
    ssize_t r;
    while ((r = curio_recv(curio_connection_socket(halfway), buf, sizeof buf, 0)) > 0)
        ;
    cr_assert_eq(r, 0);
    cr_assert_eq(nlogs, 1, "a close drops quietly: %s", logbuf);
    curio_connection_close(silent);
    curio_connection_close(garbage);
    curio_connection_close(halfway);
    curio_connection_close(real);
    return 0;
}

Test(channel, hostile_clients_do_not_delay_the_others)
{
    int fds = count_fds();
    logbuf[0] = 0;
    nlogs = 0;
    struct chan c = {0};
    curio_channel_options o = {.log = on_log, .auth_timeout = -1};
    cr_assert_eq(curio_channel_tcp(&c.ch, "127.0.0.1", 0, &o), 0);
    run_main(hostile_main, &c);
    cr_assert_eq(count_fds(), fds);
}

/* Reads the challenge the server sends a client (or times out: none came). */
static int challenge_of(curio_connection *conn, double seconds)
{
    curio_scope sc;
    curio_timeout_after(&sc, seconds);
    void *m;
    size_t len;
    ssize_t n = curio_connection_recv(conn, &m, &len);
    free(m);
    curio_scope_close(&sc);
    return n < 0 ? (int)n : 0;
}

/* max_authenticating = 2: a third client is not taken off the socket (it gets no
 * challenge) until one of the first two ends; a close while the accepter waits for a slot
 * stops it with -EBADF and hangs up on every client in authentication. */
static long bound_main(void *arg)
{
    struct chan *c = arg;
    cr_assert_eq(curio_channel_bind(c->ch), 0);
    curio_task *s = curio_spawn(do_accept, c);
    curio_connection *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = idle_client(c);
    until_state(s, "CHANNEL_AUTH_WAIT");
    cr_assert_eq(challenge_of(p[0], 5), 0);
    cr_assert_eq(challenge_of(p[1], 5), 0);
    cr_assert_eq(challenge_of(p[2], 0.05), -ETIMEDOUT, "the third waits in the backlog");
    curio_connection_close(p[0]); /* its authentication fails: a slot frees */
    cr_assert_eq(challenge_of(p[2], 5), 0, "now the third is taken");
    until_state(s, "CHANNEL_AUTH_WAIT");
    curio_channel_close(c->ch);
    cr_assert_eq(curio_join(s, NULL), 0);
    curio_task_release(s);
    cr_assert_eq(c->accept_rc, -EBADF);
    cr_assert_null(c->server_conn);
    for (int i = 1; i < 3; i++) {
        void *m;
        size_t len;
        cr_assert_eq(curio_connection_recv(p[i], &m, &len), CURIO_ECLOSED, "hung up on");
        curio_connection_close(p[i]);
    }
    return 0;
}

Test(channel, bound_on_authentications)
{
    int fds = count_fds();
    logbuf[0] = 0;
    nlogs = 0;
    struct chan c = {0};
    curio_channel_options o = {.log = on_log, .auth_timeout = -1, .max_authenticating = 2};
    cr_assert_eq(curio_channel_tcp(&c.ch, "127.0.0.1", 0, &o), 0);
    run_main(bound_main, &c);
    cr_assert_eq(nlogs, 1, "%s", logbuf); /* the one closed by its client */
    cr_assert_eq(count_fds(), fds);
}

/* accept's own timeout and cancellation leave a client in authentication to finish; the
 * next accept returns it. A second task in accept meanwhile gets -EBUSY. */
static long own_stop_main(void *arg)
{
    struct chan *c = arg;
    curio_connection *srv = (curio_connection *)1;
    cr_assert_eq(curio_channel_bind(c->ch), 0);
    curio_connection *slow = idle_client(c);
    curio_scope sc;
    curio_timeout_after(&sc, 0.05);
    cr_assert_eq(curio_channel_accept(c->ch, &srv, K), -ETIMEDOUT);
    curio_scope_close(&sc);
    cr_assert_null(srv);
    curio_task *s = curio_spawn(do_accept, c);
    until_state(s, "READ_WAIT");
    cr_assert_eq(curio_channel_accept(c->ch, &srv, K), -EBUSY, "one accepter at a time");
    cr_assert_eq(curio_cancel(s), 0);
    cr_assert(curio_task_cancelled(s) || c->accept_rc == -ECANCELED);
    curio_task_release(s);
    cr_assert_null(c->server_conn);
    cr_assert_eq(curio_connection_authenticate_client(slow, K), 0);
    cr_assert_eq(curio_channel_accept(c->ch, &srv, K), 0);
    say_hello(srv, slow);
    curio_connection_close(srv);
    curio_connection_close(slow);
    /* Closed with a client in authentication ... */
    curio_connection *left = idle_client(c);
    curio_timeout_after(&sc, 0.05);
    cr_assert_eq(curio_channel_accept(c->ch, &srv, K), -ETIMEDOUT);
    curio_scope_close(&sc);
    cr_assert_eq(challenge_of(left, 5), 0);
    /* ... and a task blocked in accept, which gets -EBADF. */
    c->accept_rc = 1;
    s = curio_spawn(do_accept, c);
    until_state(s, "READ_WAIT");
    curio_channel_close(c->ch);
    cr_assert_eq(curio_join(s, NULL), 0);
    curio_task_release(s);
    cr_assert_eq(c->accept_rc, -EBADF, "%s", curio_strerror(c->accept_rc));
    cr_assert_null(c->server_conn);
    void *m;
    size_t len;
    cr_assert_eq(curio_connection_recv(left, &m, &len), CURIO_ECLOSED);
    curio_connection_close(left);
    return 0;
}

Test(channel, accept_timeout_and_cancellation_keep_authentications)
{
    int fds = count_fds();
    logbuf[0] = 0;
    nlogs = 0;
    struct chan c = {0};
    curio_channel_options o = {.log = on_log, .auth_timeout = -1};
    cr_assert_eq(curio_channel_tcp(&c.ch, "127.0.0.1", 0, &o), 0);
    run_main(own_stop_main, &c);
    cr_assert_eq(nlogs, 0, "%s", logbuf);
    cr_assert_eq(count_fds(), fds);
}
