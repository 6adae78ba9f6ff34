"""flowserve's overhead over a raw grpc.aio chain with the same hops, measured in one run.

    PYTHONPATH=src python bench/overhead.py [--requests 2000] [--docs 20000]
        [--dim 512] [--warmup 200] [--request-size 100] [--prefetch 1000] [--rounds 3]
        [--max-seconds 60] [--wait-idle SECONDS] [--json results.json]
        [--profile DIR | --cprofile DIR] [--only raw|flowserve] [--scenarios seq,stream,bulk]

Two setups, each with two server processes on 127.0.0.1 and the client in this process:

- raw: client -> forwarding server -> echo server (bench/_raw_chain.py), grpc.aio throughout,
  exchanging ``jina.DataRequestProto``; unary ``process_single_data`` between the servers.
  The client uses unary ``process_single_data`` for sequential requests and one bidi ``Call``
  stream with an in-flight window of ``--prefetch`` for the bulk scenario.
- flowserve: ``Flow(host='127.0.0.1').add(uses=NoopExecutor)`` (a handler returning None),
  posted to through the public ``Client``.

Scenarios:

(a) sequential 1-doc requests, each waiting for the previous (``--requests``):
    raw unary loop; flowserve ``client.post('/', Document(text='x'))`` in a loop reusing one
    Client; and flowserve as one post of N 1-doc requests with ``request_size=1, prefetch=1``,
    latency = interval between successive ``on_done`` callbacks.
(b) one post of ``--docs`` docs with ``--dim``-dim float32 embeddings, ``request_size=100``:
    docs/s and MB/s (MB = 1e6 bytes of serialized requests, one way; both sides send the same
    bytes).

Targets: (a) flowserve >= 0.5x the raw rate and p50 <= 1.5 ms;
(b) flowserve >= 0.5x the raw 2-hop docs/s.

Both setups run side by side and each measure is taken ``--rounds`` times, raw and flowserve
alternating, so that background load on a shared machine hits both sides of a ratio alike; the
figures pool the rounds. Besides wall-clock rates the run reports the CPU time per request of
every process (client, hop 1, hop 2) and the CPU other processes used meanwhile ("other load").

Every loop is bounded by its count and by ``--max-seconds``, the whole run by a SIGALRM
watchdog; every process started here is stopped by PID in ``finally`` blocks (the servers also
die with this process). Only 127.0.0.1 is used.

Profiling (slows everything down: do not quote those figures): ``--profile DIR`` samples the
gateway, executor and this client with py-spy during each flowserve measure (summarise with
bench/_pyspy_top.py); ``--cprofile DIR`` runs the gateway and executor under cProfile (CPU time
of their main threads, between signals) and profiles this client in-process (summarise with
bench/_cprofile_top.py). Files are named ``<measure><round>-<role>``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _machine import CpuMeter, arm_watchdog, machine, machine_busy
from _noop_executor import NoopExecutor

from flowserve import Client, Document, DocumentArray, Flow
from flowserve.proto import jina_pb2, jina_pb2_grpc

HOST = "127.0.0.1"
OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
TARGET_RATE = 0.5
TARGET_P50_MS = 1.5
console = Console(width=max(Console().width, 150))


# -- results ----------------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str  # "seq" | "bulk"
    impl: str
    count: int  # requests (seq) or docs (bulk) measured
    seconds: float
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    payload_bytes: int = 0
    requests: int = 0
    truncated: bool = False  # stopped by --max-seconds before `count` was reached
    error: str = ""
    cpu_s: dict[str, float] = field(default_factory=dict)  # role -> CPU seconds while measured
    rounds: list[dict[str, float]] = field(default_factory=list)  # per round: rate, other load

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.payload_bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    @classmethod
    def merge(cls, parts: list[Result]) -> Result:
        """Pool the rounds of one measure: counts, times, CPU and latencies add up."""
        first = parts[0]
        seconds = sum(p.seconds for p in parts)
        cpu: dict[str, float] = {}
        for p in parts:
            for role, value in p.cpu_s.items():
                weight = p.seconds if role == "other" else 1.0  # "other" is a share
                cpu[role] = cpu.get(role, 0.0) + value * weight
        if "other" in cpu and seconds > 0:
            cpu["other"] /= seconds
        return cls(
            first.scenario, first.impl, sum(p.count for p in parts), seconds,
            [x for p in parts for x in p.latencies_ms], sum(p.payload_bytes for p in parts),
            sum(p.requests for p in parts), any(p.truncated for p in parts),
            "; ".join(p.error for p in parts if p.error), cpu,
            [{"rate": p.rate, "other_load": p.cpu_s.get("other", float("nan"))}
             for p in parts],
        )

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("latencies_ms")
        out.update(rate=self.rate, mb_per_s=self.mb_per_s, p50_ms=self.pct(50),
                   p90_ms=self.pct(90), p99_ms=self.pct(99))
        return out


def wait_for_idle(max_wait: float, threshold: float = 0.1) -> float:
    """Wait (up to `max_wait` s) until other processes use < `threshold` of the machine's CPUs.

    Our own servers are idle between measures, so what this sees is other people's load.
    Returns the last busy share measured."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy(1.0)
    while busy >= threshold and time.monotonic() < deadline:
        busy = machine_busy(2.0)
    if busy >= threshold:
        console.print(f"[yellow]machine still {busy:.0%} busy after waiting {max_wait:.0f} s; "
                      "measuring anyway[/yellow]")
    return busy


# -- processes --------------------------------------------------------------------------------


class Servers:
    """Child processes started by this benchmark; stopped by PID, never by name."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], timeout: float = 30.0) -> dict[str, Any]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        self.procs.append(proc)
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise RuntimeError(f"{argv} not ready after {timeout}s")
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{argv} exited before it was ready (code {proc.wait(5)})")
        return json.loads(line)

    def stop(self) -> None:
        # Last started first (the forwarder before the echo server), each waited for.
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            if proc.stdout is not None:
                proc.stdout.close()
        self.procs.clear()


class Profiler:
    """Profiles the flowserve processes for the duration of a `with` block.

    --profile DIR: py-spy record (sampling) of the gateway, executor and this client into
    DIR/<phase>-<role>.txt. --cprofile DIR: cProfile (CPU time of each main thread) of the
    same, into DIR/<phase>-<role>.prof; the gateway and executor then run under
    bench/_cprofiled.py (see `cprofile_argv`), which profiles between SIGUSR1 and SIGUSR2.
    """

    def __init__(self, out_dir: Path | None, native: bool = False, rate: int = 500,
                 cprofile_dir: Path | None = None) -> None:
        self.out_dir = out_dir
        self.rate = rate
        # --native needs py-spy to pause the process per sample (no --nonblocking).
        self.mode = ["--native"] if native else ["--nonblocking"]
        self.cprofile_dir = cprofile_dir
        self._dumps: dict[str, int] = {}

    def cprofile_argv(self) -> contextlib.AbstractContextManager[None]:
        """While active, LocalFlow starts its processes under bench/_cprofiled.py."""
        if self.cprofile_dir is None:
            return contextlib.nullcontext()
        from flowserve.local import local_flow as runtime  # private: patched for profiling only

        out = self.cprofile_dir
        out.mkdir(parents=True, exist_ok=True)
        original = runtime._base_argv

        def base_argv(command: str) -> list[str]:
            argv = original(command)
            assert argv[1:3] == ["-m", "flowserve"], argv
            role = "executor" if command == "executor" else "gateway"
            return [argv[0], str(HERE / "_cprofiled.py"), str(out / f"_{role}"), *argv[1:]]

        @contextlib.contextmanager
        def patched() -> Iterator[None]:
            runtime._base_argv = base_argv
            try:
                yield
            finally:
                runtime._base_argv = original

        return patched()

    @contextlib.contextmanager
    def record(self, phase: str, pids: dict[str, int]) -> Iterator[None]:
        if self.cprofile_dir is not None:
            with self._cprofile(phase, pids):
                yield
            return
        if self.out_dir is None:
            yield
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        spies: list[subprocess.Popen[bytes]] = []
        try:
            for role, pid in pids.items():
                out = self.out_dir / f"{phase}-{role}.txt"
                spies.append(subprocess.Popen(
                    ["py-spy", "record", "--pid", str(pid), "--format", "raw",
                     "--rate", str(self.rate), *self.mode, "--output", str(out)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ))
            time.sleep(1.0)  # let py-spy attach
            yield
        finally:
            for spy in spies:
                if spy.poll() is None:
                    spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            for spy in spies:
                try:
                    spy.wait(30)
                except subprocess.TimeoutExpired:
                    spy.kill()
                    spy.wait(5)

    @contextlib.contextmanager
    def _cprofile(self, phase: str, pids: dict[str, int]) -> Iterator[None]:
        import cProfile

        assert self.cprofile_dir is not None
        servers = {role: pid for role, pid in pids.items() if role != "client"}
        for pid in servers.values():
            os.kill(pid, signal.SIGUSR1)
        time.sleep(0.2)  # the signal handlers run between bytecodes of each main thread
        client = cProfile.Profile(time.thread_time)
        client.enable()
        try:
            yield
        finally:
            client.disable()
            client.dump_stats(str(self.cprofile_dir / f"{phase}-client.prof"))
            for role, pid in servers.items():
                os.kill(pid, signal.SIGUSR2)
                n = self._dumps.get(role, 0)
                self._dumps[role] = n + 1
                dump = self.cprofile_dir / f"_{role}-{n}.prof"
                deadline = time.monotonic() + 30
                while not dump.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
                if dump.exists():
                    dump.replace(self.cprofile_dir / f"{phase}-{role}.prof")


# -- request building (same bytes for raw and flowserve) --------------------------------------


def raw_text_request() -> jina_pb2.DataRequestProto:
    """What flowserve's client sends for ``post('/', Document(text='x'))``."""
    req = jina_pb2.DataRequestProto()
    req.header.request_id = uuid.uuid4().hex
    req.header.exec_endpoint = "/"
    doc = req.data.docs.docs.add()
    doc.id = uuid.uuid4().hex
    doc.text = "x"
    return req


def raw_embedding_request(ids: list[str], emb: np.ndarray) -> jina_pb2.DataRequestProto:
    """What flowserve's client sends for docs with an id and a float32 embedding each."""
    req = jina_pb2.DataRequestProto()
    req.header.request_id = uuid.uuid4().hex
    req.header.exec_endpoint = "/"
    add = req.data.docs.docs.add
    for doc_id, row in zip(ids, emb, strict=True):
        doc = add()
        doc.id = doc_id
        nd = doc.embedding
        nd.cls_name = "numpy"
        nd.dense.buffer = row.tobytes()
        nd.dense.shape.extend(row.shape)
        nd.dense.dtype = row.dtype.str
    return req


def bulk_data(n_docs: int, dim: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(0)
    return [uuid.uuid4().hex for _ in range(n_docs)], rng.random((n_docs, dim), dtype=np.float32)


def payload_bytes(ids: list[str], emb: np.ndarray, request_size: int) -> int:
    return sum(
        raw_embedding_request(ids[i : i + request_size], emb[i : i + request_size]).ByteSize()
        for i in range(0, len(ids), request_size)
    )


# -- raw baseline -----------------------------------------------------------------------------


async def raw_sequential(target: str, n: int, warmup: int, max_s: float, meter: CpuMeter,
                         impl: str = "raw grpc.aio (unary)", stream: bool = False) -> Result:
    """Sequential 1-doc requests: unary calls, or (`stream`) one bidi Call stream each."""
    async with grpc.aio.insecure_channel(target, options=OPTIONS) as channel:
        if stream:
            open_call = jina_pb2_grpc.JinaRPCStub(channel).Call

            async def call(request: jina_pb2.DataRequestProto) -> jina_pb2.DataRequestProto:
                # What Client.post does for one request: open, write, half-close, read to EOF.
                stream_call = open_call(metadata=(("__prefetch__", "1000"),))
                await stream_call.write(request)
                await stream_call.done_writing()
                reply = await stream_call.read()
                assert await stream_call.read() is grpc.aio.EOF
                return reply  # type: ignore[no-any-return]
        else:
            call = jina_pb2_grpc.JinaSingleDataRequestRPCStub(channel).process_single_data
        for _ in range(warmup):
            await call(raw_text_request())
        lat: list[float] = []
        clock = time.perf_counter
        meter.start()
        start = clock()
        deadline = start + max_s
        for _ in range(n):
            t0 = clock()
            reply = await call(raw_text_request())
            t1 = clock()
            lat.append((t1 - t0) * 1e3)
            if t1 > deadline:
                break
        seconds = clock() - start
        cpu = meter.stop()
    assert reply.data.docs.docs[0].text == "x"
    return Result("seq", impl, len(lat), seconds, lat, requests=len(lat),
                  truncated=len(lat) < n, cpu_s=cpu)


async def _raw_stream(stub: Any, ids: list[str], emb: np.ndarray, request_size: int,
                      prefetch: int) -> tuple[int, int]:
    """One bidi Call stream of lazily built requests, at most `prefetch` in flight."""
    window = asyncio.Semaphore(prefetch) if prefetch > 0 else None
    call = stub.Call(metadata=(("__prefetch__", str(prefetch)),))

    async def send() -> int:
        sent = 0
        for i in range(0, len(ids), request_size):
            if window is not None:
                await window.acquire()
            await call.write(raw_embedding_request(ids[i : i + request_size],
                                                   emb[i : i + request_size]))
            sent += 1
        await call.done_writing()
        return sent

    sender = asyncio.create_task(send())
    docs = responses = 0
    try:
        while True:
            reply = await call.read()
            if reply is grpc.aio.EOF:
                break
            docs += len(reply.data.docs.docs)
            responses += 1
            if window is not None:
                window.release()
        await sender
    finally:
        if not sender.done():
            sender.cancel()
            call.cancel()
    return docs, responses


async def raw_bulk(target: str, ids: list[str], emb: np.ndarray, request_size: int,
                   prefetch: int, warmup_docs: int, max_s: float, nbytes: int,
                   meter: CpuMeter) -> Result:
    async with grpc.aio.insecure_channel(target, options=OPTIONS) as channel:
        stub = jina_pb2_grpc.JinaRPCStub(channel)
        if warmup_docs:
            await asyncio.wait_for(_raw_stream(
                stub, ids[:warmup_docs], emb[:warmup_docs], request_size, prefetch), max_s)
        meter.start()
        start = time.perf_counter()
        try:
            docs, responses = await asyncio.wait_for(
                _raw_stream(stub, ids, emb, request_size, prefetch), timeout=max_s)
        except TimeoutError:
            return Result("bulk", "raw grpc.aio (Call)", 0, max_s, error=f"timeout {max_s}s")
        seconds = time.perf_counter() - start
        cpu = meter.stop()
    if docs != len(ids):
        return Result("bulk", "raw grpc.aio (Call)", docs, seconds, error="docs lost")
    return Result("bulk", "raw grpc.aio (Call)", docs, seconds, payload_bytes=nbytes,
                  requests=responses, cpu_s=cpu)


# -- flowserve --------------------------------------------------------------------------------


def flow_sequential(client: Client, n: int, warmup: int, max_s: float,
                    meter: CpuMeter) -> Result:
    for _ in range(warmup):
        client.post("/", Document(text="x"))
    lat: list[float] = []
    clock = time.perf_counter
    meter.start()
    start = clock()
    deadline = start + max_s
    for _ in range(n):
        t0 = clock()
        docs = client.post("/", Document(text="x"))
        t1 = clock()
        lat.append((t1 - t0) * 1e3)
        if t1 > deadline:
            break
    seconds = clock() - start
    cpu = meter.stop()
    assert docs[0].text == "x", docs
    return Result("seq", "flowserve post() per doc", len(lat), seconds, lat, requests=len(lat),
                  truncated=len(lat) < n, cpu_s=cpu)


def flow_stream(client: Client, n: int, warmup: int, max_s: float, meter: CpuMeter) -> Result:
    """One post of N 1-doc requests (request_size=1, prefetch=1): on_done intervals."""
    if warmup:
        client.post("/", DocumentArray(Document(text="x") for _ in range(warmup)),
                    request_size=1, prefetch=1, on_done=lambda r: None)
    stamps: list[float] = []
    clock = time.perf_counter

    def inputs() -> Iterator[Document]:  # bounded in count and time
        deadline = clock() + max_s
        for _ in range(n):
            if clock() > deadline:
                return
            yield Document(text="x")

    meter.start()
    start = clock()
    client.post("/", inputs(), request_size=1, prefetch=1,
                on_done=lambda r: stamps.append(clock()))
    seconds = clock() - start
    cpu = meter.stop()
    lat = np.diff(np.array([start, *stamps])) * 1e3
    return Result("seq", "flowserve 1 post, size=1, prefetch=1", len(stamps), seconds,
                  lat.tolist(), requests=len(stamps), truncated=len(stamps) < n, cpu_s=cpu)


def flow_bulk(client: Client, docs: DocumentArray, request_size: int, prefetch: int,
              warmup_docs: int, max_s: float, nbytes: int, meter: CpuMeter) -> Result:
    """`docs` are built beforehand (outside the timing), as a user would have them."""
    counts = {"docs": 0, "responses": 0}

    def count(response: Any) -> None:  # counts docs on the wire form, decodes nothing
        counts["docs"] += len(response.proto.data.docs.docs)
        counts["responses"] += 1

    if warmup_docs:
        client.post("/", docs[:warmup_docs], request_size=request_size, prefetch=prefetch,
                    on_done=lambda r: None)
    meter.start()
    start = time.perf_counter()
    try:
        client.post("/", docs, request_size=request_size, prefetch=prefetch, on_done=count)
    except Exception as exc:  # noqa: BLE001 - any failure of the post is reported in the table
        return Result("bulk", "flowserve post()", counts["docs"], time.perf_counter() - start,
                      error=f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    cpu = meter.stop()
    if counts["docs"] != len(docs):
        return Result("bulk", "flowserve post()", counts["docs"], seconds, error="docs lost")
    return Result("bulk", "flowserve post()", counts["docs"], seconds, payload_bytes=nbytes,
                  requests=counts["responses"], cpu_s=cpu)


# -- report -----------------------------------------------------------------------------------


def _fmt(x: float, digits: int = 2) -> str:
    return "-" if math.isnan(x) else f"{x:,.{digits}f}"


def _check(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"


def report(results: dict[str, Result], args: argparse.Namespace) -> dict[str, Any]:
    raw_seq, raw_bulk_ = results.get("raw_seq"), results.get("raw_bulk")
    table = Table(title=f"flowserve overhead vs raw grpc.aio (2 hops, {os.cpu_count()} cores)")
    for col in ("scenario", "implementation", "n", "req/s", "docs/s", "MB/s", "p50 ms",
                "p99 ms", "rate / raw", "per round", "target"):
        table.add_column(col, justify="left" if col in ("scenario", "implementation", "target")
                         else "right")
    ratios: dict[str, Any] = {}
    for key, r in results.items():
        note = ""
        ratio = spread = "-"
        base = raw_seq if r.scenario == "seq" else raw_bulk_
        per_round: list[float] = []
        if base is not None and not key.startswith("raw") and len(base.rounds) == len(r.rounds):
            per_round = [a["rate"] / b["rate"] for a, b in zip(r.rounds, base.rounds, strict=True)
                         if b["rate"] > 0]
        if per_round and not r.impl.endswith("(context)"):
            spread = (f"{min(per_round):.2f}-{max(per_round):.2f}" if len(per_round) > 1
                      else f"{per_round[0]:.2f}")
        if r.error:
            note = f"[red]{r.error}[/red]"
        elif r.impl.endswith("(context)"):
            note = "context, no target"
        elif r.scenario == "seq" and not key.startswith("raw") and raw_seq is not None:
            rr = r.rate / raw_seq.rate
            ratios[key] = {"rate_ratio": rr, "p50_ms": r.pct(50), "per_round": per_round,
                           "pass": rr >= TARGET_RATE and r.pct(50) <= TARGET_P50_MS}
            ratio = f"{rr:.3f}"
            note = (f">=0.5x {_check(rr >= TARGET_RATE)}, "
                    f"p50<=1.5 {_check(r.pct(50) <= TARGET_P50_MS)}")
        elif r.scenario == "bulk" and not key.startswith("raw") and raw_bulk_ is not None:
            rr = r.rate / raw_bulk_.rate if raw_bulk_.rate else float("nan")
            ratios[key] = {"rate_ratio": rr, "per_round": per_round, "pass": rr >= TARGET_RATE}
            ratio = f"{rr:.3f}"
            note = f">=0.5x {_check(rr >= TARGET_RATE)}"
        if r.truncated:
            note += " (stopped by --max-seconds)"
        seq = r.scenario == "seq"
        table.add_row(
            "(a) sequential" if seq else "(b) bulk",
            r.impl,
            f"{r.count:,}",
            _fmt(r.requests / r.seconds if r.seconds else float("nan"), 0),
            "-" if seq else _fmt(r.rate, 0),
            "-" if seq else _fmt(r.mb_per_s, 1),
            _fmt(r.pct(50), 3),
            _fmt(r.pct(99), 3),
            ratio,
            spread,
            note,
        )
    console.print(table)
    cpu = Table(title="CPU time per request while measured (user+system, all threads), µs; "
                "other load = CPU used meanwhile by other processes (100% = one core)")
    for col in ("scenario", "implementation", "client", "hop 1 (forwarder | gateway)",
                "hop 2 (echo | executor)", "total", "other load"):
        cpu.add_column(col, justify="left" if col in ("scenario", "implementation") else "right")
    for r in results.values():
        if not r.requests or not r.cpu_s:
            continue
        per = {k: v / r.requests * 1e6 for k, v in r.cpu_s.items() if k != "other"}
        cpu.add_row("(a) sequential" if r.scenario == "seq" else "(b) bulk", r.impl,
                    *(_fmt(per.get(k, float("nan")), 0) for k in ("client", "hop1", "hop2")),
                    _fmt(sum(per.values()), 0), f"{r.cpu_s.get('other', float('nan')):.0%}")
    console.print(cpu)
    console.print(
        f"{args.rounds} round(s), raw and flowserve alternating; figures pool the rounds, "
        "'per round' is the range of the per-round ratios.\n"
        f"(a) {args.requests} sequential 1-doc requests after {args.warmup} warm-up; "
        f"(b) {args.docs} docs x {args.dim}-dim float32, request_size={args.request_size}, "
        f"prefetch={args.prefetch}; MB = 1e6 bytes of serialized requests, one way."
    )
    return ratios


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="flowserve overhead vs a raw grpc.aio 2-hop chain")
    p.add_argument("--requests", type=int, default=2000, help="sequential requests (a)")
    p.add_argument("--docs", type=int, default=20000, help="docs in the bulk post (b)")
    p.add_argument("--dim", type=int, default=512, help="embedding dimension (b)")
    p.add_argument("--warmup", type=int, default=200,
                   help="warm-up requests before each sequential measure; (b) warms up with "
                        "min(docs, 10 x request_size) docs")
    p.add_argument("--request-size", type=int, default=100, help="docs per request (b)")
    p.add_argument("--prefetch", type=int, default=1000,
                   help="in-flight window of the bulk stream, raw and flowserve (b)")
    p.add_argument("--concurrency", type=int, default=None,
                   help="the executor's `concurrency` (requests in service at once; default: "
                        "flowserve's default)")
    p.add_argument("--rounds", type=int, default=3,
                   help="alternate raw and flowserve this many times: (a) splits --requests "
                        "over the rounds, (b) posts --docs in each round")
    p.add_argument("--max-seconds", type=float, default=60.0,
                   help="time bound of each measured loop")
    p.add_argument("--only", choices=["raw", "flowserve"], help="run one side only")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="before the run and each round, wait up to SECONDS for other load on "
                        "the machine to drop below 10%% of its CPUs")
    p.add_argument("--json", type=Path, help="also write the figures as JSON here")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="py-spy the flowserve processes into DIR (raw collapsed stacks)")
    p.add_argument("--cprofile", type=Path, metavar="DIR",
                   help="cProfile (thread CPU time) the flowserve gateway, executor and client "
                        "per scenario into DIR/<scenario>-<role>.prof (see _cprofile_top.py)")
    p.add_argument("--scenarios", default="seq,stream,bulk",
                   help="comma-separated subset of seq,stream,bulk (default: all)")
    p.add_argument("--profile-native", action="store_true",
                   help="with --profile: also sample native frames (gRPC core, protobuf)")
    p.add_argument("--profile-rate", type=int, default=500, help="py-spy samples per second")
    args = p.parse_args(argv)
    args.scenarios = set(args.scenarios.split(","))
    if not args.scenarios <= {"seq", "stream", "bulk"}:
        p.error("--scenarios takes a comma-separated subset of seq,stream,bulk")
    if args.profile and args.cprofile:
        p.error("use --profile or --cprofile, not both")
    for name in ("requests", "docs", "dim", "request_size", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0 or args.prefetch < 0 or args.max_seconds <= 0:
        p.error("--warmup and --prefetch must be >= 0, --max-seconds > 0")
    return args


@contextlib.contextmanager
def raw_chain(cprofile_dir: Path | None = None) -> Iterator[dict[str, Any]]:
    """The raw baseline's two server processes; yields their {"port", "pid"} and the target.

    With `cprofile_dir` they run under bench/_cprofiled.py, like the Flow's processes."""
    servers = Servers()
    chain = str(HERE / "_raw_chain.py")

    def argv(role: str, *rest: str) -> list[str]:
        if cprofile_dir is None:
            return [sys.executable, chain, role, *rest]
        cprofile_dir.mkdir(parents=True, exist_ok=True)
        prefix = str(cprofile_dir / f"_raw-{role}")
        return [sys.executable, str(HERE / "_cprofiled.py"), prefix, chain, role, *rest]

    try:
        echo = servers.start(argv("echo"))
        fwd = servers.start(argv("forward", "--to", f"{HOST}:{echo['port']}"))
        console.print(f"raw chain: forward pid {fwd['pid']} :{fwd['port']} -> "
                      f"echo pid {echo['pid']} :{echo['port']}")
        yield {"echo": echo, "forward": fwd, "target": f"{HOST}:{fwd['port']}"}
    finally:
        servers.stop()


@contextlib.contextmanager
def flowserve_flow(profiler: Profiler, concurrency: int | None = None) -> Iterator[dict[str, Any]]:
    """The Flow (gateway + no-op executor, both on 127.0.0.1); yields its url and PIDs."""
    extra = {} if concurrency is None else {"concurrency": concurrency}
    flow = Flow(host=HOST, protocol="grpc").add(name="noop", uses=NoopExecutor, **extra)
    with profiler.cprofile_argv():
        flow.start()  # stops what it started if it fails
    with flow:  # stops the gateway and the executor on exit, whatever happens
        url = flow.addresses.gateway_url("grpc")
        # PIDs for CPU accounting and profiling only; LocalFlow is not public API.
        pids = {c.role: c.pid for c in flow._runtime.children}
        console.print(f"flowserve: gateway {url} pid {pids['gateway']}, "
                      f"executor pid {pids['executor']}")
        yield {"url": url, "gateway": pids["gateway"], "executor": pids["executor"]}


def run(args: argparse.Namespace, results: dict[str, Result]) -> None:
    """Both setups stay up; each raw measure runs right before its flowserve counterpart, so
    a change in background load on a shared machine hits both sides of a ratio alike."""
    profiler = Profiler(args.profile, native=args.profile_native, rate=args.profile_rate,
                        cprofile_dir=args.cprofile)
    ids, emb = bulk_data(args.docs, args.dim)
    nbytes = payload_bytes(ids, emb, args.request_size)
    warmup_docs = min(args.docs, 10 * args.request_size) if args.warmup else 0
    me = os.getpid()
    n, warm, max_s = args.requests, args.warmup, args.max_seconds
    with contextlib.ExitStack() as stack:
        raw = (stack.enter_context(raw_chain(args.cprofile))
               if args.only != "flowserve" else None)
        fs = (stack.enter_context(flowserve_flow(profiler, args.concurrency))
              if args.only != "raw" else None)
        client = stack.enter_context(Client(host=fs["url"])) if fs else None
        raw_meter = raw and CpuMeter({"client": me, "hop1": raw["forward"]["pid"],
                                      "hop2": raw["echo"]["pid"]})
        fs_meter = fs and CpuMeter({"client": me, "hop1": fs["gateway"], "hop2": fs["executor"]})
        spy = fs and {"gateway": fs["gateway"], "executor": fs["executor"], "client": me}
        raw_spy = raw and {"raw-forward": raw["forward"]["pid"], "raw-echo": raw["echo"]["pid"],
                           "client": me}
        docs: DocumentArray | None = None  # built outside any timing, as a user would have them

        parts: dict[str, list[Result]] = collections.defaultdict(list)
        for i in range(args.rounds):
            if args.wait_idle:
                wait_for_idle(args.wait_idle)
            # (a) splits the requests over the rounds; warm-up only before the first round.
            n_i = n // args.rounds + (1 if i < n % args.rounds else 0)
            warm_i = warm if i == 0 else 0
            if "seq" in args.scenarios and n_i:
                if raw:
                    with profiler.record(f"rawseq{i}", raw_spy):
                        parts["raw_seq"].append(asyncio.run(
                            raw_sequential(raw["target"], n_i, warm_i, max_s, raw_meter)))
                if fs:
                    with profiler.record(f"seq{i}", spy):
                        parts["flow_seq"].append(
                            flow_sequential(client, n_i, warm_i, max_s, fs_meter))
            if "stream" in args.scenarios and fs and n_i:
                with profiler.record(f"stream{i}", spy):
                    parts["flow_stream"].append(
                        flow_stream(client, n_i, warm_i, max_s, fs_meter))
            if "bulk" in args.scenarios:
                if raw:
                    with profiler.record(f"rawbulk{i}", raw_spy):
                        parts["raw_bulk"].append(asyncio.run(raw_bulk(
                            raw["target"], ids, emb, args.request_size, args.prefetch,
                            warmup_docs if i == 0 else 0, max_s, nbytes, raw_meter)))
                if fs:
                    if docs is None:
                        pairs = zip(ids, emb, strict=False)
                        docs = DocumentArray(Document(id=d, embedding=e) for d, e in pairs)
                    with profiler.record(f"bulk{i}", spy):
                        parts["flow_bulk"].append(flow_bulk(
                            client, docs, args.request_size, args.prefetch,
                            warmup_docs if i == 0 else 0, max_s, nbytes, fs_meter))
        results.update({key: Result.merge(value) for key, value in parts.items()})
        if args.wait_idle:
            wait_for_idle(args.wait_idle)
        if "seq" in args.scenarios:
            # Context only, no ratio is taken against these: one Call stream per request, as
            # Client.post opens for each post; flowserve's servers behind a raw unary client
            # (no Client, no stream); one hop (client -> echo server).
            if raw:
                results["raw_seq_stream"] = asyncio.run(raw_sequential(
                    raw["target"], n, warm, max_s, raw_meter, stream=True,
                    impl="raw, 1 Call stream per request (context)"))
            if fs:
                with profiler.record("unary", spy):
                    results["flow_seq_unary"] = asyncio.run(raw_sequential(
                        fs["url"].split("://", 1)[1], n, warm, max_s, fs_meter,
                        impl="raw unary stub -> flowserve gateway (context)"))
            if raw:
                results["raw_seq_1hop"] = asyncio.run(raw_sequential(
                    f"{HOST}:{raw['echo']['port']}", n, warm, max_s,
                    CpuMeter({"client": me, "hop2": raw["echo"]["pid"]}),
                    impl="raw grpc.aio, 1 hop only (context)"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Timed phases (4 per round, 3 context ones), each bounded by --max-seconds, plus start-up,
    # warm-up and waiting for an idle machine.
    budget = (4 * args.rounds + 4) * args.max_seconds + (args.rounds + 2) * args.wait_idle + 300
    # Bounds the whole run, whatever hangs: the `finally` blocks stop every process started.
    # (Measured calls carry no per-call timeout: that would change the path they take through
    # flowserve's gateway.)
    arm_watchdog(budget, f"the benchmark exceeded its budget of {budget:.0f} s")
    info = machine()
    console.print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    busy_before = wait_for_idle(args.wait_idle) if args.wait_idle else machine_busy()
    console.print(f"CPU busy before the run (other load): {busy_before:.0%} of {os.cpu_count()}")
    results: dict[str, Result] = {}
    run(args, results)
    order = ["raw_seq", "flow_seq", "flow_stream", "raw_seq_stream", "flow_seq_unary",
             "raw_seq_1hop", "raw_bulk", "flow_bulk"]
    results = {k: results[k] for k in order if k in results}
    signal.alarm(0)
    ratios = report(results, args)
    busy_after = machine_busy()
    console.print(f"CPU busy before / after the run (other load): {busy_before:.0%} / "
                  f"{busy_after:.0%}" + ("  [yellow]machine not idle: figures are "
                                         "pessimistic[/yellow]"
                                         if max(busy_before, busy_after) > 0.1 else ""))
    if args.json:
        args.json.write_text(json.dumps({
            "machine": info,
            "busy_before": busy_before,
            "busy_after": busy_after,
            "args": {k: str(v) if isinstance(v, Path) else sorted(v) if isinstance(v, set) else v
                     for k, v in vars(args).items()},
            "results": {k: r.summary() for k, r in results.items()},
            "ratios": ratios,
        }, indent=2))
    return 0 if not any(r.error for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
