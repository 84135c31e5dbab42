/*
 * echo-loadgen: a single-threaded TCP echo load generator on io_uring.
 *
 *   echo-loadgen --port P [--host 127.0.0.1] [--conns N] [--size BYTES] [--depth D]
 *                [--duration S] [--warmup S] [--connect-window N] [--server-cpu C]
 *                [--server-pid PID] [--own-cpu C]
 *
 * Defaults: 50 connections, 64-byte messages (at most 32 KiB), depth 1, 5 s measured
 * after 1 s of warm-up, connect window 256.
 *
 * N connections each keep D messages of BYTES bytes in flight (D = 1 is ping-pong: send a
 * message, wait for its whole echo, send the next). Every echoed byte is compared with the
 * byte sent at that position of the connection's stream; any difference, more bytes back
 * than were sent, an early close or a reset ends the run with a message on stderr and exit
 * status 2. Messages carry their connection number and sequence number in their first bytes
 * and a slice of a random pattern after that, so a dropped, repeated or reordered message
 * is caught as surely as a damaged byte.
 *
 * Phases: connect (at most --connect-window connections connected but not yet echoed once,
 * so the server's listen backlog never overflows; each connection sends D messages and then
 * waits, once they are echoed, until every connection has had its echoes), then --warmup
 * seconds of traffic, then --duration seconds measured. Only the measured window
 * counts: requests (whole messages echoed), payload MB/s (one direction, 10^6 bytes), and
 * latency percentiles from a log-linear histogram (1/64 relative resolution) of the time
 * from queueing a message to the arrival of the last byte of its echo. With --server-cpu
 * and --server-pid it also reads, at the start and end of the window, the server core's
 * busy time from /proc/stat (user+nice+system+irq+softirq+steal) and the server process's
 * utime+stime from /proc/PID/stat, and reports both per request (core_notidle_us_per_req
 * is the window minus the core's idle time, exact with NO_HZ idle; core_us_per_req is the
 * tick-sampled busy jiffies); with --own-cpu, how busy its own core was. The result is one
 * JSON line on stdout.
 *
 * Why io_uring: one io_uring_enter per batch of completions instead of a read and a write
 * system call per message keeps the generator's own cost down; on a 2-core machine it
 * shares the machine with the server and is usually the bottleneck at small sizes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PATTERN_SIZE (1u << 16)
#define HDR_SIZE 8u

enum { OP_CONNECT = 1, OP_SEND = 2, OP_RECV = 3 };
enum { PH_CONNECT, PH_WARMUP, PH_MEASURE };

struct conn {
	int fd;
	uint32_t id;
	bool send_busy, recv_busy, confirmed;
	uint32_t retries;
	uint64_t tx_seq;   /* messages queued (generated) so far */
	uint64_t tx_bytes; /* stream bytes the kernel has accepted */
	uint64_t tx_posted; /* stream bytes handed to sends (accepted or in flight) */
	uint64_t rx_bytes; /* stream bytes received and verified */
	unsigned char *txbuf; /* depth * size: message k lives in slot k % depth */
	unsigned char *rxbuf; /* depth * size */
	uint64_t *queued_ns;  /* per slot: when its message was queued */
};

static struct {
	const char *host;
	int port;
	uint32_t conns, size, depth, window;
	double duration, warmup;
	int server_cpu, server_pid, own_cpu;
} opt = { "127.0.0.1", 0, 50, 64, 1, 256, 5.0, 1.0, -1, -1, -1 };

static struct io_uring ring;
static struct sockaddr_in addr;
static struct conn *conns;
static unsigned char pattern[PATTERN_SIZE];
static uint64_t now_ns;
static int phase = PH_CONNECT;
static uint32_t n_started, n_connected, n_confirmed;
static uint64_t requests;    /* whole messages echoed in the current phase */
static uint64_t verified;    /* bytes verified over the whole run */
static uint64_t last_progress_ns;

/* Log-linear latency histogram: values below 128 ns exact, then 64 buckets per power of two. */
#define H_SUB 128u
#define H_HALF 64u
#define H_BUCKETS (H_SUB + 58u * H_HALF)
static uint64_t hist[H_BUCKETS];
static uint64_t hist_n, hist_sum, hist_max;

static unsigned hist_index(uint64_t v)
{
	if (v < H_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
	unsigned shift = e - 6u;                          /* v >> shift in [64, 128) */
	return H_SUB + (shift - 1u) * H_HALF + (unsigned)((v >> shift) - H_HALF);
}

/* Midpoint of a bucket, in ns. */
static double hist_value(unsigned i)
{
	if (i < H_SUB)
		return i;
	unsigned shift = (i - H_SUB) / H_HALF + 1u;
	uint64_t lo = ((uint64_t)((i - H_SUB) % H_HALF) + H_HALF) << shift;
	return (double)lo + (double)((1ull << shift) - 1) / 2.0;
}

static void hist_add(uint64_t v)
{
	hist[hist_index(v)]++;
	hist_n++;
	hist_sum += v;
	if (v > hist_max)
		hist_max = v;
}

static double hist_pct(double q)
{
	if (!hist_n)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)hist_n);
	if (rank >= hist_n)
		rank = hist_n - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < H_BUCKETS; i++) {
		seen += hist[i];
		if (seen > rank)
			return hist_value(i);
	}
	return (double)hist_max;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("echo-loadgen: FAILED: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static struct io_uring_sqe *sqe_get(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		int r = io_uring_submit(&ring);
		if (r < 0)
			die("io_uring_submit: %s", strerror(-r));
		sqe = io_uring_get_sqe(&ring);
		if (!sqe)
			die("no SQE after submit");
	}
	return sqe;
}

static inline uint64_t udata(uint32_t idx, int op)
{
	return ((uint64_t)idx << 8) | (uint64_t)op;
}

/* Message k of connection c: a header (c, k) then a slice of the pattern picked by (c, k). */
static void make_message(struct conn *c, uint64_t k, unsigned char *dst)
{
	uint32_t size = opt.size;
	uint32_t off = (uint32_t)(splitmix(((uint64_t)c->id << 40) ^ k) % (PATTERN_SIZE - size + 1));
	memcpy(dst, pattern + off, size);
	uint64_t hdr = ((uint64_t)c->id << 40) | (k & ((1ull << 40) - 1));
	uint32_t h = size < HDR_SIZE ? size : HDR_SIZE;
	for (uint32_t i = 0; i < h; i++)
		dst[i] ^= (unsigned char)(hdr >> (8 * i));
}

static void post_send(struct conn *c)
{
	uint64_t queued = c->tx_seq * opt.size;
	if (c->send_busy || c->tx_bytes == queued)
		return;
	uint64_t ringsz = (uint64_t)opt.depth * opt.size;
	uint64_t pos = c->tx_bytes % ringsz;
	uint64_t len = queued - c->tx_bytes;
	if (len > ringsz - pos)
		len = ringsz - pos;
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_send(sqe, c->fd, c->txbuf + pos, (size_t)len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, udata(c->id, OP_SEND));
	c->send_busy = true;
	c->tx_posted = c->tx_bytes + len;
}

static void post_recv(struct conn *c)
{
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_recv(sqe, c->fd, c->rxbuf, (size_t)opt.depth * opt.size, 0);
	io_uring_sqe_set_data64(sqe, udata(c->id, OP_RECV));
	c->recv_busy = true;
}

static void queue_message(struct conn *c)
{
	uint64_t k = c->tx_seq++;
	uint32_t slot = (uint32_t)(k % opt.depth);
	make_message(c, k, c->txbuf + (size_t)slot * opt.size);
	c->queued_ns[slot] = now_ns;
}

static void start_connect(struct conn *c)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s (connection %u; is RLIMIT_NOFILE high enough?)", strerror(errno), c->id);
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
		die("TCP_NODELAY: %s", strerror(errno));
	c->fd = fd;
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_connect(sqe, fd, (struct sockaddr *)&addr, sizeof addr);
	io_uring_sqe_set_data64(sqe, udata(c->id, OP_CONNECT));
}

static void admit(void)
{
	while (n_started < opt.conns && n_started - n_confirmed < opt.window)
		start_connect(&conns[n_started++]);
}

static void on_connect(struct conn *c, int res)
{
	if (res < 0) {
		/* A refused or timed-out connect is retried a few times; anything else is fatal. */
		if ((res == -ECONNREFUSED || res == -ETIMEDOUT || res == -EAGAIN) && c->retries < 5) {
			c->retries++;
			close(c->fd);
			start_connect(c);
			return;
		}
		die("connect %u to %s:%d: %s", c->id, opt.host, opt.port, strerror(-res));
	}
	n_connected++;
	for (uint32_t i = 0; i < opt.depth; i++)
		queue_message(c);
	post_send(c);
	post_recv(c);
}

static void on_send(struct conn *c, int res)
{
	c->send_busy = false;
	if (res <= 0)
		die("send on connection %u: %s", c->id, res ? strerror(-res) : "sent nothing");
	c->tx_bytes += (uint64_t)res;
	c->tx_posted = c->tx_bytes;
	post_send(c);
}

static void mismatch(struct conn *c, uint64_t k, uint32_t pos, const unsigned char *got,
		     const unsigned char *want, uint32_t n)
{
	uint32_t i = 0;
	while (i < n && got[i] == want[i])
		i++;
	die("connection %u, message %" PRIu64 ", byte %u (stream offset %" PRIu64
	    "): expected 0x%02x, got 0x%02x",
	    c->id, k, pos + i, k * opt.size + pos + i, want[i], got[i]);
}

static void on_recv(struct conn *c, int res)
{
	c->recv_busy = false;
	if (res == 0)
		die("server closed connection %u after %" PRIu64 " bytes", c->id, c->rx_bytes);
	if (res < 0)
		die("recv on connection %u: %s", c->id, strerror(-res));
	if (c->rx_bytes + (uint64_t)res > c->tx_posted)
		die("connection %u: server echoed %" PRIu64 " bytes but only %" PRIu64 " were sent",
		    c->id, c->rx_bytes + (uint64_t)res, c->tx_posted);
	const unsigned char *p = c->rxbuf;
	uint32_t n = (uint32_t)res;
	while (n) {
		uint64_t k = c->rx_bytes / opt.size;
		uint32_t pos = (uint32_t)(c->rx_bytes % opt.size);
		uint32_t slot = (uint32_t)(k % opt.depth);
		uint32_t m = opt.size - pos;
		if (m > n)
			m = n;
		const unsigned char *want = c->txbuf + (size_t)slot * opt.size + pos;
		if (memcmp(p, want, m))
			mismatch(c, k, pos, p, want, m);
		p += m;
		n -= m;
		c->rx_bytes += m;
		if (pos + m == opt.size) {
			/* Message k is complete: its slot takes message k + depth. */
			if (phase == PH_MEASURE) {
				requests++;
				hist_add(now_ns - c->queued_ns[slot]);
			}
			if (!c->confirmed) {
				c->confirmed = true;
				n_confirmed++;
			}
			/* While connecting, a connection that has had its echo waits for the rest, so
			 * the last connections are not held up by the traffic of the first. */
			if (phase != PH_CONNECT)
				queue_message(c);
		}
	}
	verified += (uint64_t)res;
	last_progress_ns = now_ns;
	post_send(c);
	post_recv(c);
}

/* Busy and total jiffies of one CPU from /proc/stat. */
static bool cpu_ticks(int cpu, uint64_t *busy, uint64_t *total)
{
	char want[32], line[512];
	snprintf(want, sizeof want, "cpu%d ", cpu);
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return false;
	bool ok = false;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, want, strlen(want)))
			continue;
		unsigned long long v[8] = { 0 };
		if (sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) >= 7) {
			/* user nice system idle iowait irq softirq steal */
			*busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
			*total = *busy + v[3] + v[4];
			ok = true;
		}
		break;
	}
	fclose(f);
	return ok;
}

/* utime + stime of a process, in clock ticks, from /proc/PID/stat. */
static bool proc_ticks(int pid, uint64_t *ticks)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p)
		return false;
	unsigned long long ut, st;
	/* After ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return false;
	*ticks = ut + st;
	return true;
}

struct snap {
	uint64_t ns, srv_busy, srv_total, own_busy, own_total, srv_proc;
	bool srv_ok, own_ok, proc_ok;
	struct rusage ru;
};

static void snapshot(struct snap *s)
{
	s->ns = mono_ns();
	s->srv_ok = opt.server_cpu >= 0 && cpu_ticks(opt.server_cpu, &s->srv_busy, &s->srv_total);
	s->own_ok = opt.own_cpu >= 0 && cpu_ticks(opt.own_cpu, &s->own_busy, &s->own_total);
	s->proc_ok = opt.server_pid > 0 && proc_ticks(opt.server_pid, &s->srv_proc);
	getrusage(RUSAGE_SELF, &s->ru);
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void raise_nofile(uint64_t need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= need)
		return;
	if (rl.rlim_max < need) {
		struct rlimit up = { need, need };
		if (!setrlimit(RLIMIT_NOFILE, &up))
			return; /* privileged: raised the hard limit too */
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < need)
		die("need %" PRIu64 " descriptors, RLIMIT_NOFILE hard limit is %llu", need,
		    (unsigned long long)rl.rlim_max);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: echo-loadgen --port P [--host ADDR] [--conns N] [--size BYTES] [--depth D]\n"
		"       [--duration S] [--warmup S] [--connect-window N] [--server-cpu C]\n"
		"       [--server-pid PID] [--own-cpu C]\n");
	exit(64);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", required_argument, 0, 'h' },   { "port", required_argument, 0, 'p' },
		{ "conns", required_argument, 0, 'c' },  { "size", required_argument, 0, 's' },
		{ "depth", required_argument, 0, 'd' },  { "duration", required_argument, 0, 't' },
		{ "warmup", required_argument, 0, 'w' }, { "connect-window", required_argument, 0, 'W' },
		{ "server-cpu", required_argument, 0, 'C' }, { "server-pid", required_argument, 0, 'P' },
		{ "own-cpu", required_argument, 0, 'O' }, { 0, 0, 0, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': opt.host = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'c': opt.conns = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 's': opt.size = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'd': opt.depth = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 't': opt.duration = atof(optarg); break;
		case 'w': opt.warmup = atof(optarg); break;
		case 'W': opt.window = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'C': opt.server_cpu = atoi(optarg); break;
		case 'P': opt.server_pid = atoi(optarg); break;
		case 'O': opt.own_cpu = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || opt.port <= 0 || opt.port > 65535 || !opt.conns || !opt.size ||
	    opt.size > PATTERN_SIZE / 2 || !opt.depth || opt.depth > 1024 || opt.duration <= 0 ||
	    opt.warmup < 0 || !opt.window || opt.conns > (1u << 22))
		usage();
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile((uint64_t)opt.conns + 64);

	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)opt.port);
	if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1)
		die("bad address %s", opt.host);

	uint64_t seed = 0x5eed;
	for (uint32_t i = 0; i < PATTERN_SIZE; i += 8) {
		uint64_t r = splitmix(seed++);
		memcpy(pattern + i, &r, 8);
	}

	size_t per = (size_t)opt.depth * opt.size;
	conns = calloc(opt.conns, sizeof *conns);
	unsigned char *bufs = malloc(2 * per * opt.conns);
	uint64_t *stamps = calloc((size_t)opt.conns * opt.depth, sizeof *stamps);
	if (!conns || !bufs || !stamps)
		die("out of memory");
	memset(bufs, 0, 2 * per * opt.conns);
	for (uint32_t i = 0; i < opt.conns; i++) {
		conns[i].id = i;
		conns[i].fd = -1;
		conns[i].txbuf = bufs + 2 * per * i;
		conns[i].rxbuf = bufs + 2 * per * i + per;
		conns[i].queued_ns = stamps + (size_t)opt.depth * i;
	}

	/* Room in the CQ for every operation that can be in flight: a send and a recv each. */
	unsigned cq = 8192; /* at least twice the SQ */
	while (cq < 2 * opt.conns + 64 && cq < 65536)
		cq <<= 1;
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = cq;
	int r = io_uring_queue_init_params(4096, &ring, &p);
	if (r == -EINVAL) {
		p.flags = IORING_SETUP_CQSIZE;
		r = io_uring_queue_init_params(4096, &ring, &p);
	}
	if (r < 0)
		die("io_uring_queue_init: %s", strerror(-r));
	if (!(p.features & IORING_FEAT_EXT_ARG))
		die("kernel lacks IORING_FEAT_EXT_ARG");

	uint64_t t0 = mono_ns(), t_connected = 0, phase_end = 0;
	now_ns = last_progress_ns = t0;
	struct snap s0, s1;
	memset(&s0, 0, sizeof s0);
	admit();
	for (;;) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { 0, 100 * 1000 * 1000 };
		r = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
		if (r < 0 && r != -ETIME && r != -EINTR)
			die("io_uring_submit_and_wait: %s", strerror(-r));
		now_ns = mono_ns();
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);
			struct conn *c = &conns[ud >> 8];
			switch ((int)(ud & 0xff)) {
			case OP_CONNECT: on_connect(c, cqe->res); break;
			case OP_SEND: on_send(c, cqe->res); break;
			case OP_RECV: on_recv(c, cqe->res); break;
			default: die("unexpected completion %" PRIx64, ud);
			}
			seen++;
		}
		io_uring_cq_advance(&ring, seen);

		if (now_ns - last_progress_ns > 10ull * 1000000000ull)
			die("no echo for 10 s (%u of %u connected, %u echoed once)", n_connected,
			    opt.conns, n_confirmed);
		if (phase == PH_CONNECT) {
			admit();
			if (n_confirmed == opt.conns) {
				t_connected = now_ns;
				for (uint32_t i = 0; i < opt.conns; i++) {
					struct conn *c = &conns[i];
					while (c->tx_seq - c->rx_bytes / opt.size < opt.depth)
						queue_message(c);
					post_send(c);
				}
				phase = PH_WARMUP;
				phase_end = now_ns + (uint64_t)(opt.warmup * 1e9);
			}
		}
		if (phase == PH_WARMUP && now_ns >= phase_end) {
			snapshot(&s0);
			now_ns = s0.ns;
			phase = PH_MEASURE;
			requests = 0;
			phase_end = s0.ns + (uint64_t)(opt.duration * 1e9);
		} else if (phase == PH_MEASURE && now_ns >= phase_end) {
			snapshot(&s1);
			break;
		}
	}

	double secs = (double)(s1.ns - s0.ns) / 1e9;
	double tck = (double)sysconf(_SC_CLK_TCK);
	double req = (double)requests;
	printf("{\"conns\":%u,\"size\":%u,\"depth\":%u,\"duration_s\":%.4f,\"warmup_s\":%.3f,"
	       "\"connect_s\":%.4f,\"requests\":%" PRIu64 ",\"req_per_s\":%.1f,\"mb_per_s\":%.3f,"
	       "\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f,"
	       "\"mean_us\":%.2f,\"verified_bytes\":%" PRIu64 ",\"clk_tck\":%.0f",
	       opt.conns, opt.size, opt.depth, secs, opt.warmup, (double)(t_connected - t0) / 1e9,
	       requests, req / secs, req * opt.size / secs / 1e6, hist_pct(0.50) / 1e3,
	       hist_pct(0.90) / 1e3, hist_pct(0.99) / 1e3, hist_pct(0.999) / 1e3,
	       (double)hist_max / 1e3, hist_n ? (double)hist_sum / (double)hist_n / 1e3 : 0.0,
	       verified, tck);
	if (s0.srv_ok && s1.srv_ok) {
		double busy = (double)(s1.srv_busy - s0.srv_busy), tot = (double)(s1.srv_total - s0.srv_total);
		/* Not idle = the window minus the idle and iowait time: with NO_HZ idle these are
		 * measured at idle entry and exit, while busy jiffies are sampled by the tick. */
		double notidle = secs - (tot - busy) / tck;
		printf(",\"server_cpu\":%d,\"server_core_busy\":%.4f,\"core_us_per_req\":%.4f,"
		       "\"server_core_notidle\":%.4f,\"core_notidle_us_per_req\":%.4f",
		       opt.server_cpu, tot > 0 ? busy / tot : 0.0, req > 0 ? busy / tck * 1e6 / req : 0.0,
		       notidle / secs, req > 0 ? notidle * 1e6 / req : 0.0);
	}
	if (s0.proc_ok && s1.proc_ok)
		printf(",\"proc_us_per_req\":%.4f",
		       req > 0 ? (double)(s1.srv_proc - s0.srv_proc) / tck * 1e6 / req : 0.0);
	if (s0.own_ok && s1.own_ok) {
		double busy = (double)(s1.own_busy - s0.own_busy), tot = (double)(s1.own_total - s0.own_total);
		printf(",\"loadgen_core_busy\":%.4f", tot > 0 ? busy / tot : 0.0);
	}
	double own = tv_s(s1.ru.ru_utime) + tv_s(s1.ru.ru_stime) - tv_s(s0.ru.ru_utime) -
		     tv_s(s0.ru.ru_stime);
	printf(",\"loadgen_us_per_req\":%.4f}\n", req > 0 ? own * 1e6 / req : 0.0);
	fflush(stdout);
	return 0;
}
