"""The prefetch window: requests sent but not answered, and the order answers are handed out.

Transport-free and synchronous except for `acquire`, so it is unit tested without sockets.
"""

from __future__ import annotations

import asyncio

from ..errors import RequestError
from ..wire.request import DataRequest

__all__ = ["InFlight", "Outcome"]

# A response, or the request that failed together with why (exc is None for a response).
Outcome = tuple[DataRequest, RequestError | None]


class InFlight:
    """At most `limit` requests in flight (None or 0: unlimited); optionally answers in order.

    A slot is taken with `acquire` before the next batch is even built, and given back when
    its outcome is handed out: on arrival, or, with ``ordered=True``, once every earlier
    request's outcome has been handed out too (so the reorder buffer is bounded by `limit`).
    """

    def __init__(self, limit: int | None = None, *, ordered: bool = False) -> None:
        if limit is not None and (isinstance(limit, bool) or limit < 0):
            raise ValueError(f"invalid prefetch {limit!r}: must be >= 0 (0 = unlimited)")
        self._slots = asyncio.Semaphore(limit) if limit else None
        self._ordered = ordered
        self._pending: dict[str, tuple[int, DataRequest]] = {}
        self._held: dict[int, Outcome] = {}  # ordered mode: finished, waiting for earlier ones
        self._sent = 0
        self._handed_out = 0
        self.max_in_flight = 0

    def __len__(self) -> int:
        """Requests sent whose outcome has not been handed out."""
        return self._sent - self._handed_out

    async def acquire(self) -> None:
        """Wait for a free slot (returns at once when unlimited)."""
        if self._slots is not None:
            await self._slots.acquire()

    def release(self) -> None:
        """Give back a slot taken by `acquire` that was not used for a request."""
        if self._slots is not None:
            self._slots.release()

    def add(self, request: DataRequest) -> None:
        """Record `request` as sent (after `acquire`)."""
        self._pending[request.request_id] = (self._sent, request)
        self._sent += 1
        self.max_in_flight = max(self.max_in_flight, len(self._pending))

    def answer(self, response: DataRequest) -> list[Outcome]:
        """A response arrived; returns the outcomes now ready to hand out, in order."""
        entry = self._pending.pop(response.request_id, None)
        if entry is None:
            if not self._pending:  # an answer to nothing we sent: pass it on as is
                return [(response, None)]
            # The server did not echo the request id: attribute it to the oldest request.
            entry = self._pending.pop(next(iter(self._pending)))
        return self._finish(entry[0], (response, None))

    def fail(self, request_id: str, exc: RequestError) -> list[Outcome]:
        """The request `request_id` failed in transport; returns the outcomes ready."""
        entry = self._pending.pop(request_id, None)
        if entry is None:
            return []
        return self._finish(entry[0], (entry[1], exc))

    def fail_all(self, exc: RequestError) -> list[Outcome]:
        """Every pending request failed with `exc` (the stream broke); returns all outcomes."""
        ready: list[Outcome] = []
        for seq, request in sorted(self._pending.values(), key=lambda e: e[0]):
            ready.extend(self._finish(seq, (request, exc)))
        self._pending.clear()
        return ready

    def _finish(self, seq: int, outcome: Outcome) -> list[Outcome]:
        if not self._ordered:
            self._handed_out += 1
            self.release()
            return [outcome]
        self._held[seq] = outcome
        ready: list[Outcome] = []
        while self._handed_out in self._held:
            ready.append(self._held.pop(self._handed_out))
            self._handed_out += 1
            self.release()
        return ready
