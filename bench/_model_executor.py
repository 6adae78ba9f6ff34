"""The executors of bench/batching.py: a model costing `fixed_ms` + `per_doc_ms` per doc per
call, plain and with dynamic batching."""

from __future__ import annotations

import time
from typing import Any

from flowserve import Executor, dynamic_batching, requests


class Model(Executor):
    """Each call sleeps `fixed_ms` + `per_doc_ms` x docs (a GPU-shaped cost)."""

    def __init__(self, fixed_ms: float = 20.0, per_doc_ms: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fixed_s = fixed_ms / 1000
        self.per_doc_s = per_doc_ms / 1000

    @requests
    def infer(self, docs: Any, **kwargs: Any) -> None:
        time.sleep(self.fixed_s + self.per_doc_s * len(docs))


class BatchedModel(Model):
    """The same model behind ``@dynamic_batching`` (the Flow's uses_dynamic_batching sets the
    size and timeout)."""

    @dynamic_batching(preferred_batch_size=16, timeout=10)
    @requests
    def infer(self, docs: Any, **kwargs: Any) -> None:
        super().infer(docs)
