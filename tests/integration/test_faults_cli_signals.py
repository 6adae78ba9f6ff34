"""Faults #4: any sequence of SIGINT/SIGTERM stops `flowserve flow`; a second Ctrl-C kills."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from procs import Proc, pid_alive, wait_until

pytestmark = pytest.mark.integration

FLOW = "jtype: Flow\nwith:\n  grace: 5\nexecutors:\n  - name: noop\n    uses: toy_executors:NoOp\n"


def test_sigint_then_sigterm_never_hangs_the_cli(tmp_path):
    """Before: 1 run in 2 hung for good (the main thread slept in Event.wait() while the
    kernel delivered SIGTERM to another thread). Repeated because the race is timing-bound."""
    flow_yml = tmp_path / "flow.yml"
    flow_yml.write_text(FLOW)
    for _ in range(6):
        proc = Proc("flow", "--uses", str(flow_yml))
        try:
            assert wait_until(lambda p=proc: "grpc://" in p.output or p.p.poll() is not None,
                              120), proc.output
            kids = proc.descendants()
            started = time.monotonic()
            proc.p.send_signal(signal.SIGINT)
            proc.p.send_signal(signal.SIGTERM)
            try:
                code = proc.p.wait(5 + 30)  # grace + slack for a loaded machine
            except subprocess.TimeoutExpired:
                pytest.fail(f"flowserve flow hung after SIGINT+SIGTERM:\n{proc.output}")
            assert code == 0, proc.output
            assert time.monotonic() - started < 35
            assert wait_until(lambda kids=kids: not any(pid_alive(k) for k in kids), 30)
        finally:
            proc.stop()
