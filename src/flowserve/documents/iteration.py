"""Batching and mapping over a DocumentArray (docarray v1's ``batch``, ``map``, ``apply``)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .array import DocumentArray
    from .document import Document

__all__ = ["apply", "batch", "map_docs"]


def batch(da: DocumentArray, batch_size: int, shuffle: bool = False) -> Iterator[DocumentArray]:
    """Consecutive DocumentArrays of `batch_size` documents (the last may be shorter), sharing
    the documents; with `shuffle`, in a random order."""
    from .array import DocumentArray

    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    docs = list(da._docs)
    if shuffle:
        random.shuffle(docs)
    for start in range(0, len(docs), batch_size):
        yield DocumentArray._wrap(docs[start:start + batch_size])


def _pool(backend: str, num_worker: int | None) -> Executor:
    if backend == "thread":
        return ThreadPoolExecutor(max_workers=num_worker)
    if backend == "process":
        return ProcessPoolExecutor(max_workers=num_worker)
    raise ValueError(f"unknown backend {backend!r}; use 'thread' or 'process'")


def map_docs(da: DocumentArray, func: Callable[[Document], Any], backend: str = "thread",
             num_worker: int | None = None) -> Iterator[Any]:
    """``func(doc)`` for every document, in order, computed in a thread (or process) pool.

    With ``backend='process'`` the function and documents must pickle; results are copies.
    """
    docs = list(da._docs)
    if not docs:
        return
    with _pool(backend, num_worker) as pool:
        yield from pool.map(func, docs)


def apply(da: DocumentArray, func: Callable[[Document], Any], backend: str = "thread",
          num_worker: int | None = None) -> DocumentArray:
    """Replace each document by ``func(doc)`` (a Document; None keeps the document, for
    functions that change it in place) and return `da`."""
    results = list(map_docs(da, func, backend, num_worker))
    da[:] = [doc if new is None else new for doc, new in zip(da._docs, results, strict=True)]
    return da
