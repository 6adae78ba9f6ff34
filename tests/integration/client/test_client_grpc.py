"""The Client over gRPC against a fake JinaRPC gateway (client_fakes.py): posts, callbacks,
prefetch, errors and deadlines."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from client_fakes import (
    WAIT,
    FakeJina,
    ServerThread,
    make_docs,
)
from procs import free_port

from flowserve import AsyncClient, Client, DataRequest, Document, DocumentArray
from flowserve.errors import (
    DeadlineExceededError,
    ExecutorError,
    OverloadedError,
    UnavailableError,
)

pytestmark = pytest.mark.integration


# -- gRPC -------------------------------------------------------------------------------------


def test_returns_docs_of_all_responses(client: Client, fake: FakeJina) -> None:
    result = client.post("/", make_docs(*[f"t{i}" for i in range(25)]), request_size=10)
    assert isinstance(result, DocumentArray)
    assert sorted(d.text for d in result) == sorted(f"T{i}" for i in range(25))
    assert fake.received == 3


def test_linkerd_post_script(client: Client) -> None:
    """A typical script: a DocumentArray, on_done, default request_size."""
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
        make_docs("a", "boom", "c"),
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
        client.post("/", make_docs("a", "boom"), request_size=1)
    assert info.value.executor == "fake"
    assert info.value.name == "ValueError"
    assert info.value.args_ == ["boom happened"]
    assert any("ValueError" in s for s in info.value.stacks)


def test_continue_on_error_logs_and_goes_on(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="flowserve.client"):
        result = client.post(
            "/", make_docs("a", "boom", "c"), request_size=1, continue_on_error=True, prefetch=1
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
    result = client.post("/", make_docs(*texts), request_size=1, prefetch=0, results_in_order=True)
    assert [d.text for d in result] == [t.upper() for t in texts]  # type: ignore[union-attr]
    assert fake.metadata[-1]["__results_in_order__"] == "true"
    assert "__prefetch__" in fake.metadata[-1]  # prefetch=0 was given explicitly

    unordered = client.post("/", make_docs(*texts), request_size=1, prefetch=0)
    assert [d.text for d in unordered] == [t.upper() for t in reversed(texts)]  # type: ignore[union-attr]
    assert "__results_in_order__" not in fake.metadata[-1]


def test_user_metadata_and_no_prefetch_key_by_default(client: Client, fake: FakeJina) -> None:
    client.post("/", make_docs("a"), metadata={"x-tenant": "acme"})
    assert fake.metadata[-1]["x-tenant"] == "acme"
    assert "__prefetch__" not in fake.metadata[-1]


def test_resource_exhausted_becomes_overloaded_error_response(client: Client) -> None:
    errors: list[DataRequest] = []
    done: list[str] = []
    always: list[str] = []
    client.post(
        "/",
        make_docs("a", "b", "overload", "d", "e"),
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
        client.post("/", make_docs("a", "overload", "c"), request_size=1, prefetch=1)


def test_timeout_is_the_stream_deadline(client: Client) -> None:
    start = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        client.post("/", make_docs("hang"), timeout=0.3)
    assert time.monotonic() - start < WAIT


def test_deadline_with_on_error_reports_the_request(client: Client) -> None:
    errors: list[DataRequest] = []
    done: list[DataRequest] = []
    assert client.is_flow_ready(timeout=WAIT)  # connect first: the timeout is for the post
    client.post(
        "/",
        make_docs("a", "hang"),
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
            c.post("/", make_docs("a"), on_error=lambda r: None)
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
    c.post("/", make_docs("a"))
    loop, channel = c._loop, c._client._transport._channel  # type: ignore[union-attr]
    c.post("/", make_docs("b"))
    assert c._loop is loop and c._client._transport._channel is channel  # type: ignore[union-attr]
    c.close()
    c.close()
    with pytest.raises(RuntimeError, match="closed"):
        c.post("/", make_docs("c"))


def test_sync_client_inside_a_running_loop(client: Client) -> None:
    async def main() -> Any:
        return client.post("/", make_docs("a"))  # runs on a helper thread

    result = asyncio.run(main())
    assert [d.text for d in result] == ["A"]
    assert [d.text for d in client.post("/", make_docs("b"))] == ["B"]  # type: ignore[union-attr]


def test_async_client(grpc_server: ServerThread, fake: FakeJina) -> None:
    order: list[str] = []

    async def on_done(resp: DataRequest) -> None:
        await asyncio.sleep(0)
        order.append(resp.docs[0].text or "")

    async def main() -> Any:
        async with AsyncClient(host=f"grpc://127.0.0.1:{grpc_server.port}") as c:
            assert await c.is_flow_ready()
            await c.post(
                "/", make_docs("a", "b"), request_size=1, on_done=on_done, results_in_order=True
            )
            return await c.post("/", make_docs("x", "y", "z"), request_size=2)

    result = asyncio.run(main())
    assert sorted(order) == ["A", "B"]
    assert sorted(d.text for d in result) == ["X", "Y", "Z"]
