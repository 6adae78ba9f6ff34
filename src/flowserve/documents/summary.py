"""A printed overview of a DocumentArray (docarray v1's ``summary()``)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rich.console import Console

    from .array import DocumentArray

__all__ = ["summary"]

_FIELDS = ("text", "blob", "tensor", "embedding", "uri", "mime_type", "modality", "tags",
           "chunks", "matches", "scores", "evaluations", "parent_id", "granularity",
           "adjacency", "weight", "offset", "location")
_SLOTS = {"text": "_text", "blob": "_blob", "tensor": "_tensor", "embedding": "_embedding",
          "tags": "_tags", "chunks": "_chunks", "matches": "_matches", "scores": "_scores",
          "evaluations": "_evaluations", "location": "_location"}


def _is_set(value: object) -> bool:
    if value is None or isinstance(value, np.ndarray):
        return value is not None
    if isinstance(value, int | float):
        return value != 0
    return not hasattr(value, "__len__") or len(value) > 0  # type: ignore[arg-type]


def summary(da: DocumentArray, console: Console | None = None) -> None:
    """Print the length and, per attribute set on some document, how many documents set it,
    with the shapes/dtypes of embeddings and tensors."""
    from rich.console import Console
    from rich.table import Table

    counts: Counter[str] = Counter(
        name for doc in da._docs for name in _FIELDS
        if _is_set(getattr(doc, _SLOTS.get(name, name)))
    )
    table = Table(title="Documents Summary", show_header=False)
    table.add_row("Length", str(len(da)))
    table.add_row("Unique ids", str(len(set(da.ids))))
    attrs = Table(title="Attributes Summary")
    for column in ("Attribute", "Documents", "Details"):
        attrs.add_column(column)
    for name, count in counts.items():
        details = ""
        if name in ("embedding", "tensor"):
            kinds = {(a.dtype.str, a.shape) for a in (getattr(d, name) for d in da._docs)
                     if a is not None}
            details = ", ".join(f"{dtype} {shape}" for dtype, shape in sorted(kinds))
        attrs.add_row(name, str(count), details)
    out = console or Console()
    out.print(table)
    out.print(attrs)
