"""The `flowserve` command: `flow`, `executor` and `gateway`, as users (and containers) run them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from procs import Proc, free_port, pid_alive, running, wait_until

from flowserve import Client, Document, DocumentArray, Flow

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "linkerd-demo"


def test_flow_command_serves_the_seed_flow_and_stops_cleanly(tmp_path):
    # the demo's flow.yml with the sleep shortened, from a directory that is not the cwd
    flow_yml = (DEMO / "flow.yml").read_text().replace("sleep: 1", "sleep: 0")
    port = free_port()
    flow_yml = flow_yml.replace("port: 8080", f"port: {port}")
    (tmp_path / "flow.yml").write_text(flow_yml)
    (tmp_path / "executor.py").write_text((DEMO / "executor.py").read_text())
    proc = Proc("flow", "--uses", str(tmp_path / "flow.yml"), cwd=REPO)
    try:
        assert wait_until(lambda: f"grpc://127.0.0.1:{port}" in proc.output
                          or proc.p.poll() is not None, 120), proc.output
        assert proc.p.poll() is None, proc.output
        assert "slow_executor" in proc.output and "bulky_executor" in proc.output
        children = proc.descendants()
        assert len(children) == 4  # the template, two executors and the gateway
        seen = []
        with Client(host=f"grpc://127.0.0.1:{port}") as client:
            client.post("/", DocumentArray(Document(text=f"text {i}") for i in range(250)),
                        on_done=lambda r: seen.append(r.docs.embeddings.shape))
        assert sorted(seen) == [(50, 512), (100, 512), (100, 512)]
    finally:
        code = proc.stop()
    assert code == 0, proc.output
    assert wait_until(lambda: not any(pid_alive(c) for c in children), 30)


def test_flow_command_reports_bad_yaml_with_file_and_key(tmp_path):
    path = tmp_path / "flow.yml"
    path.write_text("jtype: Flow\nexecutors:\n  - name: a\n    usess: x\n")
    proc = Proc("flow", "--uses", str(path))
    proc.p.wait(60)
    code = proc.stop()
    assert code != 0
    assert "flow.yml" in proc.output and "usess" in proc.output


def test_executor_and_gateway_commands_compose_a_flow(tmp_path):
    ex_port, gw_port = free_port(), free_port()
    executor = Proc("executor", "--uses", "toy_executors:AppendText", "--name", "suffixer",
                    "--uses-with", json.dumps({"suffix": "?"}), "--host", "127.0.0.1",
                    "--port", str(ex_port))
    gateway = Proc("gateway", "--graph", json.dumps({"suffixer": ["gateway"]}),
                   "--deployments", json.dumps({"suffixer": [f"127.0.0.1:{ex_port}"]}),
                   "--protocol", "grpc", "--port", str(gw_port), "--host", "127.0.0.1")
    try:
        with Client(host=f"grpc://127.0.0.1:{gw_port}") as client:
            assert wait_until(lambda: client.is_flow_ready(timeout=1) and client.dry_run(), 120), (
                executor.output + gateway.output)
            result = client.post("/", DocumentArray([Document(text="why")]))
        assert [d.text for d in result] == ["why?"]
    finally:
        assert gateway.stop() == 0, gateway.output
        assert executor.stop() == 0, executor.output


def test_flow_with_an_external_executor_uses_it_without_starting_it():
    port = free_port()
    external = Proc("executor", "--uses", "toy_executors:AppendText", "--name", "outside",
                    "--uses-with", json.dumps({"suffix": "@ext"}), "--host", "127.0.0.1",
                    "--port", str(port))
    try:
        flow = Flow().add(name="outside", external=True, host="127.0.0.1", port=port)
        with running(flow):
            assert all(c.role == "gateway" for c in flow._runtime.children)
            with Client(host=flow.addresses.gateway_url("grpc")) as client:
                assert wait_until(lambda: client.dry_run(), 120), external.output
                result = client.post("/", DocumentArray([Document(text="x")]))
        assert [d.text for d in result] == ["x@ext"]
    finally:
        assert external.stop() == 0, external.output


def test_flow_command_reports_a_port_in_use_in_one_line(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = tmp_path / "flow.yml"
        path.write_text(f"jtype: Flow\nwith:\n  port: {port}\n  host: 127.0.0.1\n"
                        "executors:\n  - name: a\n")
        proc = Proc("flow", "--uses", str(path))
        proc.p.wait(120)
        code = proc.stop()
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.output
    assert "Traceback" not in proc.output
