/*
 * Moving data over TLS with the ordinary socket and stream calls: echo with readline,
 * large transfers both ways at once (byte-exact), close_notify and a bare TCP close as end
 * of stream, half-closing, timeouts and cancellation in the middle of a record (reading
 * and writing) that lose nothing, the count of an interrupted sendall against what the
 * peer decrypts, resets, closing under a blocked task, key updates, and
 * OpenSSL's s_server and s_client as peers.
 */
#include "tlstest.h"

#if CURIO_TEST_TLS
#include "../../tls/tls_priv.h" /* to look at a session's state */

#include <signal.h>
#include <spawn.h>

TestSuite(tls_io, .timeout = 60);

/* A client connected to a fresh server (whose handler is body) through TLS. */
struct conn {
    struct tsrv srv;
    struct relay relay;
    bool via_relay;
    curio_socket *s;
    void *user;
};

static void conn_open(struct conn *c, long (*body)(curio_socket *, struct tsrv *))
{
    c->srv.ctx = server_ctx("server.pem");
    c->srv.body = body;
    c->srv.user = c;
    tsrv_start(&c->srv);
    int port = c->srv.port;
    if (c->via_relay) {
        c->relay.hold_after = -1;
        c->relay.reset_at = -1;
        relay_start(&c->relay, port);
        port = c->relay.port;
    }
    int rc = tls_connect(&c->s, port, "ca.pem", "localhost");
    cr_assert_eq(rc, 0, "%s", curio_strerror(rc));
}

static void conn_close(struct conn *c)
{
    if (c->s)
        curio_socket_close(c->s);
    if (c->via_relay)
        relay_stop(&c->relay);
    tsrv_stop(&c->srv);
}

/* ---- streams ---- */

/* The tutorial's SSL server: lines through the socket's stream. */
static long lines_body(curio_socket *c, struct tsrv *t)
{
    (void)t;
    curio_stream *st;
    cr_assert_eq(curio_socket_as_stream(c, &st, NULL), 0);
    const char *line;
    ssize_t n;
    while ((n = curio_stream_readline_ref(st, &line)) > 0) {
        char out[256];
        int len = snprintf(out, sizeof out, "%zd:%.*s", n, (int)n, line);
        if (curio_stream_write(st, out, (size_t)len, NULL) < 0)
            return -1;
    }
    return n;
}

static long lines_main(void *arg)
{
    struct conn *c = arg;
    conn_open(c, lines_body);
    curio_stream *st;
    cr_assert_eq(curio_socket_as_stream(c->s, &st, NULL), 0);
    /* Many short lines in one writelines: gathered into few records. */
    struct iovec iov[100];
    char lines[100][16];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(lines[i], sizeof lines[i], "line %d\n", i);
        iov[i] = (struct iovec){lines[i], (size_t)n};
    }
    size_t done;
    cr_assert_gt(curio_stream_writelines(st, iov, 100, &done), 0);
    for (int i = 0; i < 100; i++) {
        char buf[64], want[64];
        snprintf(want, sizeof want, "%zu:line %d\n", strlen(lines[i]), i);
        ssize_t n = curio_stream_readline(st, buf, sizeof buf);
        cr_assert_eq(n, (ssize_t)strlen(want), "line %d: %zd", i, n);
        cr_assert_str_eq(buf, want);
    }
    cr_assert_eq(curio_socket_shutdown(c->s, SHUT_WR), 0);
    char buf[8];
    cr_assert_eq(curio_stream_readline(st, buf, sizeof buf), 0, "end of stream");
    tsrv_wait_ended(&c->srv, 1);
    cr_assert_eq(c->srv.last, 0);
    conn_close(c);
    return 0;
}

Test(tls_io, stream_lines)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct conn c = {0};
    run_main(lines_main, &c);
    cr_assert_eq(count_fds(), fds);
}

/* ---- large transfers ---- */

#define BIG (8u << 20)

static uint8_t pattern(size_t i) { return (uint8_t)((i * 2654435761u) >> 13); }

struct bulk {
    curio_socket *s;
    size_t n;
    long rc;
    bool use_stream;
};

static long bulk_writer(void *arg)
{
    struct bulk *b = arg;
    uint8_t *data = malloc(b->n);
    for (size_t i = 0; i < b->n; i++)
        data[i] = pattern(i);
    size_t sent = 0;
    if (b->use_stream) {
        curio_stream *st;
        curio_socket_as_stream(b->s, &st, NULL);
        b->rc = curio_stream_write(st, data, b->n, &sent);
    } else {
        b->rc = curio_sendall(b->s, data, b->n, 0, &sent);
    }
    free(data);
    return sent == b->n ? 0 : -1;
}

static long bulk_reader(void *arg)
{
    struct bulk *b = arg;
    size_t got = 0;
    uint8_t *buf = malloc(100000);
    curio_stream *st = NULL;
    if (b->use_stream)
        curio_socket_as_stream(b->s, &st, NULL);
    while (got < b->n) {
        size_t want = b->n - got < 100000 ? b->n - got : 100000;
        ssize_t r = st ? curio_stream_read(st, buf, want) : curio_recv(b->s, buf, want, 0);
        if (r <= 0) {
            b->rc = r;
            break;
        }
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(got + (size_t)i)) {
                b->rc = -EILSEQ;
                free(buf);
                return -1;
            }
        got += (size_t)r;
    }
    free(buf);
    if (got == b->n)
        b->rc = (long)got;
    return 0;
}

static long bulk_main(void *arg)
{
    struct conn *c = arg;
    bool use_stream = c->user != NULL;
    conn_open(c, echo_body);
    small_buffers(curio_socket_fd(c->s));
    struct bulk w = {c->s, BIG, 0, use_stream}, r = {c->s, BIG, 0, use_stream};
    curio_task *tw = curio_spawn(bulk_writer, &w), *tr = curio_spawn(bulk_reader, &r);
    curio_join(tw, NULL);
    curio_join(tr, NULL);
    curio_task_release(tw);
    curio_task_release(tr);
    cr_assert_eq(w.rc, (long)BIG, "writer: %s", curio_strerror((int)w.rc));
    cr_assert_eq(r.rc, (long)BIG, "reader: %s", curio_strerror((int)r.rc));
    conn_close(c);
    return 0;
}

/* 8 MiB each way at once: one task sends while another receives the echo. */
Test(tls_io, large_transfer_both_ways)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct conn c = {0};
    run_main(bulk_main, &c);
    cr_assert_eq(count_fds(), fds);
}

Test(tls_io, large_transfer_through_the_stream)
{
    TLS_REQUIRE();
    struct conn c = {.user = (void *)1};
    run_main(bulk_main, &c);
}

/* ---- end of stream ---- */

static long bye_body(curio_socket *c, struct tsrv *t)
{
    (void)t;
    return curio_sendall(c, "bye", 3, 0, NULL) == 3 ? 0 : -1; /* the server closes */
}

static long bare_close_body(curio_socket *c, struct tsrv *t)
{
    (void)t;
    if (curio_sendall(c, "bye", 3, 0, NULL) != 3)
        return -1;
    shutdown(curio_socket_fd(c), SHUT_WR); /* a FIN without a close_notify */
    char buf[4];
    curio_recv(c, buf, sizeof buf, 0);
    return 0;
}

static long eof_main(void *arg)
{
    struct conn *c = arg;
    conn_open(c, c->user ? bare_close_body : bye_body);
    char buf[8];
    cr_assert_eq(curio_recv(c->s, buf, sizeof buf, MSG_WAITALL), 3, "the bytes, then the end");
    cr_assert_eq(memcmp(buf, "bye", 3), 0);
    cr_assert_eq(curio_recv(c->s, buf, sizeof buf, 0), 0);
    cr_assert_eq(curio_recv(c->s, buf, sizeof buf, 0), 0, "and it stays ended");
    cr_assert_eq(curio__tls_of(c->s)->peer_closed, c->user == NULL,
                 "a close_notify arrived exactly when the server closed through TLS");
    /* Our side may still send (a half-close), to a peer that is gone: no error yet or
     * -EPIPE/-ECONNRESET, never a crash. */
    curio_send(c->s, "x", 1, 0);
    conn_close(c);
    return 0;
}

Test(tls_io, close_notify_is_end_of_stream)
{
    TLS_REQUIRE();
    struct conn c = {0};
    run_main(eof_main, &c);
}

Test(tls_io, bare_tcp_close_is_end_of_stream)
{
    TLS_REQUIRE();
    struct conn c = {.user = (void *)1};
    run_main(eof_main, &c);
}

/* The client half-closes (its close_notify), the server answers after end of stream. */
static long request_body(curio_socket *c, struct tsrv *t)
{
    (void)t;
    char buf[64];
    size_t got = 0;
    ssize_t n;
    while ((n = curio_recv(c, buf + got, sizeof buf - got, 0)) > 0)
        got += (size_t)n;
    if (n < 0)
        return n;
    char out[80];
    int len = snprintf(out, sizeof out, "got %zu bytes", got);
    return curio_sendall(c, out, (size_t)len, 0, NULL) < 0 ? -1 : 0;
}

static long halfclose_main(void *arg)
{
    struct conn *c = arg;
    conn_open(c, request_body);
    cr_assert_eq(curio_sendall(c->s, "request", 7, 0, NULL), 7);
    cr_assert_eq(curio_socket_shutdown(c->s, SHUT_WR), 0);
    cr_assert_eq(curio_socket_shutdown(c->s, SHUT_WR), 0, "twice is fine");
    cr_assert_eq(curio_send(c->s, "late", 4, 0), -EPIPE, "nothing after our close_notify");
    cr_assert_eq(curio_sendall(c->s, "late", 4, 0, NULL), -EPIPE);
    char buf[64] = {0};
    cr_assert_eq(curio_recv(c->s, buf, sizeof buf, MSG_WAITALL), 11);
    cr_assert_str_eq(buf, "got 7 bytes");
    tsrv_wait_ended(&c->srv, 1);
    cr_assert_eq(c->srv.last, 0);
    conn_close(c);
    return 0;
}

Test(tls_io, half_close)
{
    TLS_REQUIRE();
    struct conn c = {0};
    run_main(halfclose_main, &c);
}

/* ---- interruptions while receiving ---- */

/* The server sends "ready", then, when told "go", one record of 10000 bytes. */
static long ready_go_body(curio_socket *c, struct tsrv *t)
{
    (void)t;
    static char big[10000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)pattern(i);
    if (curio_sendall(c, "ready", 5, 0, NULL) != 5)
        return -1;
    char go[2];
    if (curio_recv(c, go, 2, MSG_WAITALL) != 2)
        return -1;
    if (curio_sendall(c, big, sizeof big, 0, NULL) != (ssize_t)sizeof big)
        return -1;
    return curio_recv(c, go, 1, 0) < 0 ? -1 : 0; /* until the client closes */
}

/* Receive "ready", then have the relay stop 10 bytes into the next record. */
static void hold_next_record(struct conn *c)
{
    char buf[8];
    cr_assert_eq(curio_recv(c->s, buf, 5, MSG_WAITALL), 5);
    cr_assert_eq(memcmp(buf, "ready", 5), 0);
    c->relay.hold_after = c->relay.down_bytes + 10;
    cr_assert_eq(curio_sendall(c->s, "go", 2, 0, NULL), 2);
    cr_assert_eq(curio_event_wait(&c->relay.holding_event), 0);
}

static void expect_big(curio_socket *s)
{
    static char buf[10000];
    cr_assert_eq(curio_recv(s, buf, sizeof buf, MSG_WAITALL), (ssize_t)sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        cr_assert_eq((uint8_t)buf[i], pattern(i), "byte %zu", i);
}

static long read_timeout_main(void *arg)
{
    struct conn *c = arg;
    c->via_relay = true;
    conn_open(c, ready_go_body);
    hold_next_record(c);
    char buf[16];
    curio_scope sc;
    curio_timeout_after(&sc, 0.1);
    int64_t t0 = curio_clock();
    cr_assert_eq(curio_recv(c->s, buf, sizeof buf, 0), -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.09);
    cr_assert_eq(curio_scope_close(&sc), -ETIMEDOUT);
    curio_event_set(&c->relay.release);
    expect_big(c->s); /* the part that came before the timeout is not lost */
    conn_close(c);
    return 0;
}

Test(tls_io, read_timeout_in_the_middle_of_a_record)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct conn c = {0};
    run_main(read_timeout_main, &c);
    cr_assert_eq(count_fds(), fds);
}

struct blocked {
    curio_socket *s;
    ssize_t rc;
};

static long blocked_reader(void *arg)
{
    struct blocked *b = arg;
    char buf[16];
    b->rc = curio_recv(b->s, buf, sizeof buf, 0);
    return b->rc;
}

static long read_cancel_main(void *arg)
{
    struct conn *c = arg;
    c->via_relay = true;
    conn_open(c, ready_go_body);
    hold_next_record(c);
    struct blocked b = {c->s, 1};
    curio_task *t = curio_spawn(blocked_reader, &b);
    curio_sleep(0.02);
    cr_assert_str_eq(curio_task_state(t), "READ_WAIT");
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);
    cr_assert_eq(b.rc, -ECANCELED);
    curio_event_set(&c->relay.release);
    expect_big(c->s); /* another task reads on: nothing was lost */
    conn_close(c);
    return 0;
}

Test(tls_io, read_cancelled_in_the_middle_of_a_record)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct conn c = {0};
    run_main(read_cancel_main, &c);
    cr_assert_eq(count_fds(), fds);
}

static long reset_main(void *arg)
{
    struct conn *c = arg;
    c->via_relay = true;
    conn_open(c, ready_go_body);
    char buf[8];
    cr_assert_eq(curio_recv(c->s, buf, 5, MSG_WAITALL), 5);
    c->relay.reset_at = c->relay.down_bytes + 10;
    cr_assert_eq(curio_sendall(c->s, "go", 2, 0, NULL), 2);
    cr_assert_eq(curio_recv(c->s, buf, sizeof buf, 0), -ECONNRESET);
    cr_assert_eq(curio_recv(c->s, buf, sizeof buf, 0), -ECONNRESET, "sticky");
    ssize_t w = curio_send(c->s, "x", 1, 0);
    cr_assert(w == -EPIPE || w == -ECONNRESET, "%s", curio_strerror((int)w));
    conn_close(c);
    return 0;
}

Test(tls_io, reset_in_the_middle_of_a_record)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct conn c = {0};
    run_main(reset_main, &c);
    cr_assert_eq(count_fds(), fds);
}

static long close_under_reader_main(void *arg)
{
    struct conn *c = arg;
    conn_open(c, echo_body);
    struct blocked b = {c->s, 1};
    curio_task *t = curio_spawn(blocked_reader, &b);
    curio_yield();
    cr_assert_str_eq(curio_task_state(t), "READ_WAIT");
    curio_socket_close(c->s); /* frees the handle once the reader is out */
    c->s = NULL;
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(b.rc, -EBADF);
    conn_close(c);
    return 0;
}

Test(tls_io, closed_under_a_blocked_reader)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct conn c = {0};
    run_main(close_under_reader_main, &c);
    cr_assert_eq(count_fds(), fds);
}

static long busy_main(void *arg)
{
    struct conn *c = arg;
    conn_open(c, echo_body);
    struct blocked b = {c->s, 1};
    curio_task *t = curio_spawn(blocked_reader, &b);
    curio_yield();
    char buf[4];
    cr_assert_eq(curio_recv(c->s, buf, sizeof buf, 0), -EBUSY, "one receiver at a time");
    cr_assert_eq(curio_tls_handshake(c->s), -EBUSY);
    cr_assert_eq(curio_sendall(c->s, "ab", 2, 0, NULL), 2, "while a task sends");
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(b.rc, 2);
    cr_assert_eq(curio_recv(c->s, NULL, 2, 0), -EFAULT);
    cr_assert_eq(curio_send(c->s, NULL, 2, 0), -EFAULT);
    cr_assert_eq(curio_sendall(c->s, NULL, 2, 0, NULL), -EFAULT, "and the session goes on:");
    cr_assert_eq(curio_send(c->s, "cd", 2, MSG_WAITALL), 2);
    cr_assert_eq(curio_recv(c->s, buf, 2, MSG_PEEK | MSG_WAITALL), 2);
    cr_assert_eq(curio_recv(c->s, buf, 2, MSG_PEEK), 2, "a peek leaves the bytes");
    cr_assert_eq(curio_recv(c->s, buf, 2, MSG_WAITALL), 2);
    cr_assert_eq(memcmp(buf, "cd", 2), 0);
    conn_close(c);
    return 0;
}

Test(tls_io, one_receiver_at_a_time)
{
    TLS_REQUIRE();
    struct conn c = {0};
    run_main(busy_main, &c);
}

/* ---- interruptions while sending ---- */

/* The server reads nothing until released, then everything, checking every byte. */
struct sink {
    curio_event go;
    size_t expect, got;
    bool mismatch;
};

static long sink_body(curio_socket *c, struct tsrv *t)
{
    struct sink *k = ((struct conn *)t->user)->user;
    /* (Shrinking the receive buffer of a connection whose window was advertised already
     * would leave the sender probing a zero window every 200 ms.) */
    if (curio_event_wait(&k->go) < 0)
        return -1;
    uint8_t *buf = malloc(65536);
    ssize_t n;
    while (k->got < k->expect && (n = curio_recv(c, buf, 65536, 0)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(k->got + (size_t)i))
                k->mismatch = true;
        k->got += (size_t)n;
    }
    free(buf);
    return 0;
}

struct wsend {
    curio_socket *s;
    const uint8_t *data;
    size_t n, sent;
    ssize_t rc;
};

static long writer(void *arg)
{
    struct wsend *w = arg;
    w->rc = curio_sendall(w->s, w->data, w->n, 0, &w->sent);
    return 0;
}

static long write_interrupt_main(void *arg)
{
    struct conn *c = arg;
    struct sink *k = c->user;
    bool cancel = k->expect == 1;
    k->expect = BIG;
    conn_open(c, sink_body);
    small_buffers(curio_socket_fd(c->s));
    uint8_t *data = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        data[i] = pattern(i);
    struct wsend w = {c->s, data, BIG, 0, 0};
    if (cancel) {
        curio_task *t = curio_spawn(writer, &w);
        curio_sleep(0.1);
        cr_assert_str_eq(curio_task_state(t), "WRITE_WAIT");
        cr_assert_eq(curio_cancel(t), 0);
        curio_task_release(t);
        cr_assert_eq(w.rc, -ECANCELED, "%s", curio_strerror((int)w.rc));
    } else {
        int closed;
        ssize_t rc;
        TIMEOUT_WHILE_WAITING(0.1, rc, closed, (writer(&w), w.rc));
        (void)rc;
        cr_assert_eq(closed, -ETIMEDOUT);
        cr_assert_eq(w.rc, -ETIMEDOUT, "%s", curio_strerror((int)w.rc));
    }
    cr_assert_gt(w.sent, 0);
    cr_assert_lt(w.sent, BIG, "the peer does not read: not everything went");
    cr_assert_gt(curio__tls_of(c->s)->out_bytes, 0,
                 "ciphertext of bytes counted as sent is queued");
    /* Send the rest from where sendall said it stopped: the peer gets every byte once. */
    curio_event_set(&k->go);
    size_t more;
    cr_assert_eq(curio_sendall(c->s, data + w.sent, BIG - w.sent, 0, &more),
                 (ssize_t)(BIG - w.sent));
    tsrv_wait_ended(&c->srv, 1);
    cr_assert_eq(k->got, BIG);
    cr_assert(!k->mismatch, "byte-exact");
    free(data);
    conn_close(c);
    return 0;
}

Test(tls_io, write_timeout_then_resume_byte_exact)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct sink k = {0};
    struct conn c = {.user = &k};
    run_main(write_interrupt_main, &c);
    cr_assert_eq(count_fds(), fds);
}

Test(tls_io, write_cancelled_then_resume_byte_exact)
{
    TLS_REQUIRE();
    struct sink k = {.expect = 1}; /* 1: cancel instead of a timeout */
    struct conn c = {.user = &k};
    run_main(write_interrupt_main, &c);
}

/* The count against what the peer decrypts. A peer that stops reading; sendall times out
 * with *sent counting bytes whose records are still queued here (curio_tls_unsent of
 * them). Released, the peer decrypts exactly *sent - unsent bytes and then nothing more
 * (nobody sends meanwhile: the rest of the records, one of them partly handed to the
 * kernel, waits in the queue). curio_tls_flush sends the queue: the peer gets up to *sent
 * exactly, and unsent is 0. The rest, sent from *sent, arrives byte-exact. */
struct staged {
    curio_event go, reached, go_on;
    size_t stop_at, got;
    ssize_t extra;                  /* a receive after stop_at, before the flush */
    bool mismatch;
};

static bool take_until(curio_socket *c, struct staged *k, uint8_t *buf, size_t until)
{
    while (k->got < until) {
        size_t want = until - k->got < 65536 ? until - k->got : 65536;
        ssize_t n = curio_recv(c, buf, want, 0);
        if (n <= 0)
            return false;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(k->got + (size_t)i))
                k->mismatch = true;
        k->got += (size_t)n;
    }
    return true;
}

static long staged_body(curio_socket *c, struct tsrv *t)
{
    struct staged *k = ((struct conn *)t->user)->user;
    uint8_t *buf = malloc(65536);
    long rc = -1;
    if (curio_event_wait(&k->go) == 0 && take_until(c, k, buf, k->stop_at)) {
        curio_scope sc;
        curio_timeout_after(&sc, 0.2); /* absence of more: can only pass wrongly, never flake */
        k->extra = curio_recv(c, buf, 65536, 0);
        curio_scope_close(&sc);
        curio_event_set(&k->reached);
        if (curio_event_wait(&k->go_on) == 0 && take_until(c, k, buf, BIG))
            rc = 0;
    }
    free(buf);
    return rc;
}

static long count_main(void *arg)
{
    struct conn *c = arg;
    struct staged *k = c->user;
    conn_open(c, staged_body);
    small_buffers(curio_socket_fd(c->s));
    uint8_t *data = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        data[i] = pattern(i);
    cr_assert_eq(curio_tls_unsent(c->s), 0);
    struct wsend w = {c->s, data, BIG, 0, 0};
    curio_scope sc;
    curio_timeout_after(&sc, 0.1);
    writer(&w);
    curio_scope_close(&sc);
    cr_assert_eq(w.rc, -ETIMEDOUT, "%s", curio_strerror((int)w.rc));
    size_t unsent = curio_tls_unsent(c->s);
    cr_assert_gt(unsent, 0, "records of counted bytes are still queued");
    cr_assert_leq(unsent, w.sent);
    cr_assert_leq(unsent, CURIO__TLS_BATCH);
    k->stop_at = w.sent - unsent;
    curio_event_set(&k->go);
    cr_assert_eq(curio_event_wait(&k->reached), 0);
    cr_assert_eq(k->got, w.sent - unsent, "the peer decrypts what is out");
    cr_assert_eq(k->extra, -ETIMEDOUT, "and nothing more: %zd", k->extra);
    cr_assert_eq(curio_tls_flush(c->s), 0);
    cr_assert_eq(curio_tls_unsent(c->s), 0);
    curio_event_set(&k->go_on);
    size_t more;
    cr_assert_eq(curio_sendall(c->s, data + w.sent, BIG - w.sent, 0, &more),
                 (ssize_t)(BIG - w.sent));
    cr_assert_eq(curio_tls_unsent(c->s), 0);
    tsrv_wait_ended(&c->srv, 1);
    cr_assert_eq(c->srv.last, 0);
    cr_assert_eq(k->got, BIG);
    cr_assert(!k->mismatch, "byte-exact");
    free(data);
    conn_close(c);
    return 0;
}

Test(tls_io, sendall_count_against_what_the_peer_decrypts)
{
    TLS_REQUIRE();
    int fds = count_fds();
    struct staged k = {0};
    struct conn c = {.user = &k};
    run_main(count_main, &c);
    cr_assert_eq(count_fds(), fds);
}

/* ---- key updates (TLS 1.3): the receiving side answers ---- */

static long keyupdate_body(curio_socket *c, struct tsrv *t)
{
    (void)t;
    char buf[16];
    for (int round = 0; round < 3; round++) {
        /* queues a KeyUpdate */
        if (wolfSSL_update_keys(curio__tls_of(c)->ssl) != WOLFSSL_SUCCESS)
            return -2;
        if (curio_tls_flush(c) < 0)
            return -3;
        if (curio_recv(c, buf, 4, MSG_WAITALL) != 4)
            return -4;
        if (curio_sendall(c, buf, 4, 0, NULL) != 4)
            return -5;
    }
    return 0;
}

static long keyupdate_main(void *arg)
{
    struct conn *c = arg;
    conn_open(c, keyupdate_body);
    for (int round = 0; round < 3; round++) {
        char msg[5], buf[5] = {0};
        snprintf(msg, sizeof msg, "r%03d", round);
        cr_assert_eq(curio_sendall(c->s, msg, 4, 0, NULL), 4);
        cr_assert_eq(curio_recv(c->s, buf, 4, MSG_WAITALL), 4, "round %d", round);
        cr_assert_str_eq(buf, msg);
    }
    tsrv_wait_ended(&c->srv, 1);
    cr_assert_eq(c->srv.last, 0, "handler: %ld", c->srv.last);
    conn_close(c);
    return 0;
}

Test(tls_io, key_updates)
{
    TLS_REQUIRE();
    struct conn c = {0};
    run_main(keyupdate_main, &c);
}

/* ---- no descriptor or byte of memory left after many connections ---- */

static long many_main(void *arg)
{
    (void)arg;
    struct tsrv srv = {0};
    srv.ctx = server_ctx("server.pem");
    srv.body = echo_body;
    tsrv_start(&srv);
    for (int i = 0; i < 20; i++) {
        curio_socket *s;
        cr_assert_eq(tls_connect(&s, srv.port, "ca.pem", "localhost"), 0);
        cr_assert_eq(curio_sendall(s, "x", 1, 0, NULL), 1);
        char b;
        cr_assert_eq(curio_recv(s, &b, 1, 0), 1);
        if (i % 2)
            curio_socket_shutdown(s, SHUT_RDWR);
        curio_socket_close(s);
    }
    tsrv_wait_ended(&srv, 20);
    tsrv_stop(&srv);
    return 0;
}

Test(tls_io, many_connections_leave_nothing)
{
    TLS_REQUIRE();
    int fds = count_fds();
    run_main(many_main, NULL);
    cr_assert_eq(count_fds(), fds); /* memory: the sanitizer build's leak checker */
}

/* ---- OpenSSL as the peer ---- */

extern char **environ;

/* A port that was free a moment ago (s_server cannot be told to choose one). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    curio_addr a;
    curio_addr_ip(&a, "127.0.0.1", 0);
    cr_assert_eq(bind(fd, &a.u.sa, a.len), 0);
    a.len = sizeof a.u;
    getsockname(fd, &a.u.sa, &a.len);
    close(fd);
    return curio_addr_port(&a);
}

static pid_t spawn_openssl(const char *const *argv, int *in, int *out)
{
    int pin[2], pout[2];
    cr_assert_eq(pipe2(pin, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(pout, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, "openssl", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0);
    close(pin[0]);
    close(pout[1]);
    *in = pin[1];
    *out = pout[0];
    return pid;
}

struct ossl {
    int port;
    char got[256];
};

static long s_server_main(void *arg)
{
    struct ossl *o = arg;
    curio_socket *s = NULL;
    int rc = -1;
    for (int i = 0; i < 200 && rc < 0; i++) { /* until s_server listens */
        rc = tls_connect(&s, o->port, "ca.pem", "localhost");
        if (rc == -ECONNREFUSED)
            curio_sleep(0.01);
        else
            cr_assert_eq(rc, 0, "%s", curio_strerror(rc));
    }
    cr_assert_eq(rc, 0);
    cr_assert_eq(curio_sendall(s, "hello openssl\n", 14, 0, NULL), 14);
    ssize_t n = curio_recv(s, o->got, 14, MSG_WAITALL); /* -rev: the line reversed */
    cr_assert_eq(n, 14, "%s", curio_strerror((int)n));
    curio_socket_close(s);
    return 0;
}

Test(tls_io, openssl_s_server_as_peer)
{
    TLS_REQUIRE();
    struct ossl o = {.port = free_port()};
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", o.port);
    const char *argv[] = {"openssl", "s_server", "-accept", accept, "-cert", cert("server.pem"),
                          "-key", cert("server.key"), "-rev", "-naccept", "1", NULL};
    int in, out;
    pid_t pid = spawn_openssl(argv, &in, &out);
    run_main(s_server_main, &o);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    close(in);
    close(out);
    cr_assert_eq(memcmp(o.got, "lssnepo olleh\n", 14), 0, "%.14s", o.got);
}

struct sclient {
    struct tsrv srv;
    pid_t pid;
    int in, out;
    char got[512];
};

static long s_client_main(void *arg)
{
    struct sclient *c = arg;
    c->srv.ctx = server_ctx("server.pem");
    c->srv.body = echo_body;
    tsrv_start(&c->srv);
    char connect[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", c->srv.port);
    const char *argv[] = {"openssl", "s_client", "-connect", connect, "-CAfile", cert("ca.pem"),
                          "-verify_hostname", "localhost", "-verify_return_error",
                          "-servername", "localhost", "-quiet", "-no_ign_eof", NULL};
    c->pid = spawn_openssl(argv, &c->in, &c->out);
    cr_assert_eq(write(c->in, "echo me\n", 8), 8);
    curio_scope sc;
    curio_timeout_after(&sc, 10);
    size_t n = 0;
    ssize_t r;
    while (!strstr(c->got, "echo me\n") &&
           (r = curio_read(c->out, c->got + n, sizeof c->got - 1 - n)) > 0)
        n += (size_t)r;
    cr_assert_eq(curio_scope_close(&sc), 0, "s_client printed: %s", c->got);
    close(c->in); /* s_client ends, and with it the connection */
    tsrv_wait_ended(&c->srv, 1);
    tsrv_stop(&c->srv);
    return 0;
}

Test(tls_io, openssl_s_client_as_peer)
{
    TLS_REQUIRE();
    struct sclient c = {0};
    run_main(s_client_main, &c);
    close(c.out);
    waitpid(c.pid, NULL, 0);
    cr_assert(strstr(c.got, "echo me\n"), "s_client printed: %s", c.got);
    cr_assert_str_eq(c.srv.sni, "localhost");
}

#else
TLS_SKIPPED(tls_io)
#endif
