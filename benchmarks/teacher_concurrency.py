"""Teacher-client throughput: concurrent calls vs one call at a time, against a local server with a fixed
latency per call.

Ours: ``tasks.teacher.client.TeacherClient`` (async ``openai`` client, AIMD limiter pinned at the
concurrency under test, the DuckDB ``llm_calls`` memo group-committed on the event loop's thread, cost
ledger), N distinct calls gathered at concurrency 32 and 64. Baseline: the same client and server, calls
awaited one after another (what a synchronous loop over the items does). Reference: the bare
``openai.AsyncOpenAI`` client under a semaphore at concurrency 64 (no memo, limiter or ledger), to show
what our layer costs. The server is ``tests/fakes/latency_server.py``: an OpenAI-compatible endpoint on
one asyncio loop whose only cost is ``asyncio.sleep(latency)`` per call, in its own process so it does not share the
client's GIL. (The thread-per-connection scripted server used by the behaviour tests queues 64 keep-alive
connections on its own GIL and caps even the bare ``openai`` client near 250 calls/s: it measured the fake.
``--server scripted`` still runs against it.)

Also printed: the client's CPU time per call (user + system); the event loop is one thread, so
1000 / (CPU ms per call) is the most calls per second this machine can drive, whatever the concurrency.

Requirement (issue 6): throughput at concurrency c ≥ 0.9 × c / latency.
Throughput is sustained throughput: ``rounds × c`` calls (40 × c by default), so the ramp-up at the start
and the drain at the end (about one latency each, whatever the client) weigh 1/40 of the run, not 1/8.

Usage: python -m benchmarks.teacher_concurrency [--latency 0.2] [--rounds 40]   (from the repo root)
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from benchmarks._common import emit
from schemas.teacher import ConcurrencyConfig, TeacherConfig
from tasks.teacher.client import TeacherClient
from warehouse.db import connect
from warehouse.llm_calls import WarehouseMemo


def config(concurrency: int) -> TeacherConfig:
    return TeacherConfig(model="bench-model", temperature=0.0, max_tokens=16, timeout_s=30, max_retries=2,
                         concurrency=ConcurrencyConfig(initial=concurrency, max=concurrency))


def cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


async def ours(base_url: str, db: Path, concurrency: int, calls: int, tag: str) -> tuple[float, float]:
    """``(calls per second, client CPU ms per call)`` for ``calls`` distinct requests at ``concurrency``."""
    with connect(db) as con:
        async with TeacherClient(base_url, None, config(concurrency), memo=WarehouseMemo(con)) as client:
            async def one(i: int) -> None:
                await client.chat([{"role": "user", "content": f"{tag} {i}"}], purpose="bench")

            await asyncio.gather(*(one(-i - 1) for i in range(concurrency)))       # open the connections
            t0, c0 = time.perf_counter(), cpu_s()
            if concurrency == 1:
                for i in range(calls):
                    await one(i)
            else:
                await asyncio.gather(*(one(i) for i in range(calls)))
            elapsed, cpu = time.perf_counter() - t0, cpu_s() - c0
            if client.stats.memo_hits or client.stats.failed or client.stats.retries:
                sys.exit(f"benchmark run was not clean: {client.stats}")
    return calls / elapsed, cpu / calls * 1000


async def bare_openai(base_url: str, concurrency: int, calls: int) -> tuple[float, float]:
    """The same traffic through ``openai.AsyncOpenAI`` alone."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0, timeout=30)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        body: dict[str, Any] = {"model": "bench-model", "messages": [{"role": "user", "content": f"raw {i}"}],
                                "temperature": 0.0, "max_tokens": 16, "seed": 42}
        async with gate:
            await client.post("/chat/completions", body=body, cast_to=ChatCompletion)

    await asyncio.gather(*(one(-i - 1) for i in range(concurrency)))
    t0, c0 = time.perf_counter(), cpu_s()
    await asyncio.gather(*(one(i) for i in range(calls)))
    elapsed, cpu = time.perf_counter() - t0, cpu_s() - c0
    await client.close()
    return calls / elapsed, cpu / calls * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2, help="server latency per call, seconds")
    ap.add_argument("--rounds", type=int, default=40, help="calls per concurrency level = rounds x concurrency "
                    "(steady state: ramp-up and drain cost about one latency each, 1/rounds of the run)")
    ap.add_argument("--server", choices=("latency", "scripted"), default="latency",
                    help="latency: asyncio server (default); scripted: the threaded behaviour-test server")
    args = ap.parse_args()
    module = "tests.fakes.latency_server" if args.server == "latency" else "tests.fakes.openai_server"
    server = subprocess.Popen([sys.executable, "-m", module, "--latency", str(args.latency)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if server.stdout is None or server.stdin is None:
        sys.exit("could not start the scripted server")
    base_url = server.stdout.readline().strip()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.duckdb"
            seq, _ = asyncio.run(ours(base_url, db, 1, 20, "seq"))
            results = {c: asyncio.run(ours(base_url, db, c, args.rounds * c, f"c{c}")) for c in (32, 64)}
        raw, raw_cpu = asyncio.run(bare_openai(base_url, 64, args.rounds * 64))
    finally:
        server.stdin.close()
        served = server.stdout.read().strip()
        server.wait(10)
    print(f"server ({args.server}): {served or 'stopped'}")
    print(f"server latency {args.latency * 1000:.0f} ms per call; requirement: >= 0.9 x concurrency / latency")
    print(f"baseline (one call at a time): {seq:.2f} calls/s (ideal {1 / args.latency:.2f})")
    meets = {}
    for c, (rate, cpu) in results.items():
        need = 0.9 * c / args.latency
        meets[c] = rate >= need
        print(f"concurrency {c}: {rate:.1f} calls/s = {rate * args.latency / c:.1%} of ideal {c / args.latency:.0f}; "
              f"required {need:.1f} -> {'met' if meets[c] else 'NOT met'}; client CPU {cpu:.2f} ms/call "
              f"(CPU-bound ceiling {1000 / cpu:.0f} calls/s)")
    print(f"reference, bare openai.AsyncOpenAI at 64: {raw:.1f} calls/s, client CPU {raw_cpu:.2f} ms/call")
    emit("teacher_concurrency_calls_per_s", "calls/s", results[64][0], seq, 0.9 * 64, latency_s=args.latency,
         calls_per_s_c32=round(results[32][0], 2), calls_per_s_c64=round(results[64][0], 2),
         required_c32=round(0.9 * 32 / args.latency, 1), required_c64=round(0.9 * 64 / args.latency, 1),
         meets_requirement=all(meets.values()), cpu_ms_per_call_c64=round(results[64][1], 2),
         bare_openai_c64=round(raw, 2), bare_openai_cpu_ms_per_call=round(raw_cpu, 2), server=args.server)


if __name__ == "__main__":
    main()
