"""Jina 3.34's own `Client`, unchanged, against a flowserve Flow over each protocol (posts),
and its ``stream_doc`` against a streaming endpoint over gRPC and HTTP.

Jina pins grpcio <= 1.68 and pydantic < 2, so it runs in its own virtualenv
(scripts/jina_venv.sh; $FLOWSERVE_JINA_VENV, default /tmp/flowserve-jina-venv) as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from procs import running
from toy_executors import Tokens, chain_flow

from flowserve import Flow

# building the Jina venv (when scripts/test.sh has not) takes minutes
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "data" / "jina_client_driver.py"
PROTOCOLS = ["grpc", "http", "websocket"]


@pytest.fixture(scope="module")
def jina_python() -> Path:
    venv = Path(os.environ.get("FLOWSERVE_JINA_VENV", "/tmp/flowserve-jina-venv"))
    build = subprocess.run(["bash", str(ROOT / "scripts" / "jina_venv.sh")],
                           capture_output=True, text=True, timeout=900)
    if build.returncode != 0:
        pytest.skip(f"the Jina 3.34 virtualenv {venv} could not be built: "
                    f"{build.stderr.strip() or build.stdout.strip()}")
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def flow():
    with running(chain_flow(PROTOCOLS, n_dim=4)) as flow:
        yield flow


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_jina_client_posts_and_reads_results(jina_python, flow, protocol):
    port = flow.addresses.gateway_ports[protocol]
    env = {**os.environ, "JINA_OPTOUT_TELEMETRY": "1", "PYTHONPATH": ""}
    run = subprocess.run([str(jina_python), str(DRIVER), protocol, "127.0.0.1", str(port)],
                         capture_output=True, text=True, timeout=180, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])

    chain = seen["chain"]
    assert chain["callbacks"] == [3, 0]  # 5 docs, request_size=2
    assert chain["texts"] == [f"t{i}-a" for i in range(5)]
    assert chain["tags"] == [{"i": float(i)} for i in range(5)]
    assert chain["embedding_shapes"] == [[4]] * 5
    assert seen["results"] == {"stats": {"count": 3.0, "echo": "y"}}
    assert seen["target"] == {"texts": ["o-a"], "embedding": None}
    assert seen["error"]["callbacks"] == [0, 1]
    assert seen["error"]["executor"] == "fails"


JINA_PARSES = """
import base64, json, sys
from jina.types.request.data import DataRequest
given = json.loads(sys.stdin.read())
body = given["json"]
del body["data"]  # as Jina's HTTP client does, before it parses the rest
for request in (DataRequest(base64.b64decode(given["bytes"])), DataRequest(body)):
    route = request.routes[1]
    print(json.dumps([request.status.code, route.executor, route.status.code,
                      route.status.description]))
"""


def test_jina_parses_a_response_that_says_it_was_retried(jina_python):
    """Faults #6: the retried marker uses only fields Jina's protocol has (gRPC and JSON)."""
    import base64

    from flowserve import Document, DocumentArray
    from flowserve.wire.httpjson import response_to_json
    from flowserve.wire.request import DataRequest
    from flowserve.wire.retried import retried_status

    response = DataRequest.new(DocumentArray([Document(text="x")]))
    response.routes.add(executor="gateway")
    response.routes.add(executor="enc").status.CopyFrom(retried_status(2, ["replica lost"]))
    given = {"bytes": base64.b64encode(response.to_bytes()).decode(),
             "json": response_to_json(response)}
    env = {**os.environ, "JINA_OPTOUT_TELEMETRY": "1", "PYTHONPATH": ""}
    run = subprocess.run([str(jina_python), "-c", JINA_PARSES], input=json.dumps(given),
                         capture_output=True, text=True, timeout=180, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = [0, "enc", 0, "retried: 2 attempts; replica lost"]
    assert [json.loads(line) for line in run.stdout.strip().splitlines()[-2:]] == [expected] * 2
@pytest.fixture(scope="module")
def streaming_flow():
    with running(Flow(protocol=["grpc", "http"]).add(name="tok", uses=Tokens)) as flow:
        yield flow


@pytest.mark.parametrize(("protocol", "endpoint"), [
    ("grpc", "/generate"), ("http", "/generate"),
    ("grpc", "/generate-sync"),  # a plain generator handler, as Jina allows
])
def test_jina_client_streams_from_a_streaming_endpoint(jina_python, streaming_flow, protocol,
                                                       endpoint):
    port = streaming_flow.addresses.gateway_ports[protocol]
    env = {**os.environ, "JINA_OPTOUT_TELEMETRY": "1", "PYTHONPATH": ""}
    run = subprocess.run([str(jina_python), str(ROOT / "tests" / "data" /
                                                "jina_stream_driver.py"),
                          protocol, "127.0.0.1", str(port), endpoint],
                         capture_output=True, text=True, timeout=180, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen == {"texts": ["a", "b", "c"], "tags": [{"i": 0.0}, {"i": 1.0}, {"i": 2.0}]}
