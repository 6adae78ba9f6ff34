"""Clients for a flowserve (or Jina 3) gateway over gRPC or HTTP.

::

    from flowserve import Client, Document, DocumentArray

    da = DocumentArray(Document(text=f"text {i}") for i in range(1000))
    Client(host="grpc://localhost:8080").post(on="/", inputs=da, on_done=print)

Modules: `_address` (host/port/protocol), `_batching` (lazy batches -> requests), `_inflight`
(prefetch window, ordering), `_engine` (one post over a transport stream), `_callbacks`
(callbacks, error policy, results), `_grpc` / `_http` (transports and their error mapping),
`_progress` (rich bar), `async_client` / `sync_client` (the public classes).
"""

from __future__ import annotations

from .async_client import AsyncClient
from .sync_client import Client

__all__ = ["AsyncClient", "Client"]
