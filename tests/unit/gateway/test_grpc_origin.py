"""The gRPC adapter tells the core where each request came from (method, peer, its own
listening address), for tracing; the core passes it on unread. No sockets: a fake context."""

from __future__ import annotations

import asyncio
from typing import Any

from flowserve import Document, DocumentArray
from flowserve.gateway.grpc_service import GatewayServicer
from flowserve.wire.origin import GrpcOrigin
from flowserve.wire.request import DataRequest


class RecordingCore:
    def __init__(self) -> None:
        self.origins: list[object] = []

    async def process(self, request: DataRequest, *, deadline: Any, client: str,
                      origin: object = None) -> DataRequest:
        self.origins.append(origin)
        return request


class FakeContext:
    def invocation_metadata(self) -> tuple[()]:
        return ()

    def peer(self) -> str:
        return "ipv6:[::1]:4321"

    def time_remaining(self) -> None:
        return None


def _request() -> Any:
    return DataRequest.new(DocumentArray([Document(text="x")]), endpoint="/").proto


def test_unary_and_stream_calls_carry_their_origin():
    core = RecordingCore()
    servicer = GatewayServicer(core, listen=("gw.example", 50051))  # type: ignore[arg-type]

    async def go() -> None:
        await servicer.process_single_data(_request(), FakeContext())  # type: ignore[arg-type]

        async def two():
            yield _request()
            yield _request()

        assert len([r async for r in servicer.Call(two(), FakeContext())]) == 2

    asyncio.run(go())
    unary, *streamed = core.origins
    assert unary == GrpcOrigin(method="jina.JinaSingleDataRequestRPC/process_single_data",
                               peer_address="::1", peer_port=4321,
                               server_address="gw.example", server_port=50051)
    assert streamed == [GrpcOrigin(method="jina.JinaRPC/Call", peer_address="::1",
                                   peer_port=4321, server_address="gw.example",
                                   server_port=50051)] * 2
