"""The executor of bench/overhead.py's Flow: a handler that does nothing (returns None)."""

from __future__ import annotations

from typing import Any

from flowserve import Executor, requests


class NoopExecutor(Executor):
    """`@requests` handler returning None: the docs go back unchanged."""

    @requests
    def noop(self, docs: Any, **kwargs: Any) -> None:
        return None
