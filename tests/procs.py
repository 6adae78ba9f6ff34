"""Helpers for integration tests: real processes on 127.0.0.1, always cleaned up.

A plain module (not a conftest) so that tests import it by a name no other module shares."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from flowserve import Flow


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes; the state follows the name in parentheses, which
    # may hold spaces (a process title: "flowserve template ...")
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # it was reaped meanwhile
        return False


def wait_until(condition, timeout: float = 30.0, interval: float = 0.05) -> bool:
    """Wait for a condition with a generous timeout (not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


@contextlib.contextmanager
def running(flow: Flow) -> Iterator[Flow]:
    """Start `flow`, yield it, stop it and assert that none of its processes survived."""
    pids: list[int] = []
    try:
        flow.start()
        pids = [c.pid for c in flow._runtime.children if c.pid]
        if flow._runtime.template is not None:  # the process they were forked from
            pids.append(flow._runtime.template.pid)
        yield flow
    finally:
        flow.close()
    survivors = [p for p in pids if pid_alive(p)]
    assert not survivors, f"processes outlived the Flow: {survivors}"


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a `python -m flowserve` child: ours, with our `sys.path` as its
    PYTHONPATH (so it imports this checkout's flowserve and the tests' toy executors)."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p or os.getcwd() for p in sys.path),
                **extra)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound by the OS, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry))
    return kids


def descendants_of(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        kids = children_of(todo.pop())
        found += kids
        todo += kids
    return found


class Proc:
    """A `python -m flowserve ...` process whose output is collected in the background."""

    def __init__(self, *args: str, cwd: Path | None = None) -> None:
        self.p = subprocess.Popen(
            [sys.executable, "-m", "flowserve", *args], cwd=cwd, env=child_env(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def children(self) -> list[int]:
        return children_of(self.p.pid)

    def descendants(self) -> list[int]:
        """Children, their children, ...: a local Flow's processes are forked from a template
        process (docs/architecture.md), so they are grandchildren of `flowserve flow`."""
        return descendants_of(self.p.pid)

    def stop(self) -> int:
        """SIGTERM (if still running), wait for the exit code; SIGKILL after 60 s."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(60)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait(10)
            self._reader.join(10)
            if self.p.stdout is not None:
                self.p.stdout.close()
