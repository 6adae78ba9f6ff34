"""Helpers for integration tests: real processes on 127.0.0.1, always cleaned up.

A plain module (not a conftest) so that tests import it by a name no other module shares."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from flowserve import Flow


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
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
        yield flow
    finally:
        flow.close()
    survivors = [p for p in pids if pid_alive(p)]
    assert not survivors, f"processes outlived the Flow: {survivors}"
