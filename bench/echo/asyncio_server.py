#!/usr/bin/env python3
"""Python echo servers for the echo comparison (bench/echo/run).

    /usr/bin/python3 bench/echo/asyncio_server.py --mode streams|protocol [--uvloop] [--port N]

  streams   asyncio.start_server; per connection: data = await reader.read(65536),
            writer.write(data), await writer.drain(), until end of stream
  protocol  loop.create_server with an asyncio.Protocol whose data_received() calls
            transport.write(data)
  --uvloop  the same on uvloop's event loop (Debian's python3-uvloop lives under
            /usr/bin/python3)

  --default-malloc  leave glibc's malloc as it is (see below)

Both loops' transports read with sock.recv(256 KiB). With glibc's default mmap threshold
(128 KiB) that allocates every read's bytes object with mmap, faults its first page in,
then shrinks it with mremap, and unmaps it when freed: about a third of asyncio's cost
per message here. glibc raises the threshold by itself only when a large mmapped block is
freed whole, which depends on the process's history. So that the figures measure asyncio
and not that accident, the server sets M_MMAP_THRESHOLD to 1 MiB with mallopt() before
it starts, unless --default-malloc is given (uvloop reads into its own buffer and is not
affected).

Follows the server contract in server_common.h: binds 127.0.0.1:N (0 = any free port)
with a backlog of 4096, raises RLIMIT_NOFILE to its hard limit, prints "READY <port>"
once listening, and exits when its standard input reaches end of file. Both event loops
set TCP_NODELAY on TCP connections themselves.
"""
import argparse
import asyncio
import os
import resource
import stat
import sys


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        return False  # close our side as well


async def echo_stream(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def serve(mode, port):
    loop = asyncio.get_running_loop()
    if mode == "streams":
        server = await asyncio.start_server(echo_stream, "127.0.0.1", port, backlog=4096)
    else:
        server = await loop.create_server(EchoProtocol, "127.0.0.1", port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]

    done = loop.create_future()
    st = os.fstat(0)
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        def on_stdin():
            try:
                chunk = os.read(0, 4096)
            except InterruptedError:
                return
            if not chunk and not done.done():
                done.set_result(None)  # the runner closed our stdin
        loop.add_reader(0, on_stdin)

    print(f"READY {bound}", flush=True)
    async with server:
        await done


def tame_malloc():
    """mallopt(M_MMAP_THRESHOLD, 1 MiB): 256 KiB recv buffers come from the heap."""
    import ctypes
    M_MMAP_THRESHOLD = -3
    try:
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):
        pass  # not glibc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("streams", "protocol"), required=True)
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--default-malloc", action="store_true")
    args = ap.parse_args()
    if not args.default_malloc:
        tame_malloc()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(serve(args.mode, args.port))


if __name__ == "__main__":
    sys.exit(main())
