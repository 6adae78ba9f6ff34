"""What machine a benchmark ran on and how busy it was (shared by the bench scripts).

`machine()` describes the machine and software of a run for both `overhead.py` and
`flooding.py`. Also the pieces both need: CPU time from /proc (`CpuMeter`, `machine_busy`), a
hash of src/ as it is now (`src_sha256`, `src_fingerprint`) and the SIGALRM watchdog that bounds
a whole run in time (`Watchdog`, `arm_watchdog`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Self

__all__ = ["CpuMeter", "Watchdog", "arm_watchdog", "cpu_model", "machine", "machine_busy",
           "machine_cpu_s", "proc_cpu_s", "src_fingerprint", "src_sha256"]

ROOT = Path(__file__).resolve().parent.parent  # the repository
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or 'unknown'."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


# -- CPU time from /proc -------------------------------------------------------------------------


def proc_cpu_s(pid: int | str) -> float:
    """User + system CPU seconds of a process (all threads), NaN when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat's first line.

    Only the first 8 fields (user nice system idle iowait irq softirq steal): guest and
    guest_nice, which follow, are already counted in user and nice. Busy = total minus idle
    and iowait. Raises OSError when /proc/stat cannot be read."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    total = sum(values)
    return total - values[3] - values[4], total


def machine_cpu_s() -> float:
    """CPU seconds all CPUs spent busy since boot (from /proc/stat), NaN when unreadable."""
    try:
        busy, _ = _cpu_ticks()
    except OSError:
        return float("nan")
    return busy / _TICK


def rss_bytes(pid: int | str) -> int | None:
    """VmRSS of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def machine_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over `seconds` (from /proc/stat): others' load on the machine."""
    try:
        busy0, total0 = _cpu_ticks()
        time.sleep(seconds)
        busy1, total1 = _cpu_ticks()
    except OSError:
        return float("nan")
    return (busy1 - busy0) / max(1, total1 - total0)


class CpuMeter:
    """CPU seconds (user + system, all threads) used by given processes between two points,
    and what the rest of the machine used meanwhile.

    On a shared 2-core machine wall-clock rates move with whatever else runs; CPU time per
    request of each process is the steadier measure of where overhead sits.

    Either `start()` / `stop()` (CPU seconds per role, plus "other"), or as a context manager,
    which sets `ours_pct` and `other_pct` on exit (100 = one CPU busy all along).
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids  # role -> pid; "other" is the name of the rest of the machine
        self._start: dict[str, float] = {}

    cpu = staticmethod(proc_cpu_s)
    machine = staticmethod(machine_cpu_s)

    def start(self) -> None:
        self._start = {role: self.cpu(pid) for role, pid in self.pids.items()}
        self._start["_machine"] = self.machine()
        self._t0 = time.perf_counter()

    def stop(self) -> dict[str, float]:
        """CPU seconds per role, plus "other": what the rest of the machine used meanwhile,
        as a share of one CPU (the measured processes subtracted)."""
        used = {role: self.cpu(pid) - self._start[role] for role, pid in self.pids.items()}
        self.wall = time.perf_counter() - self._t0
        others = self.machine() - self._start["_machine"] - sum(used.values())
        used["other"] = max(0.0, others) / self.wall if self.wall > 0 else float("nan")
        return used

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        used = self.stop()
        ours = sum(v for role, v in used.items() if role != "other")
        self.ours_pct = 100 * ours / max(1e-9, self.wall)
        self.other_pct = 100 * used["other"]


# -- what was measured ---------------------------------------------------------------------------


def machine(root: Path = ROOT) -> dict[str, Any]:
    """The machine and software a run measured: CPUs, versions, and the source it ran."""
    import google.protobuf
    import grpc
    import numpy as np

    import flowserve

    return {
        "src": src_fingerprint(root),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "protobuf": google.protobuf.__version__,
        "numpy": np.__version__,
        "flowserve": flowserve.__version__,
    }


def src_fingerprint(root: Path = ROOT) -> str:
    """git HEAD plus a hash of src/ as it is now: the tree changes while people work."""
    head = "?"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10,
                              check=False).stdout.strip() or "?"
    return f"HEAD {head}, src sha256 {src_sha256(root)}"


def src_sha256(root: Path = ROOT) -> str:
    """First 12 hex digits of a sha256 over src/**/*.py as it is now (paths relative to
    `root`, then contents, in sorted order): the tree changes while people work."""
    digest = hashlib.sha256()
    for path in sorted((root / "src").rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# -- time bound ----------------------------------------------------------------------------------


class Watchdog(BaseException):
    """Raised by SIGALRM when the whole run exceeds its time budget.

    A BaseException, so that a broad `except Exception` in benchmark code cannot swallow it;
    code that catches BaseException in the main thread must re-raise it."""


def arm_watchdog(seconds: float, message: str) -> None:
    """Bound the whole run in time, whatever hangs: after `seconds` SIGALRM raises
    `Watchdog(message)` in the main thread, and the `finally` blocks stop every process
    started. `signal.alarm(0)` disarms it."""

    def fire(signum: int, frame: Any) -> None:
        raise Watchdog(message)

    signal.signal(signal.SIGALRM, fire)
    signal.alarm(max(1, int(seconds)))
