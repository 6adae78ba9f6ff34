"""The Linkerd demo's executor, ported to flowserve (test fixture)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from flowserve.executor import Executor, requests


class HeavyExecutorLinkerdDemo(Executor):
    """Sleeps `sleep` seconds per request and, unless n_dim is -1, adds random embeddings."""

    def __init__(self, n_dim: int = 256, sleep: float = 3, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.n_dim = n_dim
        self.sleep = sleep

    @requests
    def foo(self, docs: Any, **kwargs: Any) -> None:
        time.sleep(self.sleep)
        if self.n_dim != -1:
            docs.embeddings = np.random.random([len(docs), self.n_dim])


class NotAnExecutor:
    """A class that is not an Executor, for error tests."""
