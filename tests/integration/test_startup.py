"""Start-up: a Flow is ready when `with Flow` is entered or `flowserve flow` prints its
addresses, and its processes, forked from a template process, leave nothing behind when the
Flow's process or the template is killed (docs/architecture.md, docs/resilience.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import Proc, child_env, descendants_of, pid_alive, wait_until

from flowserve import Client, Document, DocumentArray, Flow

pytestmark = pytest.mark.integration

CHAIN = [{"name": f"e{i}", "uses": "toy_executors:AppendText",
          "uses_with": {"suffix": str(i)}} for i in range(4)]

# A Flow started by a script, as users do: it prints its processes, then acts on stdin lines.
SCRIPT = '''
import json, sys, time
from flowserve import Document, Flow

if __name__ == "__main__":
    flow = Flow()
    for ex in json.loads(sys.argv[1]):
        flow.add(**ex)
    with flow:
        runtime = flow._runtime
        def pids():
            return {"template": runtime.template.pid if runtime.template else None,
                    "children": [c.pid for c in runtime.children]}
        # the first request right after the Flow is ready
        print("first:", flow.post("/", Document(text="x"))[0].text, flush=True)
        print("pids:", json.dumps(pids()), flush=True)
        for line in sys.stdin:  # "post": one more request, retried while the Flow heals
            if line.strip() == "post":
                deadline = time.monotonic() + 120
                while True:
                    try:
                        answer = flow.post("/", Document(text="y"))[0].text
                        break
                    except Exception:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.5)
                print("answer:", answer, flush=True)
                print("pids:", json.dumps(pids()), flush=True)
    print("closed", flush=True)
'''


def _script(tmp_path: Path, executors: list[dict], **env: str) -> subprocess.Popen[str]:
    path = tmp_path / "flow_script.py"
    path.write_text(SCRIPT)
    return subprocess.Popen([sys.executable, str(path), json.dumps(executors)], cwd=tmp_path,
                            env=child_env(**env), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _read(p: subprocess.Popen[str], prefix: str, timeout: float = 120) -> str:
    """The rest of the next stdout line starting with `prefix` (bounded by `timeout`)."""
    assert p.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    pytest.fail(f"no {prefix!r} line from the script (exit code {p.poll()})")


def _cmdline(pid: int) -> str:
    """What `ps` shows as the process's command line."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode().strip()


def _all_pids(pids: dict) -> list[int]:
    return [p for p in [pids["template"], *pids["children"]] if p]


def _end(p: subprocess.Popen[str], pids: list[int]) -> None:
    """Clean-up after the assertions (they checked the Flow's own clean-up): the script and
    every process it started, also those a failing test never learnt of."""
    if p.poll() is None:
        pids = [*pids, *descendants_of(p.pid)]  # its template and the processes forked from it
        p.kill()
    p.wait(30)
    for stream in (p.stdin, p.stdout):
        if stream is not None and not stream.closed:
            stream.close()
    for pid in pids:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("method", ["auto", "spawn"])
def test_the_first_request_after_the_flow_is_ready_succeeds(tmp_path, method):
    p = _script(tmp_path, CHAIN, FLOWSERVE_START_METHOD=method)
    pids: list[int] = []
    try:
        assert _read(p, "first:") == "x0123"
        info = json.loads(_read(p, "pids:"))
        pids = _all_pids(info)
        assert (info["template"] is not None) == (method == "auto")  # a script may fork
        assert len(info["children"]) == 5
        # each process says what it is in ps (before: every forked one showed the script's
        # own command line, `python flow_script.py ...`)
        titles = [_cmdline(pid) for pid in info["children"]]
        assert sorted(t.split(" --name ")[1].split()[0] for t in titles
                      if "flowserve executor" in t or "-m flowserve executor" in t
                      or " executor " in t) == ["e0", "e1", "e2", "e3"], titles
        assert sum(" gateway " in f"{t} " for t in titles) == 1, titles
        assert not any("flow_script.py" in t for t in titles), titles
        if info["template"] is not None:
            assert _cmdline(info["template"]).startswith("flowserve template")
        p.stdin.close()
        assert _read(p, "closed") == ""
        assert p.wait(60) == 0
        assert wait_until(lambda: not any(pid_alive(x) for x in pids), 30)
    finally:
        _end(p, pids)


def test_the_first_request_after_the_cli_prints_its_addresses_succeeds(tmp_path):
    flow_yml = tmp_path / "flow.yml"
    flow_yml.write_text(json.dumps({"jtype": "Flow", "executors": CHAIN}))  # JSON is YAML
    proc = Proc("flow", "--uses", str(flow_yml))
    try:
        assert wait_until(lambda: "grpc://" in proc.output or proc.p.poll() is not None,
                          120), proc.output
        url = proc.output.split("grpc://")[1].split()[0].strip("│ ")
        with Client(host=f"grpc://{url}") as client:
            reply = client.post("/", DocumentArray([Document(text="x")]))
        assert reply[0].text == "x0123"
        kids = proc.descendants()
        assert len(kids) == 6  # the template, four executors and the gateway
    finally:
        code = proc.stop()
    assert code == 0, proc.output
    assert wait_until(lambda: not any(pid_alive(k) for k in kids), 30)


def test_killing_the_flow_process_leaves_no_process(tmp_path):
    p = _script(tmp_path, CHAIN)
    pids: list[int] = []
    try:
        _read(p, "first:")
        info = json.loads(_read(p, "pids:"))
        pids = _all_pids(info)
        assert info["template"] is not None
        assert sorted(descendants_of(p.pid)) == sorted(pids)
        p.kill()
        p.wait(30)
        assert wait_until(lambda: not any(pid_alive(x) for x in pids), 60), \
            f"survivors: {[x for x in pids if pid_alive(x)]}"
    finally:
        _end(p, pids)


def test_killing_the_template_ends_its_children_and_the_flow_heals(tmp_path):
    p = _script(tmp_path, CHAIN[:1])
    pids: list[int] = []
    try:
        _read(p, "first:")
        before = json.loads(_read(p, "pids:"))
        pids = _all_pids(before)
        os.kill(before["template"], signal.SIGKILL)
        # its children (an executor and the gateway) got SIGTERM as their parent died
        assert wait_until(lambda: not any(pid_alive(x) for x in pids), 60), \
            f"survivors: {[x for x in pids if pid_alive(x)]}"
        p.stdin.write("post\n")
        p.stdin.flush()
        assert _read(p, "answer:") == "y0"  # restarted as fresh interpreters
        after = json.loads(_read(p, "pids:"))
        pids += after["children"]
        assert not set(after["children"]) & set(before["children"])
        p.stdin.close()
        _read(p, "closed")
        assert p.wait(60) == 0
        assert wait_until(lambda: not any(pid_alive(x) for x in pids), 30)
    finally:
        _end(p, pids)


def test_the_flow_process_dying_while_a_forked_executor_loads_ends_everything(tmp_path):
    p = _script(tmp_path, [{"name": "slow", "uses": "fault_executors:SlowInit"}])
    p.stdout.close()
    found: list[int] = []
    try:
        # the template and the executor, which is in its 300 s `__init__`
        assert wait_until(lambda: len(descendants_of(p.pid)) == 2, 120)
        found = descendants_of(p.pid)
        p.kill()
        p.wait(30)
        assert wait_until(lambda: not any(pid_alive(x) for x in found), 30), \
            f"survivors: {[x for x in found if pid_alive(x)]}"
    finally:
        _end(p, found)


def test_a_flow_started_with_other_threads_running_spawns_its_processes():
    """fork_safe() says no (a thread could hold a lock the children need): new interpreters."""
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        with Flow().add(uses="toy_executors:AppendText") as flow:
            assert flow._runtime.template is None
            assert flow.post("/", Document(text="x"))[0].text == "x!"
    finally:
        stop.set()
        thread.join()
