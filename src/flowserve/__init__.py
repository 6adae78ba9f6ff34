"""flowserve: serve multi-step ML and data pipelines as microservices.

Importing flowserve has no side effects: no signal handlers, no environment changes, no network.
"""

from __future__ import annotations

from ._version import __version__
from .client import AsyncClient, Client
from .documents.array import DocumentArray
from .documents.document import Document
from .executor import Executor, requests
from .flow import Flow
from .wire.request import DataRequest

__all__ = [
    "AsyncClient",
    "Client",
    "DataRequest",
    "Document",
    "DocumentArray",
    "Executor",
    "Flow",
    "__version__",
    "requests",
]
