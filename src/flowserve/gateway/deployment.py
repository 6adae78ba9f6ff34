"""An executor deployment as the gateway sees it: shards of replicas behind fair admission.

Requests first get a slot from the deployment's `FairQueue` (clients served fairly, at most
`capacity` in service), then go to one shard (polling ANY) or to every shard (polling ALL, the
replies merged). Within a shard, `ReplicaSet` balances, retries and ejects.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..config.options import EXECUTOR_DEFAULTS, GATEWAY_DEFAULTS, Polling, polling_for
from ..errors import UnavailableError
from ..proto import jina_pb2
from ..wire.deadline import Deadline
from .attempts import Attempts
from .deployment_types import ReplicaClient
from .observer import NullObserver, Observer
from .replicas import ReplicaSet
from .retry_budget import RetryBudget
from .scheduler import FairQueue, QueueSnapshot, Slot
from .shard_merge import merge_shard_replies

__all__ = ["Deployment", "ReplicaClient"]


class Deployment:
    """All shards and replicas of one executor."""

    def __init__(
        self,
        name: str,
        replicas: Sequence[ReplicaClient] | Sequence[Sequence[ReplicaClient]],
        *,
        concurrency: int = EXECUTOR_DEFAULTS.concurrency,
        balancing: str = EXECUTOR_DEFAULTS.balancing,
        polling: Polling | Mapping[str, Polling] = EXECUTOR_DEFAULTS.polling,
        retries: int = EXECUTOR_DEFAULTS.retries,
        budget: RetryBudget | None = None,
        timeout_send: float | None = EXECUTOR_DEFAULTS.timeout_send,
        timeout_ejected: float | None = EXECUTOR_DEFAULTS.timeout_ejected,
        max_queue: int = GATEWAY_DEFAULTS.max_queue,
        max_queue_per_client: int = GATEWAY_DEFAULTS.max_queue_per_client,
        weights: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        observer: Observer | None = None,
    ) -> None:
        groups = _as_shards(replicas)
        if not groups or not all(groups):
            raise ValueError(f"deployment {name!r} has no replicas")
        self.name = name
        self.clock = clock
        self.polling = polling
        self.observer: Observer = observer or NullObserver()
        self.shards = [
            ReplicaSet(name, group, concurrency=concurrency, balancing=balancing,
                       retries=retries, budget=budget, timeout_send=timeout_send,
                       timeout_ejected=timeout_ejected,
                       on_capacity_change=self._capacity_changed, observer=self.observer,
                       clock=clock, rng=rng)
            for group in groups
        ]
        self.queue = FairQueue(name, self.capacity(), max_queue=max_queue,
                               max_queue_per_client=max_queue_per_client, weights=weights,
                               ahead=self.pipeline_depth(), clock=clock)
        self._next_shard = 0
        self._probe: asyncio.Future[None] | None = None

    @property
    def replicas(self) -> list[ReplicaClient]:
        return [r for shard in self.shards for r in shard.replicas]

    def _polls_all(self) -> bool:
        values = [self.polling] if isinstance(self.polling, str) else self.polling.values()
        return len(self.shards) > 1 and "ALL" in values

    def polling_for(self, endpoint: str) -> Polling:
        return polling_for(self.polling, endpoint)

    def capacity(self) -> int:
        """Requests served at once: ALL needs a slot in every shard, ANY in one."""
        capacities = [s.capacity for s in self.shards]
        return min(capacities) if self._polls_all() else sum(capacities)

    def pipeline_depth(self) -> int:
        """Units of requests sent ahead while requests are fast (the queue sends up to
        `MAX_AHEAD` per unit): one per healthy replica (of every
        shard for ANY, of the smallest shard for ALL)."""
        healthy = [s.healthy for s in self.shards]
        return min(healthy) if self._polls_all() else sum(healthy)

    def _capacity_changed(self) -> None:
        if hasattr(self, "queue"):
            self.queue.set_capacity(self.capacity(), self.pipeline_depth())

    def refresh(self) -> None:
        """Pick up replicas whose ejection ran out (called by the health monitor)."""
        self._capacity_changed()

    async def process(
        self,
        request: jina_pb2.DataRequestProto,
        *,
        endpoint: str,
        deadline: Deadline | None,
        client: str = "",
        attempts: Attempts | None = None,
    ) -> jina_pb2.DataRequestProto:
        """Wait for a fair turn, then send to one shard or all; `deadline` bounds both.
        Retries on other replicas are counted in `attempts`."""
        slot = await self.admit(client, deadline)
        started = self.clock()
        try:
            if self.polling_for(endpoint) == "ALL" and len(self.shards) > 1:
                return merge_shard_replies(
                    await self._send_to_all(request, endpoint, deadline, attempts))
            return await self._any_shard().send(request, endpoint=endpoint, deadline=deadline,
                                                attempts=attempts)
        finally:
            self.queue.release(slot, service_time=self.clock() - started)

    async def admit(self, client: str, deadline: Deadline | None) -> Slot:
        """Wait for `client`'s fair turn in the queue (raises when no replica is healthy or
        the deadline passes); give the slot back with ``queue.release``."""
        if self.queue.capacity == 0:  # the queue's capacity is kept up to date on changes
            self._capacity_changed()  # ejections may have run out since the last refresh
            if self.queue.capacity == 0:
                await self.probe_ejected()
            if self.queue.capacity == 0:
                raise UnavailableError(f"executor {self.name!r}: no healthy replica "
                                       f"(all {len(self.replicas)} ejected after failures)")
        if deadline is None:
            slot = await self.queue.acquire(client)
        else:  # the queue's clock is the deadline's (monotonic)
            slot = await self.queue.acquire(client, deadline=deadline.at,
                                            timeout=deadline.time_remaining())
        self.observer.queue_wait(executor=self.name, seconds=slot.queue_wait)
        return slot

    async def _send_to_all(self, request: jina_pb2.DataRequestProto, endpoint: str,
                           deadline: Deadline | None, attempts: Attempts | None,
                           ) -> list[jina_pb2.DataRequestProto]:
        """Every shard's reply; if one shard fails, the others are cancelled before the error
        is raised, so no send outlives the slot it holds."""
        sends = [asyncio.ensure_future(s.send(request, endpoint=endpoint, deadline=deadline,
                                              attempts=attempts))
                 for s in self.shards]
        try:
            return await asyncio.gather(*sends)
        except BaseException:
            for send in sends:
                send.cancel()
            await asyncio.gather(*sends, return_exceptions=True)
            raise

    async def probe_ejected(self, timeout: float = 0.5) -> None:
        """Health-check the ejected replicas now and re-admit the ready ones (so a request does
        not fail only because the periodic check has not run since a replica came up).
        Requests that find every replica ejected at the same time share one probe."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self._probe_once(timeout))
        await asyncio.shield(self._probe)

    async def _probe_once(self, timeout: float) -> None:
        for shard in self.shards:
            ejected = shard.ejected()
            ready = await asyncio.gather(*(shard.replicas[i].is_ready(timeout) for i in ejected))
            for i, ok in zip(ejected, ready, strict=True):
                if ok:
                    shard.readmit(i)

    def pick_shard(self) -> ReplicaSet:
        """The shard a request for one shard (polling ANY, or a stream) goes to."""
        return self._any_shard()

    def _any_shard(self) -> ReplicaSet:
        """The shard with the most free slots (round robin among equals)."""
        if len(self.shards) == 1:
            return self.shards[0]
        n = len(self.shards)
        order = [(self._next_shard + k) % n for k in range(n)]
        best = max(order, key=lambda k: self.shards[k].free_slots())
        self._next_shard = (best + 1) % n
        return self.shards[best]

    def snapshot(self) -> QueueSnapshot:
        return self.queue.snapshot()

    def replica_snapshot(self) -> list[dict[str, Any]]:
        return [dict(row, shard=k) for k, s in enumerate(self.shards) for row in s.snapshot()]

    async def close(self) -> None:
        for shard in self.shards:
            await shard.close()


def _as_shards(replicas: Any) -> list[list[ReplicaClient]]:
    items = list(replicas)
    if items and isinstance(items[0], list | tuple):
        return [list(group) for group in items]
    return [items]
