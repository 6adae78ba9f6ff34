"""Fakes shared by the observability unit tests: a gateway core's queues without a gateway."""

from __future__ import annotations

from typing import Any

from flowserve.config.graph import graph_from_mapping
from flowserve.gateway.scheduler import ClientStats, QueueSnapshot


class FakeDeployment:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def replica_snapshot(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows]


class FakeCore:
    """What QueueCollector and Dashboard read from a GatewayCore."""

    def __init__(self, needs: dict[str, list[str]], queues: dict[str, QueueSnapshot],
                 replicas: dict[str, int]) -> None:
        self.graph = graph_from_mapping(needs)
        self.queues = queues
        self.deployments = {
            name: FakeDeployment([
                {"address": f"{name}:{i}", "shard": 0, "in_flight": 0, "requests": 0,
                 "failures": 0, "ejected": False, "ewma_ms": None} for i in range(n)])
            for name, n in replicas.items()
        }

    def snapshot(self) -> dict[str, Any]:
        clients: dict[str, dict[str, int]] = {}
        for q in self.queues.values():
            for c, s in q.clients.items():
                total = clients.setdefault(c, {"queued": 0, "in_flight": 0, "admitted": 0,
                                               "rejected": 0})
                total["queued"] += s.queued
                total["in_flight"] += s.in_flight
                total["admitted"] += s.admitted
                total["rejected"] += s.rejected
        return {"deployments": dict(self.queues), "clients": clients}


def queue(name: str, *, capacity: int = 2, in_flight: int = 0, admitted: int = 0,
          rejected: int = 0, expired: int = 0, clients: dict[str, int] | None = None,
          ) -> QueueSnapshot:
    """A queue snapshot; `clients` maps client -> requests queued."""
    stats = {c: ClientStats(queued=n, admitted=n) for c, n in (clients or {}).items()}
    return QueueSnapshot(name, capacity, in_flight, sum((clients or {}).values()), admitted,
                         rejected, expired, None, stats)
