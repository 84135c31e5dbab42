#!/usr/bin/env python3
"""asyncio's side of curio's proc micro-benchmarks (bench/proc_micro.c; docs/benchmarks.md).

    python3 bench/asyncio_proc.py [--loop asyncio|uvloop] [--spawns N] [--parallel P]
                                  [--calls N] [--repeat R]

Prints one JSON object per line, {"impl": ..., "metric": ..., "value": ...}, with the same
metric names as curio-proc-micro, for bench/run-proc to put side by side:
  spawn_wait_us       asyncio.create_subprocess_exec('/bin/true') and wait; per process
  spawn_wait_par_us   the same with P coroutines at a time; per process
  communicate_us      cat with 256 KiB in and out through communicate(); per call
  run_in_process_us   loop.run_in_executor on a warm ProcessPoolExecutor of one worker
                      (fork), of a function that returns at once; per call
Timed loops keep the best of R runs.
"""
import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import time

PAYLOAD = 256 * 1024


def emit(impl, metric, value):
    print(json.dumps({"impl": impl, "metric": metric, "value": value}), flush=True)


def nothing():
    return 1


async def spawn_wait(n):
    for _ in range(n):
        p = await asyncio.create_subprocess_exec("/bin/true")
        if await p.wait() != 0:
            raise RuntimeError("/bin/true failed")


async def spawns(total, tasks):
    t0 = time.perf_counter()
    await asyncio.gather(*(spawn_wait(total // tasks) for _ in range(tasks)))
    return (time.perf_counter() - t0) * 1e6 / (total // tasks * tasks)


async def communicates(n):
    data = b"x" * PAYLOAD
    t0 = time.perf_counter()
    for _ in range(n):
        p = await asyncio.create_subprocess_exec("cat", stdin=asyncio.subprocess.PIPE,
                                                 stdout=asyncio.subprocess.PIPE)
        out, _ = await p.communicate(data)
        if len(out) != PAYLOAD or p.returncode != 0:
            raise RuntimeError("cat failed")
    return (time.perf_counter() - t0) * 1e6 / n


async def calls(pool, n):
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    for _ in range(n):
        if await loop.run_in_executor(pool, nothing) != 1:
            raise RuntimeError("bad result")
    return (time.perf_counter() - t0) * 1e6 / n


async def main(a, impl):
    for metric, bench in (("spawn_wait_us", lambda: spawns(a.spawns, 1)),
                          ("spawn_wait_par_us", lambda: spawns(a.spawns, a.parallel)),
                          ("communicate_us", lambda: communicates(max(1, a.spawns // 5)))):
        emit(impl, metric, min([await bench() for _ in range(a.repeat)]))
    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        await asyncio.get_running_loop().run_in_executor(pool, nothing)  # the fork, untimed
        emit(impl, "run_in_process_us", min([await calls(pool, a.calls) for _ in range(a.repeat)]))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    p.add_argument("--spawns", type=int, default=500)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    if a.loop == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main(a, a.loop))
