"""flowserve: serve multi-step ML and data pipelines as microservices.

Importing flowserve has no side effects: no signal handlers, no environment changes, no network.
`Client`, `AsyncClient` and `Flow` load on first use (httpx, grpc.aio and the config models cost
most of an eager import), so an executor module that imports only `Executor` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .documents.array import DocumentArray
from .documents.document import Document
from .executor import Executor, dynamic_batching, requests
from .wire.request import DataRequest

if TYPE_CHECKING:
    from .client import AsyncClient, Client
    from .flow import Flow

__all__ = [
    "AsyncClient",
    "Client",
    "DataRequest",
    "Document",
    "DocumentArray",
    "Executor",
    "Flow",
    "__version__",
    "dynamic_batching",
    "requests",
]

_LAZY = {"AsyncClient": "client", "Client": "client", "Flow": "flow"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowserve' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
