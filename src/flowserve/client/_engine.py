"""One post, transport-free: send lazily under the prefetch window, hand outcomes on.

A transport provides `Stream`s. gRPC maps a post onto one ``JinaRPC/Call`` stream; HTTP onto
concurrent ``POST /post`` requests that look like a stream from here. A sender task writes
requests while the receiver reads answers, so sending never waits on callbacks and vice versa.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from ..errors import DeadlineExceededError, RequestError, UnavailableError
from ..wire.request import DataRequest
from ._inflight import InFlight

__all__ = ["Failed", "Sink", "Stream", "StreamBroken", "run_post"]


@dataclass(frozen=True, slots=True)
class Failed:
    """A read event: the request `request_id` failed in transport with `error`."""

    request_id: str
    error: RequestError


class StreamBroken(Exception):
    """The whole stream failed with `error`; every request in flight on it failed.

    `fatal` means the server could not be reached at all: the post raises `error` instead of
    reporting the requests one by one and retrying the rest on a new stream.
    """

    def __init__(self, error: RequestError, *, fatal: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.fatal = fatal


class Stream(Protocol):
    """What the engine needs from a transport for one post (or one leg of it)."""

    async def write(self, request: DataRequest) -> bool:
        """Send one request; False when the stream is already dead (read() will say why)."""
        ...

    async def done_writing(self) -> None:
        """No more requests will be written."""
        ...

    async def read(self) -> DataRequest | Failed | None:
        """The next answer; None at the clean end; raises StreamBroken when the stream died."""
        ...

    def cancel(self) -> None:
        """Abandon the stream and whatever is in flight on it."""
        ...


OpenStream = Callable[[float | None], Awaitable[Stream]]


class Sink(Protocol):
    """Where each outcome of a post goes (`ResultSink`, or `RetryingSink` in front of one)."""

    async def deliver(self, response: DataRequest, exc: RequestError | None = None) -> None:
        """Hand one outcome on; `exc` is set when the request failed in transport."""
        ...


class _Source:
    """The lazy request iterator, remembering whether it ran dry."""

    __slots__ = ("_it", "exhausted")

    def __init__(self, requests: Iterator[DataRequest]) -> None:
        self._it = requests
        self.exhausted = False

    def next(self) -> DataRequest | None:
        if self.exhausted:
            return None
        try:
            return next(self._it)
        except StopIteration:
            self.exhausted = True
            return None


async def _send(stream: Stream, source: _Source, inflight: InFlight) -> None:
    while True:
        await inflight.acquire()  # a free slot first: only then is the next batch built
        request = source.next()
        if request is None:
            inflight.release()
            break
        inflight.add(request)
        if not await stream.write(request):
            return  # the receiver learns why from read()
    await stream.done_writing()


async def run_post(
    open_stream: OpenStream,
    requests: Iterator[DataRequest],
    sink: Sink,
    inflight: InFlight,
    *,
    timeout: float | None = None,
    where: str = "",
) -> None:
    """Send `requests` over streams from `open_stream` and deliver every outcome to `sink`.

    When a stream breaks, the requests in flight on it are reported as failed and the rest go
    out on a new stream (the sink raises first if errors are not to be continued past). A
    stream that breaks before anything was sent on it, or because the server is unreachable,
    makes the post raise. `timeout` bounds the whole post.
    """
    source = _Source(requests)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = None
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if source.next() is None:  # nothing was left to send after all
                    return
                raise DeadlineExceededError(f"post to {where} exceeded its timeout of {timeout}s")
        stream = await open_stream(remaining)
        try:
            await _run_stream(stream, source, sink, inflight, where)
            return
        except StreamBroken as broken:
            failed = inflight.fail_all(broken.error)
            if broken.fatal or not failed:
                raise broken.error from None
            for request, error in failed:
                await sink.deliver(request, error)
            if source.exhausted and not len(inflight):
                return


async def _run_stream(
    stream: Stream, source: _Source, sink: Sink, inflight: InFlight, where: str
) -> None:
    sender = asyncio.create_task(_send(stream, source, inflight))
    receiver = asyncio.create_task(_receive(stream, source, sink, inflight, where))
    finished = False
    try:
        done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_EXCEPTION)
        if sender in done and sender.exception() is not None:
            raise sender.exception()  # type: ignore[misc]  # e.g. a bad input document
        await receiver
        finished = True
    finally:
        if not finished:  # nothing in flight on this stream may outlive the post (HTTP: tasks)
            for task in (sender, receiver):
                if not task.done():
                    task.cancel()
            stream.cancel()
            for task in (sender, receiver):
                with contextlib.suppress(BaseException):
                    await task
        for task in (sender, receiver):
            if task.done() and not task.cancelled():
                task.exception()  # a second failure is not "never retrieved" noise


async def _receive(
    stream: Stream, source: _Source, sink: Sink, inflight: InFlight, where: str
) -> None:
    while True:
        event = await stream.read()
        if event is None:
            break
        if isinstance(event, Failed):
            ready = inflight.fail(event.request_id, event.error)
        else:
            ready = inflight.answer(event)
        for response, error in ready:
            await sink.deliver(response, error)
    # `exhausted` is set before the sender half-closes, so it is reliable at EOF.
    if len(inflight) or not source.exhausted:
        # The server ended the stream early (cleanly): the rest must not wait forever.
        raise StreamBroken(UnavailableError(f"{where} ended the stream before answering"))
