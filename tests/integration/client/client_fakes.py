"""Fake gateways the Client tests run against, on 127.0.0.1: a fake JinaRPC (gRPC) and an ASGI
app (HTTP).

The fake servers answer by echoing each request with a route added and every doc's text
upper-cased. Special doc texts: ``boom`` -> an in-band executor error; ``overload`` -> the
gRPC stream is aborted with RESOURCE_EXHAUSTED (HTTP: 429); ``hang`` -> never answered.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from flowserve import DataRequest, Document, DocumentArray
from flowserve.proto import jina_pb2, jina_pb2_grpc
from flowserve.transport.http_server import HttpServer
from flowserve.wire.httpjson import request_from_post_body, response_to_json

WAIT = 30.0  # generous bound for anything awaited across threads


def answer(request: DataRequest) -> DataRequest:
    texts = [d.text or "" for d in request.docs]
    if "boom" in texts:
        try:
            raise ValueError("boom happened")
        except ValueError as exc:
            request.set_exception(exc, executor="fake")
        return request
    for doc in request.docs:
        doc.text = (doc.text or "").upper()
    route = request.routes.add()
    route.executor = "fake"
    return request


# -- fake gRPC gateway ------------------------------------------------------------------------


class FakeJina(jina_pb2_grpc.JinaRPCServicer, jina_pb2_grpc.JinaGatewayDryRunRPCServicer):
    """Counts requests received-but-unanswered per stream; answers once `hold` allows it."""

    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.received = 0
        self.hold_until: int | None = None  # answer only with this many in flight (or at EOF)
        self.reverse = False  # collect everything, answer in reverse (ignores metadata)
        self.dry_run_ok = True

    async def Call(self, request_iterator: Any, context: Any) -> Any:
        self.metadata.append(dict(context.invocation_metadata()))
        queue: asyncio.Queue[DataRequest | None] = asyncio.Queue()
        changed = asyncio.Condition()
        eof = False

        async def reader() -> None:
            nonlocal eof
            async for pb in request_iterator:
                self.received += 1
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                queue.put_nowait(DataRequest(pb))
                async with changed:
                    changed.notify_all()
            eof = True
            queue.put_nowait(None)
            async with changed:
                changed.notify_all()

        task = asyncio.create_task(reader())
        try:
            if self.reverse:
                await task
                items = [queue.get_nowait() for _ in range(queue.qsize())][:-1]
                for request in reversed(items):
                    self.in_flight -= 1
                    yield answer(request).proto
                return
            while True:
                if self.hold_until is not None:
                    async with changed:
                        await changed.wait_for(
                            lambda: eof or self.in_flight >= (self.hold_until or 0)
                        )
                request = await queue.get()
                if request is None:
                    return
                texts = [d.text for d in request.docs]
                if "overload" in texts:
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many requests")
                if "hang" in texts:
                    await asyncio.Event().wait()
                self.in_flight -= 1
                yield answer(request).proto
        finally:
            task.cancel()

    async def dry_run(self, request: Any, context: Any) -> jina_pb2.StatusProto:
        code = jina_pb2.StatusProto.SUCCESS if self.dry_run_ok else jina_pb2.StatusProto.ERROR
        return jina_pb2.StatusProto(code=code)


class ServerThread:
    """A grpc.aio server on its own loop and thread, so sync and async clients can use it."""

    def __init__(self, servicer: FakeJina) -> None:
        self.servicer = servicer
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: grpc.aio.Server | None = None
        self.port = 0

    def run(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT)  # type: ignore[arg-type]

    async def _start(self) -> int:
        self.server = grpc.aio.server()
        jina_pb2_grpc.add_JinaRPCServicer_to_server(self.servicer, self.server)
        jina_pb2_grpc.add_JinaGatewayDryRunRPCServicer_to_server(self.servicer, self.server)
        if isinstance(self.servicer, jina_pb2_grpc.JinaSingleDataRequestRPCServicer):
            jina_pb2_grpc.add_JinaSingleDataRequestRPCServicer_to_server(self.servicer, self.server)
        health_servicer = health.aio.HealthServicer()
        await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        return port

    def start(self) -> None:
        self.thread.start()
        self.port = self.run(self._start())

    def stop(self) -> None:
        if self.server is not None:
            self.run(self.server.stop(None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


class HttpServerThread:
    """An ASGI app served on 127.0.0.1 by flowserve's own HttpServer (uvicorn), on a loop and
    thread of its own, for clients that need a real socket."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: HttpServer | None = None
        self.port = 0

    def run(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT)  # type: ignore[arg-type]

    async def _start(self) -> int:
        self.server = HttpServer.start(self.app, "127.0.0.1", 0, grace=0.1)
        return self.server.port

    def start(self) -> None:
        self.thread.start()
        self.port = self.run(self._start())

    def stop(self) -> None:
        if self.server is not None:
            self.run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


def make_docs(*texts: str) -> DocumentArray:
    return DocumentArray(Document(text=t) for t in texts)


class FakeJinaUnary(FakeJina, jina_pb2_grpc.JinaSingleDataRequestRPCServicer):
    """FakeJina that also serves unary process_single_data, as flowserve's gateway does.
    With `end_streams_after` = n, each Call stream ends after answering n requests."""

    def __init__(self) -> None:
        super().__init__()
        self.unary_calls = 0
        self.end_streams_after: int | None = None

    async def process_single_data(self, request: Any, context: Any) -> Any:
        self.unary_calls += 1
        return answer(DataRequest(request)).proto

    async def Call(self, request_iterator: Any, context: Any) -> Any:
        answered = 0
        async for response in super().Call(request_iterator, context):
            yield response
            answered += 1
            if answered == self.end_streams_after:
                return


class FakeHttpGateway:
    """A bare ASGI app speaking the flowserve HTTP protocol; counts concurrent requests."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.hold_until: int | None = None
        self.released = 0
        self.changed: asyncio.Condition | None = None
        self.headers: list[dict[str, str]] = []
        self.peers: list[tuple[Any, ...]] = []  # (host, port) of each request's connection

    async def _send_json(
        self, send: Any, status: int, body: Any, headers: dict | None = None
    ) -> None:
        raw = json.dumps(body).encode()
        hdrs = [(b"content-type", b"application/json")]
        hdrs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": raw})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        if self.changed is None:
            self.changed = asyncio.Condition()
        self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        self.peers.append(tuple(scope.get("client") or ()))
        if scope["method"] == "GET":
            if scope["path"] == "/dry_run":
                await self._send_json(send, 200, {"code": 0, "description": ""})
            else:
                await self._send_json(send, 200, {})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = request_from_post_body(json.loads(body))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.hold_until is not None:
                # Held until `hold_until` are in flight together; then that whole group goes.
                async with self.changed:
                    group = self.released
                    if self.in_flight >= self.hold_until:
                        self.released += 1
                        self.changed.notify_all()
                    else:
                        await self.changed.wait_for(lambda: self.released > group)
            texts = [d.text for d in request.docs]
            if "hang" in texts:
                await asyncio.Event().wait()
            if "overload" in texts:
                await self._send_json(
                    send,
                    429,
                    {"detail": "queue is full", "error": "OverloadedError"},
                    {"Retry-After": "2"},
                )
            elif "late" in texts:
                await self._send_json(
                    send, 504, {"detail": "deadline", "error": "DeadlineExceededError"}
                )
            else:
                await self._send_json(send, 200, response_to_json(answer(request)))
        finally:
            self.in_flight -= 1
