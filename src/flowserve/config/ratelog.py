"""Log lines that may repeat for every request (a failing handler, undecodable input) without
flooding the log: at most `burst` lines per key each `window` seconds, then one line saying how
many were left out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["RateLimitFilter", "RateLimitedLog"]


class RateLimitedLog:
    """`log(key, msg, *args)` logs at WARNING unless `key` already logged `burst` lines in the
    current window; the traceback (`exc_info`) goes to DEBUG, only with a line that was logged."""

    def __init__(self, logger: logging.Logger, *, burst: int = 5, window: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.burst = burst
        self.window = window
        self.clock = clock
        self._windows: dict[Hashable, list[float | int]] = {}  # key -> [start, logged, left out]

    def allow(self, key: Hashable) -> bool:
        """Whether a line for `key` may be logged now (reporting lines left out before)."""
        now = self.clock()
        state = self._windows.get(key)
        if state is None or now - state[0] >= self.window:
            if state is not None and state[2]:
                self.logger.warning("(%d similar lines left out in %.0f s: %s)", state[2],
                                    now - state[0], key)
            if len(self._windows) > 1000:  # keys come from requests: bound the memory
                self._windows.clear()
            state = self._windows[key] = [now, 0, 0]
        if state[1] < self.burst:
            state[1] += 1
            return True
        state[2] += 1
        return False

    def log(self, key: Hashable, msg: str, *args: Any, exc_info: BaseException | None = None,
            level: int = logging.WARNING) -> None:
        if not self.allow(key):
            return
        self.logger.log(level, msg, *args)
        if exc_info is not None:
            self.logger.debug("traceback:", exc_info=exc_info)


class RateLimitFilter(logging.Filter):
    """Rate-limits a library's per-request records (e.g. grpc's "Exception deserializing
    message!", logged with a full traceback for each bad message); the traceback is dropped
    unless DEBUG is on."""

    def __init__(self, limiter: RateLimitedLog) -> None:
        super().__init__()
        self.limiter = limiter

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.limiter.allow(record.getMessage()):
            return False
        if not self.limiter.logger.isEnabledFor(logging.DEBUG):
            record.exc_info = None
            record.exc_text = None
        return True
