"""Dynamic batching against plain serving, in one run.

    PYTHONPATH=src python bench/batching.py [--clients 16] [--seconds 10]
        [--batch-size 16] [--timeout-ms 10] [--json F]

A model costing 20 ms + 0.1 ms per doc per call (bench/_model_executor.py), one replica, on
127.0.0.1. `--clients` AsyncClients in this process each post 1-doc requests one after the
other for `--seconds`; measured once plain (`Model`) and once with dynamic batching
(`BatchedModel`, ``uses_dynamic_batching: {/default: {preferred_batch_size, timeout}}``), and
once more each with a single client (what batching adds to a lone client's latency).
Targets: batching >= 5x plain throughput with p99 <= 250 ms; one client's p50 grows by at
most the batching timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _machine import arm_watchdog, machine
from _model_executor import BatchedModel, Model

from flowserve import AsyncClient, Document, Flow


async def load(url: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def one(i: int) -> None:
        async with AsyncClient(host=url) as client:
            await client.post("/", Document(text="warm-up"))
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                await client.post("/", Document(text=f"client {i}"))
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"requests": len(ordered), "req_s": len(ordered) / elapsed,
            "p50_ms": 1e3 * statistics.median(ordered),
            "p99_ms": 1e3 * ordered[int(0.99 * (len(ordered) - 1))]}


def measure(batched: bool, args: argparse.Namespace) -> dict[str, Any]:
    flow = Flow(host="127.0.0.1")
    if batched:
        flow = flow.add(name="model", uses=BatchedModel, uses_dynamic_batching={
            "/default": {"preferred_batch_size": args.batch_size, "timeout": args.timeout_ms}})
    else:
        flow = flow.add(name="model", uses=Model)
    with flow:
        url = flow.addresses.gateway_url("grpc")
        many = asyncio.run(load(url, args.clients, args.seconds))
        one = asyncio.run(load(url, 1, args.seconds / 2))
    return {"clients": many, "one_client": one}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--timeout-ms", type=float, default=10.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    arm_watchdog(20 * args.seconds + 120, "bench/batching.py overran its time")
    results = {"plain": measure(False, args), "batched": measure(True, args)}
    for name, r in results.items():
        for what, m in r.items():
            print(f"{name:8} {what:10} {m['req_s']:7.1f} req/s  p50 {m['p50_ms']:6.1f} ms  "
                  f"p99 {m['p99_ms']:6.1f} ms  ({m['requests']} requests)")
    speedup = results["batched"]["clients"]["req_s"] / results["plain"]["clients"]["req_s"]
    added = results["batched"]["one_client"]["p50_ms"] - results["plain"]["one_client"]["p50_ms"]
    print(f"{args.clients} clients: batching / plain throughput {speedup:.1f}x (target >= 5x), "
          f"batched p99 {results['batched']['clients']['p99_ms']:.0f} ms (target <= 250); "
          f"one client: +{added:.1f} ms p50 (bound: {args.timeout_ms:g} ms)")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "args": vars(args) | {
            "json": str(args.json)}, "results": results, "speedup": speedup}, indent=2))


if __name__ == "__main__":
    main()
