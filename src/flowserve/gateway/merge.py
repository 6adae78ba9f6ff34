"""Merging the outputs of several executors where branches of the DAG join (fan-in).

A three-way merge: each branch's output is compared with the docs the branches started from
(the output of their nearest common ancestor), and only what a branch *changed* is applied, so a
branch that left `text` alone cannot undo another branch's new text. Docs are matched by id and
keep the first branch's order; docs a branch added are appended. Where two branches changed the
same field, the later branch (in `needs` order) wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..documents.array import DocumentArray
from ..documents.document import Document
from ..documents.merging import merge_doc
from ..wire.request import DataRequest

__all__ = ["merge_arrays", "merge_parameters", "merge_requests"]

_SCALARS = ("uri", "mime_type", "modality", "parent_id", "granularity", "adjacency", "weight",
            "offset")
_MISSING = object()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
            and a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
        )
    return bool(a == b)


def _merge_changes(dst: Document, src: Document, base: Document) -> None:
    """Apply to `dst` the fields `src` changed relative to `base`."""
    if not _same(src.content, base.content):
        if src.text is not None:
            dst.text = src.text
        elif src.blob is not None:
            dst.blob = src.blob
        elif src.tensor is not None:
            dst.tensor = src.tensor
    if not _same(src.embedding, base.embedding):
        dst.embedding = src.embedding
    for name in _SCALARS:
        value = getattr(src, name)
        if value != getattr(base, name):
            setattr(dst, name, value)
    if list(src.location) != list(base.location):
        dst.location = list(src.location)
    for field in ("tags", "scores", "evaluations"):
        src_map, base_map = getattr(src, field), getattr(base, field)
        for key, value in src_map.items():
            if base_map.get(key, _MISSING) != value:
                getattr(dst, field)[key] = value
    for field in ("matches", "chunks"):
        src_docs, base_docs = getattr(src, field), getattr(base, field)
        if src_docs != base_docs:
            merge_arrays(getattr(dst, field), src_docs, base_docs)


def merge_arrays(dst: DocumentArray, src: DocumentArray, base: DocumentArray | None) -> None:
    """Merge `src` into `dst` in place, three-way against `base` where a doc has one there."""
    for doc in src:
        if doc.id not in dst:
            dst.append(doc.copy())
        elif base is not None and doc.id in base:
            _merge_changes(dst[doc.id], doc, base[doc.id])
        else:  # no common ancestor doc: fall back to "non-empty fields override"
            merge_doc(dst[doc.id], doc, copy_new=True)


def merge_parameters(params: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Later branches win on plain keys; `__results__` per executor are united."""
    merged: dict[str, Any] = {}
    results: dict[str, Any] = {}
    for p in params:
        for key, value in p.items():
            if key == "__results__" and isinstance(value, dict):
                results.update(value)
            else:
                merged[key] = value
    if results:
        merged["__results__"] = results
    return merged


def merge_requests(requests: Sequence[DataRequest], base: DataRequest | None = None) -> DataRequest:
    """One request merging the branches' outputs; `base` is what the branches started from."""
    if len(requests) == 1:
        return requests[0]
    merged = DataRequest()
    merged.header.CopyFrom(requests[0].header)
    docs = DocumentArray(d.copy() for d in requests[0].docs)
    base_docs = base.docs if base is not None else None
    for other in requests[1:]:
        merge_arrays(docs, other.docs, base_docs)
    merged.docs = docs
    params = merge_parameters([r.parameters for r in requests])
    if params:
        merged.parameters = params
    return merged
