/*
 * echo-epoll: a plain single-threaded epoll echo server, as most C servers are written.
 *
 *   echo-epoll [--port N]        (the contract is in server_common.h)
 *
 * Level-triggered epoll over non-blocking sockets. A readable connection gets one read()
 * of up to 64 KiB into a shared buffer and one write() of what was read; level triggering
 * brings it back if more is waiting. Whatever the socket does not take is kept for that
 * connection, which then waits for EPOLLOUT instead of EPOLLIN until it is written (so a
 * client that does not read is not read from either). Accepts drain the listen queue,
 * up to 64 per wake-up.
 */
#include "server_common.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#define BUF_SIZE 65536
#define MAX_EVENTS 512
#define LISTEN_TAG UINT64_MAX
#define STDIN_TAG (UINT64_MAX - 1)

struct pending {
	size_t len, off;
	unsigned char data[];
};

static struct pending **pend; /* indexed by fd */
static size_t npend;
static int ep;
static unsigned char buf[BUF_SIZE];

static void drop(int fd)
{
	if ((size_t)fd < npend && pend[fd]) {
		free(pend[fd]);
		pend[fd] = NULL;
	}
	close(fd); /* also removes it from the epoll set */
}

static void set_events(int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = (uint64_t)fd };
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		echo_die("epoll_ctl MOD", errno);
}

/* Keep the unwritten tail of what was read and wait for the socket to drain. */
static void keep(int fd, const unsigned char *p, size_t len)
{
	if ((size_t)fd >= npend)
		echo_die("descriptor beyond RLIMIT_NOFILE", EBADF);
	struct pending *q = malloc(sizeof *q + len);
	if (!q)
		echo_die("malloc", ENOMEM);
	q->len = len;
	q->off = 0;
	memcpy(q->data, p, len);
	pend[fd] = q;
	set_events(fd, EPOLLOUT);
}

static void on_readable(int fd)
{
	ssize_t n = read(fd, buf, sizeof buf);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		drop(fd); /* end of stream or reset */
		return;
	}
	ssize_t w = send(fd, buf, (size_t)n, MSG_NOSIGNAL);
	if (w == n)
		return;
	if (w < 0) {
		if (errno != EAGAIN) {
			drop(fd);
			return;
		}
		w = 0;
	}
	keep(fd, buf + w, (size_t)(n - w));
}

static void on_writable(int fd)
{
	struct pending *q = pend[fd];
	ssize_t w = send(fd, q->data + q->off, q->len - q->off, MSG_NOSIGNAL);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR)
			drop(fd);
		return;
	}
	q->off += (size_t)w;
	if (q->off == q->len) {
		free(q);
		pend[fd] = NULL;
		set_events(fd, EPOLLIN);
	}
}

static void on_accept(int lfd)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == ECONNABORTED || errno == EINTR)
				return;
			if (errno == EMFILE || errno == ENFILE)
				echo_die("accept4 (raise RLIMIT_NOFILE)", errno);
			echo_die("accept4", errno);
		}
		echo_nodelay(fd);
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)fd };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			echo_die("epoll_ctl ADD", errno);
	}
}

int main(int argc, char **argv)
{
	int port = 0;
	for (int i = 1; i < argc; i++)
		port = echo_parse_port(argc, argv, &i, "");
	signal(SIGPIPE, SIG_IGN);
	echo_raise_nofile();
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	npend = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (size_t)rl.rlim_cur;
	pend = calloc(npend, sizeof *pend);
	if (!pend)
		echo_die("calloc", ENOMEM);

	int bound;
	int lfd = echo_listen(port, SOCK_NONBLOCK, &bound);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		echo_die("epoll_create1", errno);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTEN_TAG };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		echo_die("epoll_ctl listen", errno);
	ev.data.u64 = STDIN_TAG;
	if (echo_stdin_watchable() && epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) < 0)
		echo_die("epoll_ctl stdin", errno);
	echo_ready(bound);

	struct epoll_event evs[MAX_EVENTS];
	for (;;) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			echo_die("epoll_wait", errno);
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			if (tag == LISTEN_TAG) {
				on_accept(lfd);
			} else if (tag == STDIN_TAG) {
				ssize_t r = read(0, buf, sizeof buf);
				if (r <= 0 && !(r < 0 && errno == EINTR))
					return 0; /* the runner closed our stdin */
			} else {
				int fd = (int)tag;
				if ((size_t)fd < npend && pend[fd])
					on_writable(fd);
				else
					on_readable(fd);
			}
		}
	}
}
