/*
 * Channel against the real Python: /usr/bin/python3's multiprocessing.connection Listener
 * and Client as the peer, started as a child process and waited for by its pid. Framing
 * both ways (messages from 0 bytes to 1 MiB, sent by Python and echoed by it reversed),
 * over TCP and Unix sockets, in both roles:
 *  - Python's own authentication (HMAC-MD5 on Debian 12's Python 3.11) against a channel
 *    with legacy_md5; a wrong key failing on both sides; without legacy_md5 a clean
 *    refusal (CURIO_EAUTH_LEGACY here, AuthenticationError or EOFError there);
 *  - Python 3.12's {sha256} form, which the script installs in place of 3.11's functions
 *    when Python has no digest prefix of its own, against a channel with and without
 *    legacy_md5.
 * The script bounds its own life (alarm), the curio side its calls (a timeout scope).
 */
#include "nettest.h"

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

TestSuite(channel_python, .timeout = 60);

#define PYTHON "/usr/bin/python3"

static const char KEY[] = "peekaboo";
#define K KEY, sizeof KEY - 1

/* Exit codes of the script. */
enum { PY_OK = 0, PY_AUTH = 3, PY_EOF = 4, PY_OTHER = 5 };

/*
 * argv: role ("listen" or "connect"), family ("tcp" or "unix"), address (listen: a Unix
 * path, or "" for 127.0.0.1 port 0; connect: a path or a port), key, form ("native" or
 * "sha256"). A listener prints "ADDR <port or path>" once it listens. After the
 * authentication it sends messages of PY_SIZES bytes (byte i is i % 251), then echoes
 * each message reversed until b"bye", answers b"py-done" and closes.
 */
static const char SCRIPT[] =
    "import hmac, os, signal, sys\n"
    "import multiprocessing.connection as mc\n"
    "signal.alarm(30)\n"
    "role, family, address, key, form = sys.argv[1:6]\n"
    "key = key.encode()\n"
    "def deliver(conn, authkey):\n"
    "    m = b'{sha256}' + os.urandom(40)\n"
    "    conn.send_bytes(b'#CHALLENGE#' + m)\n"
    "    got = conn.recv_bytes(256)\n"
    "    ok = hmac.compare_digest(got, b'{sha256}' + hmac.new(authkey, m, 'sha256').digest())\n"
    "    conn.send_bytes(b'#WELCOME#' if ok else b'#FAILURE#')\n"
    "    if not ok:\n"
    "        raise mc.AuthenticationError('digest received was wrong')\n"
    "def answer(conn, authkey):\n"
    "    m = conn.recv_bytes(256)\n"
    "    if not m.startswith(b'#CHALLENGE#{sha256}'):\n"
    "        raise mc.AuthenticationError('not a sha256 challenge')\n"
    "    m = m[len(b'#CHALLENGE#'):]\n"
    "    conn.send_bytes(b'{sha256}' + hmac.new(authkey, m, 'sha256').digest())\n"
    "    if conn.recv_bytes(256) != b'#WELCOME#':\n"
    "        raise mc.AuthenticationError('digest sent was rejected')\n"
    "if form == 'sha256':\n"
    "    mc.deliver_challenge, mc.answer_challenge = deliver, answer\n"
    "try:\n"
    "    if role == 'listen':\n"
    "        if family == 'tcp':\n"
    "            l = mc.Listener(('127.0.0.1', 0), 'AF_INET', authkey=key)\n"
    "            print('ADDR', l.address[1], flush=True)\n"
    "        else:\n"
    "            l = mc.Listener(address, 'AF_UNIX', authkey=key)\n"
    "            print('ADDR', address, flush=True)\n"
    "        c = l.accept()\n"
    "    elif family == 'tcp':\n"
    "        c = mc.Client(('127.0.0.1', int(address)), 'AF_INET', authkey=key)\n"
    "    else:\n"
    "        c = mc.Client(address, 'AF_UNIX', authkey=key)\n"
    "    for n in (0, 1, 16384, 16385, 1 << 20):\n"
    "        c.send_bytes((bytes(range(251)) * (n // 251 + 1))[:n])\n"
    "    while True:\n"
    "        m = c.recv_bytes()\n"
    "        if m == b'bye':\n"
    "            break\n"
    "        c.send_bytes(m[::-1])\n"
    "    c.send_bytes(b'py-done')\n"
    "    c.close()\n"
    "except mc.AuthenticationError as e:\n"
    "    print('python:', repr(e), file=sys.stderr)\n"
    "    sys.exit(3)\n"
    "except EOFError as e:\n"
    "    print('python:', repr(e), file=sys.stderr)\n"
    "    sys.exit(4)\n"
    "except Exception as e:\n"
    "    print('python:', repr(e), file=sys.stderr)\n"
    "    sys.exit(5)\n";

static const size_t PY_SIZES[] = {0, 1, 16384, 16385, 1 << 20};
static const size_t ECHO_SIZES[] = {0, 1, 4, 100, 16383, 16384, 16385, 65536, (1 << 20) + 3};

struct py {
    pid_t pid;
    int out;                  /* the read end of its stdout */
};

static void need_python(void)
{
    struct stat st;
    if (stat(PYTHON, &st) != 0)
        cr_skip_test(PYTHON " is not installed");
}

static void py_start(struct py *p, const char *role, const char *family, const char *address,
                     const char *key, const char *form)
{
    int fds[2];
    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    char *argv[] = {PYTHON, "-c", (char *)SCRIPT, (char *)role, (char *)family,
                    (char *)address, (char *)key, (char *)form, NULL};
    int rc = posix_spawn(&p->pid, PYTHON, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    cr_assert_eq(rc, 0, "posix_spawn: %s", strerror(rc));
    p->out = fds[0];
}

/* The listener's "ADDR ..." line (blocking read; the script's alarm bounds it). */
static void py_address(struct py *p, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(p->out, buf + n, 1);
        if (r <= 0 || buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = 0;
    cr_assert(strncmp(buf, "ADDR ", 5) == 0, "python printed '%s'", buf);
    memmove(buf, buf + 5, n - 5 + 1);
}

/* Wait for the child by its pid: its exit code (-1: killed by a signal). */
static int py_wait(struct py *p)
{
    int st;
    pid_t r;
    while ((r = waitpid(p->pid, &st, 0)) < 0 && errno == EINTR)
        ;
    cr_assert_eq(r, p->pid);
    close(p->out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- the exchange, on the curio side ---- */

static uint8_t pattern(size_t i, size_t salt) { return (uint8_t)((i * 131 + salt * 7) >> 3); }

static void exchange(curio_connection *c)
{
    void *m;
    size_t len;
    for (size_t k = 0; k < sizeof PY_SIZES / sizeof PY_SIZES[0]; k++) {
        ssize_t n = curio_connection_recv(c, &m, &len);
        cr_assert_eq(n, (ssize_t)PY_SIZES[k], "python's message %zu: %s", k,
                     curio_strerror((int)n));
        for (size_t i = 0; i < len; i++)
            cr_assert_eq(((uint8_t *)m)[i], i % 251, "python's message %zu, byte %zu", k, i);
        free(m);
    }
    for (size_t k = 0; k < sizeof ECHO_SIZES / sizeof ECHO_SIZES[0]; k++) {
        size_t size = ECHO_SIZES[k];
        uint8_t *out = malloc(size + 1);
        for (size_t i = 0; i < size; i++)
            out[i] = pattern(i, k);
        cr_assert_eq(curio_connection_send(c, out, size), 0);
        ssize_t n = curio_connection_recv(c, &m, &len);
        cr_assert_eq(n, (ssize_t)size, "echo of %zu bytes: %s", size, curio_strerror((int)n));
        for (size_t i = 0; i < size; i++)
            cr_assert_eq(((uint8_t *)m)[i], out[size - 1 - i], "echo of %zu, byte %zu", size,
                         i);
        free(m);
        free(out);
    }
    cr_assert_eq(curio_connection_send(c, "bye", 3), 0);
    cr_assert_eq(curio_connection_recv(c, &m, &len), 7);
    cr_assert_eq(memcmp(m, "py-done", 7), 0);
    free(m);
    cr_assert_eq(curio_connection_recv(c, &m, &len), CURIO_ECLOSED, "python closed");
}

/* ---- curio connects to a Python Listener ---- */

struct to_python {
    const char *family, *address; /* where Python listens: "tcp" and its port, or a path */
    const char *key;              /* ours */
    bool legacy_md5;
    int rc;                       /* of curio_channel_connect */
};

static long connect_main(void *arg)
{
    struct to_python *t = arg;
    curio_scope sc;
    cr_assert_eq(curio_timeout_after(&sc, 20), 0);
    curio_channel_options o = {.legacy_md5 = t->legacy_md5};
    curio_channel *ch;
    if (strcmp(t->family, "tcp") == 0)
        cr_assert_eq(curio_channel_tcp(&ch, "127.0.0.1", (uint16_t)atoi(t->address), &o), 0);
    else
        cr_assert_eq(curio_channel_unix(&ch, t->address, &o), 0);
    curio_connection *c;
    t->rc = curio_channel_connect(ch, &c, t->key, strlen(t->key));
    curio_channel_close(ch);
    if (t->rc == 0) {
        exchange(c);
        curio_connection_close(c);
    } else {
        cr_assert_null(c);
    }
    cr_assert_eq(curio_scope_close(&sc), 0, "within the time");
    return 0;
}

static char unix_path[108];

static const char *new_unix_path(void)
{
    snprintf(unix_path, sizeof unix_path, "/tmp/curio-chan-py-%d", (int)getpid());
    unlink(unix_path);
    return unix_path;
}

/* Python listens (with form's authentication and key KEY), curio connects with key:
 * returns Python's exit code and *rc curio's. */
static int to_python(const char *family, const char *form, const char *key, bool legacy,
                     int *rc)
{
    int fds = count_fds();
    struct py p;
    const char *path = strcmp(family, "unix") == 0 ? new_unix_path() : "";
    py_start(&p, "listen", family, path, KEY, form);
    char addr[128];
    py_address(&p, addr, sizeof addr);
    struct to_python t = {family, addr, key, legacy, 1};
    run_main(connect_main, &t);
    int code = py_wait(&p);
    if (*path)
        unlink(path);
    cr_assert_eq(count_fds(), fds, "no descriptor left");
    *rc = t.rc;
    return code;
}

Test(channel_python, python311_listener_legacy_md5)
{
    need_python();
    int rc;
    cr_assert_eq(to_python("tcp", "native", KEY, true, &rc), PY_OK);
    cr_assert_eq(rc, 0, "%s", curio_strerror(rc));
    cr_assert_eq(to_python("unix", "native", KEY, true, &rc), PY_OK);
    cr_assert_eq(rc, 0, "%s", curio_strerror(rc));
}

Test(channel_python, python311_listener_wrong_key)
{
    need_python();
    int rc;
    cr_assert_eq(to_python("tcp", "native", "wrong", true, &rc), PY_AUTH,
                 "Python: digest received was wrong");
    cr_assert_eq(rc, CURIO_EAUTH, "%s", curio_strerror(rc));
}

/* Without legacy_md5, curio does not answer the legacy challenge: it closes the connection,
 * and Python's wait for the answer ends in EOFError. */
Test(channel_python, python311_listener_legacy_off)
{
    need_python();
    int rc;
    cr_assert_eq(to_python("tcp", "native", KEY, false, &rc), PY_EOF);
    cr_assert_eq(rc, CURIO_EAUTH_LEGACY, "%s", curio_strerror(rc));
    cr_assert_eq(to_python("unix", "native", KEY, false, &rc), PY_EOF);
    cr_assert_eq(rc, CURIO_EAUTH_LEGACY, "%s", curio_strerror(rc));
}

Test(channel_python, python312_form_listener)
{
    need_python();
    int rc;
    for (int legacy = 0; legacy < 2; legacy++) {
        cr_assert_eq(to_python("tcp", "sha256", KEY, legacy, &rc), PY_OK);
        cr_assert_eq(rc, 0, "%s", curio_strerror(rc));
    }
    cr_assert_eq(to_python("unix", "sha256", "wrong", false, &rc), PY_AUTH);
    cr_assert_eq(rc, CURIO_EAUTH, "%s", curio_strerror(rc));
}

/* ---- a Python Client connects to curio ---- */

struct from_python {
    const char *family, *form, *key; /* Python's */
    bool legacy_md5;
    bool by_hand;                    /* accept and authenticate by hand (for the error) */
    bool dropped;                    /* with the channel: the client is expected to fail */
    int rc;                          /* of the accept or the authentication */
    struct py p;
    char log[512];
    curio_event logged;
    curio_channel *ch;
};

static void on_log(const char *msg, void *arg)
{
    struct from_python *f = arg;
    snprintf(f->log, sizeof f->log, "%s", msg);
    curio_event_set(&f->logged);
}

/* Start Python's Client towards a. */
static void start_client(struct from_python *f, const curio_addr *a)
{
    char where[CURIO_ADDR_STRLEN];
    if (strcmp(f->family, "tcp") == 0)
        snprintf(where, sizeof where, "%d", curio_addr_port(a));
    else
        curio_addr_format(a, where, sizeof where);
    py_start(&f->p, "connect", f->family, where, f->key, f->form);
}

static long accept_task(void *arg)
{
    struct from_python *f = arg;
    curio_connection *c = (curio_connection *)1;
    f->rc = curio_channel_accept(f->ch, &c, K);
    cr_assert_null(c);
    return 0;
}

/* Accepts with the channel (a client that fails is logged and dropped: f->log), or by
 * hand (the authentication's own result in f->rc), then exchanges messages. */
static long accept_main(void *arg)
{
    struct from_python *f = arg;
    curio_scope sc;
    cr_assert_eq(curio_timeout_after(&sc, 20), 0);
    curio_channel_options o = {.legacy_md5 = f->legacy_md5, .log = on_log, .log_arg = f};
    bool tcp = strcmp(f->family, "tcp") == 0;
    curio_connection *c = NULL;
    if (f->by_hand) {
        curio_socket *ls, *s;
        cr_assert_eq(tcp ? curio_tcp_server_socket(&ls, "127.0.0.1", 0, NULL)
                         : curio_unix_server_socket(&ls, new_unix_path(), NULL),
                     0);
        curio_addr a;
        cr_assert_eq(curio_socket_getsockname(ls, &a), 0);
        start_client(f, &a);
        cr_assert_eq(curio_accept(ls, &s, NULL), 0);
        curio_socket_close(ls);
        cr_assert_eq(curio_connection_open(&c, s, &o), 0);
        f->rc = curio_connection_authenticate_server(c, K);
    } else {
        cr_assert_eq(tcp ? curio_channel_tcp(&f->ch, "127.0.0.1", 0, &o)
                         : curio_channel_unix(&f->ch, new_unix_path(), &o),
                     0);
        cr_assert_eq(curio_channel_bind(f->ch), 0);
        curio_addr a;
        cr_assert_eq(curio_channel_address(f->ch, &a), 0);
        start_client(f, &a);
        if (f->dropped) { /* accept goes on waiting: close the channel once it has logged */
            curio_task *t = curio_spawn(accept_task, f);
            cr_assert_eq(curio_event_wait(&f->logged), 0);
            curio_channel_close(f->ch);
            curio_join(t, NULL);
            curio_task_release(t);
            cr_assert_eq(f->rc, -EBADF);
            f->ch = NULL;
        } else {
            f->rc = curio_channel_accept(f->ch, &c, K);
        }
    }
    if (c && f->rc == 0)
        exchange(c);
    curio_connection_close(c);
    curio_channel_close(f->ch);
    cr_assert_eq(curio_scope_close(&sc), 0, "within the time");
    return 0;
}

/* Returns Python's exit code; f->rc and f->log tell curio's side. */
static int from_python(struct from_python *f)
{
    int fds = count_fds();
    run_main(accept_main, f);
    int code = py_wait(&f->p);
    if (strcmp(f->family, "unix") == 0)
        unlink(unix_path);
    cr_assert_eq(count_fds(), fds, "no descriptor left");
    return code;
}

Test(channel_python, python311_client_legacy_md5)
{
    need_python();
    const char *families[] = {"tcp", "unix"};
    for (int i = 0; i < 2; i++) {
        struct from_python f = {.family = families[i], .form = "native", .key = KEY,
                                .legacy_md5 = true};
        cr_assert_eq(from_python(&f), PY_OK, "%s", families[i]);
        cr_assert_eq(f.rc, 0, "%s", curio_strerror(f.rc));
        f = (struct from_python){.family = families[i], .form = "native", .key = KEY,
                                 .legacy_md5 = true, .by_hand = true};
        cr_assert_eq(from_python(&f), PY_OK, "%s by hand", families[i]);
        cr_assert_eq(f.rc, 0, "%s", curio_strerror(f.rc));
    }
}

Test(channel_python, python311_client_wrong_key)
{
    need_python();
    struct from_python f = {.family = "tcp", .form = "native", .key = "wrong",
                            .legacy_md5 = true, .by_hand = true};
    cr_assert_eq(from_python(&f), PY_AUTH, "Python: digest sent was rejected");
    cr_assert_eq(f.rc, CURIO_EAUTH, "%s", curio_strerror(f.rc));
    f = (struct from_python){.family = "unix", .form = "native", .key = "wrong",
                             .legacy_md5 = true, .dropped = true};
    cr_assert_eq(from_python(&f), PY_AUTH);
    cr_assert(strstr(f.log, curio_strerror(CURIO_EAUTH)), "logged: %s", f.log);
}

/* Without legacy_md5, Python 3.11's MD5 answer to curio's challenge gets "#FAILURE#". */
Test(channel_python, python311_client_legacy_off)
{
    need_python();
    struct from_python f = {.family = "unix", .form = "native", .key = KEY, .by_hand = true};
    cr_assert_eq(from_python(&f), PY_AUTH, "Python: digest sent was rejected");
    cr_assert_eq(f.rc, CURIO_EAUTH_LEGACY, "%s", curio_strerror(f.rc));
    f = (struct from_python){.family = "tcp", .form = "native", .key = KEY, .dropped = true};
    cr_assert_eq(from_python(&f), PY_AUTH);
    cr_assert(strstr(f.log, curio_strerror(CURIO_EAUTH_LEGACY)), "logged: %s", f.log);
}

Test(channel_python, python312_form_client)
{
    need_python();
    for (int legacy = 0; legacy < 2; legacy++) {
        struct from_python f = {.family = "unix", .form = "sha256", .key = KEY,
                                .legacy_md5 = legacy};
        cr_assert_eq(from_python(&f), PY_OK);
        cr_assert_eq(f.rc, 0, "%s", curio_strerror(f.rc));
    }
    struct from_python f = {.family = "tcp", .form = "sha256", .key = "wrong", .by_hand = true};
    cr_assert_eq(from_python(&f), PY_AUTH);
    cr_assert_eq(f.rc, CURIO_EAUTH, "%s", curio_strerror(f.rc));
}
