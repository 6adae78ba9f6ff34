"""Single-request posts over gRPC: the long-lived session stream and unary calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from client_fakes import (
    FakeJinaUnary,
    ServerThread,
    make_docs,
)
from procs import free_port

from flowserve import AsyncClient, Client, DataRequest, Document
from flowserve.errors import (
    ExecutorError,
    UnavailableError,
)

pytestmark = pytest.mark.integration


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
        client.post("/", make_docs("f", "g"), request_size=1)
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
    client.post("/", make_docs("a", "b", "c"), request_size=1, show_progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "docs" in err
