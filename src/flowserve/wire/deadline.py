"""A request's deadline, made once where the request enters (from its timeout) and passed
down: each layer asks it for the time remaining instead of re-deriving a timeout (the shape of
grpclib's ``metadata.Deadline``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MAX_TIMEOUT", "Deadline", "deadline_after"]

MAX_TIMEOUT = (2**32 - 1) / 1000
"""The longest timeout the wire carries, in seconds (`header.timeout` is uint32 ms: 49.7 days);
asking for that or more means no deadline."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """The point in time, on `clock` (monotonic seconds), by which a request must be answered."""

    at: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_timeout(cls, timeout: float,
                     clock: Callable[[], float] = time.monotonic) -> Deadline:
        """The deadline `timeout` seconds from now."""
        return cls(clock() + timeout, clock)

    def time_remaining(self) -> float:
        """Seconds left until the deadline, 0 once it has passed."""
        return max(0.0, self.at - self.clock())


def deadline_after(timeout: float | None) -> Deadline | None:
    """The deadline `timeout` seconds from now, or None for no timeout."""
    return None if timeout is None else Deadline.from_timeout(timeout)
