"""Dynamic batching: the docs of concurrent requests to one endpoint, merged into one call.

Pure asyncio, transport-free, with the clock and the timer injected (unit tests drive them by
hand). A `Batcher` serves one endpoint: requests with equal ``parameters`` wait in the same
open batch, which is due when it holds `preferred_batch_size` docs, when its oldest request
has waited `timeout`, or when a request's deadline would otherwise pass while waiting. A due
batch waits for a handler slot (the runtime's `concurrency`) and keeps taking requests until
it has the slot or is full, so a busy handler gets fuller batches instead of a queue of small
ones. It then becomes one merged `DataRequest`, which `run` handles (the runtime's usual path:
handler timeout, errors in the status); its docs are split back to each request in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..documents.array import DocumentArray
from ..executor import Batching
from ..wire.deadline import Deadline
from ..wire.request import DataRequest

__all__ = ["DEADLINE_MARGIN_S", "DEADLINE_SHARE", "BatchObserver", "Batcher", "cut_before"]

DEADLINE_MARGIN_S = 0.050
DEADLINE_SHARE = 0.2
"""A request with a deadline may wait for its batch until `DEADLINE_SHARE` of its remaining
time (at least `DEADLINE_MARGIN_S`) is left: the handler, the reply and the gateway need time
too."""


def cut_before(remaining: float) -> float:
    """How long a request with `remaining` seconds to its deadline may wait for a batch."""
    return max(0.0, remaining - max(DEADLINE_MARGIN_S, DEADLINE_SHARE * remaining))


class Cancellable(Protocol):
    def cancel(self) -> None: ...


CallLater = Callable[[float, Callable[[], None]], Cancellable]
"""(delay in seconds, callback) -> a handle to cancel it: `loop.call_later` by default."""


class BatchObserver(Protocol):
    """Receives one event per batch handed to the handler (for the executor's metrics)."""

    def batched(self, *, executor: str, endpoint: str, docs: int, requests: int,
                wait_s: float) -> None: ...


@dataclass
class _Waiting:
    request: DataRequest
    size: int
    deadline: Deadline | None
    done: asyncio.Future[None]


@dataclass
class _Open:
    """A batch still accepting requests."""

    opened: float
    items: list[_Waiting] = field(default_factory=list)
    docs: int = 0
    cut_at: float = float("inf")
    timer: Cancellable | None = None
    due: bool = False  # waiting for a handler slot


def _key(request: DataRequest) -> str:
    return json.dumps(request.parameters, sort_keys=True, default=str)


class Batcher:
    """Batches one endpoint's requests; `submit` returns once the request's batch is done."""

    def __init__(self, batching: Batching, run: Callable[[DataRequest], Awaitable[DataRequest]],
                 *, executor: str, endpoint: str, observer: BatchObserver | None = None,
                 slots: asyncio.Semaphore | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 call_later: CallLater | None = None) -> None:
        self.batching = batching
        self._run = run
        self.executor = executor
        self.endpoint = endpoint
        self.observer = observer
        self._clock = clock
        self._slots = slots
        """The runtime's handler slots; a due batch takes one before it closes."""
        self._call_later = call_later
        self._open: dict[str, _Open] = {}
        self._running: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """Requests in open batches (not yet handed to the handler)."""
        return sum(len(b.items) for b in self._open.values())

    async def submit(self, request: DataRequest, deadline: Deadline | None = None,
                     ) -> DataRequest:
        """Wait for `request`'s batch to be handled; its docs, parameters or error status are
        then set on `request`, which is returned."""
        key = _key(request)
        batch = self._open.get(key)
        if batch is None:
            batch = self._open[key] = _Open(opened=self._clock())
            batch.cut_at = batch.opened + self.batching.timeout_s
        item = _Waiting(request, len(request.docs), deadline,
                        asyncio.get_running_loop().create_future())
        batch.items.append(item)
        batch.docs += item.size
        if deadline is not None:
            batch.cut_at = min(batch.cut_at,
                               self._clock() + cut_before(deadline.time_remaining()))
        preferred = self.batching.preferred_batch_size
        if preferred is not None and batch.docs >= preferred:
            self._close(key, batch)  # full: the next request opens a new batch
            self._make_due(key, batch)
        elif batch.cut_at <= self._clock():
            self._make_due(key, batch)
        elif not batch.due:
            self._arm(key, batch)
        await asyncio.shield(item.done)
        return request

    def _arm(self, key: str, batch: _Open) -> None:
        if batch.timer is not None:
            batch.timer.cancel()
        call_later = self._call_later or asyncio.get_running_loop().call_later
        batch.timer = call_later(max(0.0, batch.cut_at - self._clock()),
                                 lambda: self._make_due(key, batch))

    def _close(self, key: str, batch: _Open) -> None:
        if self._open.get(key) is batch:
            del self._open[key]
        if batch.timer is not None:
            batch.timer.cancel()

    def _make_due(self, key: str, batch: _Open) -> None:
        if batch.due:
            return
        batch.due = True
        task = asyncio.get_running_loop().create_task(self._handle(key, batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _handle(self, key: str, batch: _Open) -> None:
        try:
            async with self._slots or contextlib.nullcontext():
                self._close(key, batch)
                await self._run_batch(batch)
        finally:  # cancelled while waiting for a slot (the process stops): nobody may hang
            self._close(key, batch)
            for item in batch.items:
                if not item.done.done():
                    item.request.set_error(
                        f"executor {self.executor!r} stopped before the batch ran",
                        name="UnavailableError", executor=self.executor)
                    _finish(item)

    async def _run_batch(self, batch: _Open) -> None:
        live = []
        for item in batch.items:
            if item.deadline is not None and item.deadline.time_remaining() <= 0:
                item.request.set_error(
                    f"deadline exceeded at executor {self.executor!r} while waiting for a "
                    "batch", name="DeadlineExceededError", executor=self.executor)
                _finish(item)
            else:
                live.append(item)
        if not live:
            return
        try:
            if self.observer is not None:
                self.observer.batched(executor=self.executor, endpoint=self.endpoint,
                                      docs=sum(i.size for i in live), requests=len(live),
                                      wait_s=self._clock() - batch.opened)
            merged = await self._run(_merge(live, self.endpoint))
            _split(merged, live, self.executor)
        except BaseException as exc:  # a bug or cancellation: no request may wait forever
            for item in live:
                if not item.request.is_error:
                    item.request.set_exception(exc, executor=self.executor)
            if not isinstance(exc, Exception):
                raise
        finally:
            for item in live:
                _finish(item)


def _finish(item: _Waiting) -> None:
    if not item.done.done():
        item.done.set_result(None)


def _merge(items: list[_Waiting], endpoint: str) -> DataRequest:
    docs = DocumentArray()
    for item in items:
        docs.extend(item.request.docs)
    return DataRequest.new(docs, endpoint=endpoint, parameters=items[0].request.parameters)


def _split(merged: DataRequest, items: list[_Waiting], executor: str) -> None:
    """Give each request its part of `merged`: its docs (in order), the parameters (with the
    handler's ``__results__``), or the batch's error."""
    if merged.is_error:
        for item in items:
            item.request.status.CopyFrom(merged.status)
        return
    docs = merged.docs
    total = sum(item.size for item in items)
    if len(docs) != total:
        for item in items:
            item.request.set_error(
                f"executor {executor!r}: a batched handler must return as many docs as it was "
                f"given ({total}), or None; it returned {len(docs)}",
                name="BatchSizeMismatchError", executor=executor)
        return
    parameters: dict[str, Any] = merged.parameters
    start = 0
    for item in items:
        item.request.docs = DocumentArray(docs[start:start + item.size])
        item.request.parameters = parameters
        start += item.size
