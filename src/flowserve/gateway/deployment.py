"""An executor deployment as the gateway sees it: replicas behind fair admission."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from ..proto import jina_pb2
from .scheduler import FairQueue, QueueSnapshot

__all__ = ["Deployment", "ReplicaClient"]


class ReplicaClient(Protocol):
    """How the core reaches one executor replica. Transports implement this.

    `process` returns the executor's reply (executor errors inside its status) or raises
    `UnavailableError` / `DeadlineExceededError` from flowserve.errors.
    """

    address: str

    async def process(
        self, request: jina_pb2.DataRequestProto, *, endpoint: str, timeout: float | None
    ) -> jina_pb2.DataRequestProto: ...

    async def is_ready(self, timeout: float) -> bool: ...

    async def endpoints(self, timeout: float) -> list[str]: ...

    async def close(self) -> None: ...


class Deployment:
    """The replicas of one executor.

    Requests first get a slot from the deployment's `FairQueue` (at most replicas x
    `concurrency` in service, clients served fairly), then go to a replica with a free slot.
    """

    def __init__(
        self,
        name: str,
        replicas: Sequence[ReplicaClient],
        *,
        concurrency: int = 1,
        max_queue: int = 1000,
        max_queue_per_client: int = 100,
        weights: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not replicas:
            raise ValueError(f"deployment {name!r} has no replicas")
        self.name = name
        self.replicas = list(replicas)
        self.concurrency = concurrency
        self.clock = clock
        self.queue = FairQueue(
            name, len(self.replicas) * concurrency, max_queue=max_queue,
            max_queue_per_client=max_queue_per_client, weights=weights, clock=clock,
        )
        self.in_flight = [0] * len(self.replicas)
        self._cycle = itertools.cycle(range(len(self.replicas)))

    def pick(self) -> int:
        """Round robin over the replicas that have a free slot."""
        for _ in range(len(self.replicas)):
            i = next(self._cycle)
            if self.in_flight[i] < self.concurrency:
                return i
        return next(self._cycle)  # unreachable while the queue enforces capacity

    async def process(
        self,
        request: jina_pb2.DataRequestProto,
        *,
        endpoint: str,
        timeout: float | None,
        client: str = "",
    ) -> jina_pb2.DataRequestProto:
        """Wait for a fair turn, then call one replica; `timeout` bounds both (seconds)."""
        deadline = self.clock() + timeout if timeout is not None else None
        slot = await self.queue.acquire(client, deadline=deadline, timeout=timeout)
        started = self.clock()
        try:
            i = self.pick()
            self.in_flight[i] += 1
            try:
                remaining = None if deadline is None else max(0.0, deadline - started)
                return await self.replicas[i].process(
                    request, endpoint=endpoint, timeout=remaining)
            finally:
                self.in_flight[i] -= 1
        finally:
            self.queue.release(slot, service_time=self.clock() - started)

    def snapshot(self) -> QueueSnapshot:
        return self.queue.snapshot()

    async def close(self) -> None:
        for replica in self.replicas:
            await replica.close()
