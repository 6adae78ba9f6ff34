"""The runtime's handler slots: at most `size` handler calls at once, with a look-ahead for
calls that run on the handler threads.

A sync handler that runs on the handler thread pool (`size` threads) is handed its next call
while it still works on the current one, so the thread starts that call the moment the current
one returns, without waiting for the event loop to wake up, resume the finished request, free
its slot and resume the next one (measured with a 2 ms handler on a loaded 2-core machine: a
median gap of 0.5-1.3 ms between calls, against 0.05 ms with the look-ahead; the replica sat
idle a third of the time). The pool's threads bound how many such calls run at once; the slots
keep everything else (async handlers, inline calls, batches) from running beside them.

Accounting: `threads` slots are held by thread calls and `ahead` thread calls are queued in the
pool without a slot of their own. A thread call may be queued ahead only while every slot is
held by a thread call (so nothing else runs), fewer than `size` are queued already, and no
other call waits for a slot (so it is not overtaken). When a thread call ends and one is queued
ahead, its slot passes to that one (the pool starts the oldest queued call first), else the
slot goes to a waiting call (others first, then thread calls). Thread calls that cannot go
ahead yet wait in a queue of their own and are queued ahead as soon as there is room. Hence
`ahead > 0` only while `threads == size`, and at most `size` calls run at once.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Literal

__all__ = ["HandlerSlots"]

Token = Callable[[], None]


class HandlerSlots(asyncio.Semaphore):
    """An `asyncio.Semaphore` of `size` handler slots (``async with slots:`` for a call that
    runs on the event loop or is async), plus `for_thread` / `thread_done` for calls handed to
    a pool of `size` handler threads, which may be queued one ahead per thread."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size
        self.threads = 0  # slots held by thread calls
        self.ahead = 0  # thread calls queued in the pool without a slot
        self._waiting = 0  # other calls waiting for a slot
        self._started: collections.deque[Token] = collections.deque()  # queued ahead, oldest 1st
        self._thread_waiters: collections.deque[tuple[asyncio.Future[Token | None], Token]] = (
            collections.deque())

    async def acquire(self) -> Literal[True]:
        if not self.locked():
            return await super().acquire()
        self._waiting += 1
        try:
            return await super().acquire()
        finally:
            self._waiting -= 1

    def release(self) -> None:
        """A slot is free: to a waiting other call, else to the first waiting thread call."""
        if not self._waiting and self._thread_waiters:
            future, _ = self._thread_waiters.popleft()
            self.threads += 1  # the slot passes on without being freed
            future.set_result(None)
            self._promote()
            return
        super().release()

    async def for_thread(self, on_start: Token) -> Token | None:
        """Take a slot for a call to the handler threads (None), or a place queued ahead (the
        returned token, `on_start`, which is called once the call gets its slot: the call ahead
        of it ended, so the pool has started this one). Returns without suspending when a slot
        is free or there is room ahead."""
        if not self._thread_waiters:
            if self._room_ahead():
                self.ahead += 1
                self._started.append(on_start)
                return on_start
            if not self.locked():
                await super().acquire()  # free: does not suspend
                self.threads += 1
                return None
        future: asyncio.Future[Token | None] = asyncio.get_running_loop().create_future()
        self._thread_waiters.append((future, on_start))
        try:
            return await future
        except asyncio.CancelledError:
            if not future.done():
                self._thread_waiters.remove((future, on_start))
            elif not future.cancelled():  # granted just before the cancellation: give it back
                self.thread_done(future.result())
            raise

    def thread_done(self, token: Token | None) -> None:
        """A thread call taken with `for_thread` ended, or was cancelled. `token`: what
        `for_thread` returned."""
        if token is not None and token in self._started:
            # Queued ahead and not yet handed its slot: it leaves (cancelled; if its thread
            # runs it anyway, the pool still bounds the calls that run at once).
            self.ahead -= 1
            self._started.remove(token)
            self._promote()
            return
        if self.ahead:  # the pool has started the oldest call queued ahead: the slot is its
            self.ahead -= 1
            self._started.popleft()()
            self._promote()
            return
        self.threads -= 1
        self.release()

    def _room_ahead(self) -> bool:
        return self.threads == self.size and self.ahead < self.size and not self._waiting

    def _promote(self) -> None:
        """Queue waiting thread calls ahead while there is room."""
        while self._thread_waiters and self._room_ahead():
            future, on_start = self._thread_waiters.popleft()
            self.ahead += 1
            self._started.append(on_start)
            future.set_result(on_start)
