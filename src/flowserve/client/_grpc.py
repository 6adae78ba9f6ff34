"""The client's gRPC transport: one ``/jina.JinaRPC/Call`` stream per post, one channel reused;
a post of a single request goes on the channel's session stream (`_session`) or as one unary
call. gRPC status codes become flowserve errors in `_grpc_errors` and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence
from typing import cast

import grpc
from google.protobuf import empty_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..documents.document import Document
from ..proto import jina_pb2, jina_pb2_grpc
from ..wire.names import CLIENT_ID_METADATA, PREFETCH_METADATA, RESULTS_IN_ORDER_METADATA
from ..wire.request import DataRequest
from ..wire.stream import StreamMessage
from ._address import Address
from ._engine import StreamBroken
from ._grpc_errors import RequestFailed, error_from_rpc, unary_failure
from ._session import SESSION_METADATA, Session
from ._streaming import grpc_stream_doc
from ._tls import grpc_credentials
from ._transport import SingleReply

__all__ = ["GrpcStream", "GrpcTransport", "RequestFailed", "error_from_rpc"]

# Documents with embeddings easily exceed gRPC's 4 MiB default message limit.
_CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    # Its own connection per Client: gateways that tell clients apart by connection (Jina's,
    # or ours for clients that send no id) would otherwise see a process's channels as one.
    ("grpc.use_local_subchannel_pool", 1),
]
_READY_TIMEOUT = 5.0


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
        return DataRequest(cast(jina_pb2.DataRequestProto, message))

    def cancel(self) -> None:
        self._call.cancel()


class GrpcTransport:
    """A lazily created channel to `address`, recreated if used from another event loop."""

    def __init__(self, address: Address, *, options: Sequence[tuple[str, object]] = (),
                 client_id: str | None = None, ca_file: str | None = None,
                 token: str | None = None) -> None:
        self.address = address
        self._ca_file = ca_file
        # First, so that a caller's own metadata with the same key wins (the gateway reads
        # the last value).
        self._identity: tuple[tuple[str, str], ...] = (
            ((CLIENT_ID_METADATA, client_id),) if client_id else ())
        self._auth: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ())
        self._options = [*_CHANNEL_OPTIONS, *options]
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._call: grpc.aio.StreamStreamMultiCallable | None = None
        self._unary: grpc.aio.UnaryUnaryMultiCallable | None = None
        self._session: Session | None = None
        self.unary_supported = True

    def _ensure_channel(self) -> grpc.aio.Channel:
        loop = asyncio.get_running_loop()
        if self._channel is None or self._loop is not loop:
            # A grpc.aio channel belongs to the loop it was made on; an old one is dropped.
            target = self.address.target
            if self.address.tls:
                creds = grpc_credentials(self._ca_file)
                self._channel = grpc.aio.secure_channel(target, creds, options=self._options)
            else:
                self._channel = grpc.aio.insecure_channel(target, options=self._options)
            self._loop = loop
            if self._session is not None:  # its stream belonged to the old channel
                self._session.close()
                self._session = None
            self._call = jina_pb2_grpc.JinaRPCStub(self._channel).Call
            self._unary = jina_pb2_grpc.JinaSingleDataRequestRPCStub(
                self._channel).process_single_data
        return self._channel

    single_posts = True

    def stream_metadata(self, prefetch: int | None,
                        results_in_order: bool) -> list[tuple[str, str]]:
        """The keys a Jina gateway reads (docs/protocol.md)."""
        pairs: list[tuple[str, str]] = []
        if prefetch is not None:
            pairs.append((PREFETCH_METADATA, str(prefetch)))
        if results_in_order:
            pairs.append((RESULTS_IN_ORDER_METADATA, "true"))
        return pairs

    async def post_single(self, request: DataRequest, metadata: Sequence[tuple[str, str]],
                          timeout: float | None) -> SingleReply:
        """One request on the session stream (no metadata or timeout of its own, and the
        session free) or as one unary call; None if the gateway has no unary method."""
        if timeout is None and not metadata:
            session = self.session()
            if not session.busy:
                return await session.post(request)
        if not self.unary_supported:
            return None
        try:
            return await self.post_one(request, metadata, timeout)
        except RequestFailed as failed:
            return request, failed.error

    async def open_stream(
        self, metadata: Sequence[tuple[str, str]], timeout: float | None
    ) -> GrpcStream:
        """Start a ``Call`` stream (no wait_for_ready: an absent server fails at once)."""
        self._ensure_channel()
        assert self._call is not None
        call = self._call(metadata=(*self._identity, *metadata, *self._auth) or None,
                          timeout=timeout)
        return GrpcStream(call, self.address)

    def session(self) -> Session:
        """The session stream of this channel (`Session`), made on first use."""
        self._ensure_channel()
        if self._session is None:
            call = self._call
            assert call is not None
            session_metadata = (*self._identity, SESSION_METADATA, *self._auth)
            self._session = Session(lambda: call(metadata=session_metadata), self.address)
        return self._session

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
            reply = await self._unary(request.proto,
                                      metadata=(*self._identity, *metadata, *self._auth) or None,
                                      timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            failure = unary_failure(exc, self.address)
            if failure is None:
                self.unary_supported = False  # a gateway with Call only: streams from now on
                return None
            raise failure from exc
        return DataRequest(reply)

    def stream_doc(self, request: StreamMessage, metadata: Sequence[tuple[str, str]],
                   timeout: float | None) -> AsyncGenerator[Document, None]:
        """A streaming endpoint's documents (`_streaming.grpc_stream_doc`)."""
        return grpc_stream_doc(self._ensure_channel(), request,
                               (*self._identity, *metadata, *self._auth), timeout, self.address)

    async def dry_run(self, timeout: float | None = None) -> bool:
        """``JinaGatewayDryRunRPC/dry_run``: True when the gateway reports SUCCESS."""
        stub = jina_pb2_grpc.JinaGatewayDryRunRPCStub(self._ensure_channel())
        try:
            status = await stub.dry_run(empty_pb2.Empty(), timeout=timeout or _READY_TIMEOUT,
                                        metadata=self._auth or None)
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
        if self._session is not None:
            self._session.close()
            self._session = None
        channel, loop = self._channel, self._loop
        self._channel = self._call = self._unary = self._loop = None
        if channel is not None and loop is asyncio.get_running_loop():
            await channel.close()
