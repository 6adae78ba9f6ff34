"""Start-up: how soon a Flow of 1 and 4 executors is ready, flowserve vs Jina 3.34.

    PYTHONPATH=src python bench/startup.py                # 7 repetitions
    PYTHONPATH=src python bench/startup.py --reps 3 --no-cli
    PYTHONPATH=src python bench/startup.py --json /tmp/startup.json

Each measurement runs in a fresh process, so no import or template is reused; within a
repetition flowserve and Jina alternate which goes first, so background load hits both alike.

Python API (bench/_startup_probe.py, run by each framework's own Python): a Flow of N no-op
executors in a chain behind a gRPC gateway on 127.0.0.1. Reported:

- ``enter``: the ``with flow:`` statement, until it returns (the Flow says it is ready). This is
  how Jina's ready time is usually quoted.
- ``first``: from entering to the first answer (entering, a client, one 1-doc request).
- ``script``: from starting the interpreter to the first answer (imports, building the Flow,
  entering it, the first request), as the driver sees it.

CLI: ``flowserve flow --uses flow.yml`` and ``jina flow --uses flow.yml`` (the same Flow), from
starting the command until a raw gRPC request sent once it prints that it is ready is
answered (``cli``).

Each row is the median over ``--reps`` repetitions (min-max in brackets) with the ratio
flowserve / Jina (below 1: flowserve is quicker). Target: ``enter`` and ``first`` ratio <= 1.

Jina 3.34 lives in its own virtualenv (``--jina-venv``, default /tmp/flowserve-jina-venv, as
for bench/many_clients.py); without it flowserve is measured alone. Bounds: every process has a
timeout and is killed with its process group; a SIGALRM watchdog bounds the run; everything
listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROBE = HERE / "_startup_probe.py"
DEFAULT_JINA_VENV = Path("/tmp/flowserve-jina-venv")
TIMEOUT = 120.0  # one start, however loaded the machine

JINA_NOOP = '''
from jina import Executor, requests


class Noop(Executor):
    @requests
    def noop(self, docs, **kwargs):
        return None
'''


def _env(src: Path = ROOT / "src", **extra: str) -> dict[str, str]:
    env = dict(os.environ, JINA_OPTOUT_TELEMETRY="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(HERE)])
    return env


def _stop_group(p: subprocess.Popen[Any]) -> None:
    """SIGTERM the process group, SIGKILL it after 30 s."""
    if p.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(30)


def probe(python: str, framework: str, n: int, src: Path = ROOT / "src") -> dict[str, float]:
    """One Python-API measurement in a fresh process (flowserve from `src`)."""
    started = time.perf_counter()
    p = subprocess.Popen([python, str(PROBE), str(n)], env=_env(src, STARTUP_PROBE=framework),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         start_new_session=True)
    try:
        assert p.stdout is not None
        timer = threading.Timer(TIMEOUT, _stop_group, (p,))
        timer.start()
        try:
            for line in p.stdout:
                if line.startswith("RESULT "):
                    result: dict[str, float] = json.loads(line[7:])
                    result["script"] = time.perf_counter() - started
                    p.stdout.read()  # until it stopped its Flow and exited
                    return result
        finally:
            timer.cancel()
        raise RuntimeError(f"{framework} probe with {n} executors failed (exit {p.wait()})")
    finally:
        _stop_group(p)
        if p.stdout is not None:
            p.stdout.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answer(port: int) -> None:
    """One raw 1-doc request, as flowserve's client sends it (both speak Jina's protocol)."""
    import grpc

    from flowserve.proto import jina_pb2, jina_pb2_grpc

    req = jina_pb2.DataRequestProto()
    req.header.request_id = uuid.uuid4().hex
    req.header.exec_endpoint = "/"
    doc = req.data.docs.docs.add()
    doc.id, doc.text = uuid.uuid4().hex, "x"
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = jina_pb2_grpc.JinaSingleDataRequestRPCStub(channel).process_single_data
        reply = call(req, timeout=TIMEOUT)
    if reply.header.status.code != 0:
        raise RuntimeError(f"error reply: {reply.header.status.description}")


def cli(argv: list[str], ready_marker: str, port: int, cwd: Path,
        src: Path = ROOT / "src") -> float:
    """Seconds from starting a `flow` command to the first answer after it says it is ready."""
    started = time.perf_counter()
    p = subprocess.Popen(argv, cwd=cwd, env=_env(src), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert p.stdout is not None
        timer = threading.Timer(TIMEOUT, _stop_group, (p,))
        timer.start()
        try:
            for raw in p.stdout:
                if ready_marker in raw.decode(errors="replace"):
                    _answer(port)
                    elapsed = time.perf_counter() - started
                    threading.Thread(target=p.stdout.read, daemon=True).start()  # drain
                    return elapsed
        finally:
            timer.cancel()
        raise RuntimeError(f"{argv[0]} flow exited ({p.wait()}) before it was ready")
    finally:
        _stop_group(p)
        if p.stdout is not None:
            p.stdout.close()


def _flowserve_yaml(n: int, port: int) -> str:
    return json.dumps({"jtype": "Flow", "with": {"protocol": "grpc", "port": port,
                                                 "host": "127.0.0.1"},
                       "executors": [{"name": f"noop{i}", "uses": f"{PROBE}:Noop"}
                                     for i in range(n)]})


def _jina_yaml(n: int, port: int, module: Path) -> str:
    return json.dumps({"jtype": "Flow", "with": {"protocol": "grpc", "port": port,
                                                 "host": "127.0.0.1"},
                       "executors": [{"name": f"noop{i}", "uses": "Noop",
                                      "py_modules": [str(module)]} for i in range(n)]})


def measure(reps: int, sizes: list[int], jina_python: str | None, with_cli: bool,
            jina_cli: str | None, baseline: Path | None = None,
            ) -> dict[str, dict[str, list[float]]]:
    """{"<system> <n>": {"enter": [...], "first": [...], "script": [...], "cli": [...]}}"""
    results: dict[str, dict[str, list[float]]] = {}
    systems: list[tuple[str, str]] = [("flowserve", sys.executable)]
    if baseline is not None:
        systems.append(("before", sys.executable))
    if jina_python:
        systems.append(("jina", jina_python))
    with tempfile.TemporaryDirectory(prefix="flowserve-startup-") as tmp:
        work = Path(tmp)
        module = work / "jina_noop.py"
        module.write_text(JINA_NOOP)
        for rep in range(reps):
            order = systems if rep % 2 == 0 else systems[::-1]
            for n in sizes:
                for name, python in order:
                    row = results.setdefault(f"{name} {n}", {})
                    src = baseline if name == "before" and baseline else ROOT / "src"
                    framework = "jina" if name == "jina" else "flowserve"
                    for key, value in probe(python, framework, n, src).items():
                        row.setdefault(key, []).append(value)
                    if not with_cli or (name == "jina" and not jina_cli):
                        continue
                    port = _free_port()
                    flow_yml = work / f"{name}-{n}.yml"
                    if name != "jina":
                        flow_yml.write_text(_flowserve_yaml(n, port))
                        argv = [sys.executable, "-m", "flowserve", "flow", "--uses",
                                str(flow_yml)]
                        marker = f"grpc://127.0.0.1:{port}"
                    else:
                        assert jina_cli is not None
                        flow_yml.write_text(_jina_yaml(n, port, module))
                        argv = [jina_cli, "flow", "--uses", str(flow_yml)]
                        marker = "Flow is ready to serve"
                    row.setdefault("cli", []).append(cli(argv, marker, port, work, src))
            print(f"repetition {rep + 1}/{reps} done", file=sys.stderr, flush=True)
    return results


def _cell(v: list[float] | None) -> str:
    if not v:
        return "-"
    return f"{statistics.median(v):.3f} [{min(v):.3f}-{max(v):.3f}]"


def report(results: dict[str, dict[str, list[float]]], sizes: list[int]) -> list[str]:
    before = any(k.startswith("before ") for k in results)
    lines = [f"{'measure':<8} {'N':>2}  {'flowserve s':>22}  {'jina s':>22}  {'ratio':>6}"
             + (f"  {'before s':>22}" if before else "")]
    for key in ("enter", "first", "script", "cli", "import", "build"):
        for n in sizes:
            fs = results.get(f"flowserve {n}", {}).get(key)
            jn = results.get(f"jina {n}", {}).get(key)
            if not fs:
                continue
            ratio = (f"{statistics.median(fs) / statistics.median(jn):.2f}"
                     if jn else "-")
            line = f"{key:<8} {n:>2}  {_cell(fs):>22}  {_cell(jn):>22}  {ratio:>6}"
            if before:
                line += f"  {_cell(results.get(f'before {n}', {}).get(key)):>22}"
            lines.append(line)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--no-cli", dest="cli", action="store_false",
                        help="skip the `flow` command measurements")
    parser.add_argument("--no-jina", action="store_true")
    parser.add_argument("--jina-venv", type=Path, default=DEFAULT_JINA_VENV)
    parser.add_argument("--json", type=Path, default=None, help="also write the raw numbers")
    parser.add_argument("--baseline-src", type=Path, default=None, metavar="SRC",
                        help="also measure flowserve from this src/ folder (say, an earlier "
                             "commit's, from `git archive`), as the column 'before'")
    args = parser.parse_args()
    jina_python = jina_cli = None
    if not args.no_jina:
        python, command = args.jina_venv / "bin" / "python", args.jina_venv / "bin" / "jina"
        if python.is_file():
            jina_python = str(python)
            jina_cli = str(command) if command.is_file() else None
        else:
            print(f"no Jina at {args.jina_venv}: flowserve alone", file=sys.stderr)

    def fire(signum: int, frame: Any) -> None:
        raise TimeoutError("bench/startup.py: the whole run took too long")

    signal.signal(signal.SIGALRM, fire)
    signal.alarm(int(args.reps * len(args.sizes) * 4 * TIMEOUT))
    started = time.monotonic()
    results = measure(args.reps, args.sizes, jina_python, args.cli, jina_cli,
                      args.baseline_src.resolve() if args.baseline_src else None)
    signal.alarm(0)
    print(f"# bench/startup.py --reps {args.reps}: medians over {args.reps} fresh processes "
          f"each [min-max], ratio = flowserve / Jina; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at the end, {time.monotonic() - started:.0f} s")
    print("\n".join(report(results, args.sizes)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
