"""Tracing: one trace per request across the gateway and each executor, with the SDK's
in-memory exporter. The gateway core runs in-process; each fake replica passes the call through
the gateway's gRPC interceptor (which injects the W3C context into the metadata) and the
worker's hook (which extracts it), exactly the two halves a real call crosses. No sockets."""

from __future__ import annotations

import asyncio
import json
import sys

import grpc
import pytest
from fakes import DownReplica, InProcessReplica
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from toy_executors import AppendText, Raises

from flowserve import Document, DocumentArray
from flowserve.config.graph import graph_from_mapping
from flowserve.errors import ConfigError, UnavailableError
from flowserve.gateway.core import GatewayCore
from flowserve.gateway.deployment import Deployment
from flowserve.observe.tracing import Tracing, TracingSettings, require_otel, start_tracing
from flowserve.proto import jina_pb2
from flowserve.wire.request import DataRequest

PROCESS = b"/jina.JinaSingleDataRequestRPC/process_single_data"


class TracedReplica(InProcessReplica):
    """A ReplicaClient whose calls cross the interceptor and the worker hook in-process."""

    def __init__(self, name: str, executor, gateway: Tracing, worker: Tracing) -> None:
        super().__init__(executor, f"{name}:1", name=name)
        self.interceptor = gateway.client_interceptors(executor=name, address=self.address)[0]
        self.hook = worker.worker_hook(name)
        self.sent_metadata: list[tuple[str, str]] = []

    async def process(self, request, *, endpoint, timeout):
        async def continuation(details, message):
            self.sent_metadata = list(details.metadata)
            wire = jina_pb2.DataRequestProto.FromString(message.SerializeToString())

            async def serve():  # the executor process's side
                reply = await self.hook(self.sent_metadata, endpoint,
                                        lambda: self.runtime.handle(DataRequest(wire), endpoint))
                return jina_pb2.DataRequestProto.FromString(reply.to_bytes())

            return asyncio.ensure_future(serve())

        details = grpc.aio.ClientCallDetails(PROCESS, timeout,
                                             grpc.aio.Metadata(("endpoint", endpoint)), None,
                                             None)
        call = await self.interceptor.intercept_unary_unary(continuation, details, request)
        return await call


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


def traced_core(exporter, executors: dict, needs: dict) -> tuple[GatewayCore, list[Tracing]]:
    gateway = start_tracing(TracingSettings("gateway"), exporter=exporter)
    tracings = [gateway]
    deployments = {}
    for name, executor in executors.items():
        worker = start_tracing(TracingSettings(name), exporter=exporter)  # its own "process"
        tracings.append(worker)
        deployments[name] = Deployment(name, [TracedReplica(name, executor, gateway, worker)],
                                       observer=gateway.gateway_observer())
    core = GatewayCore(graph_from_mapping(needs), deployments,
                       observer=gateway.gateway_observer())
    return core, tracings


def serve(core: GatewayCore, tracings: list[Tracing], *texts: str) -> list[DataRequest]:
    async def go():
        try:
            return [await core.process(DataRequest.new(DocumentArray([Document(text=t)]),
                                                       endpoint="/"), client="c1")
                    for t in texts]
        finally:
            await core.close()

    try:
        return asyncio.run(go())
    finally:
        for t in tracings:
            t.shutdown()


def label(span) -> str:
    """A span as these tests tell it apart: the call and executor spans are all named after the
    gRPC method, so they go by their executor (and endpoint) here."""
    attributes = span.attributes
    if span.kind is SpanKind.CLIENT:
        return f"call {attributes['flowserve.executor']}"
    if span.kind is SpanKind.SERVER and "flowserve.executor" in attributes:
        return f"executor {attributes['flowserve.executor']} {attributes['flowserve.endpoint']}"
    return span.name


def by_name(spans):
    return {label(s): s for s in spans}


def test_one_trace_spans_gateway_queue_call_and_each_executor(exporter):
    core, tracings = traced_core(exporter, {"a": AppendText(suffix="A"),
                                            "b": AppendText(suffix="B")},
                                 {"a": ["gateway"], "b": ["a"]})
    (reply,) = serve(core, tracings, "x")
    assert reply.docs.texts == ["xAB"]
    spans = exporter.get_finished_spans()
    assert len({s.context.trace_id for s in spans}) == 1, "all spans in one trace"
    named = by_name(spans)
    assert set(named) == {"gateway /", "queue a", "call a", "executor a /", "queue b", "call b",
                          "executor b /"}
    root = named["gateway /"]
    assert root.parent is None
    assert root.resource.attributes["service.name"] == "gateway"
    assert root.attributes["flowserve.client"] == "c1"
    for ex in "ab":
        assert named[f"queue {ex}"].parent.span_id == root.context.span_id
        assert named[f"call {ex}"].parent.span_id == root.context.span_id
        server = named[f"executor {ex} /"]
        assert server.parent.span_id == named[f"call {ex}"].context.span_id
        assert server.resource.attributes["service.name"] == ex  # the executor's own provider
        assert named[f"call {ex}"].attributes["flowserve.replica"] == f"{ex}:1"
        assert named[f"call {ex}"].name == server.name == PROCESS.decode().lstrip("/")


def test_call_and_executor_spans_carry_the_rpc_semantic_conventions(exporter):
    core, tracings = traced_core(exporter, {"a": AppendText()}, {"a": ["gateway"]})
    serve(core, tracings, "x")
    named = by_name(exporter.get_finished_spans())
    rpc = {"rpc.system.name": "grpc", "rpc.system": "grpc",
           "rpc.service": "jina.JinaSingleDataRequestRPC",
           "rpc.method": "jina.JinaSingleDataRequestRPC/process_single_data",
           "rpc.response.status_code": "OK", "rpc.grpc.status_code": 0}
    call, server = named["call a"], named["executor a /"]
    assert rpc.items() <= dict(call.attributes).items()
    assert (call.attributes["server.address"], call.attributes["server.port"]) == ("a", 1)
    assert rpc.items() <= dict(server.attributes).items()
    assert call.instrumentation_scope.schema_url == "https://opentelemetry.io/schemas/1.44.0"


def test_server_attributes_of_addresses():
    from flowserve.observe._otel import server_attributes

    assert server_attributes("10.0.0.1:50051") == {"server.address": "10.0.0.1",
                                                    "server.port": 50051}
    assert server_attributes("[::1]:8080") == {"server.address": "::1", "server.port": 8080}
    assert server_attributes("slow.ns.svc") == {"server.address": "slow.ns.svc"}


def test_each_request_gets_its_own_trace_and_the_context_travels_as_traceparent(exporter):
    core, tracings = traced_core(exporter, {"a": AppendText()}, {"a": ["gateway"]})
    replica = core.deployments["a"].replicas[0]
    serve(core, tracings, "x", "y")
    roots = [s for s in exporter.get_finished_spans() if s.name == "gateway /"]
    assert len({s.context.trace_id for s in roots}) == 2
    keys = dict(replica.sent_metadata)
    assert keys["endpoint"] == "/"
    version, trace_id, _span_id, flags = keys["traceparent"].split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled
    assert int(trace_id, 16) == roots[-1].context.trace_id


def test_executor_errors_mark_the_executor_and_gateway_spans(exporter):
    core, tracings = traced_core(exporter, {"r": Raises()}, {"r": ["gateway"]})
    (reply,) = serve(core, tracings, "boom")
    assert reply.is_error
    named = by_name(exporter.get_finished_spans())
    assert named["executor r /"].status.status_code.name == "ERROR"
    assert named["gateway /"].status.status_code.name == "ERROR"


def test_a_request_failing_in_the_gateway_records_its_error_on_the_gateway_span(exporter):
    tracing = start_tracing(TracingSettings("gateway"), exporter=exporter)
    observer = tracing.gateway_observer()
    core = GatewayCore(graph_from_mapping({"x": ["gateway"]}),
                       {"x": Deployment("x", [DownReplica()], observer=observer)},
                       observer=observer)

    async def go():
        try:
            await core.process(DataRequest.new(DocumentArray([Document(text="t")])))
        finally:
            await core.close()

    with pytest.raises(UnavailableError):
        asyncio.run(go())
    tracing.shutdown()
    (root,) = [s for s in exporter.get_finished_spans() if s.name.startswith("gateway ")]
    assert root.status.status_code.name == "ERROR"
    assert root.status.description.startswith("UnavailableError: ")
    assert [e.name for e in root.events] == ["exception"]


def test_interceptor_leaves_other_calls_alone(exporter):
    tracing = start_tracing(TracingSettings("gateway"), exporter=exporter)
    interceptor = tracing.client_interceptors(executor="a", address="a:1")[0]
    seen = []

    async def continuation(details, message):
        seen.append(details)
        return "call"

    details = grpc.aio.ClientCallDetails(b"/grpc.health.v1.Health/Check", 1.0, None, None, None)
    assert asyncio.run(interceptor.intercept_unary_unary(continuation, details, None)) == "call"
    assert seen == [details]
    assert exporter.get_finished_spans() == ()


def test_traces_file_gets_one_json_line_per_span(tmp_path):
    path = tmp_path / "spans.jsonl"
    tracing = start_tracing(TracingSettings("svc", traces_file=str(path), instance="svc/0/1"))
    with tracing.tracer.start_as_current_span("outer"), \
            tracing.tracer.start_as_current_span("inner"):
        pass
    tracing.shutdown()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["name"] for r in records] == ["inner", "outer"]
    assert records[0]["parent_id"] == records[1]["span_id"]
    assert {r["trace_id"] for r in records} == {records[1]["trace_id"]}
    assert records[1]["service"] == "svc"


def test_tracing_without_opentelemetry_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(ConfigError, match=r"pip install 'flowserve\[tracing\]'"):
        require_otel()
