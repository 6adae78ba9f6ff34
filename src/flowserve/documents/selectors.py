"""docarray v1 selectors: traversal paths (``'@r'``, ``'@m'``, ``'@c,m'``, ``'@cm'``,
``'@r[:2]'``, ``'@m[:5]'``), boolean masks and attribute access (``da[:, 'text']``,
``da[:, 'tags__x']``, ``da[:, ('id', 'text')]``), as docarray 0.21 documents them.

A traversal path is a comma-separated list of paths; each path is a string of steps, ``r``
(the array itself, only first), ``c`` (chunks) or ``m`` (matches), each optionally followed by
a slice that applies per parent (``'@m[:5]'`` is the first five matches of every document).
The result of a path is flat; the results of several paths are concatenated.

Attribute names use ``__`` to reach into dicts and objects (``tags__x``, ``scores__cosine__value``).
``embedding`` and ``tensor`` come back stacked (:attr:`DocumentArray.embeddings`); several
fields come back as one list per field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .array import DocumentArray
    from .document import Document

__all__ = [
    "flatten", "get_attributes", "is_mask", "select_mask", "set_attributes", "traverse_flat",
]

_STEP = re.compile(r"([rcm])(\[(-?\d*)(?::(-?\d*))?\])?")
_STACKED = frozenset(("embedding", "tensor"))


def _parse_path(path: str) -> list[tuple[str, slice | None]]:
    steps: list[tuple[str, slice | None]] = []
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            raise ValueError(f"bad traversal path {path!r}: expected r, c or m at position {pos}")
        letter, bracket, start, stop = m.groups()
        if letter == "r" and steps:
            raise ValueError(f"bad traversal path {path!r}: 'r' may only come first")
        window: slice | None = None
        if bracket:
            if stop is None:  # '[3]' is one element: the slice [3:4] (or [-1:] for -1)
                i = int(start)
                window = slice(i, i + 1 or None)
            else:
                window = slice(int(start) if start else None, int(stop) if stop else None)
        steps.append((letter, window))
        pos = m.end()
    if not steps:
        raise ValueError("empty traversal path")
    return steps


def traverse_flat(da: DocumentArray, selector: str) -> DocumentArray:
    """The documents a docarray selector (``'@c,m'``, without or with the ``@``) reaches."""
    from .array import DocumentArray

    out: list[Document] = []
    for path in re.split(r"[,\s]+", selector.lstrip("@").strip()):
        level: list[Document] = list(da._docs)
        for letter, window in _parse_path(path):
            if letter == "r":
                level = level[window] if window else level
                continue
            slot = "_chunks" if letter == "c" else "_matches"
            nxt: list[Document] = []
            for doc in level:
                children = getattr(doc, slot)
                if children:
                    docs = children._docs
                    nxt.extend(docs[window] if window else docs)
            level = nxt
        out.extend(level)
    return DocumentArray._wrap(out)


def flatten(da: DocumentArray) -> DocumentArray:
    """Every document at every level (``da[...]``): each document after its chunks and
    matches, each id once, as docarray 0.21's ``flatten``."""
    from .array import DocumentArray

    out: list[Document] = []
    seen: set[str] = set()
    stack: list[tuple[Document, bool]] = [(d, False) for d in reversed(da._docs)]
    while stack:
        doc, expanded = stack.pop()
        if expanded:
            out.append(doc)
            continue
        if doc._id in seen:
            continue
        seen.add(doc._id)
        stack.append((doc, True))
        children = [*(doc._chunks or ()), *(doc._matches or ())]
        stack.extend((child, False) for child in reversed(children))
    return DocumentArray._wrap(out)


def is_mask(key: Any) -> bool:
    """Whether `key` is a boolean mask (a list or array of bools)."""
    if isinstance(key, np.ndarray):
        return key.dtype == np.bool_
    return (isinstance(key, list) and bool(key)
            and all(isinstance(k, bool | np.bool_) for k in key))


def select_mask(da: DocumentArray, mask: Sequence[bool] | np.ndarray) -> DocumentArray:
    """The documents where `mask` is true; the mask must be as long as the array."""
    from .array import DocumentArray

    flags = np.asarray(mask, dtype=bool)
    if flags.shape != (len(da),):
        raise IndexError(f"boolean mask of shape {flags.shape} for {len(da)} documents")
    docs = da._docs
    return DocumentArray._wrap([docs[i] for i in np.flatnonzero(flags)])


def _dunder_get(doc: Document, field: str) -> Any:
    obj: Any = doc
    for part in field.split("__"):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def _dunder_set(doc: Document, field: str, value: Any) -> None:
    *parents, last = field.split("__")
    obj: Any = doc
    for part in parents:
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    if isinstance(obj, dict):
        obj[last] = value
    else:
        setattr(obj, last, value)


def _fields(fields: str | Sequence[str]) -> tuple[list[str], bool]:
    if isinstance(fields, str):
        return [fields], True
    return list(fields), False


def get_attributes(da: DocumentArray, fields: str | Sequence[str]) -> Any:
    """One field: a list of values (a stacked array for embedding/tensor); several fields: a
    list with one such value per field (docarray's ``get_attributes``)."""
    names, single = _fields(fields)
    values = [da._stack(n) if n in _STACKED else [_dunder_get(d, n) for d in da._docs]
              for n in names]
    return values[0] if single else values


def set_attributes(da: DocumentArray, fields: str | Sequence[str], values: Any) -> None:
    """Set one field from a sequence (one value per document), or several from a sequence of
    such sequences."""
    names, single = _fields(fields)
    columns = [values] if single else list(values)
    if len(columns) != len(names):
        raise ValueError(f"got {len(columns)} value lists for {len(names)} fields")
    for name, column in zip(names, columns, strict=True):
        if name in _STACKED:
            da._unstack(name, column)
            continue
        da._check_len(column, name)
        for doc, value in zip(da._docs, column, strict=True):
            _dunder_set(doc, name, value)
    if "id" in names:
        da._invalidate()
