"""Fakes shared by unit tests: an executor replica served in-process, through the wire form."""

from __future__ import annotations

import asyncio
from typing import Any

from flowserve import Executor
from flowserve.errors import UnavailableError
from flowserve.proto import jina_pb2
from flowserve.wire.request import DataRequest
from flowserve.worker.runtime import ExecutorRuntime


class InProcessReplica:
    """A ReplicaClient that runs an executor in this process; requests and replies go
    through their serialized form, as over gRPC."""

    def __init__(self, executor: Executor, address: str = "fake:1", *,
                 name: str | None = None) -> None:
        if name is not None:
            executor.runtime_args.name = name
        self.address = address
        self.runtime = ExecutorRuntime(executor)
        self.calls = 0

    async def process(self, request, *, endpoint, timeout):
        self.calls += 1
        wire = DataRequest(jina_pb2.DataRequestProto.FromString(request.SerializeToString()))
        reply = await self.runtime.handle(wire, endpoint)
        return jina_pb2.DataRequestProto.FromString(reply.to_bytes())

    async def stream(self, request, *, endpoint, timeout):
        self.calls += 1
        wire = jina_pb2.SingleDocumentRequestProto.FromString(request.SerializeToString())
        replies = self.runtime.stream(wire, endpoint)
        try:
            async for reply in replies:
                yield jina_pb2.SingleDocumentRequestProto.FromString(reply.SerializeToString())
        finally:
            await replies.aclose()

    async def endpoint_kinds(self, timeout):
        streaming = set(self.runtime.streaming_endpoints())
        return {e: e in streaming for e in self.runtime.endpoints}

    async def is_ready(self, timeout):
        return True

    async def endpoints(self, timeout):
        return self.runtime.endpoints

    async def close(self):
        self.runtime.close()


class DownReplica:
    """A ReplicaClient whose executor cannot be reached."""

    def __init__(self, address: str = "down:1") -> None:
        self.address = address

    async def process(self, request, *, endpoint, timeout):
        raise UnavailableError(f"executor at {self.address} failed: UNAVAILABLE")

    async def stream(self, request, *, endpoint, timeout):
        raise UnavailableError(f"executor at {self.address} failed: UNAVAILABLE")
        yield  # an async generator, as a replica's stream is

    async def endpoint_kinds(self, timeout):
        raise UnavailableError(self.address)

    async def is_ready(self, timeout):
        return False

    async def endpoints(self, timeout):
        raise UnavailableError(self.address)

    async def close(self):
        pass


def websocket_session(app: Any, messages: list[dict[str, Any]], *, path: str = "/",
                      subprotocols: list[str] | None = None,
                      headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One WebSocket session through the ASGI `app` (no sockets): connect (from 10.0.0.7),
    send `messages`, then wait until the app closes; what the app sent."""
    scope = {"type": "websocket", "path": path, "raw_path": path.encode(), "root_path": "",
             "scheme": "ws", "query_string": b"", "client": ("10.0.0.7", 5000),
             "server": ("gw", 80), "subprotocols": subprotocols or [],
             "asgi": {"version": "3.0"},
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
    sent: list[dict[str, Any]] = []

    async def go() -> None:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for message in [{"type": "websocket.connect"}, *messages]:
            inbox.put_nowait(message)
        closed = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if inbox.empty():  # the client has said everything: wait until the app closes
                await closed.wait()
                return {"type": "websocket.disconnect", "code": 1000}
            return await inbox.get()

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "websocket.close":
                closed.set()

        await app(scope, receive, send)

    asyncio.run(go())
    return sent
