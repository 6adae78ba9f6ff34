"""One post over an in-memory stream (no sockets): broken, failing and short streams."""

from __future__ import annotations

import asyncio

import pytest

from flowserve.client._batching import iter_requests
from flowserve.client._callbacks import ResultSink
from flowserve.client._engine import StreamBroken, run_post
from flowserve.client._inflight import InFlight
from flowserve.errors import (
    OverloadedError,
    UnavailableError,
)
from flowserve.wire.request import DataRequest

# -- one post over an in-memory stream ----------------------------------------------------------


class EchoStream:
    """Answers each request at once; ``break`` kills the stream, ``down`` is a fatal failure."""

    def __init__(self, log: list[str]) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.dead = False
        self.log = log

    async def write(self, request: DataRequest) -> bool:
        if self.dead:
            return False
        text = request.docs[0].text if len(request.docs) else ""
        self.log.append(text or "")
        if text in ("break", "down"):
            self.dead = True
            error = OverloadedError("busy") if text == "break" else UnavailableError("gw:1 down")
            self.queue.put_nowait(StreamBroken(error, fatal=text == "down"))
        elif text == "eof":
            self.dead = True
            self.queue.put_nowait(None)  # ends cleanly without answering
        else:
            self.queue.put_nowait(request)
        return True

    async def done_writing(self) -> None:
        if not self.dead:
            self.queue.put_nowait(None)

    async def read(self) -> DataRequest | None:
        item = await self.queue.get()
        if isinstance(item, StreamBroken):
            raise item
        return item  # type: ignore[return-value]

    def cancel(self) -> None:
        self.dead = True


def _post(texts: list[object], sink: ResultSink, prefetch: int = 1) -> tuple[int, list[str]]:
    opened = 0
    written: list[str] = []

    async def open_stream(remaining: float | None) -> EchoStream:
        nonlocal opened
        opened += 1
        return EchoStream(written)

    requests = iter_requests(texts, endpoint="/", request_size=1)  # type: ignore[arg-type]
    asyncio.run(run_post(open_stream, requests, sink, InFlight(prefetch), where="gw:1"))
    return opened, written


def test_post_goes_on_after_a_broken_stream_on_a_new_one() -> None:
    done: list[str] = []
    errors: list[DataRequest] = []
    sink = ResultSink(on_done=lambda r: done.append(r.docs[0].text or ""), on_error=errors.append)
    opened, written = _post(["a", "break", "c", "d"], sink)
    assert opened == 2 and written == ["a", "break", "c", "d"]
    assert done == ["a", "c", "d"]
    assert [e.status.exception.name for e in errors] == ["OverloadedError"]


def test_post_raises_fatal_stream_errors_even_with_on_error() -> None:
    errors: list[DataRequest] = []
    with pytest.raises(UnavailableError, match="gw:1 down"):
        _post(["a", "down", "c"], ResultSink(on_error=errors.append))
    assert errors == []


def test_post_stream_ending_early_is_an_error() -> None:
    with pytest.raises(UnavailableError, match="ended the stream"):
        _post(["a", "eof", "c"], ResultSink())


def test_post_bad_input_raises_without_hanging() -> None:
    with pytest.raises(TypeError, match=r"inputs\[1\]"):
        _post(["a", 3, "c"], ResultSink(), prefetch=5)
