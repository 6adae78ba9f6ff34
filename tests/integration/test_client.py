"""The Client against in-test servers on 127.0.0.1: a fake JinaRPC (gRPC) and an ASGI app (HTTP).

The fake servers answer by echoing each request with a route added and every doc's text
upper-cased. Special doc texts: ``boom`` -> an in-band executor error; ``overload`` -> the
gRPC stream is aborted with RESOURCE_EXHAUSTED (HTTP: 429); ``hang`` -> never answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from procs import free_port

from flowserve import AsyncClient, Client, DataRequest, Document, DocumentArray
from flowserve.errors import (
    DeadlineExceededError,
    ExecutorError,
    OverloadedError,
    UnavailableError,
)
from flowserve.wire.httpjson import request_from_post_body, response_to_json
from flowserve.wire.proto import jina_pb2, jina_pb2_grpc

pytestmark = pytest.mark.integration

WAIT = 30.0  # generous bound for anything awaited across threads


def _answer(request: DataRequest) -> DataRequest:
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
                    yield _answer(request).proto
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
                yield _answer(request).proto
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


@pytest.fixture
def fake() -> FakeJina:
    return FakeJina()


@pytest.fixture
def grpc_server(fake: FakeJina) -> Iterator[ServerThread]:
    server = ServerThread(fake)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(grpc_server: ServerThread) -> Iterator[Client]:
    with Client(host=f"grpc://127.0.0.1:{grpc_server.port}") as c:
        yield c


def _docs(*texts: str) -> DocumentArray:
    return DocumentArray(Document(text=t) for t in texts)


# -- gRPC -------------------------------------------------------------------------------------


def test_returns_docs_of_all_responses(client: Client, fake: FakeJina) -> None:
    result = client.post("/", _docs(*[f"t{i}" for i in range(25)]), request_size=10)
    assert isinstance(result, DocumentArray)
    assert sorted(d.text for d in result) == sorted(f"T{i}" for i in range(25))
    assert fake.received == 3


def test_linkerd_post_script(client: Client) -> None:
    """The seed blog post's script: a DocumentArray, on_done, default request_size."""
    done: list[DataRequest] = []
    da = DocumentArray(Document(text=f"text {i}") for i in range(1000))
    assert client.post(on="/", inputs=da, on_done=done.append) is None
    assert len(done) == 10
    assert all(r.routes[-1].executor == "fake" for r in done)
    assert sum(len(r.docs) for r in done) == 1000


def test_none_inputs_send_one_empty_request(client: Client, fake: FakeJina) -> None:
    responses = client.post("/x", return_responses=True)
    assert isinstance(responses, list) and len(responses) == 1
    assert responses[0].endpoint == "/x" and len(responses[0].docs) == 0


def test_callback_order_done_and_error(client: Client) -> None:
    calls: list[tuple[str, str]] = []

    def record(kind: str) -> Callable[[DataRequest], None]:
        return lambda r: calls.append((kind, r.docs[0].text or ""))

    client.post(
        "/",
        _docs("a", "boom", "c"),
        request_size=1,
        prefetch=1,
        on_done=record("done"),
        on_error=record("error"),
        on_always=record("always"),
    )
    assert calls == [
        ("done", "A"),
        ("always", "A"),
        ("error", "boom"),
        ("always", "boom"),
        ("done", "C"),
        ("always", "C"),
    ]


def test_executor_error_raises_without_on_error(client: Client) -> None:
    with pytest.raises(ExecutorError) as info:
        client.post("/", _docs("a", "boom"), request_size=1)
    assert info.value.executor == "fake"
    assert info.value.name == "ValueError"
    assert info.value.args_ == ["boom happened"]
    assert any("ValueError" in s for s in info.value.stacks)


def test_continue_on_error_logs_and_goes_on(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="flowserve.client"):
        result = client.post(
            "/", _docs("a", "boom", "c"), request_size=1, continue_on_error=True, prefetch=1
        )
    assert [d.text for d in result] == ["A", "C"]  # type: ignore[union-attr]
    assert "boom happened" in caplog.text


def test_prefetch_bounds_in_flight_and_generator(client: Client, fake: FakeJina) -> None:
    """The server holds answers until `prefetch` requests are in flight: a client that did
    not wait for a free slot would push max_in_flight above it."""
    prefetch, size = 3, 2
    fake.hold_until = prefetch
    pulled = 0
    answered = 0
    overdraw: list[int] = []

    def generate() -> Iterator[Document]:
        nonlocal pulled
        for i in range(40):
            pulled += 1
            yield Document(text=f"d{i}")

    def on_done(resp: DataRequest) -> None:
        nonlocal answered
        answered += 1
        # batches built so far: answered + in flight, never more than `prefetch` ahead
        if pulled > (answered + prefetch) * size:
            overdraw.append(pulled)

    client.post("/", generate(), request_size=size, prefetch=prefetch, on_done=on_done)
    assert answered == 20
    assert fake.max_in_flight == prefetch
    assert not overdraw
    assert fake.metadata[-1]["__prefetch__"] == str(prefetch)


def test_results_in_order_metadata_and_order(client: Client, fake: FakeJina) -> None:
    fake.reverse = True  # answers last-first whatever the metadata says
    texts = [f"t{i}" for i in range(8)]
    result = client.post("/", _docs(*texts), request_size=1, prefetch=0, results_in_order=True)
    assert [d.text for d in result] == [t.upper() for t in texts]  # type: ignore[union-attr]
    assert fake.metadata[-1]["__results_in_order__"] == "true"
    assert "__prefetch__" in fake.metadata[-1]  # prefetch=0 was given explicitly

    unordered = client.post("/", _docs(*texts), request_size=1, prefetch=0)
    assert [d.text for d in unordered] == [t.upper() for t in reversed(texts)]  # type: ignore[union-attr]
    assert "__results_in_order__" not in fake.metadata[-1]


def test_user_metadata_and_no_prefetch_key_by_default(client: Client, fake: FakeJina) -> None:
    client.post("/", _docs("a"), metadata={"x-tenant": "acme"})
    assert fake.metadata[-1]["x-tenant"] == "acme"
    assert "__prefetch__" not in fake.metadata[-1]


def test_resource_exhausted_becomes_overloaded_error_response(client: Client) -> None:
    errors: list[DataRequest] = []
    done: list[str] = []
    always: list[str] = []
    client.post(
        "/",
        _docs("a", "b", "overload", "d", "e"),
        request_size=1,
        prefetch=1,
        on_done=lambda r: done.append(r.docs[0].text or ""),
        on_error=errors.append,
        on_always=lambda r: always.append(r.docs[0].text or ""),
    )
    assert done == ["A", "B", "D", "E"]  # the post went on after the failed request
    (err,) = errors
    assert err.status.exception.name == "OverloadedError"
    assert err.status.description == "too many requests"
    assert err.docs[0].text == "overload"
    assert always == ["A", "B", "overload", "D", "E"]


def test_resource_exhausted_raises_without_on_error(client: Client) -> None:
    with pytest.raises(OverloadedError, match="too many requests"):
        client.post("/", _docs("a", "overload", "c"), request_size=1, prefetch=1)


def test_timeout_is_the_stream_deadline(client: Client) -> None:
    start = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        client.post("/", _docs("hang"), timeout=0.3)
    assert time.monotonic() - start < WAIT


def test_deadline_with_on_error_reports_the_request(client: Client) -> None:
    errors: list[DataRequest] = []
    done: list[DataRequest] = []
    assert client.is_flow_ready(timeout=WAIT)  # connect first: the timeout is for the post
    client.post(
        "/",
        _docs("a", "hang"),
        request_size=1,
        prefetch=1,
        timeout=2.0,
        on_done=done.append,
        on_error=errors.append,
    )
    assert [r.docs[0].text for r in done] == ["A"]
    (err,) = errors
    assert err.status.exception.name == "DeadlineExceededError"
    assert err.docs[0].text == "hang"


def test_connection_refused_is_unavailable_and_fast() -> None:
    port = free_port()
    with Client(host=f"grpc://127.0.0.1:{port}") as c:
        start = time.monotonic()
        with pytest.raises(UnavailableError, match=f"127.0.0.1:{port}") as info:
            c.post("/", _docs("a"), on_error=lambda r: None)
        assert time.monotonic() - start < 5.0  # refused at once; slack for a busy CI
        assert isinstance(info.value, ConnectionError)
        assert c.is_flow_ready(timeout=1) is False
        assert c.dry_run(timeout=1) is False


def test_dry_run_and_health(client: Client, fake: FakeJina) -> None:
    assert client.is_flow_ready(timeout=5) is True
    assert client.dry_run() is True
    fake.dry_run_ok = False
    assert client.dry_run() is False


def test_channel_is_reused_and_close_is_idempotent(grpc_server: ServerThread) -> None:
    c = Client(host="127.0.0.1", port=grpc_server.port, protocol="grpc")
    c.post("/", _docs("a"))
    loop, channel = c._loop, c._client._transport._channel  # type: ignore[union-attr]
    c.post("/", _docs("b"))
    assert c._loop is loop and c._client._transport._channel is channel  # type: ignore[union-attr]
    c.close()
    c.close()
    with pytest.raises(RuntimeError, match="closed"):
        c.post("/", _docs("c"))


def test_sync_client_inside_a_running_loop(client: Client) -> None:
    async def main() -> Any:
        return client.post("/", _docs("a"))  # runs on a helper thread

    result = asyncio.run(main())
    assert [d.text for d in result] == ["A"]
    assert [d.text for d in client.post("/", _docs("b"))] == ["B"]  # type: ignore[union-attr]


def test_async_client(grpc_server: ServerThread, fake: FakeJina) -> None:
    order: list[str] = []

    async def on_done(resp: DataRequest) -> None:
        await asyncio.sleep(0)
        order.append(resp.docs[0].text or "")

    async def main() -> Any:
        async with AsyncClient(host=f"grpc://127.0.0.1:{grpc_server.port}") as c:
            assert await c.is_flow_ready()
            await c.post(
                "/", _docs("a", "b"), request_size=1, on_done=on_done, results_in_order=True
            )
            return await c.post("/", _docs("x", "y", "z"), request_size=2)

    result = asyncio.run(main())
    assert sorted(order) == ["A", "B"]
    assert sorted(d.text for d in result) == ["X", "Y", "Z"]


# -- single-request posts: the session stream ---------------------------------------------------


class FakeJinaUnary(FakeJina, jina_pb2_grpc.JinaSingleDataRequestRPCServicer):
    """FakeJina that also serves unary process_single_data, as flowserve's gateway does.
    With `end_streams_after` = n, each Call stream ends after answering n requests."""

    def __init__(self) -> None:
        super().__init__()
        self.unary_calls = 0
        self.end_streams_after: int | None = None

    async def process_single_data(self, request: Any, context: Any) -> Any:
        self.unary_calls += 1
        return _answer(DataRequest(request)).proto

    async def Call(self, request_iterator: Any, context: Any) -> Any:
        answered = 0
        async for response in super().Call(request_iterator, context):
            yield response
            answered += 1
            if answered == self.end_streams_after:
                return


@pytest.fixture
def unary_server() -> Iterator[tuple[ServerThread, FakeJinaUnary]]:
    fake = FakeJinaUnary()
    server = ServerThread(fake)
    server.start()
    try:
        yield server, fake
    finally:
        server.stop()


def test_single_posts_share_one_session_stream(
    unary_server: tuple[ServerThread, FakeJinaUnary],
) -> None:
    server, fake = unary_server
    with Client(host=f"grpc://127.0.0.1:{server.port}") as client:
        for text in ("a", "b", "c"):
            assert [d.text for d in client.post("/", Document(text=text))] == [text.upper()]  # type: ignore[union-attr]
        assert fake.received == 3 and fake.unary_calls == 0
        assert len(fake.metadata) == 1  # one Call stream for all three
        assert fake.metadata[0]["flowserve-session"] == "1"
        # a post with its own deadline or metadata is one unary call instead
        client.post("/", Document(text="d"), timeout=30)
        client.post("/", Document(text="e"), metadata={"k": "v"})
        assert fake.unary_calls == 2 and len(fake.metadata) == 1
        # more than one request: a stream of its own
        client.post("/", _docs("f", "g"), request_size=1)
        assert len(fake.metadata) == 2 and "flowserve-session" not in fake.metadata[1]
        assert fake.received == 5


def test_session_post_callbacks_and_errors(
    unary_server: tuple[ServerThread, FakeJinaUnary],
) -> None:
    server, fake = unary_server
    calls: list[tuple[str, str]] = []

    def record(kind: str) -> Callable[[DataRequest], None]:
        return lambda r: calls.append((kind, r.docs[0].text or ""))

    with Client(host=f"grpc://127.0.0.1:{server.port}") as client:
        for text in ("a", "boom", "c"):
            client.post("/", Document(text=text), on_done=record("done"),
                        on_error=record("error"), on_always=record("always"))
        with pytest.raises(ExecutorError, match="boom happened"):
            client.post("/", Document(text="boom"))
        assert [d.text for d in client.post("/", Document(text="after"))] == ["AFTER"]  # type: ignore[union-attr]
    assert calls == [("done", "A"), ("always", "A"), ("error", "boom"), ("always", "boom"),
                     ("done", "C"), ("always", "C")]
    assert len(fake.metadata) == 1 and fake.unary_calls == 0


def test_a_request_on_an_ended_session_stream_goes_out_again_on_a_new_one(
    unary_server: tuple[ServerThread, FakeJinaUnary],
) -> None:
    server, fake = unary_server
    fake.end_streams_after = 1  # like a draining gateway ending idle session streams
    with Client(host=f"grpc://127.0.0.1:{server.port}") as client:
        texts = [client.post("/", Document(text=t))[0].text for t in ("a", "b", "c")]  # type: ignore[index]
    assert texts == ["A", "B", "C"]
    assert fake.received == 3 and len(fake.metadata) == 3 and fake.unary_calls == 0


def test_concurrent_single_posts_use_the_session_or_unary(
    unary_server: tuple[ServerThread, FakeJinaUnary],
) -> None:
    server, fake = unary_server

    async def main() -> list[str]:
        async with AsyncClient(host=f"grpc://127.0.0.1:{server.port}") as c:
            results = await asyncio.gather(*(c.post("/", Document(text=t)) for t in "abcd"))
        return [r[0].text for r in results]  # type: ignore[index]

    assert asyncio.run(main()) == ["A", "B", "C", "D"]
    assert fake.received + fake.unary_calls == 4
    assert fake.received >= 1 and fake.unary_calls >= 1  # the session carries one at a time


def test_session_to_nowhere_is_unavailable_and_fast() -> None:
    port = free_port()
    started = time.monotonic()
    with Client(host=f"grpc://127.0.0.1:{port}") as client, \
            pytest.raises(UnavailableError, match=f"127.0.0.1:{port}"):
        client.post("/", Document(text="a"), on_error=lambda r: None)
    assert time.monotonic() - started < 10


def test_show_progress_writes_to_stderr(client: Client, capsys: pytest.CaptureFixture) -> None:
    client.post("/", _docs("a", "b", "c"), request_size=1, show_progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "docs" in err


# -- HTTP ---------------------------------------------------------------------------------------


class FakeHttpGateway:
    """A bare ASGI app speaking the flowserve HTTP protocol; counts concurrent requests."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.hold_until: int | None = None
        self.released = 0
        self.changed: asyncio.Condition | None = None
        self.headers: list[dict[str, str]] = []

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
                await self._send_json(send, 200, response_to_json(_answer(request)))
        finally:
            self.in_flight -= 1


@pytest.fixture
def http_app() -> FakeHttpGateway:
    return FakeHttpGateway()


@pytest.fixture
def http_client(http_app: FakeHttpGateway) -> Iterator[Client]:
    transport = httpx.ASGITransport(app=http_app)
    with Client(host="http://gateway.test:8080", http_transport=transport) as c:
        yield c


def test_http_requests_still_in_flight_are_cancelled_when_a_post_fails(
    http_client: Client, http_app: FakeHttpGateway
) -> None:
    with pytest.raises(ExecutorError):
        http_client.post("/", _docs("hang", "boom"), request_size=1, prefetch=2)
    # the next post runs the private loop again: an abandoned request would still hang there
    assert [d.text for d in http_client.post("/", _docs("a"))] == ["A"]  # type: ignore[union-attr]
    assert http_app.in_flight == 0


def test_http_post_returns_docs_and_parameters(
    http_client: Client, http_app: FakeHttpGateway
) -> None:
    responses = http_client.post(
        "/foo",
        _docs("a", "b", "c"),
        request_size=2,
        parameters={"k": 1},
        return_responses=True,
        metadata={"x-tenant": "acme"},
    )
    assert isinstance(responses, list) and len(responses) == 2
    assert sorted(d.text for r in responses for d in r.docs) == ["A", "B", "C"]
    assert all(r.endpoint == "/foo" and r.parameters == {"k": 1} for r in responses)
    assert all(r.routes[-1].executor == "fake" for r in responses)
    assert http_app.headers[-1]["x-tenant"] == "acme"


def test_http_callbacks_and_executor_error(http_client: Client) -> None:
    calls: list[str] = []
    http_client.post(
        "/",
        _docs("a", "boom"),
        request_size=1,
        prefetch=1,
        on_done=lambda r: calls.append("done"),
        on_error=lambda r: calls.append("error:" + r.status.exception.name),
        on_always=lambda r: calls.append("always"),
    )
    assert calls == ["done", "always", "error:ValueError", "always"]
    with pytest.raises(ExecutorError, match="boom happened"):
        http_client.post("/", _docs("boom"))


def test_http_429_and_504_become_error_responses(http_client: Client) -> None:
    errors: list[DataRequest] = []
    done: list[DataRequest] = []
    http_client.post(
        "/",
        _docs("a", "overload", "late"),
        request_size=1,
        on_done=done.append,
        on_error=errors.append,
        results_in_order=True,
    )
    assert len(done) == 1
    assert [e.status.exception.name for e in errors] == ["OverloadedError", "DeadlineExceededError"]
    assert errors[0].status.description == "queue is full"
    with pytest.raises(OverloadedError) as info:
        http_client.post("/", _docs("overload"))
    assert info.value.retry_after == 2


def test_retries_stop_where_the_post_timeout_ends(http_client: Client) -> None:
    """The gateway sheds the request each time and asks for 2 s (Retry-After): with 5 retries
    that would take 10 s or more, but the post's timeout of 1 s bounds the whole post."""
    errors: list[DataRequest] = []
    started = time.monotonic()
    http_client.post("/", _docs("overload"), retries=5, retry_backoff=0.01, timeout=1.0,
                     on_error=errors.append)
    assert time.monotonic() - started < 8  # well under the 10 s the rounds would take
    (error,) = errors
    assert error.status.exception.name == "OverloadedError"
    assert "no time to retry" in error.status.description


def test_http_prefetch_bounds_concurrency(http_client: Client, http_app: FakeHttpGateway) -> None:
    http_app.hold_until = 4
    result = http_client.post("/", _docs(*[f"t{i}" for i in range(20)]), request_size=1, prefetch=4)
    assert len(result) == 20  # type: ignore[arg-type]
    assert http_app.max_in_flight == 4


def test_http_results_in_order(http_client: Client) -> None:
    texts = [f"t{i}" for i in range(12)]
    result = http_client.post("/", _docs(*texts), request_size=1, results_in_order=True)
    assert [d.text for d in result] == [t.upper() for t in texts]  # type: ignore[union-attr]


def test_http_dry_run_and_health(http_client: Client) -> None:
    assert http_client.is_flow_ready() is True
    assert http_client.dry_run() is True


def test_http_connection_refused_is_unavailable_and_fast() -> None:
    port = free_port()
    with Client(host=f"http://127.0.0.1:{port}") as c:
        start = time.monotonic()
        with pytest.raises(UnavailableError, match=f"127.0.0.1:{port}"):
            c.post("/", _docs("a"), continue_on_error=True)
        assert time.monotonic() - start < 5.0  # refused at once; slack for a busy CI
        assert c.is_flow_ready(timeout=1) is False


def test_http_async_client(http_app: FakeHttpGateway) -> None:
    async def main() -> Any:
        transport = httpx.ASGITransport(app=http_app)
        async with AsyncClient("http://gw:1", http_transport=transport) as c:
            return await c.post("/", _docs("a", "b"), request_size=1)

    result = asyncio.run(main())
    assert sorted(d.text for d in result) == ["A", "B"]
