"""The retry budget, driven by an injected clock (no sleeps)."""

from __future__ import annotations

import pytest
from clocks import ManualClock

from flowserve.gateway.retry_budget import RetryBudget


def fail_everything(budget: RetryBudget, clock: ManualClock, *, rate: float, seconds: float,
                    max_retries: int = 2) -> tuple[int, int]:
    """Every attempt fails; each request retries up to `max_retries` times while allowed."""
    requests = retries = 0
    for _ in range(int(rate * seconds)):
        budget.record_request()
        requests += 1
        for _ in range(max_retries):
            if not budget.try_retry():
                break
            retries += 1
        clock.now += 1.0 / rate
    return requests, retries


def test_sustained_failure_is_capped_at_the_ratio() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0.2, min_per_second=0, ttl=10.0, clock=clock)
    requests, retries = fail_everything(budget, clock, rate=1000, seconds=60)
    assert requests == 60_000
    assert 0.19 <= retries / requests <= 0.2
    snap = budget.snapshot()
    assert snap["retries"] <= 0.2 * snap["requests"]


def test_the_reserve_only_adds_a_constant_under_heavy_traffic() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0.2, min_per_second=10, ttl=10.0, clock=clock)
    requests, retries = fail_everything(budget, clock, rate=1000, seconds=60)
    # at most 20% extra plus the reserve of 100 per window of 10 s
    assert retries <= 0.2 * requests + 100 * (60 / 10)
    assert retries / requests < 0.22


def test_min_per_second_lets_a_low_traffic_service_retry() -> None:
    clock = ManualClock()
    # without a reserve, 1 request/s earns 0.2 retries per request: most requests get none
    stingy = RetryBudget(ratio=0.2, min_per_second=0, ttl=10.0, clock=clock)
    stingy.record_request()
    assert not stingy.can_retry()

    clock.now = 0.0
    budget = RetryBudget(ratio=0.2, min_per_second=10, ttl=10.0, clock=clock)
    requests, retries = fail_everything(budget, clock, rate=1, seconds=120, max_retries=2)
    assert retries == 2 * requests  # every request got both its retries


def test_the_window_slides() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0.5, min_per_second=0.5, ttl=10.0, clock=clock)
    assert budget.balance() == pytest.approx(5)  # the reserve alone
    for _ in range(4):
        budget.record_request()
    assert budget.balance() == pytest.approx(7)
    for _ in range(7):
        assert budget.try_retry()
    assert not budget.can_retry() and not budget.try_retry()
    assert budget.snapshot() == {"requests": 4, "retries": 7, "balance": pytest.approx(0)}

    clock.now = 9.99  # still inside the window
    assert not budget.can_retry()
    clock.now = 10.0  # what happened at t=0 is forgotten: the reserve is back
    assert budget.snapshot() == {"requests": 0, "retries": 0, "balance": pytest.approx(5)}
    assert budget.can_retry()


def test_old_requests_stop_earning_retries() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0.2, min_per_second=0, ttl=10.0, clock=clock)
    for _ in range(10):
        budget.record_request()
    clock.now = 5.0
    for _ in range(10):
        budget.record_request()
    assert budget.balance() == pytest.approx(4)
    clock.now = 10.5  # the first ten are out of the window, the last ten still in
    assert budget.balance() == pytest.approx(2)
    clock.now = 15.5
    assert budget.balance() == pytest.approx(0) and not budget.can_retry()


def test_zero_ratio_and_zero_reserve_never_retry() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0, min_per_second=0, clock=clock)
    for _ in range(100):
        budget.record_request()
    assert not budget.try_retry()


@pytest.mark.parametrize("kwargs", [{"ratio": -0.1}, {"min_per_second": -1}, {"ttl": 0},
                                    {"slices": 0}])
def test_invalid_settings_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryBudget(**kwargs, clock=ManualClock())  # type: ignore[arg-type]
