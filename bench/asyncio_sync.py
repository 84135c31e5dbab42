#!/usr/bin/env python3
"""asyncio's side of curio's sync micro-benchmarks (bench/sync_micro.c; docs/benchmarks.md).

    python3 bench/asyncio_sync.py [--loop asyncio|uvloop] [--rounds N] [--repeat R]

Prints one JSON object per line, {"impl": ..., "metric": ..., "value": ...}, with the same
metric names as curio-sync-micro, for bench/run-sync to put side by side:
  queue_pingpong_ns   two tasks, two asyncio.Queue: put on one, get from the other; per
                      round trip
  event_roundtrip_ns  two tasks, two asyncio.Event: set one, wait for the other, clear
                      it; per round trip
Timed loops keep the best of R runs.
"""
import argparse
import asyncio
import json
import time


def emit(impl, metric, value):
    print(json.dumps({"impl": impl, "metric": metric, "value": value}), flush=True)


async def queue_pingpong(n):
    ab, ba = asyncio.Queue(), asyncio.Queue()

    async def pinger():
        for i in range(n):
            await ab.put(i)
            await ba.get()

    async def ponger():
        for _ in range(n):
            item = await ab.get()
            await ba.put(item)

    t0 = time.perf_counter()
    a = asyncio.create_task(pinger())
    b = asyncio.create_task(ponger())
    await a
    await b
    return (time.perf_counter() - t0) * 1e9 / n


async def event_roundtrip(n):
    ab, ba = asyncio.Event(), asyncio.Event()

    async def setter():
        for _ in range(n):
            ab.set()
            await ba.wait()
            ba.clear()

    async def waiter():
        for _ in range(n):
            await ab.wait()
            ab.clear()
            ba.set()

    t0 = time.perf_counter()
    a = asyncio.create_task(setter())
    b = asyncio.create_task(waiter())
    await a
    await b
    return (time.perf_counter() - t0) * 1e9 / n


async def main(args, impl):
    for metric, bench in (("queue_pingpong_ns", queue_pingpong),
                          ("event_roundtrip_ns", event_roundtrip)):
        best = float("inf")
        for _ in range(args.repeat):
            best = min(best, await bench(args.rounds))
        emit(impl, metric, best)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    p.add_argument("--rounds", type=int, default=100000)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    if a.loop == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main(a, a.loop))
