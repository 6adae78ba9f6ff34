"""Calling an executor's handlers for requests: the transport-free core of a worker."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from ..config.options import EXECUTOR_DEFAULTS, SYNC_HANDLER_MODES
from ..config.ratelog import RateLimitedLog
from ..documents.array import DocumentArray
from ..errors import HandlerTimeoutError
from ..executor import (
    DEFAULT_ENDPOINT,
    Batching,
    Executor,
    Handler,
    discover_endpoints,
    executor_parameters,
)
from ..wire.deadline import Deadline
from ..wire.request import DataRequest
from ..wire.stream import StreamMessage, error_reply
from .batching import Batcher, BatchObserver
from .inline import InlinePolicy
from .slots import HandlerSlots
from .streaming import StreamObserver, not_streaming, stream_handler

__all__ = ["ExecutorRuntime", "HandlerObserver"]
"""Where sync handlers run: ``auto`` (inline on the event loop once they prove fast, see
`InlinePolicy`) or ``thread`` (always on the handler thread)."""

_LOOP_IN_USE = ("running event loop", "event loop is already running", "another loop is running")

log = logging.getLogger(__name__)


class HandlerObserver(BatchObserver, StreamObserver, Protocol):
    """Receives one event per handled request, per batch of a batching endpoint, and per
    stream of a streaming endpoint (for the executor's own metrics/tracing)."""

    def handled(self, *, executor: str, endpoint: str, outcome: str, seconds: float,
                docs: int) -> None: ...


class _HandlerTimeout(Exception):
    """A handler ran past the runtime's `handler_timeout`."""


class _Expired(Exception):
    """The request's deadline passed before its handler started."""


class ExecutorRuntime:
    """Dispatches requests to one executor's handlers.

    Sync handlers run on a dedicated thread so the event loop keeps answering health checks while
    a handler works (a slow executor may sleep for seconds). With ``sync_handlers="auto"``
    (the default) a sync handler whose calls prove fast (well under a millisecond) runs inline
    on the event loop instead, which saves the two thread hand-overs per request; see
    `InlinePolicy`. At most `concurrency` handler calls run at once (default 1: executors need
    not be thread-safe); a handler thread is handed its next call while it works on the
    current one (`HandlerSlots`).
    """

    def __init__(self, executor: Executor, *, concurrency: int = EXECUTOR_DEFAULTS.concurrency,
                 observer: HandlerObserver | None = None,
                 sync_handlers: str = EXECUTOR_DEFAULTS.sync_handlers,
                 handler_timeout: float | None = None,
                 on_wedged: Callable[[], None] | None = None,
                 uses_requests: Mapping[str, str] | None = None,
                 uses_dynamic_batching: Mapping[str, Batching] | None = None) -> None:
        if sync_handlers not in SYNC_HANDLER_MODES:
            raise ValueError(f"executor {executor.name!r}: sync_handlers must be one of "
                             f"{', '.join(SYNC_HANDLER_MODES)}, got {sync_handlers!r}")
        self.executor = executor
        self.observer = observer
        self.name = executor.name
        self.handlers: Mapping[str, Handler] = discover_endpoints(
            executor, uses_requests, uses_dynamic_batching)
        self._slots = HandlerSlots(concurrency)
        self.batchers = {
            endpoint: Batcher(handler.batching, self._batch_runner(handler), slots=self._slots,
                              executor=self.name, endpoint=endpoint, observer=observer)
            for endpoint, handler in self.handlers.items() if handler.batching is not None
        }
        self.inline_policies = {
            endpoint: InlinePolicy(enabled=sync_handlers == "auto")
            for endpoint, handler in self.handlers.items() if not handler.is_async
        }
        self._threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=self.name)
        self.errors = RateLimitedLog(log)  # one line per failure, not a flood per stream
        self.handler_timeout = handler_timeout
        """Seconds a handler may run; then its request fails and `on_wedged` is called (the
        process restarts: the handler's thread cannot be stopped). None: no limit."""
        self.on_wedged = on_wedged
        self.running = 0  # handler calls started and not returned (a timed-out one stays)
        self._running_lock = threading.Lock()  # handler threads count too

    @property
    def endpoints(self) -> list[str]:
        return sorted(self.handlers)

    def handler_for(self, endpoint: str | None) -> Handler | None:
        """The handler bound to `endpoint`, else the `/default` one, else None (pass through)."""
        if endpoint is not None and endpoint in self.handlers:
            return self.handlers[endpoint]
        return self.handlers.get(DEFAULT_ENDPOINT)

    async def handle(self, request: DataRequest, endpoint: str | None = None, *,
                     deadline: Deadline | None = None) -> DataRequest:
        """Run the handler for the request's endpoint; executor errors go into the status.

        `deadline` drops the request, unstarted, if it passes while the request waits for the
        handler. A batching endpoint's request waits for its batch (`worker/batching.py`).
        """
        endpoint = endpoint if endpoint is not None else request.endpoint
        handler = self.handler_for(endpoint)
        if handler is None:
            return request
        batcher = self.batchers.get(handler.endpoint)
        if batcher is not None:
            return await batcher.submit(request, deadline)
        return await self._handle_one(request, handler, deadline)

    def stream(self, request: StreamMessage, endpoint: str | None = None, *,
               deadline: Deadline | None = None) -> AsyncGenerator[StreamMessage, None]:
        """Serve one stream: a reply per document the endpoint's generator yields, then an
        error reply if it failed (`worker/streaming.py`). An endpoint this executor does not
        serve, or whose handler is not a generator, gets one error reply.
        Close the generator (``aclose``) to stop early: the handler's generator closes too."""
        if endpoint is None:
            endpoint = request.header.exec_endpoint or DEFAULT_ENDPOINT
        handler = self.handler_for(endpoint)
        refused = not_streaming(self.name, endpoint, handler, self.endpoints)
        if refused is not None or handler is None:
            name, message = refused or ("BadRequestError", endpoint)
            return _one(error_reply(request.header.request_id, message, name=name,
                                    executor=self.name))
        return stream_handler(handler, request, executor=self.name, slots=self._slots,
                              on_thread=self._on_thread, deadline=deadline,
                              observer=self.observer, errors=self.errors,
                              step_timeout=self.handler_timeout, on_wedged=self.on_wedged)

    def streaming_endpoints(self) -> list[str]:
        """The endpoints whose handlers are generators (async or not)."""
        return sorted(e for e, h in self.handlers.items() if h.is_stream)

    def _batch_runner(self, handler: Handler) -> Callable[[DataRequest], Any]:
        def run(merged: DataRequest) -> Any:  # the batcher holds a slot already
            return self._handle_in_slot(merged, handler, None)
        return run

    async def _handle_one(self, request: DataRequest, handler: Handler,
                          deadline: Deadline | None) -> DataRequest:
        if not handler.is_async and not self.inline_policies[handler.endpoint].inline(
                len(request.docs)):  # to the handler thread: it takes its slot there
            return await self._handle_in_slot(request, handler, deadline, thread=True)
        async with self._slots:
            return await self._handle_in_slot(request, handler, deadline)

    async def _handle_in_slot(self, request: DataRequest, handler: Handler,
                              deadline: Deadline | None, *, thread: bool = False) -> DataRequest:
        outcome = "success"
        started = time.monotonic()
        expired = (f"deadline exceeded at executor {self.name!r} before its handler started")
        if deadline is not None and deadline.time_remaining() <= 0:
            request.set_error(expired, name="DeadlineExceededError", executor=self.name)
            return request
        try:
            if thread:
                result = await self._call_on_thread(handler, request, deadline)
            else:
                result = await self._call_bounded(handler, request)
            self._apply(result, request, handler)
        except _Expired:
            request.set_error(expired, name="DeadlineExceededError", executor=self.name)
            return request
        except _HandlerTimeout as exc:
            log.error("%s", exc)
            request.set_error(str(exc), name=HandlerTimeoutError.__name__, executor=self.name)
            outcome = "executor_error"
            if self.on_wedged is not None:
                self.on_wedged()
        except Exception as exc:  # executor code failed: report it, keep serving
            self.errors.log(handler.endpoint, "executor %s endpoint %s failed: %s: %s",
                            self.name, handler.endpoint, type(exc).__name__, exc,
                            exc_info=exc)
            request.set_exception(exc, executor=self.name)
            outcome = "executor_error"
        if self.observer is not None:
            self.observer.handled(executor=self.name, endpoint=handler.endpoint,
                                  outcome=outcome, seconds=time.monotonic() - started,
                                  docs=len(request.docs))
        return request

    async def _call_bounded(self, handler: Handler, request: DataRequest) -> Any:
        if self.handler_timeout is None:
            return await self._call(handler, request)
        try:
            async with asyncio.timeout(self.handler_timeout) as limit:
                return await self._call(handler, request)
        except TimeoutError:
            if not limit.expired():
                raise  # the handler's own TimeoutError
            raise self._timed_out(handler) from None

    def _timed_out(self, handler: Handler) -> _HandlerTimeout:
        return _HandlerTimeout(
            f"executor {self.name!r} endpoint {handler.endpoint!r}: the handler did not "
            f"return within {self.handler_timeout:g} s (timeout_handler); the replica restarts")

    async def _call_on_thread(self, handler: Handler, request: DataRequest,
                              deadline: Deadline | None) -> Any:
        """A sync handler's call on a handler thread, queued ahead of its slot while every slot
        is held by another thread call (`HandlerSlots`): the thread starts it the moment the
        current call returns. Its deadline is checked, and its `handler_timeout` counted, from
        when it starts."""
        kwargs = self._kwargs(handler, request)
        policy = self.inline_policies[handler.endpoint]
        size = len(request.docs)
        took: list[float] = []

        def run() -> Any:
            if deadline is not None and deadline.time_remaining() <= 0:
                raise _Expired
            started = time.perf_counter()
            try:
                return self._counted(handler.fn, kwargs)
            finally:  # the handler's own time teaches the policy (not the wait ahead of it)
                took.append(time.perf_counter() - started)

        loop = asyncio.get_running_loop()
        timeout = self.handler_timeout
        limits: list[asyncio.Timeout] = []
        state = {"started": False, "done": False}

        def on_start() -> None:  # queued ahead, now running: its timeout starts
            state["started"] = True
            if timeout is not None and limits and not state["done"]:
                limits[0].reschedule(loop.time() + timeout)

        token = await self._slots.for_thread(on_start)
        future = self._threads.submit(run)
        try:
            async with asyncio.timeout(
                    None if token and not state["started"] else timeout) as limit:
                limits.append(limit)  # (an earlier on_start set state["started"])
                return await asyncio.wrap_future(future)
        except TimeoutError:
            if not limit.expired():
                raise  # the handler's own TimeoutError
            raise self._timed_out(handler) from None
        except BaseException:
            future.cancel()  # succeeds only if its thread has not started it
            raise
        finally:
            state["done"] = True
            self._slots.thread_done(token)
            if took:
                policy.record(took[0], size, inline=False)

    def _kwargs(self, handler: Handler, request: DataRequest) -> dict[str, Any]:
        if handler.is_stream:
            raise TypeError(
                f"executor {self.name!r} endpoint {handler.endpoint!r} is a streaming endpoint "
                "(its handler is a generator): call it with stream_doc, not post")
        docs = request.docs
        available: dict[str, Any] = {"docs": docs, "docs_matrix": [docs]}
        if handler.takes_parameters:  # else they are never decoded (nor re-encoded)
            available["parameters"] = executor_parameters(request.parameters, self.name)
        return handler.call_kwargs(available)

    async def _call(self, handler: Handler, request: DataRequest) -> Any:
        docs = request.docs
        kwargs = self._kwargs(handler, request)
        if handler.is_async:
            with self._running_lock:
                self.running += 1
            try:
                return await handler.fn(**kwargs)
            finally:
                with self._running_lock:
                    self.running -= 1

        def call() -> Any:
            return self._counted(handler.fn, kwargs)

        policy = self.inline_policies[handler.endpoint]
        size = len(docs)
        inline = policy.inline(size)
        started = time.perf_counter()
        try:
            if inline:
                try:
                    return call()
                except RuntimeError as exc:
                    if not any(words in str(exc) for words in _LOOP_IN_USE):
                        raise
                    # The handler drives an event loop of its own (asyncio.run, ...): that only
                    # works off the loop thread. Keep it on the handler thread from now on.
                    log.warning("executor %s endpoint %s: the handler runs its own event loop, "
                                "so it stays on the handler thread (%s)", self.name,
                                handler.endpoint, exc)
                    policy.disable()
                    inline = False
            return await asyncio.get_running_loop().run_in_executor(self._threads, call)
        finally:
            policy.record(time.perf_counter() - started, size, inline=inline)

    def _on_thread(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        """`fn` on a handler thread, counted in `running` while it runs (a streaming
        generator's step, or its close)."""
        return asyncio.get_running_loop().run_in_executor(self._threads, self._counted, fn, {})

    def _counted(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        with self._running_lock:  # on the thread that runs it: a timed-out call stays counted
            self.running += 1
        try:
            return fn(**kwargs)
        finally:
            with self._running_lock:
                self.running -= 1

    def _apply(self, result: Any, request: DataRequest, handler: Handler) -> None:
        if result is None:
            return
        if isinstance(result, DocumentArray):
            request.docs = result
        elif isinstance(result, dict):
            results = request.parameters.setdefault("__results__", {})
            results[self.name] = result
        else:
            raise TypeError(
                f"executor {self.name!r} endpoint {handler.endpoint!r}: a handler must return a "
                f"DocumentArray, a dict or None, not {type(result).__name__}"
            )

    def close(self) -> None:
        """Release the executor's resources and the handler thread."""
        try:
            self.executor.close()
        finally:
            # Never wait for a handler that does not return: the caller ends the process.
            self._threads.shutdown(wait=not self.running, cancel_futures=True)


async def _one(reply: StreamMessage) -> AsyncGenerator[StreamMessage, None]:
    yield reply
