#!/usr/bin/env python3
"""asyncio's echo server in N processes behind SO_REUSEPORT (bench/cores/run's peer).

    asyncio_reuseport.py [--port N] [--procs P] [--work-us W]

The parent binds a port (0: a free one) with SO_REUSEPORT to learn it, starts P worker
processes that each listen on it with reuse_port=True and serve with asyncio.Protocol
(echo; W microseconds of CPU per message first), prints "READY <port>" once all listen
(bench/echo's server contract), and kills them at the end of its stdin.
"""
import argparse
import asyncio
import os
import signal
import socket
import sys
import time


def burn(us):
    end = time.thread_time_ns() + us * 1000
    while time.thread_time_ns() < end:
        pass


class Echo(asyncio.Protocol):
    work = 0

    def connection_made(self, transport):
        self.t = transport
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        if Echo.work:
            burn(Echo.work)
        self.t.write(data)


def worker(port, ready_w):
    async def main():
        loop = asyncio.get_running_loop()
        srv = await loop.create_server(Echo, "127.0.0.1", port, reuse_port=True,
                                       backlog=4096)
        os.write(ready_w, b"x")
        await srv.serve_forever()
    asyncio.run(main())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--work-us", type=int, default=0)
    a = ap.parse_args()
    Echo.work = a.work_us
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    probe.bind(("127.0.0.1", a.port))
    port = probe.getsockname()[1]
    r, w = os.pipe()
    kids = []
    for _ in range(a.procs):
        pid = os.fork()
        if pid == 0:
            probe.close()
            worker(port, w)
            os._exit(0)
        kids.append(pid)
    probe.close()
    for _ in range(a.procs):
        os.read(r, 1)
    print("READY %d" % port, flush=True)
    sys.stdin.read()
    for pid in kids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
