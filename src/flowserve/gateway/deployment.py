"""An executor deployment as the gateway sees it: named replicas behind a balancing policy."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Protocol

from ..proto import jina_pb2

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
    """The replicas of one executor; `pick()` chooses where the next request goes."""

    def __init__(self, name: str, replicas: Sequence[ReplicaClient]) -> None:
        if not replicas:
            raise ValueError(f"deployment {name!r} has no replicas")
        self.name = name
        self.replicas = list(replicas)
        self._cycle = itertools.cycle(range(len(self.replicas)))

    def pick(self) -> ReplicaClient:
        """Round robin across replicas."""
        return self.replicas[next(self._cycle)]

    async def process(
        self, request: jina_pb2.DataRequestProto, *, endpoint: str, timeout: float | None
    ) -> jina_pb2.DataRequestProto:
        return await self.pick().process(request, endpoint=endpoint, timeout=timeout)

    async def close(self) -> None:
        for replica in self.replicas:
            await replica.close()
