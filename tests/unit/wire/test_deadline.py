"""A request's deadline: made once from a timeout, asked for the time remaining."""

from __future__ import annotations

from clocks import ManualClock

from flowserve.wire.deadline import Deadline, deadline_after


def test_time_remaining_counts_down_to_zero_and_stays_there():
    clock = ManualClock(10.0)
    deadline = Deadline.from_timeout(1.5, clock)
    assert deadline.at == 11.5
    assert deadline.time_remaining() == 1.5
    clock.now = 11.0
    assert deadline.time_remaining() == 0.5
    clock.now = 12.0
    assert deadline.time_remaining() == 0.0


def test_no_timeout_is_no_deadline():
    assert deadline_after(None) is None
    deadline = deadline_after(30.0)
    assert deadline is not None and 29.0 < deadline.time_remaining() <= 30.0
