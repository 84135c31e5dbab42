/*
 * curio_sendfile and curio_sendfile_fd on each of their paths (sends from a mapping of the
 * file, plain and zero-copy; splice; read+send, which a kernel without IORING_OP_SPLICE
 * takes): whole files, offsets and ranges, a file larger than the pipe and the mapping's
 * window, end of file, a file truncated under a pending send from its mapping, a peer
 * reset, timeouts and cancellation while blocked and in flight (the peer receives exactly
 * what *sent reports), a close by another task, another sender on the socket, bad input,
 * no descriptor and no mapping left behind (the kernel's pipes included).
 */
#include "nettest.h"
#include "../../kernel/kernel.h"
#include "../../net/net.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

TestSuite(sendfile, .timeout = 60);

static const char *name(ssize_t rc)
{
    switch (rc) {
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case -EBADF: return "EBADF";
    case -EBUSY: return "EBUSY";
    case -EPIPE: return "EPIPE";
    case -ECONNRESET: return "ECONNRESET";
    default: break;
    }
    static char buf[32];
    snprintf(buf, sizeof buf, "%zd", rc);
    return buf;
}

static unsigned char byte_at(size_t i) { return (unsigned char)((i * 2654435761u) >> 13); }

/* A file of size bytes (byte_at) in /tmp, unlinked; returns its descriptor. */
static int make_file(size_t size)
{
    char path[] = "/tmp/curio-sendfile-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    unsigned char buf[65536];
    for (size_t off = 0; off < size;) {
        size_t n = size - off < sizeof buf ? size - off : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = byte_at(off + i);
        cr_assert_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
        off += n;
    }
    return fd;
}

/* The same file as a curio_file (through /proc/self/fd). */
static curio_file *open_file(int fd)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    curio_file *f;
    cr_assert_eq(curio_file_open(&f, p, O_RDONLY, 0), 0);
    return f;
}

/* A task that receives until end of stream, checking each byte against the file from
 * offset `from`. */
struct rx {
    curio_socket *s;
    size_t from, got;
    bool ok;
    ssize_t rc;
};

static long receive(void *arg)
{
    struct rx *r = arg;
    static unsigned char buf[1 << 16];
    r->ok = true;
    ssize_t n;
    while ((n = curio_recv(r->s, buf, sizeof buf, 0)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != byte_at(r->from + r->got + (size_t)i))
                r->ok = false;
        r->got += (size_t)n;
    }
    r->rc = n;
    return 0;
}

/* The path tried first. SPLICE: as on a kernel without IORING_OP_MADVISE; COPY: without
 * IORING_OP_SPLICE either. */
enum { MAP, COPY, SPLICE, MAP_ZC };
static void path(int which)
{
    curio__op_probe_reset();
    curio__sendfile_first = which == MAP_ZC ? CURIO__SENDFILE_MAP_ZC : CURIO__SENDFILE_MAP;
    if (which == COPY || which == SPLICE)
        curio__op_deny(IORING_OP_MADVISE);
    if (which == COPY)
        curio__op_deny(IORING_OP_SPLICE);
}

/* The mappings of the file fd in /proc/self/maps (by its inode). */
static int count_maps(int fd)
{
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    FILE *m = fopen("/proc/self/maps", "r");
    cr_assert(m);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, m)) {
        unsigned long long ino = 0;
        if (sscanf(line, "%*s %*s %*s %*s %llu", &ino) == 1 && ino == st.st_ino)
            n++;
    }
    fclose(m);
    return n;
}

/* ---- success ---- */

struct range {
    int copy; /* the path: MAP (0), COPY, SPLICE, MAP_ZC */
    bool raw;
    size_t size;
    int64_t offset;
    size_t count, want;
};

static long send_range(void *arg)
{
    struct range *g = arg;
    path(g->copy);
    int fd = make_file(g->size);
    curio_file *f = open_file(fd);
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    struct rx r = {.s = b, .from = (size_t)g->offset};
    curio_task *t = curio_spawn(receive, &r);
    size_t sent = 777;
    ssize_t rc = g->raw ? curio_sendfile_fd(a, fd, g->offset, g->count, &sent)
                        : curio_sendfile(a, f, g->offset, g->count, &sent);
    cr_assert_eq(rc, (ssize_t)g->want, "%s", name(rc));
    cr_assert_eq(sent, g->want);
    /* The file's own position is not used. */
    cr_assert_eq(curio_file_tell(f), 0);
    cr_assert_eq(count_maps(fd), 0, "no mapping left");
    /* Which path went: only splice leaves a pipe in the kernel's cache (empty at first). */
    bool mapped = (g->copy == MAP || g->copy == MAP_ZC) && g->want >= (4u << 20);
    if (g->copy == SPLICE)
        cr_assert_eq(curio__pipes_cached(curio__tls_kernel), 1, "spliced");
    else if (g->copy == COPY || mapped)
        cr_assert_eq(curio__pipes_cached(curio__tls_kernel), 0, "no pipe used");
    curio_socket_close(a);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.got, g->want);
    cr_assert(r.ok, "the bytes are the file's");
    curio_socket_close(b);
    curio_file_close(f);
    close(fd);
    return 0;
}

static void check_range(struct range g)
{
    int fds = count_fds();
    run_main(send_range, &g);
    cr_assert_eq(count_fds(), fds, "no descriptor left, pipes included");
}

#define SIZE (5u << 20) /* larger than the pipe (256 KiB) */

Test(sendfile, whole_file_larger_than_the_pipe)
{
    check_range((struct range){.size = SIZE, .count = 0, .want = SIZE});
}
Test(sendfile, whole_file_splice_path)
{
    check_range((struct range){.copy = SPLICE, .size = SIZE, .want = SIZE});
}
Test(sendfile, whole_file_zero_copy_from_the_mapping)
{
    check_range((struct range){.copy = MAP_ZC, .size = SIZE, .want = SIZE});
}
Test(sendfile, whole_file_copy_path)
{
    check_range((struct range){.copy = COPY, .size = SIZE, .want = SIZE});
}
Test(sendfile, range_at_an_offset)
{
    check_range((struct range){.size = SIZE, .offset = 12345, .count = 3000001,
                               .want = 3000001});
}
Test(sendfile, range_past_one_window)
{
    /* Unaligned, across two windows of the mapping (4 MiB), ending before the file. */
    check_range((struct range){.size = 9u << 20, .offset = 4095, .count = (5u << 20) + 3,
                               .want = (5u << 20) + 3});
}
Test(sendfile, range_at_an_offset_splice_path)
{
    check_range((struct range){.copy = SPLICE, .size = SIZE, .offset = 12345,
                               .count = 3000001, .want = 3000001});
}
Test(sendfile, range_at_an_offset_copy_path)
{
    check_range((struct range){.copy = COPY, .size = SIZE, .offset = 12345,
                               .count = 3000001, .want = 3000001});
}
Test(sendfile, raw_descriptor)
{
    check_range((struct range){.raw = true, .size = 100000, .offset = 1, .count = 5000,
                               .want = 5000});
}
Test(sendfile, end_of_file_before_count)
{
    check_range((struct range){.size = 100000, .offset = 90000, .count = 50000,
                               .want = 10000});
}
Test(sendfile, end_of_file_before_count_mapped)
{
    check_range((struct range){.size = SIZE, .offset = 100, .count = 2 * SIZE,
                               .want = SIZE - 100});
}
Test(sendfile, end_of_file_before_count_copy_path)
{
    check_range((struct range){.copy = COPY, .size = 100000, .offset = 90000,
                               .count = 50000, .want = 10000});
}
Test(sendfile, offset_past_the_end_sends_nothing)
{
    check_range((struct range){.size = 1000, .offset = 5000, .count = 0, .want = 0});
}
Test(sendfile, empty_file)
{
    check_range((struct range){.copy = false, .size = 0, .want = 0});
}

/* Many calls reuse the kernel's pipes: the descriptors stay bounded. */
static long reuse(void *arg)
{
    (void)arg;
    int fd = make_file(70000);
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    struct rx r = {.s = b};
    curio_task *t = curio_spawn(receive, &r);
    int before = count_fds();
    for (int i = 0; i < 50; i++)
        cr_assert_eq(curio_sendfile_fd(a, fd, 0, 1000, NULL), 1000);
    cr_assert_eq(curio__pipes_cached(curio__tls_kernel), 1);
    cr_assert_eq(count_fds(), before + 2, "one pipe, kept");
    curio_socket_close(a);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(r.got, 50000);
    curio_socket_close(b);
    close(fd);
    return 0;
}

Test(sendfile, pipes_are_reused)
{
    int fds = count_fds();
    run_main(reuse, NULL);
    cr_assert_eq(count_fds(), fds, "closed with the kernel");
}

/* At the descriptor limit no pipe can be made: the read+send path sends anyway. */
static long at_fd_limit(void *arg)
{
    (void)arg;
    path(SPLICE); /* a mapping needs no descriptor */
    int fd = make_file(3u << 20);
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    struct rx r = {.s = b};
    curio_task *t = curio_spawn(receive, &r);
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    int top = fcntl(0, F_DUPFD_CLOEXEC, 0); /* the lowest free number */
    close(top);
    lim = old;
    lim.rlim_cur = (rlim_t)top;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    int pp[2];
    cr_assert_eq(pipe(pp), -1, "no pipe now");
    cr_assert_eq(errno, EMFILE);
    size_t sent = 0;
    ssize_t rc = curio_sendfile_fd(a, fd, 0, 0, &sent);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    cr_assert_eq(rc, (ssize_t)(3u << 20), "%s", name(rc));
    cr_assert_eq(sent, 3u << 20);
    curio_socket_close(a);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(r.got, 3u << 20);
    cr_assert(r.ok);
    curio_socket_close(b);
    close(fd);
    return 0;
}

Test(sendfile, emfile_takes_the_copy_path)
{
    int fds = count_fds();
    run_main(at_fd_limit, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- a peer reset ---- */

static long reset_peer(void *arg)
{
    int fd = plain_connect("127.0.0.1", *(int *)arg);
    if (fd < 0)
        return fd;
    char buf[4096];
    if (read(fd, buf, sizeof buf) <= 0)
        return -1;
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
    return 0;
}

static long reset_mid(void *arg)
{
    path(*(int *)arg);
    int port;
    curio_socket *ls = listen_on("127.0.0.1", &port), *c;
    peer p;
    peer_start(&p, reset_peer, &port);
    cr_assert_eq(curio_accept(ls, &c, NULL), 0);
    small_buffers(curio_socket_fd(c));
    int fd = make_file(32u << 20);
    size_t sent = 0;
    ssize_t rc = curio_sendfile_fd(c, fd, 0, 0, &sent);
    cr_assert(rc == -ECONNRESET || rc == -EPIPE, "sendfile into a reset: %s", name(rc));
    cr_assert_geq(sent, 1);
    cr_assert_lt(sent, 32u << 20);
    cr_assert_eq(peer_join(&p), 0);
    curio_socket_close(c);
    curio_socket_close(ls);
    close(fd);
    return 0;
}

Test(sendfile, peer_reset_mid_transfer)
{
    int fds = count_fds();
    int copy = MAP;
    run_main(reset_mid, &copy);
    cr_assert_eq(count_fds(), fds);
}
Test(sendfile, peer_reset_mid_transfer_splice_path)
{
    int fds = count_fds();
    int copy = SPLICE;
    run_main(reset_mid, &copy);
    cr_assert_eq(count_fds(), fds);
}
Test(sendfile, peer_reset_mid_transfer_copy_path)
{
    int fds = count_fds();
    int copy = COPY;
    run_main(reset_mid, &copy);
    cr_assert_eq(count_fds(), fds);
}

/* ---- timeouts and cancellation: the peer gets exactly prefill + *sent ---- */

struct interrupted {
    int copy; /* the path */
    bool in_flight, by_timeout, by_close;
};

struct sender {
    curio_socket *s;
    int fd;
    size_t sent;
    ssize_t rc;
};

static long sends(void *arg)
{
    struct sender *x = arg;
    x->rc = curio_sendfile_fd(x->s, x->fd, 0, 0, &x->sent);
    ev("sender=%s", name(x->rc));
    return 0;
}

/* Until t waits on the socket (a round's read of the file comes first). */
static void wait_sending(curio_task *t)
{
    for (int i = 0; strcmp(curio_task_state(t), "WRITE_WAIT") != 0; i++) {
        cr_assert_lt(i, 5000, "state %s", curio_task_state(t));
        curio_sleep(0.001);
    }
}

static long interrupt_main(void *arg)
{
    struct interrupted *m = arg;
    path(m->copy);
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_buffers(curio_socket_fd(a));
    small_buffers(curio_socket_fd(b));
    size_t prefill = m->in_flight ? 0 : fill_socket(curio_socket_fd(a));
    size_t total = 16u << 20;
    int fd = make_file(total);
    struct sender x = {.s = a, .fd = fd, .sent = 777};
    int inside = count_fds();
    if (m->by_timeout) {
        int closed;
        if (m->in_flight)
            TIMEOUT_WHILE_WAITING(0.05, x.rc, closed,
                                  curio_sendfile_fd(a, fd, 0, 0, &x.sent));
        else
            TIMEOUT_WHILE_WAITING(0.02, x.rc, closed,
                                  curio_sendfile_fd(a, fd, 0, 0, &x.sent));
        cr_assert_eq(closed, -ETIMEDOUT);
        ev("sender=%s", name(x.rc));
    } else {
        curio_task *t = curio_spawn(sends, &x);
        if (m->in_flight)
            curio_sleep(0.05);
        wait_sending(t);
        if (m->by_close) {
            curio_socket_close(a);
            a = NULL;
            cr_assert_eq(curio_join(t, NULL), 0);
        } else {
            cr_assert_eq(curio_cancel(t), 0);
        }
        curio_task_release(t);
    }
    if (m->in_flight)
        cr_assert_gt(x.sent, 0);
    cr_assert_lt(x.sent, total);
    /* The interrupted pipe held bytes that were not sent: it was closed, not kept. */
    cr_assert_leq(count_fds(), inside);
    cr_assert_eq(count_maps(fd), 0, "no mapping left");
    if (a)
        curio_socket_close(a);
    if (!m->by_close) {
        size_t got = 0;
        ssize_t n;
        static char buf[1 << 16];
        while ((n = curio_recv(b, buf, sizeof buf, 0)) > 0)
            got += (size_t)n;
        cr_assert_eq(n, 0);
        cr_assert_eq(got, prefill + x.sent, "peer got %zu = %zu prefilled + %zu reported", got,
                     prefill, x.sent);
    }
    curio_socket_close(b);
    close(fd);
    return 0;
}

static void check_interrupt(struct interrupted m, const char *log)
{
    int fds = count_fds();
    expect_log(interrupt_main, &m, log);
    cr_assert_eq(count_fds(), fds);
}

Test(sendfile, timeout_while_blocked)
{
    check_interrupt((struct interrupted){.by_timeout = true}, "sender=ETIMEDOUT");
}
Test(sendfile, timeout_in_flight)
{
    check_interrupt((struct interrupted){.by_timeout = true, .in_flight = true},
                    "sender=ETIMEDOUT");
}
Test(sendfile, cancel_while_blocked)
{
    check_interrupt((struct interrupted){0}, "sender=ECANCELED");
}
Test(sendfile, cancel_in_flight)
{
    check_interrupt((struct interrupted){.in_flight = true}, "sender=ECANCELED");
}
Test(sendfile, close_by_another_task_while_blocked)
{
    check_interrupt((struct interrupted){.by_close = true}, "sender=EBADF");
}
Test(sendfile, timeout_in_flight_splice_path)
{
    check_interrupt((struct interrupted){.copy = SPLICE, .by_timeout = true, .in_flight = true},
                    "sender=ETIMEDOUT");
}
Test(sendfile, cancel_while_blocked_splice_path)
{
    check_interrupt((struct interrupted){.copy = SPLICE}, "sender=ECANCELED");
}
Test(sendfile, cancel_in_flight_splice_path)
{
    check_interrupt((struct interrupted){.copy = SPLICE, .in_flight = true},
                    "sender=ECANCELED");
}
Test(sendfile, close_by_another_task_splice_path)
{
    check_interrupt((struct interrupted){.copy = SPLICE, .by_close = true}, "sender=EBADF");
}
Test(sendfile, cancel_while_blocked_zero_copy)
{
    check_interrupt((struct interrupted){.copy = MAP_ZC}, "sender=ECANCELED");
}
Test(sendfile, close_by_another_task_zero_copy)
{
    check_interrupt((struct interrupted){.copy = MAP_ZC, .by_close = true}, "sender=EBADF");
}
Test(sendfile, timeout_while_blocked_copy_path)
{
    check_interrupt((struct interrupted){.copy = COPY, .by_timeout = true},
                    "sender=ETIMEDOUT");
}
Test(sendfile, cancel_in_flight_copy_path)
{
    check_interrupt((struct interrupted){.copy = COPY, .in_flight = true},
                    "sender=ECANCELED");
}
Test(sendfile, close_by_another_task_copy_path)
{
    check_interrupt((struct interrupted){.copy = COPY, .by_close = true}, "sender=EBADF");
}

/* ---- a file truncated under a pending send from its mapping ---- */

static volatile sig_atomic_t sigbus_seen;
static void on_sigbus(int sig)
{
    (void)sig;
    sigbus_seen = 1;
}

static long drain_all(void *arg)
{
    struct rx *r = arg;
    static char buf[1 << 16];
    ssize_t n;
    while ((n = curio_recv(r->s, buf, sizeof buf, 0)) > 0)
        r->got += (size_t)n;
    r->rc = n;
    return 0;
}

/* The kernel's copy from the mapping meets pages past the new end: the send fails with
 * -EFAULT (or stops short) inside the kernel, no SIGBUS reaches the process, and the call
 * ends at the file's new end with the exact count. */
static long truncated(void *arg)
{
    int which = *(int *)arg;
    path(which);
    struct sigaction sa = {.sa_handler = on_sigbus}, old;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGBUS, &sa, &old), 0);
    sigbus_seen = 0;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_buffers(curio_socket_fd(a));
    small_buffers(curio_socket_fd(b));
    size_t prefill = fill_socket(curio_socket_fd(a));
    size_t total = 16u << 20;
    int fd = make_file(total);
    struct sender x = {.s = a, .fd = fd, .sent = 777};
    curio_task *t = curio_spawn(sends, &x);
    wait_sending(t);
    cr_assert_eq(count_maps(fd), 1, "the send waits on a window of the file's mapping");
    cr_assert_eq(ftruncate(fd, 0), 0);
    struct rx r = {.s = b};
    curio_task *d = curio_spawn(drain_all, &r);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_geq(x.rc, 0, "%s", name(x.rc));
    cr_assert_eq((size_t)x.rc, x.sent);
    cr_assert_lt(x.sent, curio__sendfile_window, "stopped inside the first window");
    cr_assert_eq(count_maps(fd), 0, "no mapping left");
    curio_socket_close(a);
    cr_assert_eq(curio_join(d, NULL), 0);
    curio_task_release(d);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.got, prefill + x.sent);
    cr_assert_eq(sigbus_seen, 0, "no SIGBUS");
    cr_assert_eq(sigaction(SIGBUS, &old, NULL), 0);
    curio_socket_close(b);
    close(fd);
    return 0;
}

Test(sendfile, file_truncated_under_the_mapping)
{
    int fds = count_fds();
    int which = MAP;
    run_main(truncated, &which);
    cr_assert_eq(count_fds(), fds);
}
Test(sendfile, file_truncated_under_the_mapping_zero_copy)
{
    int fds = count_fds();
    int which = MAP_ZC;
    run_main(truncated, &which);
    cr_assert_eq(count_fds(), fds);
}

/* A file that grows while the call sends it to its end (count 0): the mapping path looks
 * at its size again when it gets there, and sends the new bytes too. */
static long grows(void *arg)
{
    (void)arg;
    path(MAP);
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_buffers(curio_socket_fd(a));
    small_buffers(curio_socket_fd(b));
    size_t first = SIZE, more = 1u << 20;
    int fd = make_file(first + more);
    cr_assert_eq(ftruncate(fd, (off_t)first), 0);
    struct sender x = {.s = a, .fd = fd, .sent = 777};
    curio_task *t = curio_spawn(sends, &x);
    wait_sending(t);
    cr_assert_eq(count_maps(fd), 1, "sending from the first window");
    /* The bytes make_file wrote there, written again. */
    static unsigned char buf[1 << 16];
    for (size_t off = first; off < first + more; off += sizeof buf) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = byte_at(off + i);
        cr_assert_eq(pwrite(fd, buf, sizeof buf, (off_t)off), (ssize_t)sizeof buf);
    }
    struct rx r = {.s = b};
    curio_task *d = curio_spawn(receive, &r);
    cr_assert_eq(curio_join(t, NULL), 0);
    curio_task_release(t);
    cr_assert_eq(x.rc, (ssize_t)(first + more), "%s", name(x.rc));
    cr_assert_eq(x.sent, first + more);
    cr_assert_eq(count_maps(fd), 0, "no mapping left");
    curio_socket_close(a);
    cr_assert_eq(curio_join(d, NULL), 0);
    curio_task_release(d);
    cr_assert_eq(r.got, first + more);
    cr_assert(r.ok, "the bytes are the file's");
    curio_socket_close(b);
    close(fd);
    return 0;
}

Test(sendfile, file_growing_during_the_call)
{
    int fds = count_fds();
    run_main(grows, NULL);
    cr_assert_eq(count_fds(), fds);
}

/* ---- one sender at a time ---- */

static long busy(void *arg)
{
    (void)arg;
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    small_buffers(curio_socket_fd(a));
    fill_socket(curio_socket_fd(a));
    int fd = make_file(1u << 20);
    struct sender x = {.s = a, .fd = fd};
    curio_task *t = curio_spawn(sends, &x);
    wait_sending(t);
    cr_assert_eq(curio_send(a, "x", 1, 0), -EBUSY);
    cr_assert_eq(curio_sendfile_fd(a, fd, 0, 0, NULL), -EBUSY);
    cr_assert_eq(curio_cancel(t), 0);
    curio_task_release(t);
    curio_socket_close(a);
    curio_socket_close(b);
    close(fd);
    return 0;
}

Test(sendfile, another_sender_is_busy) { expect_log(busy, NULL, "sender=ECANCELED"); }

/* ---- bad input ---- */

static long bad(void *arg)
{
    (void)arg;
    int fd = make_file(100);
    curio_file *f = open_file(fd);
    curio_socket *a, *b;
    tcp_pair(&a, &b);
    size_t sent = 5;
    cr_assert_eq(curio_sendfile(NULL, f, 0, 0, &sent), -EINVAL);
    cr_assert_eq(sent, 0);
    cr_assert_eq(curio_sendfile(a, NULL, 0, 0, &sent), -EINVAL);
    cr_assert_eq(curio_sendfile(a, f, -1, 0, &sent), -EINVAL);
    cr_assert_eq(curio_sendfile_fd(a, -1, 0, 0, &sent), -EBADF);
    cr_assert_eq(curio_sendfile_fd(NULL, fd, 0, 0, &sent), -EINVAL);
    /* Not a stream socket. */
    curio_socket *u;
    cr_assert_eq(curio_socket_open(&u, AF_INET, SOCK_DGRAM, 0), 0);
    cr_assert_eq(curio_sendfile(u, f, 0, 0, &sent), -EINVAL);
    curio_socket_close(u);
    /* A write-only file, a FIFO. */
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    curio_file *w;
    cr_assert_eq(curio_file_open(&w, p, O_WRONLY, 0), 0);
    cr_assert_eq(curio_sendfile(a, w, 0, 0, &sent), -EBADF);
    curio_file_close(w);
    int pp[2];
    cr_assert_eq(pipe(pp), 0);
    snprintf(p, sizeof p, "/proc/self/fd/%d", pp[0]);
    curio_file *fifo;
    cr_assert_eq(curio_file_open(&fifo, p, O_RDONLY | O_NONBLOCK, 0), 0);
    cr_assert_eq(curio_sendfile(a, fifo, 0, 0, &sent), -ESPIPE);
    curio_file_close(fifo);
    close(pp[0]);
    close(pp[1]);
    /* A directory: neither splice nor read take it. */
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ssize_t rc = curio_sendfile_fd(a, dir, 0, 0, &sent);
    cr_assert_eq(rc, -EISDIR, "%s", name(rc));
    close(dir);
    /* Sticky cancellation, with nothing to send. */
    curio_cancel_nowait(curio_current());
    cr_assert_eq(curio_sendfile(a, f, 1000, 0, &sent), -ECANCELED);
    cr_assert_eq(sent, 0);
    curio_socket_close(a);
    curio_socket_close(b);
    curio_file_close(f);
    close(fd);
    return 0;
}

Test(sendfile, bad_input)
{
    int fds = count_fds();
    run_main(bad, NULL);
    cr_assert_eq(count_fds(), fds);
}

Test(sendfile, outside_a_task_is_eperm)
{
    int fd = make_file(10);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    curio_socket *s;
    cr_assert_eq(curio_socket_wrap(&s, sv[0]), 0);
    size_t sent = 3;
    cr_assert_eq(curio_sendfile_fd(s, fd, 0, 0, &sent), -EPERM);
    cr_assert_eq(sent, 0);
    curio_socket_close(s);
    close(sv[1]);
    close(fd);
}
