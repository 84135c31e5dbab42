#!/usr/bin/env python3
"""Tests of curio-httpd (examples/httpd), driven over loopback.

usage: httpd_test.py raw|curl SERVER [CURL]

'raw' speaks HTTP over plain sockets (statuses, pipelining, HTTP/1.0, escapes, timeouts,
a 1 GiB file, graceful shutdown); 'curl' drives the server with curl (exit 77, a skip,
only when curl is absent). Every server is started by pid on 127.0.0.1 port 0 with
--port-file and stopped by pid with SIGTERM; its exit status must be 0. Time bounds are
loose, and from below where they check a timeout.
"""
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

SERVER = None
CURL = None
FAILED = []
IO_TIMEOUT = 20


class Server:
    def __init__(self, root, *args):
        self.dir = tempfile.mkdtemp(prefix='httpd-test-')
        self.port_file = os.path.join(self.dir, 'port')
        self.proc = subprocess.Popen(
            [SERVER, '--host', '127.0.0.1', '--port', '0', '--root', root,
             '--port-file', self.port_file] + list(args))
        deadline = time.monotonic() + 15
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError('server exited with %d' % self.proc.returncode)
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError('no port file')
            time.sleep(0.01)
        with open(self.port_file) as f:
            self.port = int(f.read())

    def connect(self):
        s = socket.create_connection(('127.0.0.1', self.port), timeout=IO_TIMEOUT)
        return s

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError('server did not stop within 20 s of SIGTERM')
        os.unlink(self.port_file)
        os.rmdir(self.dir)
        assert rc == 0, 'server exit status %d' % rc

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        elif self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Reader:
    """Reads HTTP responses from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''

    def fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise EOFError
        self.buf += data

    def response(self, head_request=False, body_sink=None):
        while b'\r\n\r\n' not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        parts = lines[0].split(' ', 2)
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(':', 1)
            headers[k.strip().lower()] = v.strip()
        n = 0 if head_request or status == 304 else int(headers.get('content-length', '0'))
        if body_sink is not None:
            take = min(n, len(self.buf))
            body_sink(self.buf[:take])
            self.buf = self.buf[take:]
            n -= take
            while n > 0:
                data = self.sock.recv(min(n, 1 << 20))
                if not data:
                    raise EOFError
                body_sink(data)
                n -= len(data)
            return status, headers, None
        while len(self.buf) < n:
            self.fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def at_eof(self):
        """True if the peer closed (nothing more comes)."""
        if self.buf:
            return False
        try:
            return self.sock.recv(1) == b''
        except ConnectionResetError:
            return True


def server_has_read(srv, client, timeout=10):
    """Wait until the server's end of client's connection has no unread bytes (its
    rx_queue in /proc/net/tcp is 0): the server has taken what the client sent."""
    cport = client.getsockname()[1]
    local = '0100007F:%04X' % srv.port
    remote = '0100007F:%04X' % cport
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open('/proc/net/tcp') as f:
            for line in f:
                fields = line.split()
                if fields[1] == local and fields[2] == remote:
                    if int(fields[4].split(':')[1], 16) == 0:
                        return
        time.sleep(0.01)
    raise AssertionError('the server did not read what was sent')


def request(srv, raw, head_request=False):
    with srv.connect() as s:
        s.sendall(raw)
        return Reader(s).response(head_request)


def get(path, version='1.1', extra=''):
    return ('GET %s HTTP/%s\r\nHost: t\r\n%s\r\n' % (path, version, extra)).encode()


def test(fn):
    def run(*a):
        t0 = time.monotonic()
        try:
            fn(*a)
            print('ok   %s (%.2f s)' % (fn.__name__, time.monotonic() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            import traceback
            traceback.print_exc()
            print('FAIL %s: %r' % (fn.__name__, e), flush=True)
            FAILED.append(fn.__name__)
    run.__name__ = fn.__name__
    return run


def make_root():
    root = tempfile.mkdtemp(prefix='httpd-root-')
    with open(os.path.join(root, 'a.txt'), 'w') as f:
        f.write('hello, world\n')
    with open(os.path.join(root, 'page.html'), 'w') as f:
        f.write('<p>page</p>\n')
    os.mkdir(os.path.join(root, 'sub'))
    with open(os.path.join(root, 'sub', 'index.html'), 'w') as f:
        f.write('<p>index</p>\n')
    os.mkdir(os.path.join(root, 'empty'))
    os.symlink('/etc/passwd', os.path.join(root, 'passwd'))
    os.symlink('/etc', os.path.join(root, 'etc'))
    os.symlink('a.txt', os.path.join(root, 'inner-link'))
    with open(os.path.join(root, 'small.bin'), 'wb') as f:
        f.write(b'x' * 8000)
    with open(os.path.join(root, 'big'), 'wb') as f:
        f.truncate(64 << 20)
        f.seek(12345)
        f.write(b'big file marker')
    return root


def cleanup_root(root):
    subprocess.run(['rm', '-rf', root], check=True)


# ---- raw-socket tests ----

@test
def statuses(root):
    with Server(root) as srv:
        st, h, body = request(srv, get('/plaintext'))
        assert (st, body) == (200, b'Hello, World!'), (st, body)
        assert h['content-type'] == 'text/plain' and h['server'] == 'curio' and 'date' in h
        st, h, body = request(srv, get('/a.txt'))
        assert (st, body) == (200, b'hello, world\n')
        assert h['content-type'].startswith('text/plain') and 'last-modified' in h
        st, h, body = request(srv, get('/page.html'))
        assert st == 200 and h['content-type'].startswith('text/html')
        st, _, body = request(srv, get('/sub/'))
        assert (st, body) == (200, b'<p>index</p>\n'), (st, body)
        assert request(srv, get('/empty/'))[0] == 403
        assert request(srv, get('/nothing-here'))[0] == 404
        # 400: not HTTP, and a bad header line
        assert request(srv, b'HELLO THERE\r\n\r\n')[0] == 400
        assert request(srv, b'GET / HTTP/1.1\r\nBad Header\r\n\r\n')[0] == 400
        # 405 with Allow; the connection stays usable
        with srv.connect() as s:
            s.sendall(b'POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc')
            r = Reader(s)
            st, h, _ = r.response()
            assert st == 405 and h['allow'] == 'GET, HEAD', (st, h)
            s.sendall(get('/plaintext'))
            assert r.response()[0] == 200
        # 414 and 431, each closing the connection
        with srv.connect() as s:
            s.sendall(get('/' + 'x' * 5000))
            r = Reader(s)
            st, h, _ = r.response()
            assert st == 414 and h.get('connection') == 'close', (st, h)
            assert r.at_eof()
        with srv.connect() as s:
            s.sendall(get('/a.txt', extra=''.join('X-Pad-%d: %s\r\n' % (i, 'y' * 100)
                                                   for i in range(100))))
            r = Reader(s)
            assert r.response()[0] == 431
            assert r.at_eof()
        # 206, 416, 304
        st, h, body = request(srv, get('/a.txt', extra='Range: bytes=0-4\r\n'))
        assert (st, body, h['content-range']) == (206, b'hello', 'bytes 0-4/13'), (st, body, h)
        st, h, body = request(srv, get('/a.txt', extra='Range: bytes=-6\r\n'))
        assert (st, body, h['content-range']) == (206, b'world\n', 'bytes 7-12/13')
        st, h, body = request(srv, get('/a.txt', extra='Range: bytes=7-\r\n'))
        assert (st, body) == (206, b'world\n')
        st, h, _ = request(srv, get('/a.txt', extra='Range: bytes=13-20\r\n'))
        assert st == 416 and h['content-range'] == 'bytes */13', (st, h)
        st, h, body = request(srv, get('/a.txt', extra='Range: bytes=0-1,3-4\r\n'))
        assert (st, body) == (200, b'hello, world\n')  # several ranges: the whole file
        st, h, body = request(srv, get('/a.txt', extra='Range: bytes=%s1-2\r\n' % ('0' * 80)))
        assert (st, body) == (200, b'hello, world\n')  # a value too long: ignored
        st, h, body = request(srv, b'GET http://t/a.txt HTTP/1.1\r\nHost: t\r\n\r\n')
        assert (st, body) == (200, b'hello, world\n')  # absolute-form target
        assert request(srv, b'GET * HTTP/1.1\r\nHost: t\r\n\r\n')[0] == 400
        lm = request(srv, get('/a.txt'))[1]['last-modified']
        st, h, body = request(srv, get('/a.txt', extra='If-Modified-Since: %s\r\n' % lm))
        assert st == 304 and body == b'', (st, body)
        st, _, _ = request(srv, get('/a.txt', extra='If-Modified-Since: '
                                                     'Mon, 01 Jan 2001 00:00:00 GMT\r\n'))
        assert st == 200
        # HEAD: the headers of GET, no body
        with srv.connect() as s:
            s.sendall(b'HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n' + get('/plaintext'))
            r = Reader(s)
            st, h, _ = r.response(head_request=True)
            assert st == 200 and h['content-length'] == '13'
            assert r.response()[2] == b'Hello, World!'


@test
def header_timeout(root):
    with Server(root, '--header-timeout', '1') as srv:
        with srv.connect() as s:
            t0 = time.monotonic()
            s.sendall(b'GET /plaintext HTTP/1.1\r\n')
            r = Reader(s)
            st, h, _ = r.response()
            took = time.monotonic() - t0
            assert st == 408 and h.get('connection') == 'close', (st, h)
            assert r.at_eof()
            assert took >= 0.9, took
            assert took < 10, took  # the watchdog is at most about a tick late


@test
def idle_timeout(root):
    with Server(root, '--idle-timeout', '1') as srv:
        with srv.connect() as s:
            s.sendall(get('/plaintext'))
            r = Reader(s)
            assert r.response()[0] == 200
            t0 = time.monotonic()
            assert s.recv(100) == b''  # closed quietly: no response at all
            assert time.monotonic() - t0 >= 0.9


@test
def pipelined(root):
    paths = ['/plaintext', '/a.txt', '/nothing', '/sub/'] * 4
    want = {'/plaintext': (200, b'Hello, World!'), '/a.txt': (200, b'hello, world\n'),
            '/nothing': (404, None), '/sub/': (200, b'<p>index</p>\n')}
    with Server(root) as srv:
        with srv.connect() as s:
            s.sendall(b''.join(get(p) for p in paths))  # 16 requests in one write
            r = Reader(s)
            for p in paths:
                st, _, body = r.response()
                assert st == want[p][0], (p, st)
                if want[p][1] is not None:
                    assert body == want[p][1], (p, body)
            # still open
            s.sendall(get('/plaintext') * 16)
            for _ in range(16):
                assert r.response()[2] == b'Hello, World!'


@test
def http10(root):
    with Server(root) as srv:
        with srv.connect() as s:
            s.sendall(b'GET /plaintext HTTP/1.0\r\n\r\n')
            r = Reader(s)
            st, h, body = r.response()
            assert (st, body) == (200, b'Hello, World!')
            assert h.get('connection', 'close').lower() == 'close'
            assert r.at_eof()
        with srv.connect() as s:
            s.sendall(b'GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
            r = Reader(s)
            st, h, _ = r.response()
            assert st == 200 and h['connection'].lower() == 'keep-alive', h
            s.sendall(b'GET /a.txt HTTP/1.0\r\n\r\n')
            assert r.response()[2] == b'hello, world\n'
            assert r.at_eof()
        with srv.connect() as s:  # HTTP/1.1 with Connection: close
            s.sendall(get('/plaintext', extra='Connection: close\r\n'))
            r = Reader(s)
            assert r.response()[1]['connection'] == 'close'
            assert r.at_eof()


@test
def escapes(root):
    with Server(root) as srv:
        for path in ['/../etc/passwd', '/%2e%2e/etc/passwd', '/%2E%2E/%2e%2e/etc/passwd',
                     '/sub/../../etc/passwd', '/sub/%2e%2e/%2e%2e/etc/passwd',
                     '/passwd', '/etc/passwd', '/inner-link', '//etc/passwd',
                     '/%00', '/a.txt%00.html']:
            st, _, body = request(srv, get(path))
            assert st in (400, 403, 404), (path, st)
            assert b'root:' not in body, path
        assert request(srv, get('/passwd'))[0] == 403  # symbolic links are refused
        assert request(srv, get('/%2e%2e/etc/passwd'))[0] == 403
        # ".." that stays under the root is fine
        assert request(srv, get('/sub/../a.txt'))[2] == b'hello, world\n'


@test
def one_gib(root):
    path = os.path.join(root, 'gib')
    with open(path, 'wb') as f:
        f.truncate(1 << 30)
        for off in (0, 4096 * 1000 + 7, (1 << 29) + 3, (1 << 30) - 100):
            f.seek(off)
            f.write(b'marker %d' % off)
    want = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            chunk = f.read(1 << 22)
            if not chunk:
                break
            want.update(chunk)
    with Server(root) as srv:
        with srv.connect() as s:
            s.sendall(get('/gib'))
            got = hashlib.sha256()
            n = [0]

            def sink(b):
                got.update(b)
                n[0] += len(b)
            st, h, _ = Reader(s).response(body_sink=sink)
            assert st == 200 and int(h['content-length']) == 1 << 30 and n[0] == 1 << 30
            assert got.hexdigest() == want.hexdigest()
    os.unlink(path)


@test
def slowloris(root):
    with Server(root, '--header-timeout', '2') as srv:
        slow = srv.connect()
        t0 = time.monotonic()
        req = get('/plaintext')
        sent = 0
        served = 0
        closed_at = None
        r = Reader(slow)
        while time.monotonic() - t0 < 10 and closed_at is None:
            try:
                slow.sendall(req[sent:sent + 1])
                sent += 1
            except OSError:
                pass
            # another client is served meanwhile
            st, _, body = request(srv, get('/plaintext'))
            assert (st, body) == (200, b'Hello, World!')
            served += 1
            slow.settimeout(1.0)
            try:
                st, _, _ = r.response()
                assert st == 408, st
                closed_at = time.monotonic() - t0
            except socket.timeout:
                pass
            except (EOFError, ConnectionResetError):
                closed_at = time.monotonic() - t0
        slow.close()
        assert closed_at is not None, 'slow client never timed out'
        assert closed_at >= 1.9, closed_at
        assert sent < len(req)
        assert served >= 2


@test
def non_reader_dropped(root):
    with Server(root, '--write-timeout', '1') as srv:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(IO_TIMEOUT)
        s.connect(('127.0.0.1', srv.port))
        s.sendall(get('/big'))
        t0 = time.monotonic()
        # meanwhile others are served
        assert request(srv, get('/plaintext'))[0] == 200
        time.sleep(3)  # the server's write times out after 1 s; reading starts only now
        got = 0
        reset = False
        try:
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                got += len(d)
        except ConnectionResetError:
            reset = True
        s.close()
        assert got < (64 << 20), got
        assert reset or got < (64 << 20)
        assert time.monotonic() - t0 >= 1
        assert request(srv, get('/plaintext'))[0] == 200


@test
def max_conns(root):
    with Server(root, '--max-conns', '2') as srv:
        a, b = srv.connect(), srv.connect()
        for s in (a, b):
            s.sendall(get('/plaintext'))
            assert Reader(s).response()[0] == 200
        c = srv.connect()  # waits in the backlog
        c.sendall(get('/plaintext'))
        c.settimeout(0.5)
        try:
            c.recv(1)
            raise AssertionError('third connection served beyond --max-conns')
        except socket.timeout:
            pass
        c.settimeout(IO_TIMEOUT)
        a.close()
        assert Reader(c).response()[0] == 200
        b.close()
        c.close()


@test
def accept_burst(root):
    # Connections that queue up at once are all taken (one curio_accept, then accept4 for
    # the rest), but never more than --max-conns: the others wait in the backlog and are
    # served, every one, as served ones close.
    import selectors
    with Server(root, '--max-conns', '40') as srv:
        socks = [srv.connect() for _ in range(60)]
        for s in socks:
            s.sendall(get('/plaintext'))
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        answered = []
        deadline = time.monotonic() + IO_TIMEOUT
        while len(answered) < 40 and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                sel.unregister(key.fileobj)
                answered.append(key.fileobj)
        assert len(answered) == 40, len(answered)
        assert not sel.select(timeout=0.5), 'served beyond --max-conns'
        for s in answered:
            assert Reader(s).response()[2] == b'Hello, World!'
            s.close()
        for s in socks:
            if s not in answered:
                assert Reader(s).response()[2] == b'Hello, World!'
                s.close()
        sel.close()


@test
def non_reader_pipelined(root):
    # A client that pipelines requests for a small file (answered from the response
    # buffer) and never reads: once the socket's buffer is full the send waits, and the
    # write timeout resets the connection; others are served meanwhile.
    with Server(root, '--write-timeout', '1') as srv:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(IO_TIMEOUT)
        s.connect(('127.0.0.1', srv.port))
        # 1000 answers of 8 KB: more than the server's socket can buffer (tcp_wmem's
        # maximum is 4 MiB by default), fewer request bytes than its receive buffer takes
        s.sendall(get('/small.bin') * 1000)
        t0 = time.monotonic()
        assert request(srv, get('/plaintext'))[0] == 200
        time.sleep(3)
        got = 0
        reset = False
        try:
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                got += len(d)
        except ConnectionResetError:
            reset = True
        s.close()
        assert reset, got
        assert got < 1000 * 8000, got
        assert time.monotonic() - t0 >= 1
        assert request(srv, get('/plaintext'))[0] == 200


@test
def graceful_shutdown(root):
    srv = Server(root)
    try:
        big = srv.connect()
        big.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        big.sendall(get('/big'))
        r = Reader(big)
        idle = srv.connect()
        idle.sendall(get('/plaintext'))
        ri = Reader(idle)
        assert ri.response()[0] == 200
        partial = srv.connect()
        partial.sendall(b'GET /a.txt HTTP/1.1\r\nHost: t\r\n')
        while len(r.buf) < 100000:
            r.fill()
        server_has_read(srv, partial)
        srv.proc.send_signal(signal.SIGTERM)
        # the idle connection is closed, with no response (so the shutdown has begun)
        assert ri.at_eof()
        # the request whose head was in flight completes, with Connection: close
        partial.sendall(b'\r\n')
        rp = Reader(partial)
        st, h, body = rp.response()
        assert (st, body) == (200, b'hello, world\n') and h['connection'] == 'close', (st, h)
        assert rp.at_eof()
        # the big response completes
        got = hashlib.sha256()
        n = [0]

        def sink(b):
            got.update(b)
            n[0] += len(b)
        st, h, _ = r.response(body_sink=sink)
        assert st == 200 and n[0] == 64 << 20, n[0]
        with open(os.path.join(root, 'big'), 'rb') as f:
            assert got.hexdigest() == hashlib.sha256(f.read()).hexdigest()
        assert r.at_eof()
        rc = srv.proc.wait(timeout=20)
        assert rc == 0, rc
        for s in (big, idle, partial):
            s.close()
        # no longer listening
        try:
            socket.create_connection(('127.0.0.1', srv.port), timeout=2).close()
            raise AssertionError('still accepting after shutdown')
        except ConnectionRefusedError:
            pass
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


@test
def shutdown_deadline(root):
    # A client that never finishes its request is cancelled after --shutdown-timeout.
    srv = Server(root, '--shutdown-timeout', '1', '--header-timeout', '60')
    try:
        s = srv.connect()
        s.sendall(b'GET /a.txt HTTP/1.1\r\n')
        server_has_read(srv, s)
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        rc = srv.proc.wait(timeout=20)
        took = time.monotonic() - t0
        assert rc == 0, rc
        assert took >= 0.9, took
        s.close()
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


# ---- curl ----

def curl(*args):
    p = subprocess.run([CURL, '-sS', '--max-time', '20'] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    return p.stdout, p.stderr


@test
def curl_all(root):
    with Server(root) as srv:
        base = 'http://127.0.0.1:%d' % srv.port
        out, _ = curl(base + '/plaintext')
        assert out == b'Hello, World!'
        out, _ = curl(base + '/a.txt')
        assert out == b'hello, world\n'
        out, _ = curl('-I', base + '/a.txt')  # HEAD
        assert out.startswith(b'HTTP/1.1 200') and b'Content-Length: 13' in out, out
        out, _ = curl('-r', '7-11', base + '/a.txt')
        assert out == b'world', out
        out, _ = curl('-o', '/dev/null', '-w', '%{http_code}', '-r', '100-200',
                      base + '/a.txt')
        assert out == b'416', out
        # If-Modified-Since: -z with the file's own time is 304; with an older one 200
        out, _ = curl('-o', '/dev/null', '-w', '%{http_code}', '-z',
                      os.path.join(root, 'a.txt'), base + '/a.txt')
        assert out == b'304', out
        out, _ = curl('-o', '/dev/null', '-w', '%{http_code}', '-z',
                      'Mon, 01 Jan 2001 00:00:00 GMT', base + '/a.txt')
        assert out == b'200', out
        # keep-alive: three requests, one connection
        out, _ = curl('-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null',
                      '-w', '%{num_connects}\n', base + '/plaintext', base + '/a.txt',
                      base + '/sub/')
        assert out.split() == [b'1', b'0', b'0'], out
        out, _ = curl('-o', '/dev/null', '-w', '%{http_code}', '--path-as-is',
                      base + '/../etc/passwd')
        assert out == b'403', out
        out, _ = curl(base + '/big', '-o', '/dev/null', '-w', '%{size_download}')
        assert out == b'%d' % (64 << 20), out


def main():
    global SERVER, CURL
    mode, SERVER = sys.argv[1], sys.argv[2]
    root = make_root()
    try:
        if mode == 'curl':
            CURL = sys.argv[3] if len(sys.argv) > 3 else '/usr/bin/curl'
            if not os.access(CURL, os.X_OK):
                print('SKIP: curl is not installed (%s); apt-get install curl' % CURL)
                return 77
            curl_all(root)
        else:
            only = sys.argv[3:]
            for t in [statuses, header_timeout, idle_timeout, pipelined, http10, escapes,
                      one_gib, slowloris, non_reader_dropped, max_conns, graceful_shutdown,
                      shutdown_deadline, accept_burst, non_reader_pipelined]:
                if not only or t.__name__ in only:
                    t(root)
    finally:
        cleanup_root(root)
    if FAILED:
        print('failed: ' + ' '.join(FAILED))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
