"""The gateway's gRPC adapter: Jina's client-facing services over a GatewayCore."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import empty_pb2

from ..errors import (
    BadRequestError,
    DeadlineExceededError,
    OverloadedError,
    RequestError,
    UnavailableError,
)
from ..proto import jina_pb2, jina_pb2_grpc
from ..request import DataRequest
from .core import GatewayCore, error_response

__all__ = ["SERVICE_NAMES", "GatewayServicer", "add_gateway_services", "grpc_code_for"]

SERVICE_NAMES = [
    "jina.JinaRPC",
    "jina.JinaSingleDataRequestRPC",
    "jina.JinaDiscoverEndpointsRPC",
    "jina.JinaGatewayDryRunRPC",
    "jina.JinaInfoRPC",
]

_CODES: list[tuple[type[Exception], grpc.StatusCode]] = [
    (OverloadedError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (UnavailableError, grpc.StatusCode.UNAVAILABLE),
    (BadRequestError, grpc.StatusCode.INVALID_ARGUMENT),
]


def grpc_code_for(exc: RequestError) -> grpc.StatusCode:
    """The one place gateway errors map to gRPC status codes."""
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return code
    return grpc.StatusCode.INTERNAL


def _timeout_of(request: DataRequest) -> float | None:
    header = request.proto.header
    return header.timeout / 1000 if header.HasField("timeout") and header.timeout else None


class GatewayServicer(
    jina_pb2_grpc.JinaRPCServicer,
    jina_pb2_grpc.JinaSingleDataRequestRPCServicer,
    jina_pb2_grpc.JinaDiscoverEndpointsRPCServicer,
    jina_pb2_grpc.JinaGatewayDryRunRPCServicer,
    jina_pb2_grpc.JinaInfoRPCServicer,
):
    """Client-facing gRPC services. `prefetch` caps in-flight requests per `Call` stream."""

    def __init__(self, core: GatewayCore, *, prefetch: int = 1000) -> None:
        self.core = core
        self.prefetch = prefetch

    async def _serve_one(self, request_pb: jina_pb2.DataRequestProto) -> jina_pb2.DataRequestProto:
        request = DataRequest(request_pb)
        try:
            response = await self.core.process(request, timeout=_timeout_of(request))
        except RequestError as exc:
            # Inside a stream one request cannot fail alone with a status code: reply in-band.
            response = error_response(request, exc)
        return response.proto

    async def Call(  # noqa: N802 - the wire name
        self, request_iterator: AsyncIterator[jina_pb2.DataRequestProto], context: Any
    ) -> AsyncIterator[jina_pb2.DataRequestProto]:
        metadata = dict(context.invocation_metadata() or ())
        prefetch = int(metadata.get("__prefetch__", self.prefetch))
        in_order = str(metadata.get("__results_in_order__", "")).lower() == "true"
        slots = asyncio.Semaphore(prefetch) if prefetch > 0 else None
        # In order: tasks are queued as created. Any order: queued as they finish.
        results: asyncio.Queue[asyncio.Task[Any] | int | Exception] = asyncio.Queue()
        tasks: set[asyncio.Task[Any]] = set()

        async def read() -> None:
            count = 0
            try:
                async for request_pb in request_iterator:
                    if slots is not None:
                        await slots.acquire()
                    task = asyncio.create_task(self._serve_one(request_pb))
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
                if slots is not None:
                    slots.release()
            await reader
        finally:
            reader.cancel()
            for task in tasks:
                task.cancel()

    async def process_single_data(
        self, request: jina_pb2.DataRequestProto, context: grpc.aio.ServicerContext
    ) -> jina_pb2.DataRequestProto:
        req = DataRequest(request)
        try:
            response = await self.core.process(req, timeout=context.time_remaining())
        except RequestError as exc:
            await context.abort(grpc_code_for(exc), str(exc))
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
        status = jina_pb2.StatusProto(code=jina_pb2.StatusProto.ERROR, description="; ".join(problems))
        status.exception.name = "UnavailableError"
        status.exception.args.extend(problems)
        return status

    async def _status(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> jina_pb2.JinaInfoProto:
        return jina_pb2.JinaInfoProto(jina=self.core.info())


def add_gateway_services(servicer: GatewayServicer, server: grpc.aio.Server) -> None:
    jina_pb2_grpc.add_JinaRPCServicer_to_server(servicer, server)
    jina_pb2_grpc.add_JinaSingleDataRequestRPCServicer_to_server(servicer, server)
    jina_pb2_grpc.add_JinaDiscoverEndpointsRPCServicer_to_server(servicer, server)
    jina_pb2_grpc.add_JinaGatewayDryRunRPCServicer_to_server(servicer, server)
    jina_pb2_grpc.add_JinaInfoRPCServicer_to_server(servicer, server)
