"""examples/token-streaming served as its README says (``flowserve flow --uses flow.yml``) and
read with its client.py over gRPC and HTTP: the tokens arrive one by one, in order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from procs import Proc, child_env, free_port, wait_until

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "token-streaming"


def test_the_token_streaming_example_streams_over_grpc_and_http(tmp_path):
    grpc_port, http_port = free_port(), free_port()
    flow_yml = (EXAMPLE / "flow.yml").read_text().replace(
        "port: [8080, 8081]", f"port: [{grpc_port}, {http_port}]")
    assert str(grpc_port) in flow_yml
    (tmp_path / "flow.yml").write_text(flow_yml)
    (tmp_path / "executor.py").write_text((EXAMPLE / "executor.py").read_text())
    proc = Proc("flow", "--uses", str(tmp_path / "flow.yml"))
    try:
        assert wait_until(lambda: f"http://127.0.0.1:{http_port}" in proc.output
                          or proc.p.poll() is not None, 120), proc.output
        assert proc.p.poll() is None, proc.output
        for host in (f"grpc://127.0.0.1:{grpc_port}", f"http://127.0.0.1:{http_port}"):
            run = subprocess.run([sys.executable, str(EXAMPLE / "client.py"), "--host", host,
                                  "one two three"], capture_output=True, text=True,
                                 timeout=120, env=child_env())
            assert run.returncode == 0, run.stderr
            tokens = [line.split(maxsplit=2)[2] for line in run.stdout.splitlines()]
            assert tokens == ["You", "said:", "one", "two", "three", "-", "that", "is", "3",
                              "words."]
            times = [float(line.split()[0]) for line in run.stdout.splitlines()]
            assert times == sorted(times)
    finally:
        code = proc.stop()
    assert code == 0, proc.output
