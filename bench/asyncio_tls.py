#!/usr/bin/env python3
"""asyncio's side of curio's TLS and Channel figures (bench/tls_bench.c; docs/benchmarks.md).

    python3 bench/asyncio_tls.py --certs DIR [--loop asyncio|uvloop] [--rounds N]
                                 [--mbytes N] [--handshakes N] [--repeat R] [--only NAME]

Prints one JSON object per line, {"impl": ..., "metric": ..., "value": ...}, with the same
metric names as curio-tls-bench: a server and a client in one event loop over loopback
TCP, with the ssl module (OpenSSL) and the same certificates:
  tls_pingpong_us       64 bytes there and back; per round trip
  tls_bulk_mb_s         N MiB one way (writes of 256 KiB, drain after each)
  tls_handshakes_per_s  connect, handshake, one byte there and back, close
  channel_pingpong_us   multiprocessing's framing (a 4-byte length, then the bytes) over
                        streams on a socketpair; a 64-byte message there and back
and "cipher", the TLS 1.3 suite the round trips used (OPENSSL_CONF chooses it: Python
3.11 cannot). Timed loops keep the best of R runs.
"""
import argparse
import asyncio
import json
import os
import socket
import ssl
import struct
import time


def emit(impl, metric, value):
    print(json.dumps({"impl": impl, "metric": metric, "value": value}), flush=True)


def contexts(certs):
    # Python 3.11 cannot choose TLS 1.3 suites: bench/run-tls does, through OPENSSL_CONF.
    srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
    cli = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    return srv, cli


async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def serve(handler, srv_ctx):
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=srv_ctx)
    return server, server.sockets[0].getsockname()[1]


async def pingpong(a, srv, cli):
    server, port = await serve(echo, srv)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=cli,
                                                   server_hostname="localhost")
    emit(a.loop, "cipher", writer.get_extra_info("ssl_object").cipher()[0])
    msg = bytes(64)
    best = 1e30
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        for _ in range(a.rounds):
            writer.write(msg)
            await writer.drain()
            await reader.readexactly(64)
        best = min(best, (time.perf_counter() - t0) * 1e6 / a.rounds)
    writer.close()
    server.close()
    return best


async def bulk(a, srv, cli):
    total = [0]
    done = asyncio.Event()

    async def sink(reader, writer):
        while True:
            data = await reader.read(65536)
            if not data:
                break
            total[0] += len(data)
        done.set()
        writer.close()

    server, port = await serve(sink, srv)
    chunk = bytes(256 * 1024)
    want = a.mbytes << 20
    best = 0
    for _ in range(a.repeat):
        total[0] = 0
        done.clear()
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=cli,
                                                       server_hostname="localhost")
        t0 = time.perf_counter()
        sent = 0
        while sent < want:
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
        writer.write_eof() if writer.can_write_eof() else None
        writer.close()
        await done.wait()
        best = max(best, want / 1e6 / (time.perf_counter() - t0))
    server.close()
    return best


async def handshakes(a, srv, cli):
    server, port = await serve(echo, srv)
    best = 0
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        for _ in range(a.handshakes):
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=cli,
                                                           server_hostname="localhost")
            writer.write(b"x")
            await writer.drain()
            await reader.readexactly(1)
            writer.close()
        best = max(best, a.handshakes / (time.perf_counter() - t0))
    server.close()
    return best


async def channel(a):
    s1, s2 = socket.socketpair()
    r1, w1 = await asyncio.open_connection(sock=s1)
    r2, w2 = await asyncio.open_connection(sock=s2)

    async def send(w, m):
        w.write(struct.pack("!i", len(m)) + m)
        await w.drain()

    async def recv(r):
        n, = struct.unpack("!i", await r.readexactly(4))
        return await r.readexactly(n)

    async def echoer():
        try:
            while True:
                await send(w2, await recv(r2))
        except asyncio.IncompleteReadError:
            pass

    t = asyncio.create_task(echoer())
    msg = bytes(64)
    best = 1e30
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        for _ in range(a.rounds):
            await send(w1, msg)
            await recv(r1)
        best = min(best, (time.perf_counter() - t0) * 1e6 / a.rounds)
    w1.close()
    await t
    w2.close()
    return best


async def main(a, impl):
    srv, cli = contexts(a.certs)
    if a.only in (None, "pingpong"):
        emit(impl, "tls_pingpong_us", await pingpong(a, srv, cli))
    if a.only in (None, "bulk"):
        emit(impl, "tls_bulk_mb_s", await bulk(a, srv, cli))
    if a.only in (None, "handshake"):
        emit(impl, "tls_handshakes_per_s", await handshakes(a, srv, cli))
    if a.only in (None, "channel"):
        emit(impl, "channel_pingpong_us", await channel(a))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--certs", required=True)
    p.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    p.add_argument("--rounds", type=int, default=20000)
    p.add_argument("--mbytes", type=int, default=256)
    p.add_argument("--handshakes", type=int, default=500)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only")
    a = p.parse_args()
    if a.loop == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main(a, a.loop))
