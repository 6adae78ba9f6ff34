"""A batching embedder: a stand-in model whose every call costs `fixed_ms` plus `per_doc_ms`
per document (as a GPU forward pass does), so it serves many small requests best in batches."""

from __future__ import annotations

import time

import numpy as np

from flowserve import DocumentArray, Executor, dynamic_batching, requests


class BatchingEmbedder(Executor):
    def __init__(self, dim: int = 128, fixed_ms: float = 20.0, per_doc_ms: float = 0.1,
                 **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.fixed_s = fixed_ms / 1000
        self.per_doc_s = per_doc_ms / 1000
        self.projection = np.random.default_rng(0).standard_normal((256, dim)).astype("float32")

    @dynamic_batching(preferred_batch_size=32, timeout=10)
    @requests(on="/embed")
    def embed(self, docs: DocumentArray, **kwargs) -> None:
        time.sleep(self.fixed_s + self.per_doc_s * len(docs))  # the model's cost
        counts = np.zeros((len(docs), 256), dtype="float32")
        for row, text in enumerate(docs.texts):
            for byte in (text or "").encode():
                counts[row, byte] += 1
        docs.embeddings = counts @ self.projection
