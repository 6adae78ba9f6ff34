"""The worker's gRPC adapter: Jina's executor-side services over an ExecutorRuntime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import DecodeError

from .._version import __version__
from ..config.ratelog import RateLimitedLog
from ..proto import jina_pb2, jina_pb2_grpc
from ..wire.deadline import deadline_after
from ..wire.names import ENDPOINT_METADATA, PROCESS_METHOD, STREAM_DOC_METHOD
from ..wire.origin import GrpcOrigin, grpc_origin
from ..wire.request import DataRequest
from ..wire.stream import StreamMessage
from .runtime import ExecutorRuntime

__all__ = ["SERVICE_NAMES", "StreamTraceHook", "TraceHook", "WorkerServicer",
           "add_worker_services"]


class TraceHook(Protocol):
    """Wraps handling one request: (gRPC metadata, endpoint, the call, where the call came
    from) -> its result (tracing)."""

    def __call__(self, metadata: Sequence[tuple[str, Any]], endpoint: str | None,
                 call: Callable[[], Awaitable[DataRequest]],
                 origin: GrpcOrigin | None = None) -> Awaitable[DataRequest]: ...


class StreamTraceHook(Protocol):
    """Opens the span of one stream: (gRPC metadata, endpoint, where the call came from) -> a
    context manager around the stream whose value is told each reply (tracing)."""

    def __call__(self, metadata: Sequence[tuple[str, Any]], endpoint: str | None,
                 origin: GrpcOrigin | None = None,
                 ) -> AbstractContextManager[Callable[[StreamMessage], None]]: ...


def _untraced(reply: StreamMessage) -> None:
    pass


log = logging.getLogger(__name__)

SERVICE_NAMES = [
    "jina.JinaSingleDataRequestRPC",
    "jina.JinaSingleDocumentRequestRPC",
    "jina.JinaRPC",
    "jina.JinaDiscoverEndpointsRPC",
    "jina.JinaInfoRPC",
]


def _endpoint_from(metadata: Iterable[Any]) -> str | None:
    for key, value in metadata:
        if key == ENDPOINT_METADATA:
            return str(value)
    return None


class WorkerServicer(
    jina_pb2_grpc.JinaSingleDataRequestRPCServicer,
    jina_pb2_grpc.JinaRPCServicer,
    jina_pb2_grpc.JinaDiscoverEndpointsRPCServicer,
    jina_pb2_grpc.JinaInfoRPCServicer,
):
    """Serves `process_single_data`, `Call`, `endpoint_discovery` and `_status`."""

    def __init__(self, runtime: ExecutorRuntime, *, trace: TraceHook | None = None,
                 stream_trace: StreamTraceHook | None = None,
                 listen: tuple[str | None, int | None] = (None, None)) -> None:
        self.runtime = runtime
        self.trace = trace
        self.stream_trace = stream_trace
        self.listen = listen
        """(address, port) this server listens on (`wire.origin.listen_address`), for traces."""
        self._bad_input = RateLimitedLog(log)

    async def process_single_data(
        self, request: jina_pb2.DataRequestProto, context: grpc.aio.ServicerContext
    ) -> jina_pb2.DataRequestProto:
        deadline = deadline_after(context.time_remaining())
        metadata = context.invocation_metadata() or ()
        endpoint = _endpoint_from(metadata)

        def handle() -> Awaitable[DataRequest]:
            return self.runtime.handle(DataRequest(request), endpoint, deadline=deadline)

        try:
            if self.trace is None:
                result = await handle()
            else:  # continues the gateway's trace from the call's metadata
                origin = grpc_origin(PROCESS_METHOD, context.peer(), self.listen)
                result = await self.trace(tuple(metadata), endpoint, handle, origin)
            return result.proto
        except (DecodeError, RecursionError) as exc:
            await self._reject(exc, context)
            raise  # (abort raises)

    async def _process_wire(self, raw: bytes, context: grpc.aio.ServicerContext,
                            ) -> jina_pb2.DataRequestProto:
        """`process_single_data` from the undecoded message: a request this process cannot
        decode is answered INVALID_ARGUMENT (grpc's own decoding answered UNKNOWN, which the
        gateway took for a broken replica, retried and ejected every replica)."""
        try:
            request = jina_pb2.DataRequestProto.FromString(raw)
        except (DecodeError, RecursionError) as exc:
            await self._reject(exc, context)
            raise  # (abort raises)
        return await self.process_single_data(request, context)

    async def _reject(self, exc: Exception, context: grpc.aio.ServicerContext) -> None:
        # The client's input, not this replica, is at fault: INVALID_ARGUMENT, which the
        # gateway neither retries elsewhere nor counts against the replica.
        reason = str(exc) or type(exc).__name__
        self._bad_input.log(type(exc).__name__, "executor %s cannot decode a request: %s",
                            self.runtime.name, reason)
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"executor {self.runtime.name!r} cannot decode the request (nested deeper than "
            f"protobuf's limit of 100 levels, or corrupt): {reason}")

    async def Call(  # noqa: N802 - the wire name
        self, request_iterator: AsyncIterator[jina_pb2.DataRequestProto], context: Any
    ) -> AsyncIterator[jina_pb2.DataRequestProto]:
        async for request in request_iterator:
            result = await self.runtime.handle(DataRequest(request))
            yield result.proto

    async def stream_doc(self, raw: bytes, context: grpc.aio.ServicerContext) -> None:
        """``JinaSingleDocumentRequestRPC/stream_doc``: each document the endpoint's async
        generator yields, written as it comes. When the call ends early (the gateway cancels
        it: its client went away, or the deadline passed) the write or the wait for the next
        document is cancelled, and closing the stream closes the handler's generator."""
        try:
            request = jina_pb2.SingleDocumentRequestProto.FromString(raw)
        except (DecodeError, RecursionError) as exc:
            await self._reject(exc, context)
            raise  # (abort raises)
        metadata = context.invocation_metadata() or ()
        endpoint = _endpoint_from(metadata)
        span = (nullcontext(_untraced) if self.stream_trace is None else self.stream_trace(
            tuple(metadata), endpoint, grpc_origin(STREAM_DOC_METHOD, context.peer(),
                                                   self.listen)))
        with span as seen:  # the handler runs inside it (its own spans are children)
            replies = self.runtime.stream(request, endpoint,
                                          deadline=deadline_after(context.time_remaining()))
            try:
                async for reply in replies:
                    seen(reply)
                    await context.write(reply)
            finally:
                await replies.aclose()

    async def endpoint_discovery(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> jina_pb2.EndpointsProto:
        reply = jina_pb2.EndpointsProto(endpoints=self.runtime.endpoints)
        streaming = self.runtime.streaming_endpoints()
        if streaming:  # Jina's key for a streaming endpoint in the endpoints' schemas
            reply.schemas.update({e: {"is_generator": True} for e in streaming})
        return reply

    async def _status(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> jina_pb2.JinaInfoProto:
        return jina_pb2.JinaInfoProto(
            jina={"flowserve": __version__, "executor": self.runtime.name, "role": "executor"}
        )


def add_worker_services(servicer: WorkerServicer, server: grpc.aio.Server) -> None:
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "jina.JinaSingleDataRequestRPC",
        {"process_single_data": grpc.unary_unary_rpc_method_handler(
            servicer._process_wire,  # decodes the request itself: see there
            response_serializer=jina_pb2.DataRequestProto.SerializeToString)}),
        grpc.method_handlers_generic_handler(
            "jina.JinaSingleDocumentRequestRPC",
            {"stream_doc": grpc.unary_stream_rpc_method_handler(
                servicer.stream_doc,  # decodes the request itself, as process_single_data
                response_serializer=jina_pb2.SingleDocumentRequestProto.SerializeToString)}),
    ))
    jina_pb2_grpc.add_JinaRPCServicer_to_server(servicer, server)
    jina_pb2_grpc.add_JinaDiscoverEndpointsRPCServicer_to_server(servicer, server)
    jina_pb2_grpc.add_JinaInfoRPCServicer_to_server(servicer, server)
