"""The contract between `AsyncClient` and its transports: the client holds one `Transport`
(gRPC or HTTP) and never asks which one it is."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Protocol

from ..documents.document import Document
from ..errors import RequestError
from ..wire.request import DataRequest
from ..wire.stream import StreamMessage
from ._address import Address
from ._engine import Stream

__all__ = ["Pairs", "SingleReply", "Transport"]

Pairs = Sequence[tuple[str, str]]
"""Metadata (gRPC) or headers (HTTP) as key/value pairs."""

SingleReply = DataRequest | tuple[DataRequest, RequestError] | None
"""What `Transport.post_single` gives: the response; the request with the error it failed
with alone; or None when the transport did not send it (the client then opens a stream)."""


class Transport(Protocol):
    """How requests reach a gateway."""

    address: Address
    single_posts: bool
    """Whether a post that makes one request is worth trying with `post_single` first."""

    def stream_metadata(self, prefetch: int | None,
                        results_in_order: bool) -> list[tuple[str, str]]:
        """The transport's own metadata for a stream of a post with these settings."""
        ...

    async def open_stream(self, metadata: Pairs, timeout: float | None) -> Stream:
        """A stream for one post; `timeout` bounds it (None: no bound)."""
        ...

    async def post_single(self, request: DataRequest, metadata: Pairs,
                          timeout: float | None) -> SingleReply:
        """Send one request without a stream of its own, when the transport can."""
        ...

    def stream_doc(self, request: StreamMessage, metadata: Pairs,
                   timeout: float | None) -> AsyncGenerator[Document, None]:
        """A streaming endpoint's documents as they come; raises the stream's error after
        the documents sent before it. Closing the generator ends the call."""
        ...

    async def dry_run(self, timeout: float | None = None) -> bool:
        """True when the gateway reports every executor reachable (False if unreachable)."""
        ...

    async def is_ready(self, timeout: float | None = None) -> bool:
        """True when the gateway answers its health check (False if unreachable)."""
        ...

    async def close(self) -> None:
        """Close the channel or connection pool."""
        ...
