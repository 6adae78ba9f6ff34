"""A retry budget (Finagle's and Linkerd's): retries may add at most a fixed share of load.

Pure and deterministic: the clock (seconds) is injected.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from ..config.options import GATEWAY_DEFAULTS

__all__ = ["RetryBudget"]


class _WindowedCounter:
    """Events counted in `slices` time slices of ``window / slices`` seconds each.

    The total covers the current slice and the ``slices - 1`` before it, so an event is
    forgotten between ``window - window/slices`` and ``window`` seconds after it happened.
    Memory is O(slices) whatever the request rate.
    """

    __slots__ = ("_counts", "_epochs", "_width")

    def __init__(self, window: float, slices: int) -> None:
        self._width = window / slices
        self._counts = [0] * slices
        self._epochs = [-1] * slices  # the absolute slice number each slot holds

    def _epoch(self, now: float) -> int:
        return math.floor(now / self._width)

    def add(self, now: float, n: int = 1) -> None:
        epoch = self._epoch(now)
        slot = epoch % len(self._counts)
        if self._epochs[slot] != epoch:
            self._epochs[slot], self._counts[slot] = epoch, 0
        self._counts[slot] += n

    def total(self, now: float) -> int:
        epoch, slices = self._epoch(now), len(self._counts)
        pairs = zip(self._counts, self._epochs, strict=False)
        return sum(c for c, e in pairs if 0 <= epoch - e < slices)


class RetryBudget:
    """How many retries a client may send, so retries cannot amplify an outage.

    Over a sliding window of the last `ttl` seconds, with R original requests and r retries
    recorded, one more retry is allowed while::

        r + 1 <= ratio * R + min_per_second * ttl

    - `ratio` caps retries at that share of requests under sustained failure (0.2: at most 20%
      extra load).
    - ``min_per_second * ttl`` is a reserve so a low-traffic client (or one just started) can
      still retry; it is the number of retries allowed in a window with no requests.
    - Requests and retries are forgotten `ttl` seconds after they happened (to within
      ``ttl / slices``), so the budget refills when failures stop.

    Call `record_request` once per original request (not per retry), and `try_retry` (or
    `can_retry` then `record_retry`) before each retry.
    """

    def __init__(
        self, ratio: float = GATEWAY_DEFAULTS.retry_budget, min_per_second: float = 10.0,
        ttl: float = 10.0, *,
        clock: Callable[[], float] = time.monotonic, slices: int = 10,
    ) -> None:
        if ratio < 0:
            raise ValueError(f"retry ratio must be >= 0, got {ratio}")
        if min_per_second < 0:
            raise ValueError(f"min_per_second must be >= 0, got {min_per_second}")
        if ttl <= 0:
            raise ValueError(f"ttl must be > 0 seconds, got {ttl}")
        if slices < 1:
            raise ValueError(f"slices must be >= 1, got {slices}")
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.ttl = ttl
        self._clock = clock
        self._requests = _WindowedCounter(ttl, slices)
        self._retries = _WindowedCounter(ttl, slices)

    def record_request(self) -> None:
        """Count one original request: it earns `ratio` retries."""
        self._requests.add(self._clock())

    def balance(self) -> float:
        """Retries still allowed now (may be fractional; a retry needs at least 1)."""
        now = self._clock()
        allowance = self.ratio * self._requests.total(now) + self.min_per_second * self.ttl
        return allowance - self._retries.total(now)

    def can_retry(self) -> bool:
        """Whether one more retry fits in the budget now."""
        # A small tolerance so that e.g. 0.2 * 5 requests really buys one retry.
        return self.balance() >= 1.0 - 1e-9

    def record_retry(self) -> None:
        """Count one retry sent (call it only when `can_retry` said yes)."""
        self._retries.add(self._clock())

    def try_retry(self) -> bool:
        """`can_retry` and, if so, `record_retry`: the one call before each retry."""
        if not self.can_retry():
            return False
        self.record_retry()
        return True

    def snapshot(self) -> dict[str, float]:
        """Requests and retries in the window, and the balance (for metrics and /status)."""
        now = self._clock()
        return {
            "requests": self._requests.total(now),
            "retries": self._retries.total(now),
            "balance": self.balance(),
        }
