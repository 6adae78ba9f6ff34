"""The last minutes of a gateway, one sample per second, for the dashboard and `flowserve top`.

`History` is an `Observer` of the gateway core (it counts calls and keeps a short sliding window
of recent latencies per executor node) and, once a second, `tick` turns those and the queues'
snapshot into one point: per node the request rate, success rate, p50/p95/p99 latency, in
flight, queue depth and top queued clients. Points go into a ring buffer covering `span`
seconds. Percentiles come from the recent latencies themselves, not from Prometheus buckets.

A node's latency is what a request experiences there: its wait in the node's queue plus the
call to the replica (behind a slow executor, a "p50 of 50 s" is mostly queueing). The two events
arrive separately, so the wait is carried to the call in a context variable: each node of a
request's walk runs in its own task, whose context no other request shares.

Clock and wall time are injected: everything here is unit tested without sleeping.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..gateway.scheduler import QueueSnapshot
from .metrics import OTHER, top_queued

__all__ = ["History", "LatencyWindow", "percentile"]

_QUEUE_WAIT: ContextVar[tuple[str, float] | None] = ContextVar("flowserve_queue_wait",
                                                               default=None)
QUANTILES = (0.5, 0.95, 0.99)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The nearest-rank `q` quantile (0 < q <= 1) of ascending values; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


class LatencyWindow:
    """Recent (time, seconds) samples, bounded in count; percentiles over the last seconds."""

    def __init__(self, maxlen: int = 4096) -> None:
        self.samples: collections.deque[tuple[float, float]] = collections.deque(maxlen=maxlen)

    def add(self, t: float, seconds: float) -> None:
        self.samples.append((t, seconds))

    def quantiles(self, since: float, qs: tuple[float, ...] = QUANTILES) -> list[float | None]:
        """The quantiles `qs` of samples taken at or after `since` (older ones are dropped)."""
        while self.samples and self.samples[0][0] < since:
            self.samples.popleft()
        values = sorted(s for _, s in self.samples)
        return [percentile(values, q) for q in qs]


@dataclass
class _Node:
    calls: int = 0
    ok: int = 0
    latency: LatencyWindow = field(default_factory=LatencyWindow)
    wait: LatencyWindow = field(default_factory=LatencyWindow)


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


class History:
    """Per-second samples of the gateway and each executor node over the last `span` s."""

    wants_sizes = False

    def __init__(self, *, span: float = 600.0, latency_window: float = 10.0,
                 rate_window: float = 5.0, top_clients: int = 5,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.span = span
        self.latency_window = latency_window
        self.rate_window = rate_window
        self.top_clients = top_clients
        self.clock = clock
        self.wall = wall
        self.points: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=max(1, int(span)))
        self._nodes: dict[str, _Node] = {}
        self._gateway = _Node()
        start = clock()
        # (monotonic time, cumulative counts) per tick: rates are differences over rate_window
        self._marks: collections.deque[tuple[float, dict[str, tuple[int, int, int]]]] = \
            collections.deque([(start, {})], maxlen=max(4, int(rate_window * 4) + 4))

    def _node(self, name: str) -> _Node:
        node = self._nodes.get(name)
        if node is None:
            node = self._nodes[name] = _Node()
        return node

    # -- Observer ------------------------------------------------------------------------
    def request_started(self, *, endpoint: str, client: str, request_id: str,
                        origin: object = None) -> None:
        pass

    def request_finished(self, *, endpoint: str, outcome: str, seconds: float,
                         error: BaseException | None = None) -> None:
        g = self._gateway
        g.calls += 1
        g.ok += outcome == "success"
        g.latency.add(self.clock(), seconds)

    def queue_wait(self, *, executor: str, seconds: float) -> None:
        self._node(executor).wait.add(self.clock(), seconds)
        _QUEUE_WAIT.set((executor, seconds))

    def executor_call(self, *, executor: str, replica: str, endpoint: str, outcome: str,
                      seconds: float, request_bytes: int, response_bytes: int,
                      docs: int) -> None:
        node = self._node(executor)
        node.calls += 1
        node.ok += outcome == "success"
        waited = _QUEUE_WAIT.get()
        wait = waited[1] if waited is not None and waited[0] == executor else 0.0
        node.latency.add(self.clock(), wait + seconds)

    # -- sampling ------------------------------------------------------------------------
    def tick(self, queues: Mapping[str, QueueSnapshot],
             replicas: Mapping[str, int] | None = None) -> dict[str, Any]:
        """Take one sample: `queues` from `GatewayCore.snapshot()["deployments"]`, `replicas`
        maps a node to its healthy replicas (default: its capacity). Returns the point (also
        appended)."""
        now = self.clock()
        since = now - self.latency_window
        base_t, base = self._base(now)
        dt = max(now - base_t, 1e-9)
        marks: dict[str, tuple[int, int, int]] = {}
        nodes: dict[str, dict[str, Any]] = {}
        for name, q in queues.items():
            node = self._node(name)
            failed = q.rejected  # FairQueue counts every expired request as rejected too
            marks[name] = (node.calls, node.ok, failed)
            calls0, ok0, failed0 = base.get(name, (0, 0, 0))
            d_calls, d_ok, d_failed = node.calls - calls0, node.ok - ok0, failed - failed0
            attempts = d_calls + d_failed
            p50, p95, p99 = node.latency.quantiles(since)
            w50, w95, _ = node.wait.quantiles(since)
            healthy = (replicas or {}).get(name, q.capacity)
            nodes[name] = {
                "rate": _r(d_calls / dt, 3),
                "success_rate": _r(d_ok / attempts) if attempts else None,
                "p50": _r(p50), "p95": _r(p95), "p99": _r(p99),
                "wait_p50": _r(w50), "wait_p95": _r(w95),
                "in_flight": q.in_flight, "queue_depth": q.queued, "capacity": q.capacity,
                "replicas": healthy,
                "top_clients": self._top(q),
            }
        g = self._gateway
        marks["\0gateway"] = (g.calls, g.ok, 0)
        calls0, ok0, _ = base.get("\0gateway", (0, 0, 0))
        d_calls, d_ok = g.calls - calls0, g.ok - ok0
        p50, p95, p99 = g.latency.quantiles(since)
        point = {
            "t": round(self.wall(), 3),
            "gateway": {
                "rate": _r(d_calls / dt, 3),
                "success_rate": _r(d_ok / d_calls) if d_calls else None,
                "p50": _r(p50), "p95": _r(p95), "p99": _r(p99),
                "requests": g.calls,
                "in_flight": sum(n["in_flight"] for n in nodes.values()),
                "queue_depth": sum(n["queue_depth"] for n in nodes.values()),
            },
            "nodes": nodes,
        }
        self._marks.append((now, marks))
        self.points.append(point)
        return point

    def _base(self, now: float) -> tuple[float, dict[str, tuple[int, int, int]]]:
        """The oldest mark within the rate window (the newest one if all are older)."""
        for t, marks in self._marks:
            if t >= now - self.rate_window - 1e-9:
                return t, marks
        return self._marks[-1]

    def _top(self, q: QueueSnapshot) -> list[dict[str, Any]]:
        top, rest = top_queued(q.clients, self.top_clients)
        rows = [{"client": c, "queued": s.queued, "in_flight": s.in_flight} for c, s in top]
        if rest.queued or rest.in_flight:
            rows.append({"client": OTHER, "queued": rest.queued, "in_flight": rest.in_flight})
        return rows

    # -- reading -------------------------------------------------------------------------
    def latest(self) -> dict[str, Any] | None:
        return self.points[-1] if self.points else None

    def series(self, seconds: float | None = None) -> list[dict[str, Any]]:
        """Points of the last `seconds` (all kept by default), without per-client detail."""
        points = list(self.points)
        if seconds is not None and points:
            cutoff = points[-1]["t"] - seconds
            points = [p for p in points if p["t"] > cutoff]
        return [
            {**p, "nodes": {name: {k: v for k, v in n.items() if k != "top_clients"}
                            for name, n in p["nodes"].items()}}
            for p in points
        ]
