"""Flooding and fairness: can one client (or three) starve another?

    PYTHONPATH=src python bench/flooding.py            # full scale, ~7-8 min
    PYTHONPATH=src python bench/flooding.py --quick                     # scaled down, under 1 min
    PYTHONPATH=src python bench/flooding.py --scenarios flood1,memory --json /tmp/flood.json

Scenarios (``--scenarios``, default all three), each on its own local Flow with DEFAULT
settings (no prefetch, no queue settings; only ``host='127.0.0.1'``):

flood1   The demo Flow flooded. ``slow_executor`` (the demo's HeavyExecutorLinkerdDemo, n_dim -1,
         sleep 1 s) x 2 replicas, then ``bulky_executor`` (n_dim 512, sleep 0). Client 1
         streams 200 requests of 100 text-only docs (a generator; default prefetch); client 2,
         on its own ``Client`` (own connection), posts 100 docs (one request) 5 s after client 1
         started. Reports client 2's latency (and where it was spent, from the response's
         routes), client 1's throughput vs the executor capacity (replicas / sleep = 2 req/s),
         and whether every request was answered with 512-dim embeddings.
flood3   The same Flow with three flooders, each a client-1 stream on its own Client/thread,
         and the light client 5 s after they start.
memory   Gateway RSS (/proc/<pid>/status VmRSS), sampled every 0.5 s while one client streams
         100,000 docs (a generator, request_size 100) through a Flow with the bulky executor
         only (``--memory-executor noop`` for a no-op one); also this (the client's) process's
         RSS and the executor's.

After the light client, ``--probes`` more light clients (each a new Client) are sent at spread,
jittered times while the flooders still have a backlog, to sample the latency at other phases
of the executors' 1 s cycle; they are reported apart from the single light client and
they take capacity from the flooders (which the throughput figures include).

Targets: light client <= 2.0 s with defaults (with --quick: 2 x the scaled service
time); flooder throughput >= 95% of the executor capacity; gateway memory within +50 MiB (peak
minus the idle RSS before the stream). Jina 3.34's figures for the flood1 scenario are printed
as a reference, quoted from a run on this machine type (not measured here).

Bounds: every input generator stops at its count or at ``--max-seconds`` per scenario, flooder
threads are joined with a timeout, the light clients use a post timeout, and a SIGALRM watchdog
bounds the whole run; all processes are started by ``with flow:`` (stopped on exit, errors and
the watchdog included) and listen on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEMO_DIR = ROOT / "examples" / "linkerd-demo"
for _p in (HERE, DEMO_DIR):  # children inherit sys.path (PYTHONPATH) and import from here
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from _machine import CpuMeter, Watchdog, arm_watchdog, machine, rss_bytes
from _noop_executor import NoopExecutor
from executor import HeavyExecutorLinkerdDemo  # examples/linkerd-demo/executor.py

from flowserve import Client, Document, DocumentArray, Flow

HOST = "127.0.0.1"
MIB = 1024 * 1024
JINA_QUOTED = [  # measured with Jina 3.34 on this machine type, not by this script
    ("Jina 3.34, default prefetch (1000)", "no answer within 90 s"),
    ("Jina 3.34, prefetch=5", "2.06 s"),
]
console = Console(width=130)


# -- measuring ---------------------------------------------------------------------------------


class RssSampler:
    """Samples VmRSS of named processes every `period` seconds on a thread."""

    def __init__(self, pids: Mapping[str, int | str], period: float = 0.5,
                 progress: Any = None) -> None:
        self.pids, self.period, self.progress = pids, period, progress
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            row: dict[str, Any] = {"t": round(time.monotonic() - self._t0, 2)}
            for name, pid in self.pids.items():
                row[name] = rss_bytes(pid)
            if self.progress is not None:
                row["docs"] = self.progress()
            self.samples.append(row)
            if self._stop.wait(self.period):
                return

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# -- clients -----------------------------------------------------------------------------------


@dataclass
class FloodResult:
    name: str
    expected: int  # requests
    request_size: int
    answered: int = 0
    errors: int = 0
    docs: int = 0
    bad_embeddings: int = 0
    sent_docs: int = 0
    truncated: bool = False
    started: float = 0.0
    finished: float | None = None
    stamps: list[float] = field(default_factory=list)  # monotonic time of each answer
    error: str | None = None
    error_samples: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return (self.error is None and not self.truncated and self.errors == 0
                and self.answered == self.expected and self.bad_embeddings == 0
                and self.docs == self.expected * self.request_size)


def flood(url: str, result: FloodResult, dim: int, deadline: float, start: threading.Event,
          stop: threading.Event) -> None:
    """One flooder: a Client of its own streaming a generator of text-only docs."""

    def inputs() -> Iterator[Document]:  # bounded in count and time
        for i in range(result.expected * result.request_size):
            if stop.is_set() or time.monotonic() > deadline:
                result.truncated = True
                return
            result.sent_docs += 1
            yield Document(text=f"{result.name} text {i}")

    def done(response: Any) -> None:
        result.stamps.append(time.monotonic())
        result.answered += 1
        docs = response.docs
        result.docs += len(docs)
        emb = docs.embeddings
        if emb is None or emb.shape != (len(docs), dim):
            result.bad_embeddings += 1

    def failed(response: Any) -> None:
        result.stamps.append(time.monotonic())
        result.errors += 1
        if len(result.error_samples) < 3:
            result.error_samples.append(str(response.status.description)[:200])

    try:
        with Client(host=url) as client:
            start.wait(60)
            result.started = time.monotonic()
            client.post("/", inputs(), request_size=result.request_size, on_done=done,
                        on_error=failed)
            result.finished = time.monotonic()
    except BaseException as exc:  # noqa: BLE001 - reported in the table
        result.error = f"{type(exc).__name__}: {exc}"[:300]


@dataclass
class LightResult:
    label: str
    at_s: float  # seconds after the flooders started
    backlog: int  # flooder requests not yet answered when it was sent
    latency_s: float | None = None
    ok: bool = False
    error: str | None = None
    gateway_s: float | None = None  # the gateway's route: receipt to reply
    executors_s: dict[str, float] = field(default_factory=dict)  # queue wait + service each


def light_post(url: str, result: LightResult, n_docs: int, dim: int, timeout: float) -> None:
    """A light client: a new Client (own connection) posting n_docs in one request."""
    docs = DocumentArray(Document(text=f"light text {i}") for i in range(n_docs))
    try:
        with Client(host=url) as client:
            t0 = time.monotonic()
            responses = client.post("/", docs, request_size=n_docs, return_responses=True,
                                    timeout=timeout)
            result.latency_s = time.monotonic() - t0
    except (Watchdog, KeyboardInterrupt):
        raise  # runs in the main thread (send_light): the run stays time-bounded
    except BaseException as exc:  # noqa: BLE001 - reported (a timeout is a result here)
        result.error = f"{type(exc).__name__}: {exc}"[:300]
        return
    assert isinstance(responses, list)
    out = [d for r in responses for d in r.docs]
    emb = DocumentArray(out).embeddings if out else None
    result.ok = (len(out) == n_docs and emb is not None and emb.shape == (n_docs, dim)
                 and not any(r.is_error for r in responses))
    for route in responses[0].routes if responses else []:
        seconds = (route.end_time.ToNanoseconds() - route.start_time.ToNanoseconds()) / 1e9
        if route.executor in ("gateway", ""):
            result.gateway_s = seconds
        else:
            result.executors_s[route.executor] = seconds


# -- scenarios ---------------------------------------------------------------------------------


def demo_flow(sleep: float, replicas: int) -> Flow:
    """The demo's flow.yml with 2 slow replicas, default settings (no prefetch line)."""
    return (
        Flow(host=HOST)
        .add(name="slow_executor", uses=HeavyExecutorLinkerdDemo,
             uses_with={"n_dim": -1, "sleep": sleep}, replicas=replicas)
        .add(name="bulky_executor", uses=HeavyExecutorLinkerdDemo,
             uses_with={"n_dim": 512, "sleep": 0})
    )


def pids_of(flow: Flow) -> dict[str, int]:
    out: dict[str, int] = {}
    for child in flow._runtime.children:
        key = child.role if child.role == "gateway" else child.name
        while key in out:
            key += "'"
        out[key] = child.pid
    return out


def run_flooding(name: str, args: argparse.Namespace, n_flooders: int,
                 requests_each: int) -> dict[str, Any]:
    capacity = args.replicas / args.sleep
    expected_s = (n_flooders * requests_each + 1 + args.probes) / capacity
    max_s = args.max_seconds or (2 * expected_s + 60)
    rng = random.Random(args.seed)
    out: dict[str, Any] = {"scenario": name, "flooders": n_flooders,
                           "requests_each": requests_each, "capacity_rps": capacity,
                           "max_seconds": max_s}
    console.print(f"[bold]{name}[/]: {n_flooders} flooder(s) x {requests_each} requests of "
                  f"{args.request_size} docs, light client after {args.light_delay:g} s, "
                  f"capacity {capacity:g} req/s "
                  f"(expected ~{expected_s:.0f} s, bound {max_s:.0f} s)")
    flow = demo_flow(args.sleep, args.replicas)
    with flow:
        url = flow.addresses.gateway_url("grpc")
        pids = pids_of(flow)
        gw_pid = pids["gateway"]
        floods = [FloodResult(f"flooder{i + 1}", requests_each, args.request_size)
                  for i in range(n_flooders)]
        start, stop = threading.Event(), threading.Event()
        deadline = time.monotonic() + max_s
        threads = [threading.Thread(target=flood, args=(url, r, 512, deadline, start, stop),
                                    name=r.name, daemon=True) for r in floods]
        lights: list[LightResult] = []
        meter = CpuMeter({"client": os.getpid(), **pids})
        with RssSampler({"gateway": gw_pid}, period=1.0) as sampler, meter:
            for t in threads:
                t.start()
            time.sleep(0.2)  # let every flooder open its Client before the common start
            t0 = time.monotonic()
            start.set()

            def backlog() -> int:
                return sum(r.expected - r.answered - r.errors for r in floods)

            def send_light(label: str, at: float) -> None:
                wait = t0 + at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                res = LightResult(label, round(time.monotonic() - t0, 2), backlog())
                light_post(url, res, args.light_docs, 512, args.light_timeout)
                lights.append(res)
                lat = f"{res.latency_s:.3f} s" if res.latency_s is not None else res.error
                console.print(f"  {label} at {res.at_s:.1f} s (flooder backlog {res.backlog}): "
                              f"{lat}, ok={res.ok}, routes {res.executors_s}")

            send_light("light client", args.light_delay)
            # probes: spread over the flooders' expected run, jittered within one service time
            span_end = 0.85 * (n_flooders * requests_each) / capacity
            step = (span_end - args.light_delay) / (args.probes + 1) if args.probes else 0
            for k in range(args.probes):
                at = args.light_delay + (k + 1) * step + rng.uniform(0, args.sleep)
                if time.monotonic() - t0 >= max_s or backlog() <= 2 * args.replicas:
                    break
                send_light(f"probe {k + 1}", at)
            for t in threads:
                t.join(max(1.0, deadline - time.monotonic()))
            if any(t.is_alive() for t in threads):
                stop.set()
                out["error"] = f"flooders still running after {max_s:.0f} s"
        out["other_cpu_pct"] = round(meter.other_pct, 1)
        out["our_cpu_pct"] = round(meter.ours_pct, 1)
        rss = [s["gateway"] for s in sampler.samples if s.get("gateway")]
        out["gateway_rss_mib"] = {"start": rss[0] / MIB, "peak": max(rss) / MIB,
                                  "end": rss[-1] / MIB} if rss else None
    # throughput: answered requests over each flooder's post (first request sent -> post returned)
    per = []
    for r in floods:
        end = r.finished or (r.stamps[-1] if r.stamps else r.started)
        secs = max(1e-9, end - r.started)
        per.append({
            "name": r.name, "answered": r.answered, "expected": r.expected, "errors": r.errors,
            "docs": r.docs, "bad_embeddings": r.bad_embeddings, "truncated": r.truncated,
            "complete": r.complete, "seconds": round(secs, 3), "rps": r.answered / secs,
            "error": r.error, "error_samples": r.error_samples,
            "first_answer_s": round(r.stamps[0] - r.started, 3) if r.stamps else None,
        })
    first = min(r.started for r in floods)
    last = max((r.finished or (r.stamps[-1] if r.stamps else first)) for r in floods)
    total = sum(r.answered for r in floods)
    agg_s = max(1e-9, last - first)
    served_light = sum(1 for x in lights if x.latency_s is not None)
    out.update({
        "per_flooder": per,
        "aggregate_rps": total / agg_s,
        "aggregate_seconds": round(agg_s, 3),
        "aggregate_vs_capacity": total / agg_s / capacity,
        # everything the slow executor served meanwhile, light clients included
        "served_rps": (total + served_light) / agg_s,
        "served_vs_capacity": (total + served_light) / agg_s / capacity,
        "all_answered": all(r.complete for r in floods),
        "lights": [asdict(x) for x in lights],
    })
    console.print(f"  flooders: {total} answered in {agg_s:.1f} s = {out['aggregate_rps']:.3f} "
                  f"req/s ({100 * out['aggregate_vs_capacity']:.1f}% of capacity); all answered: "
                  f"{out['all_answered']}; other CPU load {out['other_cpu_pct']}%")
    return out


def run_memory(args: argparse.Namespace) -> dict[str, Any]:
    n_docs = args.memory_docs
    max_s = args.max_seconds or 600.0
    if args.memory_executor == "bulky":
        flow = Flow(host=HOST).add(name="bulky_executor", uses=HeavyExecutorLinkerdDemo,
                                   uses_with={"n_dim": 512, "sleep": 0})
        dim = 512
    else:
        flow = Flow(host=HOST).add(name="noop_executor", uses=NoopExecutor)
        dim = 0
    console.print(f"[bold]memory[/]: one client streams {n_docs:,} docs (generator, "
                  f"request_size {args.request_size}, client prefetch "
                  f"{args.memory_prefetch or 'default'}) through {args.memory_executor} executor "
                  f"only (bound {max_s:.0f} s)")
    counts = {"docs": 0, "answered": 0, "errors": 0, "sent": 0}
    out: dict[str, Any] = {"scenario": "memory", "n_docs": n_docs,
                           "executor": args.memory_executor, "dim": dim,
                           "client_prefetch": args.memory_prefetch}
    with flow:
        url = flow.addresses.gateway_url("grpc")
        pids = pids_of(flow)
        ex_name = next(k for k in pids if k != "gateway")
        deadline = time.monotonic() + max_s

        def inputs() -> Iterator[Document]:  # bounded in count and time
            for i in range(n_docs):
                if time.monotonic() > deadline:
                    out["truncated"] = True
                    return
                counts["sent"] += 1
                yield Document(text=f"text {i}")

        def done(response: Any) -> None:  # counts on the wire form: decodes nothing
            counts["docs"] += len(response.proto.data.docs.docs)
            counts["answered"] += 1

        def failed(response: Any) -> None:
            counts["errors"] += 1

        watched = {"gateway": pids["gateway"], "executor": pids[ex_name], "client": os.getpid()}
        meter = CpuMeter({"client": os.getpid(), **pids})
        with Client(host=url) as client, RssSampler(
                watched, period=args.rss_period, progress=lambda: counts["docs"]) as sampler, meter:
            time.sleep(2.0)  # idle baseline
            idle = len(sampler.samples)
            t0 = time.monotonic()
            try:
                client.post("/", inputs(), request_size=args.request_size, on_done=done,
                            on_error=failed, prefetch=args.memory_prefetch)
            except (Watchdog, KeyboardInterrupt):
                raise  # the run stays time-bounded; Ctrl-C still stops it
            except BaseException as exc:  # noqa: BLE001 - reported
                out["error"] = f"{type(exc).__name__}: {exc}"[:300]
            seconds = time.monotonic() - t0
            time.sleep(2.0)  # after the stream
        samples = sampler.samples
    out.update(counts)
    out["rss"] = {}
    out["seconds"] = round(seconds, 3)
    out["docs_per_s"] = counts["docs"] / max(seconds, 1e-9)
    out["other_cpu_pct"] = round(meter.other_pct, 1)
    out["all_answered"] = (counts["docs"] == n_docs and counts["errors"] == 0
                           and not out.get("truncated") and "error" not in out)
    for who in ("gateway", "client", "executor"):
        series = [s[who] for s in samples if s.get(who)]
        base = [s[who] for s in samples[:idle] if s.get(who)]
        if not series or not base:
            continue
        start = base[-1]
        peak = max(series)
        # RSS while the stream ran, at 10% and 90% of the docs: growth in between = a leak
        running = [s for s in samples[idle:] if s.get(who) and s.get("docs") is not None]

        def at(frac: float, running: list[dict[str, Any]] = running, who: str = who) -> Any:
            hit = [s[who] for s in running if s["docs"] >= frac * n_docs]
            return hit[0] / MIB if hit else None

        out["rss"][who] = {"start_mib": start / MIB, "peak_mib": peak / MIB,
                    "end_mib": series[-1] / MIB, "growth_mib": (peak - start) / MIB,
                    "end_growth_mib": (series[-1] - start) / MIB,
                    "at10_mib": at(0.1), "at90_mib": at(0.9)}
    out["rss_samples"] = [{k: (v / MIB if k in watched and v else v) for k, v in s.items()}
                      for s in samples]
    g = out["rss"].get("gateway", {})
    console.print(f"  {counts['docs']:,} docs in {seconds:.1f} s ({out['docs_per_s']:,.0f} "
                  f"docs/s); gateway RSS start {g.get('start_mib', 0):.1f} peak "
                  f"{g.get('peak_mib', 0):.1f} end {g.get('end_mib', 0):.1f} MiB")
    return out


# -- report ------------------------------------------------------------------------------------


def mark(ok: bool | None) -> str:
    if ok is None:
        return "-"
    return "[green]pass[/]" if ok else "[red]FAIL[/]"


def fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f} s"


def light_row(res: dict[str, Any]) -> str:
    if res["latency_s"] is None:
        return f"no answer ({res['error']})"
    parts = ", ".join(f"{k} {v:.3f}" for k, v in res["executors_s"].items())
    return f"{res['latency_s']:.3f} s (gateway {res['gateway_s']:.3f}: {parts})"


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    limit = args.light_target
    table = Table(title=f"Flooding and fairness ({'quick' if args.quick else 'full'} scale; "
                        f"slow executor {args.sleep:g} s x {args.replicas} replicas, "
                        f"capacity {args.replicas / args.sleep:g} req/s)", show_lines=False)
    for col in ("scenario", "measure", "measured", "target", "result"):
        table.add_column(col, overflow="fold")
    for key, label in (("flood1", "flood1: 1 flooder"), ("flood3", f"{args.flooders} flooders")):
        r = results.get(key)
        if r is None:
            continue
        if "crash" in r:
            table.add_row(label, "run", r["crash"], "", mark(False))
            continue
        lights = r["lights"]
        first = lights[0] if lights else None
        if first is not None:
            lat = first["latency_s"]
            ok = lat is not None and first["ok"] and lat <= limit
            table.add_row(label, f"light client latency (sent at {first['at_s']:.1f} s, "
                          f"{first['backlog']} flooder requests unanswered)",
                          light_row(first), f"<= {limit:.2g} s", mark(ok))
        probes = [x["latency_s"] for x in lights[1:] if x["latency_s"] is not None]
        if len(lights) > 1:
            lost = len(lights) - 1 - len(probes)
            txt = (f"min {min(probes):.3f} / median {statistics.median(probes):.3f} / max "
                   f"{max(probes):.3f} s" if probes else "none answered")
            table.add_row(label, f"{len(lights) - 1} later light probes"
                          + (f" ({lost} unanswered)" if lost else ""), txt,
                          f"(info) <= {limit:.2g} s", mark(bool(probes) and not lost
                                                         and max(probes) <= limit))
        for f in r["per_flooder"] if len(r["per_flooder"]) > 1 else []:
            table.add_row(label, f"{f['name']} throughput", f"{f['rps']:.3f} req/s "
                          f"({f['answered']} in {f['seconds']:.1f} s)", "", "")
        pct = 100 * r["aggregate_vs_capacity"]
        table.add_row(label, "flooder throughput" + (" (aggregate)" if r["flooders"] > 1 else ""),
                      f"{r['aggregate_rps']:.3f} req/s = {pct:.1f}% of {r['capacity_rps']:g}"
                      f" ({sum(f['answered'] for f in r['per_flooder'])} in "
                      f"{r['aggregate_seconds']:.1f} s)", ">= 95%",
                      mark(r["aggregate_vs_capacity"] >= 0.95))
        table.add_row(label, "slow executor served (flooders + light)",
                      f"{100 * r['served_vs_capacity']:.1f}% of capacity", "", "")
        answered = sum(f["answered"] for f in r["per_flooder"])
        expected = sum(f["expected"] for f in r["per_flooder"])
        errors = sum(f["errors"] for f in r["per_flooder"])
        bad = sum(f["bad_embeddings"] for f in r["per_flooder"])
        note = "; ".join(f"{f['name']}: {f['error']}" for f in r["per_flooder"] if f["error"])
        table.add_row(label, "every flooder request answered (512-dim embeddings)",
                      f"{answered}/{expected}, {errors} errors, {bad} bad" + (f"; {note}" if note
                                                                              else ""),
                      "all", mark(r["all_answered"]))
        g = r.get("gateway_rss_mib")
        if g:
            table.add_row(label, "gateway RSS start / peak / end",
                          f"{g['start']:.1f} / {g['peak']:.1f} / {g['end']:.1f} MiB", "", "")
        table.add_row(label, "other CPU load on the machine (100% = 1 core)",
                      f"{r['other_cpu_pct']}%", "", "")
    if "flood1" in results or "flood3" in results:
        for label, value in JINA_QUOTED:
            table.add_row("flood1: 1 flooder", f"light client latency, {label}", value,
                          "", "quoted, not measured here")
    m = results.get("memory")
    if m is not None:
        if "crash" in m:
            table.add_row("memory", "run", m["crash"], "", mark(False))
        else:
            label = f"memory ({m['executor']} executor" + (
                f", client prefetch {m['client_prefetch']})" if m["client_prefetch"] else ")")
            g = m["rss"].get("gateway")
            if g:
                table.add_row(label, "gateway RSS start / 10% / 90% / peak / end",
                              f"{g['start_mib']:.1f} / {g['at10_mib'] or 0:.1f} / "
                              f"{g['at90_mib'] or 0:.1f} / {g['peak_mib']:.1f} / "
                              f"{g['end_mib']:.1f} MiB", "", "")
                table.add_row(label, "gateway RSS growth (peak - start)",
                              f"{g['growth_mib']:+.1f} MiB (end {g['end_growth_mib']:+.1f})",
                              "<= +50 MiB", mark(g["growth_mib"] <= 50))
            c = m["rss"].get("client")
            if c:
                table.add_row(label, "client process RSS start / peak / end (growth)",
                              f"{c['start_mib']:.1f} / {c['peak_mib']:.1f} / {c['end_mib']:.1f}"
                              f" MiB ({c['growth_mib']:+.1f})", "(flat)", "")
            e = m["rss"].get("executor")
            if e:
                table.add_row(label, "executor RSS start / peak / end",
                              f"{e['start_mib']:.1f} / {e['peak_mib']:.1f} / {e['end_mib']:.1f}"
                              " MiB", "", "")
            table.add_row(label, "docs answered, rate",
                          f"{m['docs']:,}/{m['n_docs']:,} in "
                          f"{m['seconds']:.1f} s ({m['docs_per_s']:,.0f} docs/s), "
                          f"{m['errors']} errors" + (f"; {m['error']}" if m.get("error") else ""),
                          "all", mark(m["all_answered"]))
            table.add_row(label, "other CPU load on the machine", f"{m['other_cpu_pct']}%",
                          "", "")
    console.print(table)
    info = results["machine"]
    console.print(f"machine: nproc {info['nproc']}, {info['cpu']}, Python {info['python']}, "
                  f"grpcio {info['grpcio']}, {info['src']}")


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenarios", default="flood1,flood3,memory",
                   help="comma-separated: flood1, flood3, memory (default all)")
    p.add_argument("--quick", action="store_true",
                   help="sleep 0.2 s, 50 requests per flooder, light client after 1 s, "
                        "20,000 docs for memory")
    p.add_argument("--sleep", type=float, help="slow executor's seconds per request (1; quick 0.2)")
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--requests", type=int, help="client 1's requests in `flood1` (200; quick 50)")
    p.add_argument("--flooders", type=int, default=3, help="flooders in `flood3`")
    p.add_argument("--flood3-requests", type=int,
                   help="requests per flooder in `flood3` (200, as client 1; quick 50)")
    p.add_argument("--request-size", type=int, default=100)
    p.add_argument("--light-delay", type=float, help="seconds before the light client (5 x sleep)")
    p.add_argument("--light-docs", type=int, default=100)
    p.add_argument("--light-timeout", type=float, help="light client's post timeout (90; quick 30)")
    p.add_argument("--probes", type=int, default=4, help="later light probes per scenario")
    p.add_argument("--memory-docs", type=int,
                   help="docs streamed in `memory` (100,000; quick 20,000)")
    p.add_argument("--memory-executor", choices=("bulky", "noop"), default="bulky")
    p.add_argument("--memory-prefetch", type=int,
                   help="client prefetch in `memory` (default: the Client's default, 1000)")
    p.add_argument("--rss-period", type=float, default=0.5, help="RSS sampling period (s)")
    p.add_argument("--max-seconds", type=float,
                   help="bound of each scenario (default: 2 x its expected time + 60 s)")
    p.add_argument("--seed", type=int, default=3, help="random seed of the probes' jitter")
    p.add_argument("--json", type=Path, help="also write every figure here")
    args = p.parse_args(argv)
    q = args.quick
    args.sleep = args.sleep or (0.2 if q else 1.0)
    args.requests = args.requests or (50 if q else 200)
    args.flood3_requests = args.flood3_requests or (50 if q else 200)
    args.light_delay = args.light_delay if args.light_delay is not None else 5 * args.sleep
    args.light_timeout = args.light_timeout or (30.0 if q else 90.0)
    args.memory_docs = args.memory_docs or (20_000 if q else 100_000)
    # 2.0 s at 1 s per request: two service times (one in-service request per replica + own)
    args.light_target = 2.0 * args.sleep
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - {"flood1", "flood3", "memory"}
    if unknown:
        p.error(f"unknown scenario(s) {sorted(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    capacity = args.replicas / args.sleep
    budget = 120.0  # start-up and reporting
    if "flood1" in args.scenarios:
        budget += args.max_seconds or 2 * (args.requests + 1 + args.probes) / capacity + 60
    if "flood3" in args.scenarios:
        budget += args.max_seconds or (
            2 * (args.flooders * args.flood3_requests + 1 + args.probes) / capacity + 60)
    if "memory" in args.scenarios:
        budget += args.max_seconds or 600.0
    budget += 2 * args.probes * args.light_timeout

    arm_watchdog(budget, f"the run exceeded its {budget:.0f} s budget")
    results: dict[str, Any] = {"machine": machine(), "args": {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    console.print(f"flooding bench: {args.scenarios}, run bounded by {budget:.0f} s")
    # memory first, while this (the client's) process is fresh
    order = [s for s in ("memory", "flood1", "flood3") if s in args.scenarios]
    try:
        for name in order:
            try:
                if name == "memory":
                    results["memory"] = run_memory(args)
                elif name == "flood1":
                    results["flood1"] = run_flooding("flood1", args, 1, args.requests)
                else:
                    results["flood3"] = run_flooding("flood3", args, args.flooders,
                                                     args.flood3_requests)
            except Watchdog:
                raise
            except Exception as exc:  # noqa: BLE001 - one scenario failing must not hide others
                results[name] = {"crash": f"{type(exc).__name__}: {exc}"[:300]}
                console.print_exception(max_frames=5)
    except Watchdog as exc:
        console.print(f"[red]{exc}[/]")
        results["watchdog"] = str(exc)
    finally:
        signal.alarm(0)
    report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
        console.print(f"figures written to {args.json}")
    return 0 if "watchdog" not in results else 1


if __name__ == "__main__":
    sys.exit(main())
