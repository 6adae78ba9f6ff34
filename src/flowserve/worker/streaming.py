"""Driving a streaming handler: one document in, each document the generator yields out.

The handler is an async generator, or a plain generator whose every step runs on the
executor's handler threads (as a sync handler does), so that blocking code between its yields
does not stall the process's event loop. A plain generator's step that runs past the executor's
`timeout_handler` ends the stream with a `HandlerTimeoutError` and wedges the replica, which
restarts, as a sync handler past it does (its thread cannot be stopped).

A stream holds one of the runtime's `concurrency` slots from its first document to its end, as
it holds its fair-queue slot at the gateway. Whoever reads the stream may stop early (the
client went away, the deadline passed): closing the iterator, or cancelling the task reading
it, closes the handler's generator, so its ``finally`` blocks run in this process. An
exception of the handler, or an item that is not a Document, ends the stream with an error
reply after the documents already yielded (`wire.stream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Protocol

from ..config.ratelog import RateLimitedLog
from ..documents.array import DocumentArray
from ..documents.document import Document
from ..errors import HandlerTimeoutError
from ..executor import Handler, executor_parameters
from ..wire.deadline import Deadline
from ..wire.stream import StreamMessage, doc_reply, error_reply, parameters_of, set_status_exception

__all__ = ["StreamObserver", "not_streaming", "stream_handler"]

log = logging.getLogger(__name__)


class StreamObserver(Protocol):
    """Receives the events of the streams a replica serves (its metrics)."""

    def stream_started(self, *, executor: str, endpoint: str) -> None:
        """A stream's handler was called."""

    def stream_doc(self, *, executor: str, endpoint: str, seconds: float, first: bool) -> None:
        """The handler yielded a document `seconds` after it was called."""

    def stream_ended(self, *, executor: str, endpoint: str, outcome: str,
                     seconds: float) -> None:
        """The stream ended: success, executor_error or cancelled (the reader went away)."""


def not_streaming(executor: str, endpoint: str, handler: Handler | None,
                  endpoints: list[str]) -> tuple[str, str] | None:
    """(error name, message) when `handler` cannot serve a stream for `endpoint`, else None."""
    if handler is None:
        return ("BadRequestError",
                f"executor {executor!r} has no handler for endpoint {endpoint!r} "
                f"(its endpoints: {', '.join(endpoints) or 'none'})")
    if not handler.is_stream:
        name = getattr(handler.fn, "__qualname__", handler.endpoint)
        return ("BadRequestError",
                f"endpoint {endpoint!r} of executor {executor!r} is not a streaming endpoint: "
                f"its handler {name} is not a generator (write it as "
                "`async def ...(self, doc, ...): yield Document(...)`, or call it with post)")
    return None


class _StepTimeout(Exception):
    """A plain generator's step ran past `timeout_handler`."""


OnThread = Callable[[Callable[[], Any]], "asyncio.Future[Any]"]
"""Runs a function on a handler thread (counted as a running handler call)."""

AHEAD = 8
"""Documents a plain generator may yield ahead of the stream's reader."""


class _Driver:
    """Runs a plain generator on one handler thread for the whole stream, up to `AHEAD`
    documents ahead of the reader: one wake-up of the event loop per document, not a thread
    hand-off per step (measured in-process: ~200 us per document stepped one at a time from
    the loop). The generator is closed on that thread when it ends or the reader stops."""

    def __init__(self, generator: Generator[Any, Any, Any],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.generator = generator
        self.loop = loop
        self.out: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.room = threading.Semaphore(AHEAD)
        self.stopped = threading.Event()

    def run(self) -> None:
        """The handler thread's part: step, hand over, until done, failed or stopped."""
        try:
            while self.room.acquire() and not self.stopped.is_set():
                try:
                    item = next(self.generator)
                except StopIteration:
                    self._hand("done", None)
                    return
                except BaseException as exc:  # noqa: BLE001 - the reader raises it
                    self._hand("error", exc)
                    return
                self._hand("item", item)
        finally:
            self.generator.close()  # here, on its own thread: its `finally` may block

    def _hand(self, kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody reads any more
            self.loop.call_soon_threadsafe(self.out.put_nowait, (kind, value))

    def stop(self) -> None:
        self.stopped.set()
        self.room.release()  # wakes the thread if it waits for room


async def _on_threads(generator: Generator[Any, Any, Any], on_thread: OnThread,
                      step_timeout: float | None) -> AsyncGenerator[Any, None]:
    """A plain generator's items, driven on a handler thread (`_Driver`); each wait for the
    next item is bounded by `step_timeout` s (`_StepTimeout` after it). Closing this stops
    the driver: the generator is closed after the step it is in, unless that step is stuck
    past the timeout (its thread is lost: the replica restarts)."""
    driver = _Driver(generator, asyncio.get_running_loop())
    running = on_thread(driver.run)
    stuck = False
    try:
        while True:
            try:
                kind, value = await asyncio.wait_for(driver.out.get(), step_timeout)
            except TimeoutError:
                stuck = True
                raise _StepTimeout from None
            if kind == "done":
                return
            if kind == "error":
                raise value
            driver.room.release()
            yield value
    finally:
        driver.stop()
        if not stuck:
            await asyncio.wait({running})  # the step in progress ends, the generator closes


def _kwargs(handler: Handler, request: StreamMessage, executor: str) -> dict[str, Any]:
    doc = Document.from_protobuf(request.document)
    available: dict[str, Any] = {"doc": doc, "docs": DocumentArray([doc])}
    if handler.takes_parameters:
        available["parameters"] = executor_parameters(parameters_of(request), executor)
    return handler.call_kwargs(available)


async def stream_handler(handler: Handler, request: StreamMessage, *, executor: str,
                         slots: asyncio.Semaphore, on_thread: OnThread,
                         deadline: Deadline | None = None,
                         observer: StreamObserver | None = None,
                         errors: RateLimitedLog | None = None,
                         step_timeout: float | None = None,
                         on_wedged: Callable[[], None] | None = None,
                         ) -> AsyncGenerator[StreamMessage, None]:
    """The replies of one stream: a reply per document the handler yields, then, if it
    failed, one error reply. `deadline` drops the stream, unstarted, if it passes while the
    stream waits for a slot. A plain generator's steps run by `on_thread` (on the handler
    threads), each within `step_timeout` (`timeout_handler`): past it, the stream ends with
    a `HandlerTimeoutError` and `on_wedged` is called."""
    request_id = request.header.request_id
    endpoint = handler.endpoint
    async with slots:
        if deadline is not None and deadline.time_remaining() <= 0:
            yield error_reply(request_id, f"deadline exceeded at executor {executor!r} before "
                              "its streaming handler started", name="DeadlineExceededError",
                              executor=executor)
            return
        started = time.monotonic()
        outcome = "cancelled"
        if observer is not None:
            observer.stream_started(executor=executor, endpoint=endpoint)
        generator: AsyncGenerator[Any, None] | None = None
        try:
            made = handler.fn(**_kwargs(handler, request, executor))
            generator = (_on_threads(made, on_thread, step_timeout)
                         if inspect.isgenerator(made) else made)
            first = True
            async for item in generator:
                if not isinstance(item, Document):
                    raise TypeError(
                        f"executor {executor!r} endpoint {endpoint!r}: a streaming handler "
                        f"must yield Documents, not {type(item).__name__}")
                if observer is not None:
                    observer.stream_doc(executor=executor, endpoint=endpoint,
                                        seconds=time.monotonic() - started, first=first)
                first = False
                yield doc_reply(request_id, item)
            outcome = "success"
        except Exception as exc:  # executor code failed: report it after the docs sent
            outcome = "executor_error"
            if isinstance(exc, _StepTimeout):
                exc = HandlerTimeoutError(
                    f"executor {executor!r} endpoint {endpoint!r}: the generator did not yield "
                    f"within {step_timeout:g} s (timeout_handler); the replica restarts")
                if on_wedged is not None:
                    on_wedged()
            if errors is not None:
                errors.log(endpoint, "executor %s endpoint %s failed mid-stream: %s: %s",
                           executor, endpoint, type(exc).__name__, exc, exc_info=exc)
            failed = StreamMessage()
            failed.header.request_id = request_id
            set_status_exception(failed.header.status, exc, executor=executor)
            yield failed
        finally:
            if generator is not None:
                # Closed early (cancelled, or the reader stopped): the handler's own
                # `finally` runs now, in this process, not whenever it is collected.
                await generator.aclose()
            if observer is not None:
                observer.stream_ended(executor=executor, endpoint=endpoint, outcome=outcome,
                                      seconds=time.monotonic() - started)
