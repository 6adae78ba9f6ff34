"""The gateway's gRPC client for one executor replica (implements gateway.ReplicaClient)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

import grpc
from google.protobuf import empty_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..errors import (
    BadRequestError,
    DeadlineExceededError,
    ExecutorError,
    ReplicaLostError,
    UnavailableError,
)
from ..proto import jina_pb2, jina_pb2_grpc
from ..wire.names import ENDPOINT_METADATA
from ..wire.status import error_for_grpc_code
from .grpc_common import CHANNEL_OPTIONS, RECONNECT_OPTIONS

__all__ = ["GrpcReplicaClient"]

_NOT_SENT = ("failed to connect", "Connection refused", "DNS resolution failed",
             "No address", "connection attempt timed out", "Connection timed out")
"""grpc's words for a call that never reached the replica (safe to retry anywhere); any other
failure may have happened while the replica ran the request."""


class GrpcReplicaClient:
    """Calls `process_single_data` on one executor replica over a persistent channel."""

    def __init__(self, address: str, *, executor: str,
                 interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
                 options: Sequence[tuple[str, int]] = (*CHANNEL_OPTIONS, *RECONNECT_OPTIONS),
                 credentials: grpc.ChannelCredentials | None = None) -> None:
        self.address = address
        self.options = list(options)
        self.credentials = credentials  # TLS to executors without a mesh (docs/security.md)
        self.executor = executor
        self.interceptors = list(interceptors)  # e.g. tracing: a span + traceparent per call
        self._channel: grpc.aio.Channel | None = None
        self._stub: jina_pb2_grpc.JinaSingleDataRequestRPCStub | None = None

    def _get_stub(self) -> jina_pb2_grpc.JinaSingleDataRequestRPCStub:
        # Created lazily: a grpc.aio channel must be created inside the running event loop.
        if self._stub is None:
            if self.credentials is not None:
                self._channel = grpc.aio.secure_channel(
                    self.address, self.credentials, options=self.options,
                    interceptors=self.interceptors or None)
            else:
                self._channel = grpc.aio.insecure_channel(
                    self.address, options=self.options, interceptors=self.interceptors or None)
            self._stub = jina_pb2_grpc.JinaSingleDataRequestRPCStub(self._channel)
        return self._stub

    async def process(
        self, request: jina_pb2.DataRequestProto, *, endpoint: str, timeout: float | None
    ) -> jina_pb2.DataRequestProto:
        try:
            reply = await self._get_stub().process_single_data(
                request, metadata=((ENDPOINT_METADATA, endpoint),), timeout=timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise self._map_error(exc) from exc
        if reply is None:  # grpc logs the DecodeError and hands us None
            raise ExecutorError(
                f"the reply of executor {self.executor!r} at {self.address} cannot be decoded "
                "(nested deeper than protobuf's limit of 100 levels, or corrupt)",
                executor=self.executor, name="DecodeError")
        return reply

    async def stream(
        self, request: jina_pb2.SingleDocumentRequestProto, *, endpoint: str,
        timeout: float | None
    ) -> AsyncGenerator[jina_pb2.SingleDocumentRequestProto, None]:
        """``stream_doc`` on the replica: its replies as they come. Closing the generator
        (the client went away) cancels the call, and so the handler's generator there."""
        self._get_stub()
        stub = jina_pb2_grpc.JinaSingleDocumentRequestRPCStub(self._channel)
        call = stub.stream_doc(request, metadata=((ENDPOINT_METADATA, endpoint),),
                               timeout=timeout)
        try:
            async for reply in call:
                yield reply
        except grpc.aio.AioRpcError as exc:
            raise self._map_error(exc) from exc
        finally:
            call.cancel()  # a no-op once the call ended

    async def endpoint_kinds(self, timeout: float) -> dict[str, bool]:
        """The executor's endpoints from its `endpoint_discovery`, each with whether it is a
        streaming endpoint (Jina's ``is_generator`` in the endpoints' schemas)."""
        self._get_stub()
        stub = jina_pb2_grpc.JinaDiscoverEndpointsRPCStub(self._channel)
        try:
            reply = await stub.endpoint_discovery(empty_pb2.Empty(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._map_error(exc) from exc
        schemas = reply.schemas.fields
        return {e: e in schemas and _is_generator(schemas[e]) for e in reply.endpoints}

    def _map_error(self, exc: grpc.aio.AioRpcError) -> Exception:
        code = exc.code()
        where = f"executor {self.executor!r} at {self.address}"
        details = exc.details() or ""
        if error_for_grpc_code(code) is DeadlineExceededError:  # any other failure: unavailable
            return DeadlineExceededError(f"deadline exceeded waiting for {where}")
        if code == grpc.StatusCode.INVALID_ARGUMENT:  # the executor cannot decode the request
            return BadRequestError(f"{where} rejected the request: {details}")
        message = f"{where} failed: {code.name} {details}".strip()
        if code == grpc.StatusCode.UNAVAILABLE and any(
                words in details for words in _NOT_SENT):
            return UnavailableError(message)
        return ReplicaLostError(message)

    async def is_ready(self, timeout: float) -> bool:
        self._get_stub()
        assert self._channel is not None
        stub = health_pb2_grpc.HealthStub(self._channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    async def endpoints(self, timeout: float) -> list[str]:
        """The executor's endpoints, from its `endpoint_discovery`."""
        return list(await self.endpoint_kinds(timeout))

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None


def _is_generator(schema: object) -> bool:
    fields = getattr(getattr(schema, "struct_value", None), "fields", {})
    flag = fields.get("is_generator")
    return bool(flag is not None and flag.bool_value)
