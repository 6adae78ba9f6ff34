"""Retrying requests the gateway shed for overload, with jittered exponential backoff.

Only overload (`OverloadedError`, in-band or as a status) is retried: the request was never
started, so sending it again is safe. A request to be retried is held back instead of being
handed to the callbacks; once the stream's other requests are done, the held ones are sent
again after a backoff of ``backoff * 2**(round-1)`` seconds (at least the server's Retry-After
hint, at most `max_backoff`), scaled by a random factor in [0.5, 1.5) so that many clients
shed at once do not come back at once. After `retries` rounds the last error is delivered.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from ..errors import OverloadedError, RequestError
from ..wire.request import DataRequest
from ._callbacks import ResultSink

__all__ = ["RetryingSink", "backoff_delay", "is_overload"]


def is_overload(response: DataRequest, exc: RequestError | None) -> bool:
    if isinstance(exc, OverloadedError):
        return True
    return response.is_error and response.status.exception.name == "OverloadedError"


def backoff_delay(round_: int, *, base: float, cap: float, hint: float = 0.0,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry round `round_` (1-based)."""
    delay = min(cap, max(hint, base * 2 ** (round_ - 1)))
    return delay * (rng or random).uniform(0.5, 1.5)


class RetryingSink:
    """Wraps a ResultSink: overloaded requests are kept for another round, others pass on."""

    def __init__(self, sink: ResultSink, retries: int) -> None:
        self.sink = sink
        self.retries = retries
        self.round = 0
        self.sent: dict[str, DataRequest] = {}
        self.held: list[DataRequest] = []
        self.hint = 0.0

    def track(self, requests: Iterator[DataRequest]) -> Iterator[DataRequest]:
        """Remember each request while it is in flight, to be able to send it again."""
        for request in requests:
            self.sent[request.request_id] = request
            yield request

    async def deliver(self, response: DataRequest, exc: RequestError | None = None) -> None:
        original = self.sent.pop(response.request_id, None)
        if original is not None and self.round < self.retries and is_overload(response, exc):
            self.held.append(original)
            if isinstance(exc, OverloadedError):
                self.hint = max(self.hint, exc.retry_after)
            return
        await self.sink.deliver(response, exc)

    def take_held(self) -> list[DataRequest]:
        held, self.held = self.held, []
        self.round += 1
        return held

