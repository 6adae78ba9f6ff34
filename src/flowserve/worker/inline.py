"""Where a sync handler runs: on the handler thread, or inline on the event loop thread.

Handing a call to a thread and its result back costs two thread wake-ups, about 0.1 ms per
request on a small VM: as much as the handler itself for a fast one. A blocking handler, on the
other hand, must not run on the event loop, which also answers health checks and reads the
next requests. `InlinePolicy` learns which case a handler is, from how long its calls take.
Pure: the caller measures and reports; nothing here reads a clock.
"""

from __future__ import annotations

__all__ = ["DEFAULT_BUDGET", "DEFAULT_STREAK", "MAX_STREAK", "InlinePolicy"]

DEFAULT_BUDGET = 0.001
"""Seconds a call may take and still count as fast (the longest the loop may be held)."""
DEFAULT_STREAK = 16
"""Consecutive fast calls needed before a handler runs inline."""
MAX_STREAK = 4096


class InlinePolicy:
    """Runs a sync handler inline once it has shown itself fast; back on the thread if not.

    A handler runs inline after `streak` consecutive calls that each took at most `budget`
    seconds, and only for requests with no more docs than the largest of those calls (a much
    bigger request goes to the thread, and teaches the policy if it too is fast). A call over
    budget sends the handler back to the thread; if that call ran inline (it held the loop),
    the streak needed to come back doubles, up to `MAX_STREAK`, so a handler that is sometimes
    slow holds the loop rarely. `disable()` keeps the handler on the thread for good.
    """

    __slots__ = ("_fast", "_max_docs", "budget", "enabled", "needed")

    def __init__(self, *, budget: float = DEFAULT_BUDGET, streak: int = DEFAULT_STREAK,
                 enabled: bool = True) -> None:
        if budget <= 0 or streak < 1:
            raise ValueError(f"InlinePolicy needs budget > 0 and streak >= 1, "
                             f"got budget={budget!r}, streak={streak!r}")
        self.budget = budget
        self.enabled = enabled
        self.needed = streak
        self._fast = 0
        self._max_docs = -1

    def inline(self, docs: int) -> bool:
        """Should the next call, for a request of `docs` documents, run inline?"""
        return self.enabled and self._fast >= self.needed and docs <= self._max_docs

    def record(self, seconds: float, docs: int, *, inline: bool) -> None:
        """Report a finished call (also one that raised): its duration and request size."""
        if seconds <= self.budget:
            self._fast += 1
            self._max_docs = max(self._max_docs, docs)
            return
        if inline:
            self.needed = min(MAX_STREAK, self.needed * 2)
        self._fast = 0
        self._max_docs = -1

    def disable(self) -> None:
        self.enabled = False
