"""A clock for unit tests: time moves only when the test moves it (`clock.now += 1.0`)."""

from __future__ import annotations


class ManualClock:
    """Returns `now`; inject it where a component takes a `clock`."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
