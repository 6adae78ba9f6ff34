"""The client's gRPC transport: one ``/jina.JinaRPC/Call`` stream per post, one channel reused.

gRPC status codes become flowserve errors here and nowhere else (`error_from_rpc`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import grpc
from google.protobuf import empty_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..errors import (
    BadRequestError,
    DeadlineExceededError,
    OverloadedError,
    RequestError,
    UnavailableError,
)
from ..proto import jina_pb2, jina_pb2_grpc
from ..request import DataRequest
from ._address import Address
from ._engine import StreamBroken

__all__ = ["CHANNEL_OPTIONS", "GrpcStream", "GrpcTransport", "RequestFailed", "error_from_rpc",
           "unary_failure"]

# Documents with embeddings easily exceed gRPC's 4 MiB default message limit.
CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    # Its own connection per Client: the gateway tells clients apart by connection (fair
    # queuing), and gRPC would otherwise share one connection among a process's channels.
    ("grpc.use_local_subchannel_pool", 1),
]
_READY_TIMEOUT = 5.0


def _retry_after(exc: grpc.RpcError) -> float:
    trailing = getattr(exc, "trailing_metadata", None)
    for key, value in (trailing() if callable(trailing) else None) or ():
        if key.lower() == "retry-after":
            with contextlib.suppress(TypeError, ValueError):
                return float(value)
    return 1.0


def _join(prefix: str, details: str) -> str:
    return f"{prefix}: {details}" if details else prefix


def error_from_rpc(exc: grpc.RpcError, address: Address | str) -> RequestError:
    """The one place gRPC status codes become flowserve errors.

    The message is the server's own (``details``); UNAVAILABLE always names `address`.
    A ``retry-after`` trailing metadata value (seconds) fills OverloadedError.retry_after.
    """
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    details = (exc.details() if callable(getattr(exc, "details", None)) else "") or ""
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return OverloadedError(details or f"{address} is overloaded", retry_after=_retry_after(exc))
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        if not details or details == "Deadline Exceeded":  # gRPC's own words: our deadline
            return DeadlineExceededError(f"deadline exceeded waiting for {address}")
        return DeadlineExceededError(details)
    if code == grpc.StatusCode.UNAVAILABLE:
        return UnavailableError(_join(f"cannot reach the gateway at {address}", details))
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return BadRequestError(details or f"{address} rejected the request as invalid")
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return UnavailableError(_join(f"{address} does not serve this method", details))
    name = code.name if code is not None else "UNKNOWN"
    return RequestError(_join(f"{address} failed the request with {name}", details))


class RequestFailed(Exception):
    """The gateway answered a unary request with an error for that request alone."""

    def __init__(self, error: RequestError) -> None:
        super().__init__(str(error))
        self.error = error


def unary_failure(exc: grpc.RpcError, address: Address) -> RequestFailed | RequestError | None:
    """What a failed unary ``process_single_data`` call means: None if the gateway does not
    serve the method (use a stream), `RequestFailed` if this request alone failed (its
    deadline, overload, or a failure the gateway names in the ``flowserve-error`` trailer),
    else the error that the gateway could not be reached or failed as a whole."""
    if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
        return None
    error = error_from_rpc(exc, address)
    trailers = exc.trailing_metadata() or ()
    per_request = exc.code() in (grpc.StatusCode.DEADLINE_EXCEEDED,
                                 grpc.StatusCode.RESOURCE_EXHAUSTED)
    if per_request or any(key == "flowserve-error" for key, _ in trailers):
        return RequestFailed(error)
    return error


class GrpcStream:
    """One ``Call`` stream, seen through the engine's `Stream` interface."""

    __slots__ = ("_address", "_answered", "_call")

    def __init__(self, call: grpc.aio.StreamStreamCall, address: Address) -> None:
        self._call = call
        self._address = address
        self._answered = False

    async def write(self, request: DataRequest) -> bool:
        try:
            await self._call.write(request.proto)
        except (grpc.RpcError, asyncio.InvalidStateError):
            return False
        return True

    async def done_writing(self) -> None:
        with contextlib.suppress(grpc.RpcError, asyncio.InvalidStateError):
            await self._call.done_writing()

    async def read(self) -> DataRequest | None:
        try:
            message = await self._call.read()
        except grpc.aio.AioRpcError as exc:
            # UNAVAILABLE before any answer: nobody is listening. Fail the post fast and plainly
            # instead of reporting each request as failed.
            fatal = exc.code() == grpc.StatusCode.UNAVAILABLE and not self._answered
            raise StreamBroken(error_from_rpc(exc, self._address), fatal=fatal) from exc
        if message is grpc.aio.EOF:
            return None
        self._answered = True
        return DataRequest(message)

    def cancel(self) -> None:
        self._call.cancel()


class GrpcTransport:
    """A lazily created channel to `address`, recreated if used from another event loop."""

    def __init__(self, address: Address, *, options: Sequence[tuple[str, object]] = ()) -> None:
        self.address = address
        self._options = [*CHANNEL_OPTIONS, *options]
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._call: grpc.aio.StreamStreamMultiCallable | None = None
        self._unary: grpc.aio.UnaryUnaryMultiCallable | None = None
        self.unary_supported = True

    def _ensure_channel(self) -> grpc.aio.Channel:
        loop = asyncio.get_running_loop()
        if self._channel is None or self._loop is not loop:
            # A grpc.aio channel belongs to the loop it was made on; an old one is dropped.
            target = self.address.target
            if self.address.tls:
                creds = grpc.ssl_channel_credentials()
                self._channel = grpc.aio.secure_channel(target, creds, options=self._options)
            else:
                self._channel = grpc.aio.insecure_channel(target, options=self._options)
            self._loop = loop
            self._call = jina_pb2_grpc.JinaRPCStub(self._channel).Call
            self._unary = jina_pb2_grpc.JinaSingleDataRequestRPCStub(
                self._channel).process_single_data
        return self._channel

    async def open_stream(
        self, metadata: Sequence[tuple[str, str]], timeout: float | None
    ) -> GrpcStream:
        """Start a ``Call`` stream (no wait_for_ready: an absent server fails at once)."""
        self._ensure_channel()
        assert self._call is not None
        call = self._call(metadata=tuple(metadata) or None, timeout=timeout)
        return GrpcStream(call, self.address)

    async def post_one(
        self, request: DataRequest, metadata: Sequence[tuple[str, str]], timeout: float | None
    ) -> DataRequest | None:
        """One request as a unary ``process_single_data`` call (cheaper than a stream);
        None if the gateway does not serve that method (the caller then uses a stream).

        A failure of this request (its deadline, overload, or any failure the gateway reports
        with the ``flowserve-error`` trailer) raises `RequestFailed`; any other RPC error means
        the gateway could not be reached or failed as a whole and raises the mapped error.
        """
        self._ensure_channel()
        assert self._unary is not None
        try:
            reply = await self._unary(request.proto, metadata=tuple(metadata) or None,
                                      timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            failure = unary_failure(exc, self.address)
            if failure is None:
                self.unary_supported = False  # a gateway with Call only: streams from now on
                return None
            raise failure from exc
        return DataRequest(reply)

    async def dry_run(self, timeout: float | None = None) -> bool:
        """``JinaGatewayDryRunRPC/dry_run``: True when the gateway reports SUCCESS."""
        stub = jina_pb2_grpc.JinaGatewayDryRunRPCStub(self._ensure_channel())
        try:
            status = await stub.dry_run(empty_pb2.Empty(), timeout=timeout or _READY_TIMEOUT)
        except grpc.aio.AioRpcError:
            return False
        return bool(status.code == jina_pb2.StatusProto.SUCCESS)

    async def is_ready(self, timeout: float | None = None) -> bool:
        """grpc.health.v1 check of service ``''``: True when SERVING."""
        stub = health_pb2_grpc.HealthStub(self._ensure_channel())
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout or _READY_TIMEOUT
            )
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        channel, loop = self._channel, self._loop
        self._channel = self._call = self._unary = self._loop = None
        if channel is not None and loop is asyncio.get_running_loop():
            await channel.close()
