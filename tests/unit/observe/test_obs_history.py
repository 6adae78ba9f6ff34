"""The dashboard's history: rates, success rates and latency percentiles per node, with an
injected clock (no sleeps)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from observe_fakes import queue

from flowserve.errors import DeadlineExceededError
from flowserve.gateway.scheduler import FairQueue
from flowserve.observe.history import History, LatencyWindow, percentile


class Clock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_percentile_nearest_rank():
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7
    assert percentile([], 0.5) is None


def test_latency_window_keeps_only_recent_samples():
    w = LatencyWindow()
    for t in range(10):
        w.add(float(t), float(t))
    assert w.quantiles(since=5.0, qs=(0.5, 1.0)) == [7.0, 9.0]
    assert len(w.samples) == 5  # older samples were dropped
    assert w.quantiles(since=100.0) == [None, None, None]


def call(h: History, executor: str, seconds: float, outcome: str = "success") -> None:
    h.executor_call(executor=executor, replica="r:1", endpoint="/", outcome=outcome,
                    seconds=seconds, request_bytes=0, response_bytes=0, docs=1)


def test_tick_reports_rate_success_and_percentiles_per_node():
    clock, wall = Clock(), Clock(1_700_000_000.0)
    h = History(clock=clock, wall=wall, latency_window=10, rate_window=5)
    clock.t += 1
    for i in range(100):
        call(h, "slow", seconds=(i + 1) / 100, outcome="success" if i < 90 else "executor_error")
    for _ in range(10):
        h.request_finished(endpoint="/", outcome="success", seconds=0.5)
    point = h.tick({"slow": queue("slow", capacity=2, in_flight=2, rejected=10,
                                  clients={"flooder": 30, "light": 1})},
                   {"slow": 2})
    slow = point["nodes"]["slow"]
    assert slow["rate"] == 100.0  # 100 calls in the 1 s since the history started
    assert slow["success_rate"] == round(90 / 110, 4)  # 10 more were rejected by the queue
    assert (slow["p50"], slow["p95"], slow["p99"]) == (0.5, 0.95, 0.99)
    assert (slow["queue_depth"], slow["in_flight"], slow["capacity"]) == (31, 2, 2)
    assert slow["top_clients"][0] == {"client": "flooder", "queued": 30, "in_flight": 0}
    assert point["gateway"]["rate"] == 10.0
    assert point["gateway"]["success_rate"] == 1.0
    assert point["gateway"]["queue_depth"] == 31
    assert point["t"] == 1_700_000_000.0


def test_rates_are_differences_over_the_rate_window():
    clock = Clock()
    h = History(clock=clock, rate_window=5)
    q = {"n": queue("n")}
    for _ in range(20):  # 20 s at 3 calls/s, then 2 s idle
        clock.t += 1
        for _ in range(3):
            call(h, "n", 0.01)
        h.tick(q)
    assert h.latest()["nodes"]["n"]["rate"] == 3.0
    clock.t += 2
    h.tick(q)
    assert h.latest()["nodes"]["n"]["rate"] == 9 / 5  # 9 calls in the last 5 s


def test_node_latency_includes_its_queue_wait_from_the_same_task():
    clock = Clock()
    h = History(clock=clock)

    def walk(wait: float, seconds: float) -> None:  # one node of one request (one task)
        h.queue_wait(executor="slow", seconds=wait)
        call(h, "slow", seconds)

    # two requests' node tasks interleave, each in its own context, like asyncio tasks
    contextvars.copy_context().run(walk, 50.0, 1.0)
    contextvars.copy_context().run(walk, 0.0, 1.0)
    call(h, "slow", 2.0)  # no wait in this context
    point = h.tick({"slow": queue("slow")})
    assert sorted(s for _, s in h._nodes["slow"].latency.samples) == [1.0, 2.0, 51.0]
    assert point["nodes"]["slow"]["p99"] == 51.0
    assert point["nodes"]["slow"]["wait_p95"] == 50.0


def test_ring_buffer_covers_the_span_and_series_strips_clients():
    clock, wall = Clock(), Clock(0.0)
    h = History(clock=clock, wall=wall, span=600)
    for _ in range(700):
        clock.t += 1
        wall.t += 1
        h.tick({"n": queue("n", clients={"a": 1})})
    assert len(h.points) == 600
    assert h.points[0]["t"] == 101.0
    last = h.series(60)
    assert len(last) == 60
    assert "top_clients" not in last[-1]["nodes"]["n"]
    assert h.latest()["nodes"]["n"]["top_clients"] == [
        {"client": "a", "queued": 1, "in_flight": 0}]


def test_no_traffic_means_no_percentiles_and_no_success_rate():
    h = History(clock=Clock())
    node = h.tick({"n": queue("n")})["nodes"]["n"]
    assert (node["p50"], node["success_rate"], node["rate"]) == (None, None, 0.0)


def test_an_expired_request_counts_once_as_a_failure():
    """FairQueue counts a request that expired in the queue as rejected too: one failure."""
    clock = Clock()

    async def go() -> FairQueue:
        q = FairQueue("n", capacity=1, clock=clock)
        slot = await q.acquire("a")  # the only slot is busy: the next request has to queue
        with pytest.raises(DeadlineExceededError):
            await q.acquire("b", timeout=0.01)
        q.release(slot)
        return q

    q = asyncio.run(go())
    snap = q.snapshot()
    assert (snap.rejected, snap.expired) == (1, 1)
    h = History(clock=clock)
    clock.t += 1
    call(h, "n", 0.01)  # the request that held the slot succeeded
    node = h.tick({"n": snap})["nodes"]["n"]
    assert node["success_rate"] == 0.5  # 1 success out of 1 call + 1 expired request
