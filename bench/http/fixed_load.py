#!/usr/bin/env python3
"""A fixed, repeatable load for counting what a server does per request (instructions
under valgrind, io_uring operations and system calls with perf's tracepoints), where a
timed wrk run would give a different request count every time.

    bench/http/fixed_load.py PORT CONNS DEPTH ROUNDS

Opens CONNS connections to 127.0.0.1:PORT; in each of ROUNDS rounds every connection
writes DEPTH requests for /plaintext at once (DEPTH 16 is wrk's pipeline.lua, 1 no
pipelining) and reads its DEPTH answers. Run it twice with different ROUNDS and divide the
difference of the counts by the difference of the requests (CONNS x DEPTH x ROUNDS): what
starting and stopping the server costs cancels out.
"""
import socket
import sys


def main():
    port, conns, depth, rounds = map(int, sys.argv[1:5])
    req = (b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port) * depth
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
    for s in socks:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(rounds):
        for s in socks:
            s.sendall(req)
        for s in socks:
            buf = b""
            while buf.count(b"Hello, World!") < depth:
                d = s.recv(65536)
                if not d:
                    sys.exit("the server closed a connection")
                buf += d
    for s in socks:
        s.close()
    print(conns * depth * rounds, "requests")


if __name__ == "__main__":
    main()
