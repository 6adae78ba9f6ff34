"""The interface between the gateway core and a transport: one executor replica."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol

from ..proto import jina_pb2

__all__ = ["ReplicaClient"]


class ReplicaClient(Protocol):
    """How the core reaches one executor replica. Transports implement this.

    `process` returns the executor's reply (executor errors inside its status) or raises
    `UnavailableError` / `DeadlineExceededError` from flowserve.errors.
    """

    address: str

    async def process(
        self, request: jina_pb2.DataRequestProto, *, endpoint: str, timeout: float | None
    ) -> jina_pb2.DataRequestProto: ...

    def stream(
        self, request: jina_pb2.SingleDocumentRequestProto, *, endpoint: str,
        timeout: float | None
    ) -> AsyncGenerator[jina_pb2.SingleDocumentRequestProto, None]:
        """A streaming endpoint's replies as they come (docs/streaming.md); raises as
        `process` does. Closing the generator cancels the call."""
        ...

    async def endpoint_kinds(self, timeout: float) -> dict[str, bool]:
        """The executor's endpoints, each with whether it streams (a generator)."""
        ...

    async def is_ready(self, timeout: float) -> bool: ...

    async def endpoints(self, timeout: float) -> list[str]: ...

    async def close(self) -> None: ...
