"""The gateway's gRPC adapter: Jina's client-facing services over a GatewayCore."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc
from google.protobuf import empty_pb2

from ..config.options import GATEWAY_DEFAULTS
from ..errors import OverloadedError, RequestError, UnavailableError
from ..proto import jina_pb2, jina_pb2_grpc
from ..wire.deadline import Deadline, deadline_after
from ..wire.names import (
    CALL_METHOD,
    CLIENT_ID_METADATA,
    ERROR_TRAILER,
    PREFETCH_METADATA,
    PROCESS_METHOD,
    RESULTS_IN_ORDER_METADATA,
    RETRY_AFTER,
    SESSION_METADATA,
)
from ..wire.origin import GrpcOrigin, grpc_origin
from ..wire.request import DataRequest
from ..wire.status import grpc_code_for
from .auth import AUTHENTICATED_CLIENT
from .core import GatewayCore, error_response, unexpected_error
from .decode import Undecodable, decode_request
from .grpc_streaming import add_stream_service
from .identity import TrustedProxies, client_identity, peer_address

__all__ = ["SERVICE_NAMES", "GatewayServicer", "add_gateway_services"]

SERVICE_NAMES = [
    "jina.JinaRPC",
    "jina.JinaSingleDataRequestRPC",
    "jina.JinaSingleDocumentRequestRPC",
    "jina.JinaDiscoverEndpointsRPC",
    "jina.JinaGatewayDryRunRPC",
    "jina.JinaInfoRPC",
]


def _metadata_of(context: Any) -> dict[str, str]:
    """A call's metadata as a dict (the last value of a repeated key wins)."""
    return dict(context.invocation_metadata() or ())


def _client_id(metadata: Mapping[str, str], context: Any, trusted: TrustedProxies) -> str:
    """The client a call comes from (see `identity`): mesh identity, its own id, or the
    connection (the address a trusted proxy forwarded, or the peer)."""
    peer = str(context.peer() or "unknown")
    return client_identity(metadata, peer=peer, peer_ip=peer_address(peer),
                           client_id_key=CLIENT_ID_METADATA, trusted=trusted,
                           authenticated=AUTHENTICATED_CLIENT.get())


SHUTTING_DOWN = ("the gateway is shutting down: the request was not taken; retry it "
                 "elsewhere")
"""In-band error of a request read from a stream after the gateway began to drain."""


async def abort_for(context: Any, exc: Exception) -> None:
    """End the RPC with the status code of `exc` (never UNKNOWN); the error trailer says
    "this request failed in the gateway" (not "no gateway here") to clients."""
    error = unexpected_error(exc)
    trailers = [(ERROR_TRAILER, type(error).__name__)]
    if isinstance(error, OverloadedError):
        trailers.append((RETRY_AFTER, str(error.retry_after)))
    context.set_trailing_metadata(trailers)
    await context.abort(grpc_code_for(error), str(error))


def _deadline(header: jina_pb2.HeaderProto, default: float | None,
              context: Any) -> Deadline | None:
    """The request's own timeout (`header`, ms), else the default; never past the RPC
    deadline. For posts and streams alike."""
    timeout = header.timeout / 1000 if header.HasField("timeout") and header.timeout else default
    remaining = context.time_remaining()
    if remaining is not None and (timeout is None or remaining < timeout):
        timeout = max(0.0, remaining)
    return deadline_after(timeout)


class _ClientWindows:
    """One semaphore per client, shared by all its streams: a client never has more than
    `size` requests in the gateway, so its streams wait instead of overflowing its queue."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._windows: dict[str, tuple[asyncio.Semaphore, int]] = {}

    def open(self, client: str) -> asyncio.Semaphore:
        sem, users = self._windows.get(client, (None, 0))
        if sem is None:
            sem = asyncio.Semaphore(self.size)
        self._windows[client] = (sem, users + 1)
        return sem

    def close(self, client: str) -> None:
        sem, users = self._windows[client]
        if users <= 1:
            del self._windows[client]
        else:
            self._windows[client] = (sem, users - 1)


class GatewayServicer(
    jina_pb2_grpc.JinaRPCServicer,
    jina_pb2_grpc.JinaSingleDataRequestRPCServicer,
    jina_pb2_grpc.JinaDiscoverEndpointsRPCServicer,
    jina_pb2_grpc.JinaGatewayDryRunRPCServicer,
    jina_pb2_grpc.JinaInfoRPCServicer,
):
    """Client-facing gRPC services.

    A `Call` stream has at most `prefetch` requests in flight (the client's `PREFETCH_METADATA`
    overrides it; 0 = unlimited), and all streams of one client together at most
    `stream_window` (the per-client queue bound), so a streaming client is slowed by
    back-pressure instead of being rejected.
    """

    def __init__(self, core: GatewayCore, *, prefetch: int = GATEWAY_DEFAULTS.prefetch,
                 stream_window: int = GATEWAY_DEFAULTS.max_queue_per_client,
                 default_timeout: float | None = None,
                 trusted: TrustedProxies | None = None,
                 listen: tuple[str | None, int | None] = (None, None)) -> None:
        self.core = core
        self.listen = listen
        """(address, port) this server listens on (`wire.origin.listen_address`), for traces."""
        self.trusted = trusted or TrustedProxies()
        self.prefetch = prefetch
        self.default_timeout = default_timeout
        self._windows = _ClientWindows(stream_window)
        self._draining = False
        self._on_drain: set[Callable[[], None]] = set()

    def drain(self) -> None:
        """The gateway is stopping: end each session stream (see `SESSION_METADATA`) once
        nothing of it is in flight and it waits for a next request; an idle client would
        otherwise hold the stop for the whole grace period. Requests already read are answered
        first. Other streams run on until their client half-closes or the grace period ends,
        but take no new work: a request read from them from now on is answered at once,
        in-band, with an UnavailableError saying the gateway is shutting down (the client may
        retry it elsewhere), so that the requests already taken are answered within grace."""
        self._draining = True
        for end_if_idle in list(self._on_drain):
            end_if_idle()

    async def _serve_one(self, request_pb: jina_pb2.DataRequestProto | Undecodable,
                         client: str, context: Any, refuse: bool = False,
                         origin: GrpcOrigin | None = None) -> jina_pb2.DataRequestProto:
        if isinstance(request_pb, Undecodable):
            return request_pb.error_reply()
        request = DataRequest(request_pb)
        if refuse:  # read from a stream while draining: not taken, so the client may retry it
            return error_response(request, UnavailableError(SHUTTING_DOWN)).proto
        try:
            response = await self.core.process(
                request, deadline=_deadline(request.header, self.default_timeout, context),
                client=client, origin=origin)
        except Exception as exc:  # noqa: BLE001 - one request must never end the whole stream
            # Inside a stream one request cannot fail alone with a status code: reply in-band.
            response = error_response(request, unexpected_error(exc))
        return response.proto

    async def Call(  # noqa: N802 - the wire name
        self, request_iterator: AsyncIterator[jina_pb2.DataRequestProto], context: Any
    ) -> AsyncIterator[jina_pb2.DataRequestProto]:
        metadata = _metadata_of(context)
        client = _client_id(metadata, context, self.trusted)
        origin = grpc_origin(CALL_METHOD, context.peer(), self.listen)  # one per stream
        try:
            prefetch = int(metadata.get(PREFETCH_METADATA, self.prefetch))
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"metadata {PREFETCH_METADATA} must be a whole number "
                                f"(0: unlimited), got {metadata.get(PREFETCH_METADATA)!r}")
        in_order = str(metadata.get(RESULTS_IN_ORDER_METADATA, "")).lower() == "true"
        slots = asyncio.Semaphore(prefetch) if prefetch > 0 else None
        client_window = self._windows.open(client)
        # In order: tasks are queued as created. Any order: queued as they finish.
        results: asyncio.Queue[asyncio.Task[Any] | int | Exception] = asyncio.Queue()
        tasks: set[asyncio.Task[Any]] = set()

        count = 0
        parked = False  # the reader waits for the client's next request (nothing half-read)
        ended = False

        def end_if_idle() -> None:
            nonlocal ended
            if self._draining and parked and not tasks and not ended:
                ended = True
                reader.cancel()
                results.put_nowait(count)

        async def read() -> None:
            nonlocal count, parked
            messages = aiter(request_iterator)
            try:
                while True:
                    parked = True
                    try:
                        request_pb = await anext(messages)
                    except StopAsyncIteration:
                        break
                    finally:
                        parked = False
                    if slots is not None:
                        await slots.acquire()
                    await client_window.acquire()
                    task = asyncio.create_task(
                        self._serve_one(request_pb, client, context, refuse=self._draining,
                                        origin=origin))
                    tasks.add(task)
                    if in_order:
                        results.put_nowait(task)
                    else:
                        task.add_done_callback(results.put_nowait)
                    count += 1
            except Exception as exc:  # the client's side of the stream broke
                results.put_nowait(exc)
                return
            results.put_nowait(count)  # end marker: how many responses to expect

        reader = asyncio.create_task(read())
        session = metadata.get(SESSION_METADATA) == "1"
        if session:
            self._on_drain.add(end_if_idle)
        sent, expected = 0, None
        try:
            while expected is None or sent < expected:
                item = await results.get()
                if isinstance(item, Exception):
                    raise item
                if isinstance(item, int):
                    expected = item
                    continue
                response = await item
                tasks.discard(item)
                yield response
                sent += 1
                client_window.release()
                if slots is not None:
                    slots.release()
                if session:
                    end_if_idle()
            if ended:  # the reader was stopped by `drain`, not by the client
                await asyncio.wait([reader])
            else:
                await reader
        finally:
            self._on_drain.discard(end_if_idle)
            reader.cancel()
            for task in tasks:
                task.cancel()
            for _ in range(count - sent):  # read but never answered (the stream was cancelled):
                client_window.release()    # give their places back to the client's other streams
            self._windows.close(client)

    async def process_single_data(
        self, request: jina_pb2.DataRequestProto, context: grpc.aio.ServicerContext
    ) -> jina_pb2.DataRequestProto:
        req = DataRequest(request)
        client = _client_id(_metadata_of(context), context, self.trusted)
        try:
            response = await self.core.process(
                req, deadline=_deadline(req.header, self.default_timeout, context), client=client,
                origin=grpc_origin(PROCESS_METHOD, context.peer(), self.listen))
        except Exception as exc:  # noqa: BLE001 - mapped to a status code, never UNKNOWN
            await abort_for(context, exc)
        return response.proto

    async def endpoint_discovery(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> jina_pb2.EndpointsProto:
        try:
            endpoints = await self.core.endpoints()
        except RequestError as exc:
            await context.abort(grpc_code_for(exc), str(exc))
        return jina_pb2.EndpointsProto(endpoints=endpoints)

    async def dry_run(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> jina_pb2.StatusProto:
        problems = await self.core.dry_run()
        if not problems:
            return jina_pb2.StatusProto(code=jina_pb2.StatusProto.SUCCESS)
        status = jina_pb2.StatusProto(code=jina_pb2.StatusProto.ERROR,
                                      description="; ".join(problems))
        status.exception.name = "UnavailableError"
        status.exception.args.extend(problems)
        return status

    async def _status(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> jina_pb2.JinaInfoProto:
        return jina_pb2.JinaInfoProto(jina=self.core.info())


async def _decoded(raw_messages: AsyncIterator[bytes],
                   ) -> AsyncIterator[jina_pb2.DataRequestProto | Undecodable]:
    async for raw in raw_messages:
        yield decode_request(raw)


async def _call_wire(servicer: GatewayServicer, raw_messages: AsyncIterator[bytes],
                     context: Any) -> AsyncIterator[jina_pb2.DataRequestProto]:
    """`Call` over undecoded messages: one that does not decode fails alone (see `wire`)."""
    async for reply in servicer.Call(_decoded(raw_messages), context):  # type: ignore[arg-type]
        yield reply


async def _process_wire(servicer: GatewayServicer, raw: bytes,
                        context: grpc.aio.ServicerContext) -> jina_pb2.DataRequestProto:
    request = decode_request(raw)
    if isinstance(request, Undecodable):
        await context.abort(grpc_code_for(request.error), str(request.error))
    return await servicer.process_single_data(request, context)  # type: ignore[arg-type]


def add_gateway_services(servicer: GatewayServicer, server: grpc.aio.Server) -> None:
    serialize = jina_pb2.DataRequestProto.SerializeToString
    server.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler("jina.JinaRPC", {
            "Call": grpc.stream_stream_rpc_method_handler(
                functools.partial(_call_wire, servicer),  # (grpc sees it is async)
                response_serializer=serialize)}),
        grpc.method_handlers_generic_handler("jina.JinaSingleDataRequestRPC", {
            "process_single_data": grpc.unary_unary_rpc_method_handler(
                functools.partial(_process_wire, servicer),
                response_serializer=serialize)}),
    ))
    add_stream_service(servicer, server)  # streaming endpoints: grpc_streaming.py
    jina_pb2_grpc.add_JinaDiscoverEndpointsRPCServicer_to_server(servicer, server)
    jina_pb2_grpc.add_JinaGatewayDryRunRPCServicer_to_server(servicer, server)
    jina_pb2_grpc.add_JinaInfoRPCServicer_to_server(servicer, server)
