"""The runtime's handler slots: at most `size` handler calls at once, with a look-ahead for
calls that run on the handler threads.

A sync handler that runs on the handler thread pool (`size` threads) is handed its next call
while it still works on the current one, so the thread starts that call the moment the current
one returns, without waiting for the event loop to wake up, resume the finished request, free
its slot and resume the next one (measured with a 2 ms handler on a loaded 2-core machine: a
median gap of 0.6-1.3 ms between calls, against 0.05 ms with the look-ahead; the replica sat
idle a third of the time). The pool's threads bound how many such calls run at once; the slots
keep everything else (async handlers, inline calls, batches) from running beside them.

Accounting: `threads` slots are held by thread calls and `ahead` thread calls are queued in the
pool without a slot of their own. A thread call may be queued ahead only while every slot is
held by a thread call (so nothing else runs), fewer than `size` are queued already, and nobody
waits for a slot (so nobody is overtaken). When a thread call ends and one is queued ahead, its
slot passes to that one (the pool starts the oldest queued call first), else the slot is freed.
Hence: `ahead > 0` only while `threads == size`, and at most `size` calls run at once.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Literal

__all__ = ["HandlerSlots"]


class HandlerSlots(asyncio.Semaphore):
    """An `asyncio.Semaphore` of `size` handler slots (``async with slots:`` for a call that
    runs on the event loop or is async), plus `for_thread` / `thread_done` for calls handed to
    a pool of `size` handler threads, which may be queued one ahead per thread."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size
        self.threads = 0  # slots held by thread calls
        self.ahead = 0  # thread calls queued in the pool without a slot
        self._waiting = 0  # tasks waiting for a slot
        self._started: collections.deque[Callable[[], None]] = collections.deque()

    async def acquire(self) -> Literal[True]:
        if not self.locked():
            return await super().acquire()
        self._waiting += 1
        try:
            return await super().acquire()
        finally:
            self._waiting -= 1

    async def for_thread(self, on_start: Callable[[], None]) -> Callable[[], None] | None:
        """Take a slot for a call to the handler threads, or queue it ahead when every slot is
        held by a thread call: then the returned token (`on_start`) is called once the call
        gets its slot (the call ahead of it ended, so the pool has started this one). Returns
        without suspending when it queues ahead."""
        if self.threads == self.size and self.ahead < self.size and not self._waiting:
            self.ahead += 1
            self._started.append(on_start)
            return on_start
        await self.acquire()
        self.threads += 1
        return None

    def thread_done(self, token: Callable[[], None] | None, *, started: bool = True) -> None:
        """A thread call taken with `for_thread` ended, or was cancelled (`started`: False if
        its thread never ran it). `token`: what `for_thread` returned."""
        if token is not None and not started and token in self._started:
            self.ahead -= 1  # never ran and still queued: it leaves, holding nothing
            self._started.remove(token)
            return
        if self.ahead:  # the pool has started the oldest call queued ahead: the slot is its
            self.ahead -= 1
            self._started.popleft()()
            return
        self.threads -= 1
        self.release()
