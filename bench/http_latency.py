"""Sequential 1-doc posts over HTTP and over gRPC to the same Flow, in one run.

    PYTHONPATH=src python bench/http_latency.py [--requests 1000] [--rounds 3] [--json F]

One Flow serving both protocols (``Flow(protocol=['grpc', 'http'])`` with bench/overhead.py's
no-op executor); the client is in this process. Each round times ``--requests`` sequential
posts of one document through flowserve's ``Client`` over gRPC, then over HTTP, then as raw
keep-alive ``httpx`` posts to ``/post``; rounds alternate so background load hits every side.
Besides latency it prints the CPU time per request of this process (the client), the gateway
and the executor (`_machine.CpuMeter`): on a busy machine, the steadier measure of where the
difference sits. Target: HTTP p50 <= 1.5x gRPC p50.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _machine import CpuMeter, arm_watchdog, machine
from _noop_executor import NoopExecutor

from flowserve import Client, Document, Flow


def timed(call: Callable[[], None], n: int, meter: CpuMeter, cpu: dict[str, float],
          warmup: int = 20) -> list[float]:
    """`n` timed calls; adds the CPU seconds each process used meanwhile to `cpu`."""
    for _ in range(warmup):
        call()
    times = []
    meter.start()
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    for role, seconds in meter.stop().items():
        if role != "other":
            cpu[role] = cpu.get(role, 0.0) + seconds
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"n": len(times), "p50_ms": 1e3 * statistics.median(ordered),
            "p99_ms": 1e3 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "req_s": len(times) / sum(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    arm_watchdog(600, "bench/http_latency.py took over 10 minutes")
    pooled: dict[str, list[float]] = {"grpc Client": [], "http Client": [], "http httpx": []}
    cpu: dict[str, dict[str, float]] = {name: {} for name in pooled}
    doc = Document(text="x")
    with Flow(host="127.0.0.1", protocol=["grpc", "http"]).add(uses=NoopExecutor) as flow:
        grpc_url, http_url = flow.addresses.gateway_url("grpc"), flow.addresses.gateway_url("http")
        pids = {c.role: c.pid for c in flow._runtime.children}  # private: a benchmark's view
        meter = CpuMeter({"client": os.getpid(), "gateway": pids["gateway"],
                          "executor": pids["executor"]})
        with Client(host=grpc_url) as g, Client(host=http_url) as h, httpx.Client() as raw:
            calls = {"grpc Client": lambda: g.post("/", doc),
                     "http Client": lambda: h.post("/", doc),
                     "http httpx": lambda: raw.post(f"{http_url}/post",
                                                    json={"data": [{"text": "x"}]})}
            for _ in range(args.rounds):
                for name, call in calls.items():
                    pooled[name] += timed(call, args.requests, meter, cpu[name])
    results = {name: {**summary(times), **{f"{role}_cpu_us": 1e6 * seconds / len(times)
                                           for role, seconds in cpu[name].items()}}
               for name, times in pooled.items()}
    ratio = results["http Client"]["p50_ms"] / results["grpc Client"]["p50_ms"]
    for name, r in results.items():
        print(f"{name:12} {r['req_s']:7.0f} req/s  p50 {r['p50_ms']:.3f} ms  "
              f"p99 {r['p99_ms']:.3f} ms  CPU us/request: client {r['client_cpu_us']:.0f} "
              f"gateway {r['gateway_cpu_us']:.0f} executor {r['executor_cpu_us']:.0f}")
    print(f"HTTP Client p50 / gRPC Client p50: {ratio:.2f} (target <= 1.5)")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results,
                                         "http_over_grpc_p50": ratio}, indent=2))


if __name__ == "__main__":
    main()
