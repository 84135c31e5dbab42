/*
 * What every echo server in bench/echo shares: the command line, the listening socket and
 * the ready line. The contract the runner (bench/echo/run) relies on, which curio's own
 * echo servers follow too:
 *
 *   SERVER [--port N]       N = 0 (the default) lets the kernel pick a free port
 *
 *   - listens on 127.0.0.1:N with a backlog of 4096, single-threaded;
 *   - sets TCP_NODELAY on every accepted connection (as asyncio and uvloop do);
 *   - raises its RLIMIT_NOFILE soft limit to the hard limit (the 10,000-connection run);
 *   - prints "READY <port>\n" on stdout, flushed, once it accepts connections;
 *   - echoes every byte back on the connection it came from, in order;
 *   - exits when its standard input reaches end of file (or when killed).
 */
#ifndef ECHO_SERVER_COMMON_H
#define ECHO_SERVER_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ECHO_BACKLOG 4096

static void echo_die(const char *what, int err)
{
	fprintf(stderr, "echo server: %s: %s\n", what, strerror(err));
	exit(1);
}

/* --port N (default 0); --help lists the server's own extra options given in extra_usage. */
static int echo_parse_port(int argc, char **argv, int *i, const char *extra_usage)
{
	if (!strcmp(argv[*i], "--port") && *i + 1 < argc) {
		char *end;
		long p = strtol(argv[++*i], &end, 10);
		if (*end || p < 0 || p > 65535) {
			fprintf(stderr, "bad port %s\n", argv[*i]);
			exit(64);
		}
		return (int)p;
	}
	fprintf(stderr, "usage: %s [--port N]%s\n", argv[0], extra_usage);
	exit(64);
}

static void echo_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Bind 127.0.0.1:port and listen; returns the socket and stores the bound port. */
static int echo_listen(int port, int sock_flags, int *bound)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | sock_flags, 0);
	if (fd < 0)
		echo_die("socket", errno);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
		echo_die("bind", errno);
	if (listen(fd, ECHO_BACKLOG) < 0)
		echo_die("listen", errno);
	socklen_t len = sizeof a;
	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		echo_die("getsockname", errno);
	*bound = ntohs(a.sin_port);
	return fd;
}

static void echo_ready(int port)
{
	printf("READY %d\n", port);
	fflush(stdout);
}

/* Whether standard input is a pipe or socket whose end of file means "stop" (not /dev/null). */
static int echo_stdin_watchable(void)
{
	struct stat st;
	return fstat(0, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

static void echo_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

#endif
