"""Many clients: fairness and throughput with 1-256 concurrent clients, flowserve vs Jina 3.34.

    PYTHONPATH=src python bench/many_clients.py                 # full: 1 8 64 256, 5 s each
    PYTHONPATH=src python bench/many_clients.py --quick         # 1 8 64, 2 s each
    PYTHONPATH=src python bench/many_clients.py --no-jina --levels 64 --seconds 3
    PYTHONPATH=src python bench/many_clients.py --json /tmp/many.json

For each executor kind (``noop``: a handler returning None;
``sleep2ms``: a handler sleeping 2 ms per request), each with 2 replicas, and each level of N
concurrent clients (``--levels``, default 1 8 64 256):

- N clients, each its own gRPC connection (a grpc.aio channel with
  ``grpc.use_local_subchannel_pool``, so no two share a subchannel), each sending one 1-doc
  request at a time in a closed loop: unary ``/jina.JinaSingleDataRequestRPC/process_single_data``
  with the bytes flowserve's Client sends for ``post('/', Document(text='x'))``. The same raw
  client loads both systems.
- All clients connect first, then start together; the level lasts ``--seconds``; requests
  still in flight then are cancelled. Each client also stops after its share of
  ``--max-replies``. Before the window, client 0 sends ``--warmup`` requests (not counted).
- Reported per level and system: throughput (replies / window), the replies per client
  (min / median / max), starved clients (0 replies in the window), Jain's fairness index
  (sum x)^2 / (n sum x^2) over replies per client (1 = all equal, 1/n = one client got all),
  each client's p99 latency (median over clients and the worst client), errors, the gateway's
  peak RSS (VmRSS, sampled every 0.25 s), the gateway's CPU, the CPU time all server
  processes spent per reply (steadier than req/s on a shared machine) and the other load.
  A client's latencies include, as a lower bound, the age of the request it still had in flight
  when the window closed: a client that got no reply has a p99 of about the whole window.

Processes: the flowserve Flow (``flowserve.Flow``, started in this process: a gateway and 2
executor processes) and the Jina Flow (bench/_jina_flow.py, run by the Jina virtualenv's
Python in a process group of its own: a Flow process, its gateway and 2 replicas) stay up
for one executor kind; for each level the load runs in a fresh subprocess of its own (this file
with ``--_load``), flowserve and Jina alternating which goes first, so that client CPU is not
spent in a server process and background load hits both systems alike. The machine's other
load is reported per row ("other": CPU used by processes not part of the measurement, 100 =
one CPU).

Jina baseline: Jina 3.34 installs only into a virtualenv of its own, created on demand at
``--jina-venv`` (default /tmp/flowserve-jina-venv) with pinned dependencies (a few minutes the
first time; its log next to it, ``<venv>-install.log``). If it cannot be built or started,
flowserve is measured alone and the reason is printed. ``--no-jina`` skips it. The Jina Flow's
output goes to /tmp/flowserve-many-clients-jina-<kind>.log.

Targets: 0 starved clients at every level; throughput at 64 and 256 clients >= 1.2x
Jina's in the same run.

Bounds: every client loop stops at its reply cap or when the window closes, connection and
warm-up have timeouts, Jina's start has a timeout, and a SIGALRM watchdog bounds the whole run;
everything listens on and connects to 127.0.0.1 only; the processes started here are stopped
by PID / process group (also on errors, Ctrl-C and the watchdog).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:  # the Flow's child processes inherit it (they import from here)
    sys.path.insert(0, str(HERE))

from _machine import (  # noqa: E402
    CpuMeter,
    Watchdog,
    arm_watchdog,
    cpu_model,
    machine_busy,
    rss_bytes,
    src_sha256,
)
from _noop_executor import NoopExecutor  # noqa: E402
from overhead import raw_text_request  # noqa: E402  (the same bytes as the overhead benchmark)

from flowserve import Executor, Flow, requests  # noqa: E402

HOST = "127.0.0.1"
MIB = 1024 * 1024
KINDS = ("noop", "sleep2ms")
DEFAULT_JINA_VENV = Path("/tmp/flowserve-jina-venv")
JINA_PINS = [  # what makes Jina 3.34 resolve and import on Python 3.11 today
    "jina==3.34.0", "grpcio==1.68.0", "grpcio-health-checking==1.68.0",
    "grpcio-reflection==1.68.0", "opentelemetry-api==1.28.2", "opentelemetry-sdk==1.28.2",
    "opentelemetry-exporter-otlp==1.28.2", "opentelemetry-exporter-otlp-proto-grpc==1.28.2",
    "opentelemetry-exporter-prometheus==0.49b2", "opentelemetry-instrumentation==0.49b2",
    "opentelemetry-instrumentation-grpc==0.49b2",
    "opentelemetry-instrumentation-aiohttp-client==0.49b2",
    "opentelemetry-instrumentation-fastapi==0.49b2",
    "opentelemetry-semantic-conventions==0.49b2", "docarray==0.21.*", "numpy==1.26.*",
    "pydantic<2", "fastapi==0.99.*", "setuptools<70",  # jina's hubble imports pkg_resources
]
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]  # one connection per client


class Sleep2msExecutor(Executor):
    """Sleeps 2 ms per request (blocking, like a small model call)."""

    @requests
    def sleep(self, docs: Any, **kwargs: Any) -> None:
        time.sleep(0.002)


FLOWSERVE_EXECUTORS = {"noop": NoopExecutor, "sleep2ms": Sleep2msExecutor}


def jain(xs: list[int]) -> float:
    """Jain's fairness index of the replies per client: 1 = equal shares, 1/n = one got all."""
    total, squares = sum(xs), sum(x * x for x in xs)
    return (total * total) / (len(xs) * squares) if squares else 0.0


def p99(values: list[float]) -> float:
    """Nearest-rank 99th percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(-(-0.99 * len(s) // 1)) - 1))]


# -- the load generator (runs in a subprocess of its own: ``--_load``) ---------------------------


async def load(target: str, n: int, seconds: float, max_replies: int, warmup: int,
               pids: dict[str, int], gateway_pid: int | None) -> dict[str, Any]:
    """N closed-loop clients, one connection each, for `seconds`; per-client figures."""
    import grpc

    from flowserve.proto import jina_pb2_grpc

    clock = time.perf_counter
    cap = max(1, max_replies // n)
    channels = [grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS) for _ in range(n)]
    try:
        await asyncio.wait_for(asyncio.gather(*(c.channel_ready() for c in channels)), 30)
        calls = [jina_pb2_grpc.JinaSingleDataRequestRPCStub(c).process_single_data
                 for c in channels]
        for _ in range(warmup):
            await calls[0](raw_text_request(), timeout=30)

        counts = [0] * n
        errors = [0] * n
        error_samples: list[str] = []
        latencies: list[list[float]] = [[] for _ in range(n)]
        in_flight_since: list[float | None] = [None] * n
        rss_peak = 0
        t0 = clock()
        end = t0 + seconds

        async def client(i: int) -> None:
            call = calls[i]
            while counts[i] < cap:
                request = raw_text_request()
                sent = clock()
                in_flight_since[i] = sent
                try:
                    reply = await call(request)
                except grpc.aio.AioRpcError as exc:
                    in_flight_since[i] = None
                    errors[i] += 1
                    if len(error_samples) < 5:
                        error_samples.append(f"{exc.code().name}: {exc.details()}"[:200])
                    if clock() >= end:
                        return
                    await asyncio.sleep(0.01)
                    continue
                got = clock()
                in_flight_since[i] = None
                if got > end:  # answered after the window closed: not counted
                    return
                if reply.header.status.code != 0 or reply.data.docs.docs[0].text != "x":
                    errors[i] += 1
                    if len(error_samples) < 5:
                        why = reply.header.status.description or "wrong docs"
                        error_samples.append(f"error reply: {why}"[:200])
                else:
                    counts[i] += 1
                    latencies[i].append(got - sent)

        async def sample_rss() -> None:
            nonlocal rss_peak
            while True:
                rss_peak = max(rss_peak, rss_bytes(gateway_pid) or 0) if gateway_pid else 0
                await asyncio.sleep(0.25)

        meter = CpuMeter({**pids, "client": os.getpid()})
        meter.start()
        sampler = asyncio.create_task(sample_rss())
        tasks = [asyncio.create_task(client(i)) for i in range(n)]
        _, pending = await asyncio.wait(tasks, timeout=max(0.0, end - clock()))
        closed = clock()
        cpu = meter.stop()
        censored = [closed - since for since in in_flight_since if since is not None]
        for i, since in enumerate(in_flight_since):  # a lower bound on that request's latency
            if since is not None:
                latencies[i].append(closed - since)
        for task in [*pending, sampler]:
            task.cancel()
        await asyncio.gather(*pending, sampler, return_exceptions=True)
        elapsed = min(closed, end) - t0 if pending else max(closed - t0, 1e-9)
    finally:
        await asyncio.gather(*(c.close() for c in channels), return_exceptions=True)
    per_client_p99 = [p99(lat) * 1e3 for lat in latencies if lat]
    total = sum(counts)
    return {
        "clients": n,
        "seconds": elapsed,
        "replies": total,
        "rate": total / elapsed,
        "counts": counts,
        "starved": sum(1 for c in counts if c == 0),
        "min": min(counts),
        "median": statistics.median(counts),
        "max": max(counts),
        "jain": jain(counts),
        "p99_ms_median": statistics.median(per_client_p99) if per_client_p99 else float("nan"),
        "p99_ms_worst": max(per_client_p99) if per_client_p99 else float("nan"),
        "in_flight_at_close": len(censored),
        "oldest_in_flight_ms": max(censored) * 1e3 if censored else 0.0,
        "errors": sum(errors),
        "error_samples": error_samples,
        "gateway_rss_mib": rss_peak / MIB if rss_peak else float("nan"),
        "cpu_pct": {role: 100 * s / max(1e-9, meter.wall) for role, s in cpu.items()
                    if role != "other"},
        "other_pct": 100 * cpu["other"],
        "server_cpu_ms_per_req": 1e3 * sum(v for role, v in cpu.items()
                                           if role not in ("client", "other")) / max(1, total),
    }


def load_main(args: argparse.Namespace) -> int:
    pids = dict(item.split("=", 1) for item in args.pids.split(",") if item) if args.pids else {}
    pid_map = {role: int(pid) for role, pid in pids.items()}
    result = asyncio.run(load(args.target, args.clients, args.seconds, args.max_replies,
                              args.warmup, pid_map, pid_map.get("gateway")))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def run_load(target: str, n: int, args: argparse.Namespace, pids: dict[str, int]) -> dict[str, Any]:
    """One level against one system, in a fresh subprocess; its RESULT line, parsed."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--_load", "--target", target,
            "--clients", str(n), "--seconds", str(args.seconds),
            "--max-replies", str(args.max_replies), "--warmup", str(args.warmup),
            "--pids", ",".join(f"{role}={pid}" for role, pid in pids.items())]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=args.seconds + 90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])  # type: ignore[no-any-return]
    return {"clients": n, "failed": f"load exited {proc.returncode}: {err.strip()[-600:]}"}


# -- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def descendants(root: int) -> list[int]:
    """PIDs of all live descendants of `root` (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def listener_pid(port: int, candidates: list[int]) -> int | None:
    """Which of `candidates` holds the TCP socket listening on `port` (from /proc/net/tcp*)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    for pid in candidates:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        return pid
    return None


@contextlib.contextmanager
def flowserve_flow(kind: str, replicas: int) -> Iterator[dict[str, Any]]:
    """flowserve: gateway + `replicas` executor processes on 127.0.0.1; its target and PIDs."""
    flow = Flow(host=HOST, protocol="grpc").add(name=kind, uses=FLOWSERVE_EXECUTORS[kind],
                                                replicas=replicas)
    with flow:  # stops every process it started on exit, errors included
        url = flow.addresses.gateway_url("grpc")
        pids: dict[str, int] = {}
        for i, child in enumerate(flow._runtime.children):  # LocalFlow is not public API
            pids["gateway" if child.role == "gateway" else f"executor{i}"] = child.pid
        yield {"target": url.split("://", 1)[1], "pids": pids}


def jina_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def jina_version(venv: Path) -> str | None:
    python = jina_python(venv)
    if not python.exists():
        return None
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        out = subprocess.run([str(python), "-c", "import jina; print(jina.__version__)"],
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "JINA_OPTOUT_TELEMETRY": "1"})
        if out.returncode == 0:
            return out.stdout.strip().splitlines()[-1]
    return None


def ensure_jina(venv: Path, timeout: float) -> tuple[bool, str]:
    """Jina 3.34 in its own virtualenv at `venv`, built on demand: (usable, why not / version)."""
    version = jina_version(venv)
    if version == "3.34.0":
        return True, version
    log = venv.with_name(venv.name + "-install.log")
    print(f"Jina 3.34 not found in {venv} (found: {version}); building it, log: {log} "
          f"(a few minutes)", flush=True)
    try:
        with log.open("w") as out:
            if not jina_python(venv).exists():
                subprocess.run([sys.executable, "-m", "venv", str(venv)], stdout=out,
                               stderr=subprocess.STDOUT, check=True, timeout=300)
            subprocess.run([str(jina_python(venv)), "-m", "pip", "install", *JINA_PINS],
                           stdout=out, stderr=subprocess.STDOUT, check=True, timeout=timeout,
                           env={**os.environ, "JINA_OPTOUT_TELEMETRY": "1"})
    except (subprocess.SubprocessError, OSError) as exc:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
        return False, f"building {venv} failed ({exc}); last lines of {log}: {' | '.join(tail)}"
    version = jina_version(venv)
    if version != "3.34.0":
        return False, f"{venv} was built but `import jina` gives {version!r}, not 3.34.0"
    return True, version


def stop_group(proc: subprocess.Popen[Any], known: list[int]) -> None:
    """SIGTERM the process group we created for `proc`, then SIGKILL what is left of it and of
    the PIDs we saw in it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in known:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


async def probe(target: str, timeout: float) -> None:
    """One successful request, retried until `timeout`."""
    import grpc

    from flowserve.proto import jina_pb2_grpc

    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(target) as channel:
        call = jina_pb2_grpc.JinaSingleDataRequestRPCStub(channel).process_single_data
        while True:
            try:
                reply = await call(raw_text_request(), timeout=5)
                if reply.header.status.code == 0:
                    return
                raise RuntimeError(f"error reply: {reply.header.status.description}")
            except (grpc.aio.AioRpcError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)


@contextlib.contextmanager
def jina_flow(venv: Path, kind: str, replicas: int, timeout: float) -> Iterator[dict[str, Any]]:
    """Jina 3.34's Flow (bench/_jina_flow.py in its venv), in a process group of its own."""
    port = free_port()
    log = Path(f"/tmp/flowserve-many-clients-jina-{kind}.log")
    known: list[int] = []
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(jina_python(venv)), str(HERE / "_jina_flow.py"), "--kind", kind,
             "--port", str(port), "--replicas", str(replicas)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=str(HERE),
            env={**os.environ, "JINA_OPTOUT_TELEMETRY": "1", "PYTHONPATH": ""})
    try:
        deadline = time.monotonic() + timeout
        while "READY " not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
                raise RuntimeError(f"Jina's Flow did not start within {timeout:.0f} s "
                                   f"(exit code {proc.poll()}; log {log}: {tail})")
            time.sleep(0.5)
        target = f"{HOST}:{port}"
        asyncio.run(probe(target, max(5.0, deadline - time.monotonic())))
        known = descendants(proc.pid)
        gateway = listener_pid(port, known)
        pids: dict[str, int] = {"flow": proc.pid}
        for i, pid in enumerate(p for p in known if p != gateway):
            pids[f"process{i}"] = pid
        if gateway is not None:
            pids["gateway"] = gateway
        yield {"target": target, "pids": pids}
    finally:
        stop_group(proc, known)


# -- report ------------------------------------------------------------------------------------


def fmt(x: Any, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return f"{x:,.{digits}f}"


def print_tables(results: dict[str, dict[int, dict[str, dict[str, Any]]]], args: argparse.Namespace,
                 jina_note: str) -> list[str]:
    """One table per executor kind; returns the verdict lines."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 160))
    verdicts: list[str] = []
    for kind, levels in results.items():
        table = Table(title=f"executor: {kind} x {args.replicas} replicas, {args.seconds:g} s "
                            f"per level", title_justify="left")
        for col in ("clients", "system", "req/s", "fs/jina", "starved", "replies min/med/max",
                    "Jain", "p99 ms med/worst", "errors", "gw RSS MiB", "gw CPU %",
                    "srv CPU ms/req", "other %"):
            table.add_column(col, justify="left" if col == "system" else "right")
        for n, systems in levels.items():
            fs, jn = systems.get("flowserve"), systems.get("jina")
            for name, r in systems.items():
                if "failed" in r:
                    table.add_row(str(n), name, f"[red]failed: {r['failed'][:80]}[/red]")
                    continue
                ratio = "-"
                if name == "flowserve" and jn and "failed" not in jn and jn["rate"] > 0:
                    ratio = f"{r['rate'] / jn['rate']:.2f}x"
                starved = str(r["starved"])
                if r["starved"]:
                    starved = f"[red]{starved}[/red]"
                table.add_row(
                    str(n), name, fmt(r["rate"]), ratio, starved,
                    f"{r['min']} / {fmt(r['median'])} / {r['max']}", f"{r['jain']:.3f}",
                    f"{fmt(r['p99_ms_median'], 1)} / {fmt(r['p99_ms_worst'], 1)}",
                    str(r["errors"]), fmt(r["gateway_rss_mib"], 1),
                    fmt(r["cpu_pct"].get("gateway"), 0), fmt(r["server_cpu_ms_per_req"], 2),
                    fmt(r["other_pct"], 0))
            if fs and "failed" not in fs:
                verdicts.append(f"{kind} {n} clients: flowserve starved {fs['starved']}"
                                + (f", {fs['rate'] / jn['rate']:.2f}x Jina's throughput"
                                   if jn and "failed" not in jn and jn["rate"] else ""))
        console.print(table)
    if jina_note:
        console.print(f"[yellow]{jina_note}[/yellow]")
    return verdicts


def targets(results: dict[str, dict[int, dict[str, dict[str, Any]]]]) -> list[str]:
    lines = []
    for kind, levels in results.items():
        fs_rows = {n: s["flowserve"] for n, s in levels.items()
                   if "flowserve" in s and "failed" not in s["flowserve"]}
        starved = {n: r["starved"] for n, r in fs_rows.items()}
        ok = all(v == 0 for v in starved.values())
        lines.append(f"{kind}: 0 starved clients at every level: {'yes' if ok else 'NO'} "
                     f"(starved per level: {starved})")
        for n in (64, 256):
            jn = levels.get(n, {}).get("jina")
            if n in fs_rows and jn and "failed" not in jn and jn["rate"]:
                ratio = fs_rows[n]["rate"] / jn["rate"]
                lines.append(f"{kind}: throughput at {n} clients {ratio:.2f}x Jina "
                             f"(target >= 1.2x): {'yes' if ratio >= 1.2 else 'NO'}")
    return lines


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--levels", type=int, nargs="+", default=None,
                        help="concurrent clients per level (default 1 8 64 256; --quick 1 8 64)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="measured window per level and system (default 5; --quick 2)")
    parser.add_argument("--quick", action="store_true", help="levels 1 8 64, 2 s each")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--max-replies", type=int, default=200_000,
                        help="cap on replies per level, split evenly over the clients")
    parser.add_argument("--warmup", type=int, default=20,
                        help="requests client 0 sends before each window (not counted)")
    parser.add_argument("--no-jina", action="store_true", help="measure flowserve only")
    parser.add_argument("--jina-venv", type=Path, default=DEFAULT_JINA_VENV,
                        help="virtualenv with Jina 3.34 (built there on demand)")
    parser.add_argument("--jina-install-timeout", type=float, default=900)
    parser.add_argument("--jina-start-timeout", type=float, default=120)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    # internal: the load generator's subprocess
    parser.add_argument("--_load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pids", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.levels is None:
        args.levels = [1, 8, 64] if args.quick else [1, 8, 64, 256]
    if args.seconds is None:
        args.seconds = 2.0 if args.quick else 5.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args._load:
        return load_main(args)

    jina_ok, jina_note = False, ""
    if args.no_jina:
        jina_note = "Jina baseline skipped (--no-jina)."
    else:
        jina_ok, why = ensure_jina(args.jina_venv, args.jina_install_timeout)
        if not jina_ok:
            jina_note = f"Jina baseline UNAVAILABLE: {why}"
            print(jina_note, flush=True)
    systems = ["flowserve", "jina"] if jina_ok else ["flowserve"]
    per_level = len(systems) * (args.seconds + 45)
    budget = len(args.kinds) * (len(args.levels) * per_level + 2 * args.jina_start_timeout + 60)
    arm_watchdog(budget, f"the benchmark exceeded its budget of {budget:.0f} s")

    info = {"cpu": cpu_model(), "cpus": str(os.cpu_count()), "python": platform.python_version(),
            "src_sha256": src_sha256(), "load average": " ".join(
                f"{x:.2f}" for x in os.getloadavg())}
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    busy_before = machine_busy()
    print(f"CPU busy before the run (other load): {busy_before:.0%} of {os.cpu_count()} CPUs",
          flush=True)

    results: dict[str, dict[int, dict[str, dict[str, Any]]]] = {}
    exit_code = 0
    try:
        for kind in args.kinds:
            results[kind] = {}
            with contextlib.ExitStack() as stack:
                servers = {"flowserve": stack.enter_context(flowserve_flow(kind, args.replicas))}
                print(f"[{kind}] flowserve up: {servers['flowserve']['target']} "
                      f"pids {servers['flowserve']['pids']}", flush=True)
                if "jina" in systems:
                    try:
                        servers["jina"] = stack.enter_context(
                            jina_flow(args.jina_venv, kind, args.replicas,
                                      args.jina_start_timeout))
                        print(f"[{kind}] jina up: {servers['jina']['target']} "
                              f"pids {servers['jina']['pids']}", flush=True)
                    except Exception as exc:  # noqa: BLE001 - flowserve still gets measured
                        jina_note = f"Jina baseline UNAVAILABLE for {kind}: {exc}"
                        print(jina_note, flush=True)
                for j, n in enumerate(args.levels):
                    order = list(servers) if j % 2 == 0 else list(reversed(servers))
                    row: dict[str, dict[str, Any]] = {}
                    for name in order:
                        time.sleep(1.0)  # let the previous run's cancelled calls drain
                        r = run_load(servers[name]["target"], n, args, servers[name]["pids"])
                        row[name] = r
                        if "failed" in r:
                            exit_code = 1
                            print(f"[{kind}] {n:>3} clients {name:<9} FAILED {r['failed']}",
                                  flush=True)
                            continue
                        print(f"[{kind}] {n:>3} clients {name:<9} {r['rate']:8.0f} req/s  "
                              f"starved {r['starved']:>3}  replies {r['min']}/"
                              f"{r['median']:g}/{r['max']}  Jain {r['jain']:.3f}  p99 "
                              f"{r['p99_ms_median']:.1f}/{r['p99_ms_worst']:.1f} ms  errors "
                              f"{r['errors']}  other load {r['other_pct']:.0f}%"
                              + (f"  e.g. {r['error_samples'][0]}" if r["error_samples"]
                                 else ""), flush=True)
                    results[kind][n] = {name: row[name] for name in servers if name in row}
    except (Watchdog, KeyboardInterrupt) as exc:
        print(f"stopped: {type(exc).__name__}: {exc}", flush=True)
        exit_code = 1
    finally:
        signal.alarm(0)

    busy_after = machine_busy()
    verdicts = print_tables(results, args, jina_note)
    for line in [*targets(results)]:
        print(line)
    print(f"CPU busy before / after the run (other load): {busy_before:.0%} / {busy_after:.0%}"
          + ("  (machine not idle: figures are pessimistic)"
             if max(busy_before, busy_after) > 0.1 else ""))
    if args.json:
        args.json.write_text(json.dumps({
            "machine": info, "busy_before": busy_before, "busy_after": busy_after,
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "jina": jina_note or "measured", "results": results, "verdicts": verdicts,
        }, indent=2, default=str))
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
