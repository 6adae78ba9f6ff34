"""Tracing across processes: the gateway and every executor replica write their finished spans
to one JSON-lines file (FLOWSERVE_TRACES_FILE); each request is one trace whose spans link the
gateway's call to the executor's handler span across the process boundary."""

from __future__ import annotations

import json
import time
from collections import defaultdict

import grpc
import httpx
import pytest
from procs import free_port, running, wait_until
from toy_executors import AppendText, Raises

from flowserve import Client, Document, DocumentArray, Flow
from flowserve.proto import jina_pb2_grpc
from flowserve.wire.names import TIMEOUT_HEADER
from flowserve.wire.request import DataRequest

pytestmark = pytest.mark.integration

REQUESTS = 4
PROCESS = "jina.JinaSingleDataRequestRPC/process_single_data"


def read_spans(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def is_request_span(span: dict) -> bool:
    """The gateway's span of a client request (the calls to executors are CLIENT spans)."""
    return span["kind"] == "SERVER" and span["service"] == "gateway"


def is_executor_span(span: dict) -> bool:
    return span["kind"] == "SERVER" and span["service"] != "gateway"


def test_one_trace_per_request_across_gateway_and_executor_processes(tmp_path):
    path = tmp_path / "spans.jsonl"
    flow = (
        Flow(tracing=True, env={"FLOWSERVE_TRACES_FILE": str(path)})
        .add(name="first", uses=AppendText, replicas=2)
        .add(name="second", uses=Raises)
    )
    with running(flow):
        with Client(host=flow.addresses.gateway_url()) as client:
            client.post("/", DocumentArray(Document(text=f"t{i}") for i in range(REQUESTS)),
                        request_size=1)
            errors = []
            client.post("/", DocumentArray([Document(text="boom")]), on_error=errors.append)
        assert len(errors) == 1

        def spans() -> list[dict]:
            return read_spans(path)

        # the executor spans are written when their handler returns, the gateway's when the
        # reply is sent: all of them once REQUESTS + 1 gateway spans are there
        assert wait_until(lambda: sum(map(is_request_span, spans())) == REQUESTS + 1
                          and sum(map(is_executor_span, spans())) == 2 * (REQUESTS + 1), 30), \
            spans()
    traces: dict[str, list[dict]] = defaultdict(list)
    for span in spans():
        traces[span["trace_id"]].append(span)
    assert len(traces) == REQUESTS + 1
    for trace in traces.values():
        by_id = {s["span_id"]: s for s in trace}
        (root,) = [s for s in trace if s["parent_id"] is None]
        assert is_request_span(root)
        assert root["attributes"]["flowserve.endpoint"] == "/"
        for name in ("first", "second"):
            (server,) = [s for s in trace if s["service"] == name]
            assert (server["name"], server["kind"]) == (PROCESS, "SERVER"), \
                "written by the executor's own process"
            call = by_id[server["parent_id"]]
            assert (call["name"], call["service"], call["kind"]) == (PROCESS, "gateway", "CLIENT")
            assert call["attributes"]["flowserve.executor"] == name
            assert call["parent_id"] == root["span_id"]
            assert call["start"] <= server["start"] <= server["end"] <= call["end"]
            (queue,) = [s for s in trace if s["name"] == f"queue {name}"]
            assert queue["parent_id"] == root["span_id"]
    failed = [t for t in traces.values() if any(s["status"] == "ERROR" for s in t)]
    assert len(failed) == 1
    assert {(s["service"], s["kind"]) for s in failed[0] if s["status"] == "ERROR"} == {
        ("gateway", "SERVER"), ("second", "SERVER")}


def test_without_a_collector_nothing_fails_or_hangs():
    port = free_port()  # nothing listens there
    flow = Flow(tracing=True, traces_exporter_host="127.0.0.1", traces_exporter_port=port).add(
        name="first", uses=AppendText)
    with running(flow):
        started = time.monotonic()
        result = flow.post("/", DocumentArray(Document(text=f"t{i}") for i in range(20)),
                           request_size=1)
        assert len(result) == 20
        assert time.monotonic() - started < 10
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 20, "stopping waited too long for the exporter"


def test_spans_follow_the_opentelemetry_semantic_conventions(tmp_path):
    """A gRPC stream, a unary gRPC call, an HTTP post and an HTTP post that times out in the
    gateway: the gateway's request spans carry the RPC or HTTP conventions with the status the
    client got, its calls and the executors' spans the RPC ones (semconv 1.44)."""
    path = tmp_path / "spans.jsonl"
    flow = (
        Flow(protocol=["grpc", "http"], host="127.0.0.1", tracing=True,
             env={"FLOWSERVE_TRACES_FILE": str(path)})
        .add(name="first", uses=AppendText)
        .add(name="second", uses=Raises)
    )
    with running(flow):
        ports = flow.addresses.gateway_ports
        with grpc.insecure_channel(f"127.0.0.1:{ports['grpc']}") as channel:
            (streamed,) = jina_pb2_grpc.JinaRPCStub(channel).Call(iter([DataRequest.new(
                DocumentArray([Document(text="g")]), endpoint="/").proto]), timeout=60)
            failed = jina_pb2_grpc.JinaSingleDataRequestRPCStub(channel).process_single_data(
                DataRequest.new(DocumentArray([Document(text="boom")]), endpoint="/").proto,
                timeout=60)
        assert not DataRequest(streamed).is_error and DataRequest(failed).is_error
        http = f"http://127.0.0.1:{ports['http']}/post"
        posted = httpx.post(http, json={"data": [{"text": "h"}]},
                            headers={"User-Agent": "spans-test/1"}, timeout=60)
        assert posted.status_code == 200
        late = httpx.post(http, json={"data": [{"text": "late"}]},
                          headers={TIMEOUT_HEADER: "0.000001"}, timeout=60)
        assert late.status_code == 504
        # 4 requests; 3 reach both executors (the late one expires before the first)
        assert wait_until(lambda: sum(map(is_request_span, read_spans(path))) == 4
                          and sum(map(is_executor_span, read_spans(path))) == 6, 30), \
            read_spans(path)
        executor_ports = {name: int(addresses[0].rpartition(":")[2])
                          for name, addresses in flow.addresses.executors.items()}
    spans = read_spans(path)
    by_trace: dict[str, list[dict]] = defaultdict(list)
    for span in spans:
        by_trace[span["trace_id"]].append(span)
    roots = {s["name"] + (" late" if s["attributes"].get("http.response.status_code") == 504
                          else ""): s for s in spans if is_request_span(s)}
    assert set(roots) == {"jina.JinaRPC/Call", PROCESS, "POST /post", "POST /post late"}

    stream = roots["jina.JinaRPC/Call"]["attributes"]
    assert {"rpc.system": "grpc", "rpc.system.name": "grpc", "rpc.service": "jina.JinaRPC",
            "rpc.method": "jina.JinaRPC/Call", "server.address": "127.0.0.1",
            "server.port": ports["grpc"], "network.peer.address": "127.0.0.1",
            "rpc.grpc.status_code": 0, "rpc.response.status_code": "OK"}.items() \
        <= stream.items()
    unary = roots[PROCESS]
    assert {"rpc.service": "jina.JinaSingleDataRequestRPC", "rpc.method": PROCESS,
            "rpc.grpc.status_code": 0}.items() <= unary["attributes"].items()
    assert unary["status"] == "ERROR", "the executor error travels in-band: OK, but an error"

    post = roots["POST /post"]
    assert {"http.request.method": "POST", "http.route": "/post", "url.path": "/post",
            "url.scheme": "http", "server.address": "127.0.0.1", "server.port": ports["http"],
            "client.address": "127.0.0.1", "user_agent.original": "spans-test/1",
            "http.response.status_code": 200}.items() <= post["attributes"].items()
    assert post["status"] == "UNSET"
    timed_out = roots["POST /post late"]
    assert timed_out["attributes"]["error.type"] == "DeadlineExceededError"
    assert timed_out["status"] == "ERROR"
    assert len(by_trace[timed_out["trace_id"]]) == 1, "it never reached an executor"

    for root in (stream, unary["attributes"], post["attributes"]):
        assert "flowserve.endpoint" in root
    calls = [s for s in spans if s["kind"] == "CLIENT"]
    executors = [s for s in spans if is_executor_span(s)]
    assert len(calls) == len(executors) == 6
    rpc = {"rpc.system": "grpc", "rpc.system.name": "grpc",
           "rpc.service": "jina.JinaSingleDataRequestRPC", "rpc.method": PROCESS,
           "rpc.grpc.status_code": 0, "rpc.response.status_code": "OK",
           "server.address": "127.0.0.1"}
    for span in calls + executors:
        assert span["name"] == PROCESS
        assert rpc.items() <= span["attributes"].items(), span
        executor = span["attributes"]["flowserve.executor"]
        assert span["attributes"]["server.port"] == executor_ports[executor]
    for span in executors:
        assert span["attributes"]["network.peer.address"] == "127.0.0.1"


def test_streams_are_traced_with_their_transport_like_any_request(tmp_path):
    """stream_doc over gRPC and over HTTP (server-sent events): the gateway's request span of
    each carries the RPC or HTTP conventions of the call that opened the stream, and the call
    to the executor is traced like a post's: the gateway's CLIENT span for the whole stream,
    the executor's SERVER span under it (in its own process), one trace per stream."""
    from toy_executors import Tokens

    from flowserve.errors import ExecutorError

    path = tmp_path / "spans.jsonl"
    flow = Flow(protocol=["grpc", "http"], host="127.0.0.1", tracing=True,
                env={"FLOWSERVE_TRACES_FILE": str(path)}).add(name="tok", uses=Tokens)
    with running(flow):
        ports = flow.addresses.gateway_ports
        for protocol in ("grpc", "http"):
            with Client(host=f"{protocol}://127.0.0.1:{ports[protocol]}") as client:
                docs = list(client.stream_doc(on="/generate", inputs=Document(text="a b")))
            assert [d.text for d in docs] == ["a", "b"]
        with Client(host=f"grpc://127.0.0.1:{ports['grpc']}") as client, \
                pytest.raises(ExecutorError, match="boom after 1 words"):
            list(client.stream_doc(on="/generate", inputs=Document(text="a boom")))
        assert wait_until(lambda: sum(map(is_request_span, read_spans(path))) == 3
                          and sum(map(is_executor_span, read_spans(path))) == 3
                          and sum(s["kind"] == "CLIENT" for s in read_spans(path)) == 3, 30), \
            read_spans(path)
    spans = read_spans(path)
    method = "jina.JinaSingleDocumentRequestRPC/stream_doc"
    roots = [s for s in spans if is_request_span(s)]
    assert sorted(s["name"] for s in roots) == ["GET /{endpoint}", method, method]
    by_name = {s["name"]: s["attributes"] for s in roots[:2]}
    assert {"rpc.system": "grpc", "rpc.service": "jina.JinaSingleDocumentRequestRPC",
            "rpc.method": method, "server.port": ports["grpc"],
            "rpc.grpc.status_code": 0}.items() <= by_name[method].items()
    assert {"http.request.method": "GET", "http.route": "/{endpoint}", "url.path": "/generate",
            "server.port": ports["http"], "http.response.status_code": 200,
            "flowserve.endpoint": "/generate"}.items() <= by_name["GET /{endpoint}"].items()
    by_id = {s["span_id"]: s for s in spans}
    for root in roots:
        trace = [s for s in spans if s["trace_id"] == root["trace_id"]]
        (server,) = [s for s in trace if is_executor_span(s)]
        call = by_id[server["parent_id"]]
        assert (server["name"], server["service"]) == (method, "tok")
        assert (call["name"], call["service"], call["kind"]) == (method, "gateway", "CLIENT")
        assert call["parent_id"] == root["span_id"]
        assert call["start"] <= server["start"] <= server["end"] <= call["end"]
        assert {"flowserve.executor": "tok", "flowserve.endpoint": "/generate",
                "rpc.method": method}.items() <= call["attributes"].items()
        assert {"flowserve.executor": "tok", "flowserve.endpoint": "/generate",
                "rpc.method": method, "rpc.grpc.status_code": 0}.items() \
            <= server["attributes"].items()
    docs = sorted((s["attributes"]["flowserve.stream.docs"], s["status"])
                  for s in spans if is_executor_span(s))
    assert docs == [(1, "ERROR"), (2, "UNSET"), (2, "UNSET")]  # "a", then the error
