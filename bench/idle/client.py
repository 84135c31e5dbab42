#!/usr/bin/env python3
"""The client side of the idle-connection comparison (bench/idle/run).

    client.py --port P [--conns N] [--size B] [--fill C] [--sources K]

Opens N TCP connections to 127.0.0.1:P, one after the other, each from one of K loopback
source addresses (127.0.0.2 ... 127.0.0.K+1, ports picked by the kernel at connect time,
IP_BIND_ADDRESS_NO_PORT), sends B bytes (the character C, default 'i') on each and reads the B bytes of the echo back, so
that the server's handler for it has gone round its loop once and is parked in its next
read. Then prints "READY N" on stdout and holds every connection open until its standard
input reaches end of file, and closes them all. Exits 1 with a message on any failure.
"""
import argparse
import resource
import socket
import sys
import time

IP_BIND_ADDRESS_NO_PORT = 24


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--fill", default="i")
    ap.add_argument("--sources", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=10.0, help="per operation")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < args.conns + 64:
        sys.exit(f"client: RLIMIT_NOFILE hard limit {hard} < {args.conns} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    msg = args.fill.encode()[:1] * args.size
    conns = []
    t0 = time.monotonic()
    for i in range(args.conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(args.timeout)
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((f"127.0.0.{2 + i % args.sources}", 0))
        try:
            s.connect(("127.0.0.1", args.port))
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                chunk = s.recv(len(msg) - len(got))
                if not chunk:
                    raise ConnectionError("closed by the server")
                got += chunk
        except OSError as e:
            sys.exit(f"client: connection {i}: {e}")
        if got != msg:
            sys.exit(f"client: connection {i}: wrong echo {got!r}")
        conns.append(s)
    print(f"READY {len(conns)} {time.monotonic() - t0:.2f}", flush=True)
    while sys.stdin.buffer.read(4096):
        pass
    for s in conns:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
