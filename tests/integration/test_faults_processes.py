"""Faults #3: a script without a `__main__` guard never multiplies processes; an executor
honours SIGTERM and its parent's death while the user's code is still loading."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import Proc, child_env, pid_alive, wait_until

pytestmark = pytest.mark.integration

SCRIPT = '''
from flowserve import Document, Executor, Flow, requests


class MyExec(Executor):
    @requests
    def f(self, docs, **kwargs):
        for d in docs:
            d.text = "seen"


f = Flow().add(uses=MyExec)  # no `if __name__ == "__main__":`, as in a quick first try
with f:
    print("answer:", f.post("/", Document(text="x"))[0].text)
'''


def _running_with(marker: str) -> list[int]:
    """PIDs whose command line mentions `marker` (a path unique to this test)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and pid_alive(int(entry)):
                found.append(int(entry))
    return found


def test_a_script_without_main_guard_stops_at_once_with_a_clear_error(tmp_path):
    """Before: every executor process re-ran the script and started a Flow of its own
    (112 -> 118 -> ... processes in 60 s, still growing after the parent was killed)."""
    script = tmp_path / "unguarded_flow.py"
    script.write_text(SCRIPT)
    p = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=child_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    most = 0
    try:
        deadline = time.monotonic() + 120
        while p.poll() is None and time.monotonic() < deadline:
            most = max(most, len(_running_with(str(script))))
            if most > 3:  # the script itself + one executor (+ a gateway) at most
                break
            time.sleep(0.1)
    finally:
        for _ in range(50):  # the old code's process tree: end it, whatever happened
            pids = _running_with(str(script))
            if not pids:
                break
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        output = p.communicate(timeout=60)[0]
    assert most <= 3, f"{most} processes ran the script"
    assert p.returncode not in (None, 0), output
    assert 'put the code that starts the Flow under `if __name__ == "__main__":`' in output


def test_sigterm_while_the_executor_loads_ends_it_at_once():
    """Before: SIGTERM waited for `__init__` to return (here 300 s)."""
    proc = Proc("executor", "--uses", "fault_executors:SlowInit", "--host", "127.0.0.1")
    try:
        assert wait_until(lambda: "slow init started" in proc.output, 120), proc.output
        started = time.monotonic()
        proc.p.send_signal(signal.SIGTERM)
        proc.p.wait(60)
        assert time.monotonic() - started < 30
    finally:
        proc.stop()


def test_the_parent_dying_while_the_executor_loads_ends_it(tmp_path):
    """`--die-with-parent` (how a local Flow starts executors) while `__init__` runs."""
    pid_file, log = tmp_path / "child.pid", tmp_path / "child.log"
    parent = subprocess.Popen(
        [sys.executable, "-c", (
            "import subprocess, sys, time\n"
            "c = subprocess.Popen([sys.executable, '-m', 'flowserve', 'executor', '--uses',"
            " 'fault_executors:SlowInit', '--host', '127.0.0.1', '--die-with-parent'],"
            f" stderr=open({str(log)!r}, 'w'))\n"
            f"open({str(pid_file)!r}, 'w').write(str(c.pid))\n"
            "time.sleep(600)\n")],
        env=child_env())
    child = None
    try:
        assert wait_until(lambda: pid_file.exists() and pid_file.read_text(), 60)
        child = int(pid_file.read_text())
        assert wait_until(lambda: "slow init started" in log.read_text(), 120)
        parent.kill()
        parent.wait(30)
        assert wait_until(lambda: not pid_alive(child), 30), "the executor outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(30)
        if child is not None and pid_alive(child):
            os.kill(child, signal.SIGKILL)
