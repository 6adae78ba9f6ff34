"""The gateway's gRPC client for one executor replica (implements gateway.ReplicaClient)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import empty_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..errors import DeadlineExceededError, UnavailableError
from ..proto import jina_pb2, jina_pb2_grpc
from .grpc_common import CHANNEL_OPTIONS

__all__ = ["GrpcReplicaClient"]


class GrpcReplicaClient:
    """Calls `process_single_data` on one executor replica over a persistent channel."""

    def __init__(self, address: str, *, executor: str,
                 interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
                 options: Sequence[tuple[str, int]] = CHANNEL_OPTIONS,
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
            return await self._get_stub().process_single_data(
                request, metadata=(("endpoint", endpoint),), timeout=timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise self._map_error(exc) from exc

    def _map_error(self, exc: grpc.aio.AioRpcError) -> Exception:
        code = exc.code()
        where = f"executor {self.executor!r} at {self.address}"
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return DeadlineExceededError(f"deadline exceeded waiting for {where}")
        return UnavailableError(f"{where} failed: {code.name} {exc.details() or ''}".strip())

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
        self._get_stub()
        stub = jina_pb2_grpc.JinaDiscoverEndpointsRPCStub(self._channel)
        try:
            reply = await stub.endpoint_discovery(empty_pb2.Empty(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._map_error(exc) from exc
        return list(reply.endpoints)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None
