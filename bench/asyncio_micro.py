#!/usr/bin/env python3
"""asyncio's side of curio's kernel micro-benchmarks (bench/micro.c; docs/benchmarks.md).

    python3 bench/asyncio_micro.py [--loop asyncio|uvloop] [--switches N] [--spawns N]
                                   [--tasks N] [--sleepers N] [--repeat R]

Prints one JSON object per line, {"impl": ..., "metric": ..., "value": ...}, with the same
metric names as curio-micro, for bench/run-micro to put side by side:
  switch_ns        asyncio.sleep(0) ping-pong between two tasks, per sleep(0)
  spawn_join_ns    create_task + await of an empty coroutine
  sleep1_*         N tasks each in asyncio.sleep(1) at once: wall time, peak RSS per task
  deadline_*       N sleeps with distinct absolute deadlines, spawned in shuffled order

Every benchmark runs in a fresh interpreter (this script re-runs itself with --one), so
ru_maxrss, a high-water mark that never falls, measures that benchmark alone.
"""
import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import time

# The same schedule as bench/micro.c: the first deadline max(1 s, 20 us per task) after
# the start (time for every task to start sleeping first), then 2 us apart.
DEADLINE_STEP = 2e-6


def deadline_base(n):
    return max(1.0, n * 20e-6)


def emit(impl, metric, value):
    print(json.dumps({"impl": impl, "metric": metric, "value": value}), flush=True)


def maxrss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


async def pingpong(args, out):
    async def yielder(n):
        for _ in range(n):
            await asyncio.sleep(0)

    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        a = asyncio.create_task(yielder(args.switches))
        b = asyncio.create_task(yielder(args.switches))
        await a
        await b
        best = min(best, (time.perf_counter() - t0) * 1e9 / (2 * args.switches))
    out("switch_ns", best)


async def spawn(args, out):
    async def empty():
        return None

    async def spawn_join(n):
        for _ in range(n):
            await asyncio.create_task(empty())

    await spawn_join(10000)  # warm up, as the C side warms its stack pool
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        await spawn_join(args.spawns)
        best = min(best, (time.perf_counter() - t0) * 1e9 / args.spawns)
    out("spawn_join_ns", best)


async def sleep1(args, out):
    n = args.tasks
    rss0 = maxrss_kib()
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(asyncio.sleep(1)) for _ in range(n)]
    await asyncio.sleep(0)  # every task has now run up to its sleep (FIFO ready queue)
    asleep = time.perf_counter() - t0
    for t in tasks:
        await t
    wall = time.perf_counter() - t0
    out("sleep1_wall_s", wall)
    out("sleep1_asleep_s", asleep)
    out("sleep1_rss_per_task_kib", (maxrss_kib() - rss0) / n)


def inversions(a):
    """Pairs out of order, by merge sort (O(n log n))."""
    if len(a) < 2:
        return 0, a
    h = len(a) // 2
    il, left = inversions(a[:h])
    ir, right = inversions(a[h:])
    inv, merged, i, j = il + ir, [], 0, 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            merged.append(left[i])
            i += 1
        else:
            inv += len(left) - i
            merged.append(right[j])
            j += 1
    merged += left[i:] + right[j:]
    return inv, merged


async def deadline(args, out):
    n = args.sleepers
    loop = asyncio.get_running_loop()
    order, late = [], []
    last_wake = 0.0
    late_starts = 0
    t0 = loop.time()
    base = deadline_base(n)

    async def sleeper(rank):
        # asyncio.sleep() itself is a future resolved by call_at(loop.time() + delay);
        # calling call_at with the absolute deadline avoids adding the jitter between our
        # clock reading and sleep()'s (see bench/micro.c, dl_sleeper).
        nonlocal late_starts, last_wake
        when = t0 + base + rank * DEADLINE_STEP
        if when <= loop.time():
            late_starts += 1
        fut = loop.create_future()
        loop.call_at(when, fut.set_result, None)
        await fut
        last_wake = time.monotonic()
        late.append(last_wake - when)
        order.append(rank)

    ranks = list(range(n))
    random.Random(1).shuffle(ranks)  # wake order must be the timer's doing, not FIFO's
    wall0 = time.perf_counter()
    tasks = [asyncio.create_task(sleeper(r)) for r in ranks]
    await asyncio.sleep(0)
    asleep = time.perf_counter() - wall0
    for t in tasks:
        await t
    out("deadline_wall_s", time.perf_counter() - wall0)
    out("deadline_asleep_s", asleep)
    out("deadline_inversions", inversions(order)[0])
    out("deadline_last_late_ms", (last_wake - (t0 + base + (n - 1) * DEADLINE_STEP)) * 1e3)
    out("deadline_mean_late_us", sum(late) / n * 1e6)
    out("deadline_late_starts", late_starts)


BENCHES = {"pingpong": pingpong, "spawn": spawn, "sleep1": sleep1, "deadline": deadline}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    p.add_argument("--switches", type=int, default=100000, help="sleep(0)s per task")
    p.add_argument("--spawns", type=int, default=100000)
    p.add_argument("--tasks", type=int, default=1000000)
    p.add_argument("--sleepers", type=int, default=100000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--one", choices=sorted(BENCHES), help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.one is None:  # the parent: one fresh interpreter per benchmark
        failed = 0
        for name in BENCHES:
            rc = subprocess.run([sys.executable, __file__, "--one", name] + sys.argv[1:]).returncode
            failed |= rc != 0
        sys.exit(failed)

    if args.loop == "uvloop":
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(BENCHES[args.one](args, lambda metric, value: emit(args.loop, metric, value)))


if __name__ == "__main__":
    main()
