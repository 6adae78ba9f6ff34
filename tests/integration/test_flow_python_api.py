"""Real Flows started through the Python API."""

from __future__ import annotations

import grpc
import httpx
import pytest
from google.protobuf import empty_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from procs import running
from toy_executors import (
    AppendText,
    AsyncSleep,
    Embed,
    NoOp,
    ReturnsNewDocs,
    TagByReplica,
)
from toy_executors import chain_flow as toy_chain_flow

from flowserve import Client, Document, DocumentArray, Flow
from flowserve.errors import ExecutorError
from flowserve.proto import jina_pb2_grpc

pytestmark = pytest.mark.integration


def docs(n: int, text: str = "t") -> DocumentArray:
    return DocumentArray(Document(id=f"d{i}", text=f"{text}{i}") for i in range(n))


@pytest.fixture(scope="module")
def chain_flow():
    with running(toy_chain_flow(["grpc", "http"])) as flow:
        yield flow


def test_two_executors_in_a_chain(chain_flow):
    result = chain_flow.post("/", docs(5), request_size=2, results_in_order=True)
    assert [d.text for d in result] == [f"t{i}-a" for i in range(5)]
    assert result.embeddings.shape == (5, 16)


def test_routes_name_gateway_then_each_executor(chain_flow):
    responses = chain_flow.post("/", docs(1), return_responses=True)
    assert [r.executor for r in responses[0].routes] == [
        "gateway", "first", "second", "stats", "fails"
    ]
    for route in responses[0].routes:
        assert route.end_time.ToNanoseconds() >= route.start_time.ToNanoseconds() > 0


def test_endpoint_binding_and_dict_results(chain_flow):
    result = chain_flow.post("/tag", docs(2), return_responses=True)[0]
    assert [d.tags for d in result.docs] == [{"first": "-a"}, {"first": "-a"}]
    # /stats: only ReturnsDict has it; AppendText's /default handler runs for it
    stats = chain_flow.post("/stats", docs(3), parameters={"x": "y"}, return_responses=True)[0]
    assert stats.parameters["__results__"]["stats"] == {"count": 3.0, "echo": "y"}
    assert [d.text for d in stats.docs] == ["t0-a", "t1-a", "t2-a"]


def test_executor_error_reaches_on_error_and_flow_keeps_serving(chain_flow):
    events: list[tuple[str, object]] = []
    chain_flow.post(
        "/", DocumentArray([Document(text="boom")]),
        on_done=lambda r: events.append(("done", r)),
        on_error=lambda r: events.append(("error", r)),
        on_always=lambda r: events.append(("always", r)),
    )
    assert [e[0] for e in events] == ["error", "always"]
    exc = events[0][1].header.status.exception
    assert exc.executor == "fails"
    assert exc.name == "ValueError"
    assert list(exc.args) == ["boom", "42"]
    assert any("maybe_fail" in s for s in exc.stacks)
    # without on_error the client raises, naming the executor
    with pytest.raises(ExecutorError) as info:
        chain_flow.post("/", DocumentArray([Document(text="boom")]))
    assert info.value.executor == "fails"
    # the Flow still serves; successful callbacks come as done then always
    events.clear()
    chain_flow.post("/", docs(1), on_done=lambda r: events.append(("done", r)),
                    on_error=lambda r: events.append(("error", r)),
                    on_always=lambda r: events.append(("always", r)))
    assert [e[0] for e in events] == ["done", "always"]


def test_http_protocol_serves_the_same_flow(chain_flow):
    http_url = chain_flow.addresses.gateway_url("http")
    with Client(host=http_url) as client:
        result = client.post("/", docs(3), request_size=2, results_in_order=True)
    assert [d.text for d in result] == ["t0-a", "t1-a", "t2-a"]
    assert result.embeddings.shape == (3, 16)
    base = http_url.replace("http://", "http://")
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/").json() == {}
        assert http.get("/status").json()["jina"]["role"] == "gateway"
        assert http.get("/dry_run").json()["code"] == 0
        assert http.get("/docs").status_code == 200
        bad = http.post("/post", json={"data": [{"txt": "x"}]})
        assert bad.status_code == 400 and "txt" in bad.text
        error = http.post("/post", json={"data": [{"text": "boom"}]}).json()
        assert error["header"]["status"]["code"] in (1, "ERROR")


def test_grpc_side_services(chain_flow):
    address = chain_flow.addresses.gateway_url("grpc").removeprefix("grpc://")
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        endpoints = jina_pb2_grpc.JinaDiscoverEndpointsRPCStub(channel).endpoint_discovery(
            empty_pb2.Empty(), timeout=10)
        assert {"/default", "/tag", "/label", "/stats"} <= set(endpoints.endpoints)
        status = jina_pb2_grpc.JinaGatewayDryRunRPCStub(channel).dry_run(
            empty_pb2.Empty(), timeout=10)
        assert status.code == 0
        info = jina_pb2_grpc.JinaInfoRPCStub(channel)._status(empty_pb2.Empty(), timeout=10)
        assert info.jina["role"] == "gateway"


def test_fan_out_and_fan_in_merge_by_id():
    flow = (
        Flow()
        .add(name="start", uses=NoOp)
        .add(name="left", uses=AppendText, uses_with={"suffix": "L"}, needs="start")
        .add(name="right", uses=Embed, uses_with={"n_dim": 4}, needs="start")
        .add(name="join", uses=NoOp, needs=["left", "right"])
    )
    with running(flow):
        result = flow.post("/", docs(4))
    assert [d.id for d in result] == ["d0", "d1", "d2", "d3"]
    assert [d.text for d in result] == ["t0L", "t1L", "t2L", "t3L"]
    assert result.embeddings.shape == (4, 4)


def test_two_replicas_both_receive_traffic():
    flow = Flow().add(name="marker", uses=TagByReplica, replicas=2)
    with running(flow):
        result = flow.post("/", docs(20), request_size=1)
    assert {d.tags["replica"] for d in result} == {0.0, 1.0}
    assert len({d.tags["pid"] for d in result}) == 2


def test_async_handler_and_returned_docarray():
    flow = Flow().add(name="waits", uses=AsyncSleep).add(name="replace", uses=ReturnsNewDocs)
    with running(flow):
        result = flow.post("/", docs(3))
    assert [d.id for d in result] == ["new-d0", "new-d1", "new-d2"]
    assert {d.text for d in result} == {"new"}


def test_bad_uses_fails_before_any_process_starts(tmp_path):
    flow = Flow().add(name="ghost", uses="no_such_module_xyz:Thing")
    with pytest.raises(Exception) as info:
        flow.start()
    message = str(info.value)
    assert "ghost" in message and "no_such_module_xyz" in message
    assert flow._runtime is None
