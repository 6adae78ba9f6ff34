"""The Client over HTTP against a fake ASGI gateway (client_fakes.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from client_fakes import (
    FakeHttpGateway,
    make_docs,
)
from procs import free_port

from flowserve import AsyncClient, Client, DataRequest
from flowserve.errors import (
    ExecutorError,
    OverloadedError,
    UnavailableError,
)

pytestmark = pytest.mark.integration


def test_http_requests_still_in_flight_are_cancelled_when_a_post_fails(
    http_client: Client, http_app: FakeHttpGateway
) -> None:
    with pytest.raises(ExecutorError):
        http_client.post("/", make_docs("hang", "boom"), request_size=1, prefetch=2)
    # the next post runs the private loop again: an abandoned request would still hang there
    assert [d.text for d in http_client.post("/", make_docs("a"))] == ["A"]  # type: ignore[union-attr]
    assert http_app.in_flight == 0


def test_http_post_returns_docs_and_parameters(
    http_client: Client, http_app: FakeHttpGateway
) -> None:
    responses = http_client.post(
        "/foo",
        make_docs("a", "b", "c"),
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
        make_docs("a", "boom"),
        request_size=1,
        prefetch=1,
        on_done=lambda r: calls.append("done"),
        on_error=lambda r: calls.append("error:" + r.status.exception.name),
        on_always=lambda r: calls.append("always"),
    )
    assert calls == ["done", "always", "error:ValueError", "always"]
    with pytest.raises(ExecutorError, match="boom happened"):
        http_client.post("/", make_docs("boom"))


def test_http_429_and_504_become_error_responses(http_client: Client) -> None:
    errors: list[DataRequest] = []
    done: list[DataRequest] = []
    http_client.post(
        "/",
        make_docs("a", "overload", "late"),
        request_size=1,
        on_done=done.append,
        on_error=errors.append,
        results_in_order=True,
    )
    assert len(done) == 1
    assert [e.status.exception.name for e in errors] == ["OverloadedError", "DeadlineExceededError"]
    assert errors[0].status.description == "queue is full"
    with pytest.raises(OverloadedError) as info:
        http_client.post("/", make_docs("overload"))
    assert info.value.retry_after == 2


def test_retries_stop_where_the_post_timeout_ends(http_client: Client) -> None:
    """The gateway sheds the request each time and asks for 2 s (Retry-After): with 5 retries
    that would take 10 s or more, but the post's timeout of 1 s bounds the whole post."""
    errors: list[DataRequest] = []
    started = time.monotonic()
    http_client.post("/", make_docs("overload"), retries=5, retry_backoff=0.01, timeout=1.0,
                     on_error=errors.append)
    assert time.monotonic() - started < 8  # well under the 10 s the rounds would take
    (error,) = errors
    assert error.status.exception.name == "OverloadedError"
    assert "no time to retry" in error.status.description


def test_http_prefetch_bounds_concurrency(http_client: Client, http_app: FakeHttpGateway) -> None:
    http_app.hold_until = 4
    docs = make_docs(*[f"t{i}" for i in range(20)])
    result = http_client.post("/", docs, request_size=1, prefetch=4)
    assert len(result) == 20  # type: ignore[arg-type]
    assert http_app.max_in_flight == 4


def test_http_results_in_order(http_client: Client) -> None:
    texts = [f"t{i}" for i in range(12)]
    result = http_client.post("/", make_docs(*texts), request_size=1, results_in_order=True)
    assert [d.text for d in result] == [t.upper() for t in texts]  # type: ignore[union-attr]


def test_http_dry_run_and_health(http_client: Client) -> None:
    assert http_client.is_flow_ready() is True
    assert http_client.dry_run() is True


def test_http_connection_refused_is_unavailable_and_fast() -> None:
    port = free_port()
    with Client(host=f"http://127.0.0.1:{port}") as c:
        start = time.monotonic()
        with pytest.raises(UnavailableError, match=f"127.0.0.1:{port}"):
            c.post("/", make_docs("a"), continue_on_error=True)
        assert time.monotonic() - start < 5.0  # refused at once; slack for a busy CI
        assert c.is_flow_ready(timeout=1) is False


def test_http_async_client(http_app: FakeHttpGateway) -> None:
    async def main() -> Any:
        transport = httpx.ASGITransport(app=http_app)
        async with AsyncClient("http://gw:1", http_transport=transport) as c:
            return await c.post("/", make_docs("a", "b"), request_size=1)

    result = asyncio.run(main())
    assert sorted(d.text for d in result) == ["A", "B"]
