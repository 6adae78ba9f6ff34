"""Everything that imports OpenTelemetry (imported by :mod:`.tracing` only when tracing is on).

The W3C TraceContext propagator is used directly (no global propagator or tracer provider is
installed), so tracing one Flow never changes process-wide OpenTelemetry state.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

# The RPC attributes are still "development" in semconv, hence only in `_incubating` (where the
# package's docs point for them); the others are stable. All these constants exist since
# opentelemetry-semantic-conventions 0.46b0 (semconv 1.25), the floor the [tracing] extra allows.
from opentelemetry.semconv._incubating.attributes.rpc_attributes import (
    RPC_GRPC_STATUS_CODE,
    RPC_METHOD,
    RPC_SERVICE,
    RPC_SYSTEM,
)
from opentelemetry.semconv.attributes.client_attributes import CLIENT_ADDRESS, CLIENT_PORT
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
)
from opentelemetry.semconv.attributes.network_attributes import (
    NETWORK_PEER_ADDRESS,
    NETWORK_PEER_PORT,
)
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.semconv.attributes.url_attributes import URL_PATH, URL_SCHEME
from opentelemetry.semconv.attributes.user_agent_attributes import USER_AGENT_ORIGINAL
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ..executor import DEFAULT_ENDPOINT
from ..wire.names import ENDPOINT_METADATA, PROCESS_METHOD, STREAM_DOC_METHOD
from ..wire.origin import GrpcOrigin, HttpOrigin, split_host_port
from ..wire.request import DataRequest
from ..wire.status import status_of
from ..wire.stream import is_error
from .tracing import TracingSettings

__all__ = ["CallSpanInterceptor", "GatewaySpans", "JsonLinesSpanExporter", "StreamSpanInterceptor",
           "make_provider", "worker_hook", "worker_stream_span"]

_PROPAGATOR = TraceContextTextMapPropagator()
SEMCONV_SCHEMA = "https://opentelemetry.io/schemas/1.44.0"
"""The semantic conventions the spans' ``rpc.*`` and ``server.*`` attributes follow."""


RPC_SYSTEM_NAME = "rpc.system.name"
RPC_RESPONSE_STATUS_CODE = "rpc.response.status_code"
"""Names semconv 1.44 gives that the floor's package (semconv 1.25) has no constants for."""

Attributes = dict[str, str | int]


def rpc_attributes(method: str) -> Attributes:
    """Semantic-convention attributes of a gRPC call of `method` (``/pkg.Service/Method``):
    ``rpc.system.name`` and the fully qualified ``rpc.method`` (semconv 1.44), and the
    deprecated ``rpc.system`` and ``rpc.service`` that many backends still group by."""
    qualified = method.lstrip("/")
    return {RPC_SYSTEM_NAME: "grpc", RPC_METHOD: qualified,
            RPC_SYSTEM: "grpc", RPC_SERVICE: qualified.rpartition("/")[0]}


def rpc_status_attributes(code: grpc.StatusCode) -> Attributes:
    """A call's gRPC status: ``rpc.response.status_code`` (semconv 1.44, its name) and the
    deprecated ``rpc.grpc.status_code`` (its number)."""
    return {RPC_RESPONSE_STATUS_CODE: code.name, RPC_GRPC_STATUS_CODE: code.value[0]}


def rpc_status(span: trace.Span, code: grpc.StatusCode) -> None:
    span.set_attributes(rpc_status_attributes(code))


def server_attributes(address: str) -> Attributes:
    """``server.address`` and ``server.port`` of a ``host:port`` address."""
    host, port = split_host_port(address)
    return _present({SERVER_ADDRESS: host, SERVER_PORT: port}) or {SERVER_ADDRESS: address}


def _present(attributes: dict[str, str | int | None]) -> Attributes:
    return {k: v for k, v in attributes.items() if v is not None}


def origin_attributes(origin: GrpcOrigin | HttpOrigin) -> Attributes:
    """The semantic-convention attributes of a server span for a request from `origin`."""
    if isinstance(origin, GrpcOrigin):
        return {**rpc_attributes(origin.method), **_present({
            SERVER_ADDRESS: origin.server_address, SERVER_PORT: origin.server_port,
            NETWORK_PEER_ADDRESS: origin.peer_address, NETWORK_PEER_PORT: origin.peer_port})}
    return _present({
        HTTP_REQUEST_METHOD: origin.method, HTTP_ROUTE: origin.route, URL_PATH: origin.path,
        URL_SCHEME: origin.scheme, SERVER_ADDRESS: origin.server_address,
        SERVER_PORT: origin.server_port, CLIENT_ADDRESS: origin.client_address,
        CLIENT_PORT: origin.client_port, NETWORK_PEER_ADDRESS: origin.client_address,
        NETWORK_PEER_PORT: origin.client_port, USER_AGENT_ORIGINAL: origin.user_agent})


def origin_span_name(origin: GrpcOrigin | HttpOrigin) -> str:
    """The conventional span name: ``jina.JinaRPC/Call`` (gRPC), ``POST /post`` (HTTP)."""
    if isinstance(origin, GrpcOrigin):
        return origin.method
    return f"{origin.method} {origin.route}"


def grpc_code_of(error: BaseException | None) -> grpc.StatusCode:
    """The gRPC status the gateway answers a request that failed with `error` with (inside a
    `Call` stream, in-band: the stream itself goes on)."""
    if error is None:
        return grpc.StatusCode.OK
    status = status_of(error)
    if status is not None:
        return status.grpc_code
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.INTERNAL


def http_status_of(error: BaseException | None) -> int | None:
    """The HTTP status the gateway answers a request that failed with `error` with (an
    executor error is a 200 whose body says so, as in Jina); None when the client left."""
    if error is None:
        return 200
    status = status_of(error)
    if status is not None:
        return status.http_status
    return None if isinstance(error, asyncio.CancelledError) else 500


def outcome_attributes(origin: GrpcOrigin | HttpOrigin | None,
                       error: BaseException | None) -> Attributes:
    """The attributes a server span gets when its request is answered: the status code in the
    origin's protocol (none for a WebSocket message) and ``error.type`` on a failure."""
    attributes: Attributes = {ERROR_TYPE: type(error).__name__} if error is not None else {}
    if isinstance(origin, GrpcOrigin):
        attributes.update(rpc_status_attributes(grpc_code_of(error)))
    elif isinstance(origin, HttpOrigin) and not origin.websocket:
        status = http_status_of(error)
        if status is not None:
            attributes[HTTP_RESPONSE_STATUS_CODE] = status
    return attributes


EXPORT_TIMEOUT_S = 2.0
_OTLP_LOGGER = "opentelemetry.exporter.otlp.proto.grpc.exporter"


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span as one JSON line to a file (several processes may share it:
    each line is written with a single append)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(s)) + "\n" for s in spans).encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, lines)
            finally:
                os.close(fd)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A span as plain data: ids in hex, times in ns, attributes, status, service name."""
    ctx = span.get_span_context()
    assert ctx is not None
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{parent.span_id:016x}" if parent is not None else None,
        "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name"),
        "start": span.start_time,
        "end": span.end_time,
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
    }


class _Quiet(logging.Filter):
    """Lets one record through per `every` seconds: an absent collector is worth one warning,
    not one per batch."""

    def __init__(self, every: float = 300.0) -> None:
        super().__init__()
        self.every = every
        self._last = -every

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._last < self.every:
            return False
        self._last = now
        return True


def make_provider(settings: TracingSettings, *, exporter: SpanExporter | None = None,
                  ) -> TracerProvider:
    """A tracer provider for this process (not installed globally)."""
    attributes = {"service.name": settings.service_name}
    if settings.instance is not None:
        attributes["service.instance.id"] = settings.instance
    provider = TracerProvider(resource=Resource.create(attributes))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.traces_file:
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(
            settings.traces_file)))
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        logger = logging.getLogger(_OTLP_LOGGER)
        if not any(isinstance(f, _Quiet) for f in logger.filters):
            logger.addFilter(_Quiet())
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
            endpoint=settings.endpoint, insecure=True, timeout=EXPORT_TIMEOUT_S)))
    return provider


def _endpoint_of(request: DataRequest) -> str:
    return request.endpoint or DEFAULT_ENDPOINT


class GatewaySpans:
    """The gateway's `Observer` for tracing: a server span per request, current while the
    request walks the DAG (so the node tasks, and the executor calls they make, descend from
    it), and a span for each wait in a fair queue, recorded after the fact."""

    wants_sizes = False

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        self._current: contextvars.ContextVar[tuple[trace.Span, Any, Any]] = \
            contextvars.ContextVar("flowserve_request_span")

    def request_started(self, *, endpoint: str, client: str, request_id: str,
                        origin: object = None) -> None:
        attributes: Attributes = {"flowserve.endpoint": endpoint, "flowserve.client": client,
                                  "flowserve.request_id": request_id}
        if isinstance(origin, GrpcOrigin | HttpOrigin):
            name = origin_span_name(origin)
            attributes.update(origin_attributes(origin))
        else:  # a caller that did not say where the request came from
            name, origin = f"gateway {endpoint}", None
        span = self.tracer.start_span(name, kind=SpanKind.SERVER, attributes=attributes)
        token = otel_context.attach(trace.set_span_in_context(span))
        self._current.set((span, token, origin))

    def request_finished(self, *, endpoint: str, outcome: str, seconds: float,
                         error: BaseException | None = None) -> None:
        span, token, origin = self._current.get()
        span.set_attributes(outcome_attributes(origin, error))
        if error is not None:  # as a span used with `start_as_current_span` records it
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        elif outcome == "executor_error":
            span.set_status(Status(StatusCode.ERROR, "executor error"))
        span.end()
        otel_context.detach(token)

    def queue_wait(self, *, executor: str, seconds: float) -> None:
        if not trace.get_current_span().get_span_context().is_valid:
            return
        end = time.time_ns()
        span = self.tracer.start_span(f"queue {executor}", start_time=end - int(seconds * 1e9),
                                      attributes={"flowserve.executor": executor})
        span.end(end_time=end)

    def executor_call(self, *, executor: str, replica: str, endpoint: str, outcome: str,
                      seconds: float, request_bytes: int, response_bytes: int,
                      docs: int) -> None:
        pass


def _method_name(method: Any) -> str:
    return method.decode() if isinstance(method, bytes) else str(method)


class _ReplicaCallSpans:
    """What the interceptors around the gateway's calls to one replica share: the call's
    client span attributes, and its metadata with the span's ``traceparent`` added."""

    def __init__(self, tracer: trace.Tracer, *, executor: str, address: str) -> None:
        self.tracer = tracer
        self.executor = executor
        self.address = address

    def _attributes(self, method: str, pairs: list[tuple[str, Any]]) -> Attributes:
        endpoint = next((str(v) for k, v in pairs if k == ENDPOINT_METADATA), DEFAULT_ENDPOINT)
        return {"flowserve.executor": self.executor, "flowserve.replica": self.address,
                "flowserve.endpoint": endpoint, **rpc_attributes(method),
                **server_attributes(self.address)}

    @staticmethod
    def _with_traceparent(details: Any, pairs: list[tuple[str, Any]],
                          context: otel_context.Context | None = None) -> Any:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=context)
        return details._replace(metadata=grpc.aio.Metadata(*pairs, *carrier.items()))


def _pairs(details: Any) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in (details.metadata or ())]


class CallSpanInterceptor(_ReplicaCallSpans, grpc.aio.UnaryUnaryClientInterceptor):
    """Around `process_single_data` calls only: a client span carried to the executor as a
    W3C ``traceparent`` in the call's metadata (health checks stay untraced)."""

    async def intercept_unary_unary(self, continuation: Callable[..., Any],
                                    client_call_details: Any, request: Any) -> Any:
        if _method_name(client_call_details.method) != PROCESS_METHOD:
            return await continuation(client_call_details, request)
        pairs = _pairs(client_call_details)
        with self.tracer.start_as_current_span(
                PROCESS_METHOD.lstrip("/"), kind=SpanKind.CLIENT,
                attributes=self._attributes(PROCESS_METHOD, pairs)) as span:
            details = self._with_traceparent(client_call_details, pairs)
            call = await continuation(details, request)
            try:
                await call
            except grpc.aio.AioRpcError as exc:
                _call_status(span, exc.code())
                raise
            _call_status(span, grpc.StatusCode.OK)
            return call


class StreamSpanInterceptor(_ReplicaCallSpans, grpc.aio.UnaryStreamClientInterceptor):
    """Around `stream_doc` calls: a client span for the whole stream, carried to the executor
    as a W3C ``traceparent``; it ends when the call does (all documents read, an error, or
    cancelled because the client left)."""

    async def intercept_unary_stream(self, continuation: Callable[..., Any],
                                     client_call_details: Any, request: Any) -> Any:
        if _method_name(client_call_details.method) != STREAM_DOC_METHOD:
            return await continuation(client_call_details, request)
        pairs = _pairs(client_call_details)
        span = self.tracer.start_span(STREAM_DOC_METHOD.lstrip("/"), kind=SpanKind.CLIENT,
                                      attributes=self._attributes(STREAM_DOC_METHOD, pairs))
        details = self._with_traceparent(client_call_details, pairs,
                                         trace.set_span_in_context(span))
        try:
            call = await continuation(details, request)
        except BaseException:
            span.end()
            raise
        finishing: set[asyncio.Task[None]] = set()

        def done(_: Any) -> None:  # the call's status is known once it is done
            task = asyncio.ensure_future(_end_stream_span(span, call))
            finishing.add(task)
            task.add_done_callback(finishing.discard)

        call.add_done_callback(done)
        return call


async def _end_stream_span(span: trace.Span, call: Any) -> None:
    try:
        code = await call.code()
    except BaseException:  # noqa: BLE001 - whatever happened, the span ends
        code = grpc.StatusCode.UNKNOWN
    _call_status(span, code)
    span.end()


def _call_status(span: trace.Span, code: grpc.StatusCode) -> None:
    """A call's status on its client span: the RPC status attributes; a failure's code as
    ``error.type`` and the span's status."""
    rpc_status(span, code)
    if code != grpc.StatusCode.OK:
        span.set_attribute(ERROR_TYPE, code.name)
        span.set_status(Status(StatusCode.ERROR, code.name))


def worker_stream_span(tracer: trace.Tracer, executor: str) -> Callable[..., Any]:
    """The executor's span around one stream (`stream_doc`), continuing the trace named in
    the call's metadata; a context manager whose value is told each reply (an error reply
    marks the span failed; ``flowserve.stream.docs`` counts the documents)."""

    @contextmanager
    def stream_span(metadata: Sequence[tuple[str, Any]], endpoint: str | None,
                    origin: GrpcOrigin | None = None) -> Iterator[Callable[[Any], None]]:
        carrier = {str(k): v for k, v in metadata if isinstance(v, str)}
        rpc = (origin_attributes(origin) if origin is not None
               else rpc_attributes(STREAM_DOC_METHOD))
        with tracer.start_as_current_span(
                STREAM_DOC_METHOD.lstrip("/"), context=_PROPAGATOR.extract(carrier),
                kind=SpanKind.SERVER,
                attributes={"flowserve.executor": executor,
                            "flowserve.endpoint": endpoint or DEFAULT_ENDPOINT, **rpc}) as span:
            docs = 0

            def seen(reply: Any) -> None:
                nonlocal docs
                if is_error(reply):  # the handler failed
                    span.set_status(Status(StatusCode.ERROR, "executor error"))
                else:
                    docs += 1

            try:
                yield seen
            finally:
                span.set_attribute("flowserve.stream.docs", docs)
            rpc_status(span, grpc.StatusCode.OK)  # an executor error travels in the stream

    return stream_span


def worker_hook(tracer: trace.Tracer, executor: str) -> Callable[..., Awaitable[DataRequest]]:
    """The executor's span around one request, continuing the trace named in `metadata`;
    `origin` (the call's peer and the worker's listening address) adds ``network.peer.*`` and
    ``server.*``."""

    async def hook(metadata: Sequence[tuple[str, Any]], endpoint: str | None,
                   call: Callable[[], Awaitable[DataRequest]],
                   origin: GrpcOrigin | None = None) -> DataRequest:
        carrier = {str(k): v for k, v in metadata if isinstance(v, str)}
        parent = _PROPAGATOR.extract(carrier)
        name = endpoint or DEFAULT_ENDPOINT
        rpc = origin_attributes(origin) if origin is not None else rpc_attributes(PROCESS_METHOD)
        with tracer.start_as_current_span(
                PROCESS_METHOD.lstrip("/"), context=parent, kind=SpanKind.SERVER,
                attributes={"flowserve.executor": executor, "flowserve.endpoint": name,
                            **rpc}) as span:
            result = await call()
            rpc_status(span, grpc.StatusCode.OK)  # an executor error travels in the reply
            if result.is_error:
                span.set_status(Status(StatusCode.ERROR, "executor error"))
            return result

    return hook
