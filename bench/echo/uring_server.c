/*
 * echo-uring: a hand-written single-threaded io_uring echo server, the practical upper
 * bound for a server built on io_uring the way the liburing documentation recommends.
 *
 *   echo-uring [--port N] [--oneshot] [--bufs N] [--buf-size BYTES]
 *                                          (the contract is in server_common.h)
 *
 * What it does (default):
 *   - one ring set up with IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN (falling
 *     back to COOP_TASKRUN, then to nothing, on kernels without them), SUBMIT_ALL, and a CQ
 *     of 32768 entries;
 *   - one multishot accept on the listening socket, re-armed if the kernel ends it;
 *   - per connection one multishot recv selecting from a ring of provided buffers
 *     (IORING_REGISTER_PBUF_RING; --bufs buffers of --buf-size bytes, 4096 x 4 KiB by
 *     default), so the receive side costs no SQE and no poll re-arm per message;
 *   - the received buffer is sent back as it is (no copy), one send in flight per
 *     connection so the bytes stay in order, further received buffers queued behind it
 *     and sent together by one sendmsg (up to 16) when several wait; a buffer goes back
 *     to the ring when its send has completed; short sends resume;
 *   - when the buffer ring runs dry the kernel ends that connection's multishot recv with
 *     -ENOBUFS; it is re-armed once buffers have been returned;
 *   - every pass of the loop is one io_uring_submit_and_wait(1): all SQEs produced while
 *     handling the previous batch of completions go in with the wait;
 *   - plain file descriptors (no registered file table), blocking sockets (io_uring tries
 *     each operation non-blocking and arms its own poll), TCP_NODELAY on every connection.
 * With --oneshot each connection instead owns one buffer and alternates a plain recv and a
 * send of what it received (the simplest correct io_uring echo), for comparison.
 *
 * Deliberately not used: SQPOLL (a second busy thread on the other core), registered
 * buffers or files, fixed-file accept, zero-copy send, recv bundles: tricks an ordinary
 * server does not use, or that only pay off for large messages.
 */
#include "server_common.h"

#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_STDIN };

#define NONE UINT32_MAX

#define MAX_GATHER 16 /* queued buffers sent back by one sendmsg */

struct conn {
	bool open, recv_live, send_live, eof, rearm_listed;
	uint32_t q_head, q_tail; /* multishot: queue of received buffers, linked by buf_next */
	uint32_t q_off;          /* bytes of the head buffer already sent */
	struct msghdr msg;       /* multishot: the sendmsg in flight when several are queued */
	struct iovec iov[MAX_GATHER];
	unsigned char *buf;      /* oneshot: this connection's buffer */
	uint32_t len, off;       /* oneshot: bytes received, bytes sent back */
};

static struct io_uring ring;
static struct conn *conns; /* indexed by fd */
static size_t nconns;
static int lfd;
static bool oneshot;
static uint32_t nbufs = 4096, buf_size = 4096;

static struct io_uring_buf_ring *br;
static unsigned char *buf_mem;
static uint32_t *buf_len, *buf_next;
static int br_added; /* buffers given back since the last advance */
static int *rearm;   /* connections whose multishot recv ended for want of buffers */
static size_t nrearm;

static inline uint64_t ud(int fd, int op)
{
	return ((uint64_t)(uint32_t)fd << 8) | (uint64_t)op;
}

static struct io_uring_sqe *sqe_get(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
		if (!sqe)
			echo_die("io_uring_get_sqe", EBUSY);
	}
	return sqe;
}

static void post_accept(void)
{
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud(lfd, OP_ACCEPT));
}

static void post_stdin(void)
{
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_poll_add(sqe, 0, POLLIN);
	io_uring_sqe_set_data64(sqe, ud(0, OP_STDIN));
}

static void post_recv(int fd)
{
	struct conn *c = &conns[fd];
	struct io_uring_sqe *sqe = sqe_get();
	if (oneshot) {
		io_uring_prep_recv(sqe, fd, c->buf, buf_size, 0);
	} else {
		io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = 0;
	}
	io_uring_sqe_set_data64(sqe, ud(fd, OP_RECV));
	c->recv_live = true;
}

static void post_send(int fd, const void *p, uint32_t len)
{
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_send(sqe, fd, p, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud(fd, OP_SEND));
	conns[fd].send_live = true;
}

static void give_back(uint32_t bid)
{
	io_uring_buf_ring_add(br, buf_mem + (size_t)bid * buf_size, buf_size, (unsigned short)bid,
			      io_uring_buf_ring_mask(nbufs), br_added++);
}

static void kick_send(int fd)
{
	struct conn *c = &conns[fd];
	if (c->send_live)
		return;
	if (oneshot) {
		if (c->off < c->len)
			post_send(fd, c->buf + c->off, c->len - c->off);
		return;
	}
	if (c->q_head == NONE)
		return;
	uint32_t bid = c->q_head;
	if (buf_next[bid] == NONE) {
		post_send(fd, buf_mem + (size_t)bid * buf_size + c->q_off, buf_len[bid] - c->q_off);
		return;
	}
	/* Several buffers wait (a pipelining client): gather them into one sendmsg. */
	int n = 0;
	uint32_t off = c->q_off;
	for (; bid != NONE && n < MAX_GATHER; bid = buf_next[bid], n++) {
		c->iov[n].iov_base = buf_mem + (size_t)bid * buf_size + off;
		c->iov[n].iov_len = buf_len[bid] - off;
		off = 0;
	}
	memset(&c->msg, 0, sizeof c->msg);
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = (size_t)n;
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_sendmsg(sqe, fd, &c->msg, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud(fd, OP_SEND));
	c->send_live = true;
}

/* Close once nothing is in flight on the connection any more. */
static void maybe_close(int fd)
{
	struct conn *c = &conns[fd];
	if (!c->eof || c->recv_live || c->send_live || c->rearm_listed)
		return;
	if (!oneshot && c->q_head != NONE)
		return; /* still echoing what came before the end of stream */
	close(fd);
	free(c->buf);
	memset(c, 0, sizeof *c);
}

/* A failed send or recv: drop what is queued and end the recv, then close. */
static void fail(int fd)
{
	struct conn *c = &conns[fd];
	if (!oneshot) {
		while (c->q_head != NONE) {
			uint32_t bid = c->q_head;
			c->q_head = buf_next[bid];
			give_back(bid);
		}
		c->q_tail = NONE;
	}
	c->eof = true;
	if (c->recv_live)
		shutdown(fd, SHUT_RDWR); /* the recv then completes with 0 or an error */
}

static void on_accept(struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		post_accept();
	int fd = cqe->res;
	if (fd < 0) {
		if (fd == -EMFILE || fd == -ENFILE)
			echo_die("accept (raise RLIMIT_NOFILE)", -fd);
		return; /* ECONNABORTED and the like */
	}
	if ((size_t)fd >= nconns)
		echo_die("descriptor beyond RLIMIT_NOFILE", EBADF);
	echo_nodelay(fd);
	struct conn *c = &conns[fd];
	memset(c, 0, sizeof *c);
	c->open = true;
	c->q_head = c->q_tail = NONE;
	if (oneshot) {
		c->buf = malloc(buf_size);
		if (!c->buf)
			echo_die("malloc", ENOMEM);
	}
	post_recv(fd);
}

static void on_recv(int fd, struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[fd];
	int res = cqe->res;
	if (oneshot) {
		c->recv_live = false;
		if (res <= 0) {
			c->eof = true;
		} else {
			c->len = (uint32_t)res;
			c->off = 0;
			kick_send(fd);
		}
		maybe_close(fd);
		return;
	}
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (!more)
		c->recv_live = false;
	if (res > 0) {
		uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		buf_len[bid] = (uint32_t)res;
		buf_next[bid] = NONE;
		if (c->eof) {
			give_back(bid); /* failing: nobody to send to */
		} else {
			if (c->q_tail == NONE)
				c->q_head = bid;
			else
				buf_next[c->q_tail] = bid;
			c->q_tail = bid;
			kick_send(fd);
		}
		if (!more && !c->eof) {
			c->rearm_listed = true; /* ended with data (e.g. CQ overflow): arm again */
			rearm[nrearm++] = fd;
		}
	} else if (res == -ENOBUFS && !c->eof) {
		c->rearm_listed = true;
		rearm[nrearm++] = fd;
	} else if (!more) {
		c->eof = true; /* end of stream (0) or an error */
	}
	maybe_close(fd);
}

static void on_send(int fd, struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[fd];
	c->send_live = false;
	int res = cqe->res;
	if (res <= 0) {
		fail(fd);
		maybe_close(fd);
		return;
	}
	if (oneshot) {
		c->off += (uint32_t)res;
		if (c->off < c->len)
			kick_send(fd);
		else if (!c->eof)
			post_recv(fd);
		maybe_close(fd);
		return;
	}
	/* Give back every buffer the send took whole; a partly sent one stays at the head. */
	uint32_t left = (uint32_t)res;
	while (left) {
		uint32_t bid = c->q_head, part = buf_len[bid] - c->q_off;
		if (left < part) {
			c->q_off += left;
			break;
		}
		left -= part;
		c->q_head = buf_next[bid];
		if (c->q_head == NONE)
			c->q_tail = NONE;
		c->q_off = 0;
		give_back(bid);
	}
	kick_send(fd);
	maybe_close(fd);
}

static void setup_ring(void)
{
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		0,
	};
	int r = -EINVAL;
	for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0] && r == -EINVAL; i++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof p);
		p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = 32768;
		r = io_uring_queue_init_params(4096, &ring, &p);
	}
	if (r < 0)
		echo_die("io_uring_queue_init", -r);
	if (oneshot)
		return;

	size_t ring_bytes = (size_t)nbufs * sizeof(struct io_uring_buf);
	br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED)
		echo_die("mmap buffer ring", errno);
	io_uring_buf_ring_init(br);
	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof reg);
	reg.ring_addr = (unsigned long)br;
	reg.ring_entries = nbufs;
	reg.bgid = 0;
	r = io_uring_register_buf_ring(&ring, &reg, 0);
	if (r < 0)
		echo_die("io_uring_register_buf_ring (kernel 5.19+; try --oneshot)", -r);
	buf_mem = aligned_alloc(4096, (size_t)nbufs * buf_size);
	buf_len = calloc(nbufs, sizeof *buf_len);
	buf_next = calloc(nbufs, sizeof *buf_next);
	if (!buf_mem || !buf_len || !buf_next)
		echo_die("buffer allocation", ENOMEM);
	for (uint32_t i = 0; i < nbufs; i++)
		give_back(i);
	io_uring_buf_ring_advance(br, br_added);
	br_added = 0;
}

static uint32_t parse_u32(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || !v || v > (1ul << 30)) {
		fprintf(stderr, "bad number %s\n", s);
		exit(64);
	}
	return (uint32_t)v;
}

int main(int argc, char **argv)
{
	int port = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--oneshot"))
			oneshot = true;
		else if (!strcmp(argv[i], "--bufs") && i + 1 < argc)
			nbufs = parse_u32(argv[++i]);
		else if (!strcmp(argv[i], "--buf-size") && i + 1 < argc)
			buf_size = parse_u32(argv[++i]);
		else
			port = echo_parse_port(argc, argv, &i, " [--oneshot] [--bufs N] [--buf-size BYTES]");
	}
	if (nbufs & (nbufs - 1) || nbufs > 32768) {
		fprintf(stderr, "--bufs must be a power of two up to 32768\n");
		return 64;
	}
	signal(SIGPIPE, SIG_IGN);
	echo_raise_nofile();
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	nconns = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (size_t)rl.rlim_cur;
	conns = calloc(nconns, sizeof *conns);
	rearm = calloc(nconns, sizeof *rearm);
	if (!conns || !rearm)
		echo_die("calloc", ENOMEM);

	int bound;
	lfd = echo_listen(port, 0, &bound);
	setup_ring();
	post_accept();
	if (echo_stdin_watchable())
		post_stdin();
	echo_ready(bound);

	for (;;) {
		if (br_added) {
			io_uring_buf_ring_advance(br, br_added);
			br_added = 0;
		}
		/* Buffers are back: arm the receives that ran dry again. */
		for (size_t i = 0; i < nrearm; i++) {
			int fd = rearm[i];
			conns[fd].rearm_listed = false;
			if (conns[fd].eof)
				maybe_close(fd);
			else if (!conns[fd].recv_live)
				post_recv(fd);
		}
		nrearm = 0;
		int r = io_uring_submit_and_wait(&ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			echo_die("io_uring_submit_and_wait", -r);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			uint64_t d = io_uring_cqe_get_data64(cqe);
			int fd = (int)(d >> 8);
			switch ((int)(d & 0xff)) {
			case OP_ACCEPT: on_accept(cqe); break;
			case OP_RECV: on_recv(fd, cqe); break;
			case OP_SEND: on_send(fd, cqe); break;
			case OP_STDIN: {
				char b[256];
				ssize_t n = read(0, b, sizeof b);
				if (n <= 0 && !(n < 0 && errno == EINTR))
					return 0; /* the runner closed our stdin */
				post_stdin();
				break;
			}
			}
			seen++;
		}
		io_uring_cq_advance(&ring, seen);
	}
}
