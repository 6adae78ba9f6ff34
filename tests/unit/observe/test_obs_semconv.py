"""The OpenTelemetry semantic-convention attributes of flowserve's spans (semconv 1.44): pure
functions from a request's origin and outcome to attributes, and the gateway's request span
and the executor's span carrying them. No sockets: the core runs in-process with the SDK's
in-memory exporter."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from fakes import DownReplica, InProcessReplica
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from toy_executors import AppendText, Raises

from flowserve import Document, DocumentArray
from flowserve.config.graph import graph_from_mapping
from flowserve.errors import DeadlineExceededError, OverloadedError, UnavailableError
from flowserve.gateway.core import GatewayCore
from flowserve.gateway.deployment import Deployment
from flowserve.observe._otel import (
    origin_attributes,
    origin_span_name,
    outcome_attributes,
    rpc_status_attributes,
)
from flowserve.observe.tracing import TracingSettings, start_tracing
from flowserve.wire.names import CALL_METHOD, PROCESS_METHOD
from flowserve.wire.origin import GrpcOrigin, HttpOrigin, grpc_origin
from flowserve.wire.request import DataRequest

GRPC = GrpcOrigin(method="jina.JinaRPC/Call", peer_address="10.0.0.9", peer_port=40000,
                  server_address="gw.example", server_port=50051)
HTTP = HttpOrigin(method="POST", route="/post", path="/post", scheme="http",
                  server_address="gw.example", server_port=8080, client_address="10.0.0.9",
                  client_port=40001, user_agent="curl/8.5")
WEBSOCKET = HttpOrigin(method="GET", route="/", path="/", scheme="ws")


def test_grpc_origin_attributes():
    assert origin_attributes(GRPC) == {
        "rpc.system.name": "grpc", "rpc.system": "grpc", "rpc.service": "jina.JinaRPC",
        "rpc.method": "jina.JinaRPC/Call", "server.address": "gw.example",
        "server.port": 50051, "network.peer.address": "10.0.0.9", "network.peer.port": 40000}
    assert origin_span_name(GRPC) == "jina.JinaRPC/Call"


def test_http_origin_attributes():
    assert origin_attributes(HTTP) == {
        "http.request.method": "POST", "http.route": "/post", "url.path": "/post",
        "url.scheme": "http", "server.address": "gw.example", "server.port": 8080,
        "client.address": "10.0.0.9", "client.port": 40001,
        "network.peer.address": "10.0.0.9", "network.peer.port": 40001,
        "user_agent.original": "curl/8.5"}
    assert origin_span_name(HTTP) == "POST /post"


def test_unknown_parts_of_an_origin_are_left_out():
    assert set(origin_attributes(grpc_origin(PROCESS_METHOD, None))) == {
        "rpc.system.name", "rpc.system", "rpc.service", "rpc.method"}
    assert set(origin_attributes(WEBSOCKET)) == {
        "http.request.method", "http.route", "url.path", "url.scheme"}


@pytest.mark.parametrize(("error", "code", "number"), [
    (None, "OK", 0),
    (OverloadedError("full", retry_after=1.0), "RESOURCE_EXHAUSTED", 8),
    (DeadlineExceededError("late"), "DEADLINE_EXCEEDED", 4),
    (UnavailableError("down"), "UNAVAILABLE", 14),
    (asyncio.CancelledError(), "CANCELLED", 1),
    (RuntimeError("bug"), "INTERNAL", 13),
])
def test_grpc_outcome_is_the_status_code_the_adapter_answers_with(error, code, number):
    attributes = outcome_attributes(GRPC, error)
    assert attributes["rpc.response.status_code"] == code
    assert attributes["rpc.grpc.status_code"] == number
    assert attributes.get("error.type") == (type(error).__name__ if error else None)


@pytest.mark.parametrize(("error", "status"), [
    (None, 200),
    (OverloadedError("full", retry_after=1.0), 429),
    (DeadlineExceededError("late"), 504),
    (UnavailableError("down"), 503),
    (RuntimeError("bug"), 500),
])
def test_http_outcome_is_the_status_the_adapter_answers_with(error, status):
    assert outcome_attributes(HTTP, error)["http.response.status_code"] == status


def test_no_status_code_when_nothing_was_answered_or_for_a_websocket_message():
    assert outcome_attributes(HTTP, asyncio.CancelledError()) == {"error.type": "CancelledError"}
    assert outcome_attributes(WEBSOCKET, None) == {}
    assert outcome_attributes(None, UnavailableError("x")) == {"error.type": "UnavailableError"}


def test_rpc_status_attributes():
    assert rpc_status_attributes(grpc.StatusCode.UNAVAILABLE) == {
        "rpc.response.status_code": "UNAVAILABLE", "rpc.grpc.status_code": 14}


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


def _serve(exporter, replica, origin, *, text="t", raises=None):
    tracing = start_tracing(TracingSettings("gateway"), exporter=exporter)
    observer = tracing.gateway_observer()
    core = GatewayCore(graph_from_mapping({"x": ["gateway"]}),
                       {"x": Deployment("x", [replica], observer=observer)}, observer=observer)

    async def go():
        try:
            return await core.process(DataRequest.new(DocumentArray([Document(text=text)]),
                                                      endpoint="/"), client="c", origin=origin)
        finally:
            await core.close()

    try:
        if raises is None:
            return asyncio.run(go())
        with pytest.raises(raises):
            asyncio.run(go())
    finally:
        tracing.shutdown()
    return None


def _root(exporter):
    (root,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    return root


def test_the_gateway_span_of_a_grpc_request_follows_the_rpc_conventions(exporter):
    _serve(exporter, InProcessReplica(AppendText(), "x:1", name="x"),
           grpc_origin(CALL_METHOD, "ipv4:10.0.0.9:40000", ("gw.example", 50051)))
    root = _root(exporter)
    assert root.name == "jina.JinaRPC/Call"
    assert {**origin_attributes(GRPC), "rpc.response.status_code": "OK",
            "rpc.grpc.status_code": 0}.items() <= dict(root.attributes).items()
    assert root.attributes["flowserve.endpoint"] == "/", "flowserve's own attributes stay"
    assert root.status.status_code.name == "UNSET"


def test_the_gateway_span_of_an_http_request_follows_the_http_conventions(exporter):
    _serve(exporter, InProcessReplica(AppendText(), "x:1", name="x"), HTTP)
    root = _root(exporter)
    assert root.name == "POST /post"
    assert {**origin_attributes(HTTP), "http.response.status_code": 200}.items() <= dict(
        root.attributes).items()


def test_an_executor_error_is_a_200_with_an_error_span(exporter):
    reply = _serve(exporter, InProcessReplica(Raises(), "x:1", name="x"), HTTP, text="boom")
    assert reply is not None and reply.is_error
    root = _root(exporter)
    assert root.attributes["http.response.status_code"] == 200
    assert root.status.status_code.name == "ERROR"


def test_a_request_failing_in_the_gateway_gets_its_status_code(exporter):
    _serve(exporter, DownReplica(), HTTP, raises=UnavailableError)
    root = _root(exporter)
    assert root.attributes["http.response.status_code"] == 503
    assert root.attributes["error.type"] == "UnavailableError"
    assert root.status.status_code.name == "ERROR"


def test_the_executor_span_carries_the_callers_address_and_its_own(exporter):
    tracing = start_tracing(TracingSettings("x"), exporter=exporter)
    hook = tracing.worker_hook("x")
    origin = grpc_origin(PROCESS_METHOD, "ipv4:10.0.0.5:41000", ("10.0.0.6", 61000))

    async def handled():
        return DataRequest.new(DocumentArray([Document(text="t")]))

    asyncio.run(hook((), "/", handled, origin))
    tracing.shutdown()
    (span,) = exporter.get_finished_spans()
    assert (span.name, span.kind) == ("jina.JinaSingleDataRequestRPC/process_single_data",
                                      SpanKind.SERVER)
    assert {"rpc.system.name": "grpc", "rpc.service": "jina.JinaSingleDataRequestRPC",
            "rpc.method": "jina.JinaSingleDataRequestRPC/process_single_data",
            "server.address": "10.0.0.6", "server.port": 61000,
            "network.peer.address": "10.0.0.5", "network.peer.port": 41000,
            "rpc.response.status_code": "OK"}.items() <= dict(span.attributes).items()
