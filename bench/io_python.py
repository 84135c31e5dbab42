#!/usr/bin/env python3
"""Python's side of curio's file-reading benchmark (bench/io_bench.c; docs/benchmarks.md).

    python3 bench/io_python.py --chunks PATH --lines PATH [--loop asyncio|uvloop]
                               [--repeat R] [--async-lines N]

Prints one JSON object per line, {"impl": ..., "metric": ..., "value": ...}, with the
metric names of curio-io-bench (MB/s of input read):
  python         a plain loop: f.read(65536) until empty; `for line in f`
  asyncio        each f.read(65536) / f.readline() through loop.run_in_executor(None, ...),
                 the default thread executor (what aiofiles does, and Curio's aopen with
                 its threads). Lines are timed over the first N lines only (default
                 50,000): at tens of microseconds a call the whole file would take minutes;
                 MB/s over a prefix compares all the same.
With --loop uvloop the asyncio runs use uvloop's event loop (impl "uvloop").
Best of R runs each (noise on a shared machine only ever adds time).
"""
import argparse
import asyncio
import json
import time

CHUNK = 65536


def emit(impl, metric, value):
    print(json.dumps({"impl": impl, "metric": metric, "value": value}), flush=True)


def best_of(repeat, fn):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def plain_chunks(path):
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            n += len(chunk)
    return n


def plain_lines(path):
    n = 0
    with open(path, "rb") as f:
        for line in f:
            n += len(line)
    return n


async def async_chunks(path):
    loop = asyncio.get_running_loop()
    n = 0
    with open(path, "rb") as f:
        while chunk := await loop.run_in_executor(None, f.read, CHUNK):
            n += len(chunk)
    return n


async def async_lines(path, limit):
    loop = asyncio.get_running_loop()
    n = 0
    with open(path, "rb") as f:
        for _ in range(limit):
            line = await loop.run_in_executor(None, f.readline)
            if not line:
                break
            n += len(line)
    return n


def main():
    p = argparse.ArgumentParser(usage=__doc__)
    p.add_argument("--chunks")
    p.add_argument("--lines")
    p.add_argument("--loop", choices=["asyncio", "uvloop"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--async-lines", type=int, default=50000)
    a = p.parse_args()

    if a.loop is None:
        if a.chunks:
            t, n = best_of(a.repeat, lambda: plain_chunks(a.chunks))
            emit("python", "chunks_mbps", n / t / 1e6)
        if a.lines:
            t, n = best_of(a.repeat, lambda: plain_lines(a.lines))
            emit("python", "lines_mbps", n / t / 1e6)
        return

    run = asyncio.run
    if a.loop == "uvloop":
        import uvloop
        run = uvloop.run if hasattr(uvloop, "run") else (
            lambda coro: (uvloop.install(), asyncio.run(coro))[1])
    if a.chunks:
        t, n = best_of(a.repeat, lambda: run(async_chunks(a.chunks)))
        emit(a.loop, "chunks_mbps", n / t / 1e6)
    if a.lines:
        t, n = best_of(a.repeat, lambda: run(async_lines(a.lines, a.async_lines)))
        emit(a.loop, "lines_mbps", n / t / 1e6)


if __name__ == "__main__":
    main()
