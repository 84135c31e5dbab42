/*
 * Datagrams and messages: recvfrom/sendto over UDP (IPv4, IPv6), datagram boundaries and
 * truncation, timeout and cancellation of recvfrom, recvmsg/sendmsg with scatter/gather
 * and a passed descriptor.
 */
#include "nettest.h"

static curio_socket *udp_bound(const char *ip, curio_addr *where)
{
    curio_socket *s;
    curio_addr a;
    cr_assert_eq(curio_addr_ip(&a, ip, 0), 0);
    cr_assert_eq(curio_socket_open(&s, a.u.sa.sa_family, SOCK_DGRAM, 0), 0);
    cr_assert_eq(curio_socket_bind(s, &a), 0);
    cr_assert_eq(curio_socket_getsockname(s, where), 0);
    return s;
}

static long udp_roundtrip(void *arg)
{
    const char *ip = arg;
    curio_addr sa, ca, from;
    curio_socket *srv = udp_bound(ip, &sa), *cl = udp_bound(ip, &ca);
    cr_assert_eq(curio_sendto(cl, "one", 3, 0, &sa), 3);
    cr_assert_eq(curio_sendto(cl, "second", 6, 0, &sa), 6);
    char buf[64];
    cr_assert_eq(curio_recvfrom(srv, buf, sizeof buf, 0, &from), 3, "one datagram at a time");
    cr_assert_eq(memcmp(buf, "one", 3), 0);
    char f[CURIO_ADDR_STRLEN], c[CURIO_ADDR_STRLEN];
    curio_addr_format(&from, f, sizeof f);
    curio_addr_format(&ca, c, sizeof c);
    cr_assert_str_eq(f, c, "the sender's address");
    /* Truncated to the buffer; MSG_TRUNC tells the real length. */
    cr_assert_eq(curio_recvfrom(srv, buf, 2, MSG_TRUNC, &from), 6);
    cr_assert_eq(memcmp(buf, "se", 2), 0);
    /* Echo back to where it came from, as the seed's UDP server does. */
    cr_assert_eq(curio_sendto(srv, "echo", 4, 0, &from), 4);
    cr_assert_eq(curio_recvfrom(cl, buf, sizeof buf, 0, NULL), 4);
    /* A connected datagram socket: plain send and recv, sendto without an address. */
    cr_assert_eq(curio_connect(cl, &sa), 0);
    cr_assert_eq(curio_send(cl, "conn", 4, 0), 4);
    cr_assert_eq(curio_sendto(cl, "nul", 3, 0, NULL), 3);
    cr_assert_eq(curio_recv(srv, buf, sizeof buf, 0), 4);
    cr_assert_eq(curio_recvfrom(srv, buf, sizeof buf, 0, &from), 3);
    cr_assert_eq(curio_sendall(srv, "x", 1, 0, NULL), -EDESTADDRREQ, "srv is not connected");
    curio_socket_close(cl);
    curio_socket_close(srv);
    return 0;
}

Test(datagram, udp_ipv4)
{
    int fds = count_fds();
    run_main(udp_roundtrip, "127.0.0.1");
    cr_assert_eq(count_fds(), fds);
}

Test(datagram, udp_ipv6) { run_main(udp_roundtrip, "::1"); }

static long too_big(void *arg)
{
    (void)arg;
    curio_addr sa, ca;
    curio_socket *srv = udp_bound("127.0.0.1", &sa), *cl = udp_bound("127.0.0.1", &ca);
    size_t n = 70000;
    char *big = calloc(1, n);
    cr_assert_eq(curio_sendto(cl, big, n, 0, &sa), -EMSGSIZE);
    free(big);
    curio_socket_close(cl);
    curio_socket_close(srv);
    return 0;
}

Test(datagram, oversized_datagram_is_emsgsize) { run_main(too_big, NULL); }

static long recvfrom_timeout(void *arg)
{
    (void)arg;
    curio_addr sa, from;
    curio_socket *srv = udp_bound("127.0.0.1", &sa);
    char buf[8];
    curio_scope sc;
    int64_t t0 = curio_clock();
    curio_timeout_after(&sc, 0.05);
    cr_assert_eq(curio_recvfrom(srv, buf, sizeof buf, 0, &from), -ETIMEDOUT);
    cr_assert_eq(curio_scope_close(&sc), -ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.05);
    cr_assert_eq(from.len, 0u);
    curio_socket_close(srv);
    return 0;
}

Test(datagram, recvfrom_timeout) { run_main(recvfrom_timeout, NULL); }

struct dgram_reader {
    curio_socket *s;
    ssize_t rc;
};

static long reads_dgram(void *arg)
{
    struct dgram_reader *r = arg;
    char buf[8];
    curio_addr from;
    r->rc = curio_recvfrom(r->s, buf, sizeof buf, 0, &from);
    ev("recvfrom=%s", r->rc == -ECANCELED ? "ECANCELED" : "other");
    return r->rc;
}

static long recvfrom_cancel(void *arg)
{
    bool in_flight = *(bool *)arg;
    curio_addr sa, ca;
    curio_socket *srv = udp_bound("127.0.0.1", &sa), *cl = udp_bound("127.0.0.1", &ca);
    struct dgram_reader r = {.s = srv};
    curio_task *t = curio_spawn(reads_dgram, &r);
    if (in_flight)
        curio_sleep(0.01);
    else
        curio_yield();
    cr_assert_str_eq(curio_task_state(t), "READ_WAIT");
    cr_assert_eq(curio_cancel(t), 0);
    cr_assert_eq(r.rc, -ECANCELED);
    /* The next datagram is not lost to the cancelled call. */
    cr_assert_eq(curio_sendto(cl, "d", 1, 0, &sa), 1);
    char c;
    cr_assert_eq(curio_recvfrom(srv, &c, 1, 0, NULL), 1);
    curio_task_release(t);
    curio_socket_close(cl);
    curio_socket_close(srv);
    return 0;
}

Test(datagram, recvfrom_cancel_blocked)
{
    bool in_flight = false;
    expect_log(recvfrom_cancel, &in_flight, "recvfrom=ECANCELED");
}

Test(datagram, recvfrom_cancel_in_flight)
{
    bool in_flight = true;
    expect_log(recvfrom_cancel, &in_flight, "recvfrom=ECANCELED");
}

/* On a stream socket there is no sender address. */
static long stream_from(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_STREAM, p), 0);
    cr_assert_eq(curio_sendto(p[0], "abc", 3, 0, NULL), 3);
    char buf[8];
    curio_addr from;
    cr_assert_eq(curio_recvfrom(p[1], buf, sizeof buf, 0, &from), 3);
    cr_assert_eq(from.len, 0u);
    curio_socket_close(p[0]);
    curio_socket_close(p[1]);
    return 0;
}

Test(datagram, recvfrom_on_a_stream_has_no_address) { run_main(stream_from, NULL); }

/* recvmsg/sendmsg: gather two buffers, scatter into two, and pass a descriptor. */
static long messages(void *arg)
{
    (void)arg;
    curio_socket *p[2];
    cr_assert_eq(curio_socketpair(AF_UNIX, SOCK_DGRAM, p), 0);
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    struct iovec out[2] = {{"head-", 5}, {"tail", 4}};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr m = {.msg_iov = out, .msg_iovlen = 2, .msg_control = ctl.buf,
                       .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &pipefd[1], sizeof(int));
    cr_assert_eq(curio_sendmsg(p[0], &m, 0), 9);
    close(pipefd[1]);

    char a[3], b[16];
    struct iovec in[2] = {{a, sizeof a}, {b, sizeof b}};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } rctl;
    struct msghdr r = {.msg_iov = in, .msg_iovlen = 2, .msg_control = rctl.buf,
                       .msg_controllen = sizeof rctl.buf};
    cr_assert_eq(curio_recvmsg(p[1], &r, MSG_CMSG_CLOEXEC), 9);
    cr_assert_eq(memcmp(a, "hea", 3), 0);
    cr_assert_eq(memcmp(b, "d-tail", 6), 0);
    struct cmsghdr *rc = CMSG_FIRSTHDR(&r);
    cr_assert_not_null(rc);
    cr_assert_eq(rc->cmsg_type, SCM_RIGHTS);
    int got;
    memcpy(&got, CMSG_DATA(rc), sizeof got);
    cr_assert_eq(fcntl(got, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    cr_assert_eq(write(got, "!", 1), 1, "the passed descriptor is the pipe's write end");
    char c;
    cr_assert_eq(read(pipefd[0], &c, 1), 1);
    close(got);
    close(pipefd[0]);
    cr_assert_eq(curio_recvmsg(p[1], NULL, 0), -EINVAL);
    cr_assert_eq(curio_sendmsg(p[1], NULL, 0), -EINVAL);
    curio_socket_close(p[0]);
    curio_socket_close(p[1]);
    return 0;
}

Test(datagram, recvmsg_sendmsg_scatter_gather_and_scm_rights)
{
    int fds = count_fds();
    run_main(messages, NULL);
    cr_assert_eq(count_fds(), fds);
}
