"""Nearest-neighbour matching between embeddings, vectorised (docarray v1's ``match``/``find``).

Distances are computed for a whole block of queries with one matrix product and the ``limit``
nearest are picked with ``np.argpartition``; no Python loop runs over the candidates. As in
docarray 0.21, ``cosine``, ``euclidean`` and ``sqeuclidean`` are distances (smaller is nearer)
and each match gets ``scores[metric_name].value`` = its distance. ``dot`` (not in docarray
0.21) is a similarity: the score is the inner product and larger is nearer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .document import NamedScore

if TYPE_CHECKING:
    from .array import DocumentArray

__all__ = ["METRICS", "distances", "find", "match"]

_EPS = 1e-12


def _cosine(q: np.ndarray, c: np.ndarray) -> np.ndarray:
    qn = np.linalg.norm(q, axis=1, keepdims=True)
    cn = np.linalg.norm(c, axis=1)
    sim = (q @ c.T) / np.maximum(qn * cn, _EPS)
    return 1.0 - np.clip(sim, -1.0, 1.0)


def _sqeuclidean(q: np.ndarray, c: np.ndarray) -> np.ndarray:
    q2 = np.einsum("ij,ij->i", q, q)[:, None]
    c2 = np.einsum("ij,ij->i", c, c)[None, :]
    return np.maximum(q2 - 2.0 * (q @ c.T) + c2, 0.0)


def _euclidean(q: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.sqrt(_sqeuclidean(q, c))


def _dot(q: np.ndarray, c: np.ndarray) -> np.ndarray:
    return q @ c.T


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "cosine": _cosine, "euclidean": _euclidean, "sqeuclidean": _sqeuclidean, "dot": _dot,
}
_SIMILARITIES = frozenset(("dot",))


def distances(queries: np.ndarray, candidates: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """The ``len(queries) x len(candidates)`` matrix of `metric` (one matrix product)."""
    try:
        fn = METRICS[metric]
    except KeyError:
        raise ValueError(f"unknown metric {metric!r}; use one of {sorted(METRICS)}") from None
    return fn(_as_matrix(queries, "query"), _as_matrix(candidates, "candidate"))


def _as_matrix(value: Any, what: str) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"{what} embeddings must be 1-d or 2-d, got shape {array.shape}")
    if array.dtype.kind not in "fiub":
        raise ValueError(f"{what} embeddings must be numeric, got dtype {array.dtype}")
    return array if array.dtype.kind == "f" else array.astype(np.float64)


def _top(scores: np.ndarray, k: int, larger_first: bool) -> np.ndarray:
    """Indices of the `k` best entries of each row, best first."""
    keyed = -scores if larger_first else scores
    k = min(k, keyed.shape[1])
    if k <= 0:
        return np.empty((keyed.shape[0], 0), dtype=np.intp)
    if k < keyed.shape[1]:
        part = np.argpartition(keyed, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(keyed.shape[1]), keyed.shape)
    order = np.argsort(np.take_along_axis(keyed, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _embeddings(da: DocumentArray, what: str) -> np.ndarray:
    emb = da.embeddings
    if emb is None:
        raise ValueError(f"the {what} documents have no embeddings")
    return emb.reshape(len(da), -1)


def _ranked(
    queries: np.ndarray, candidates: DocumentArray, metric: str, limit: int | None,
    query_ids: list[str] | None, exclude_self: bool, batch_size: int | None,
) -> list[list[tuple[int, float]]]:
    """For each query, (candidate position, score) pairs, best first."""
    cand = _embeddings(candidates, "candidate")
    k = len(candidates) if limit is None else int(limit)
    extra = 1 if exclude_self else 0
    larger = metric in _SIMILARITIES
    step = batch_size or max(len(queries), 1)
    cand_ids = candidates.ids if exclude_self else []
    out: list[list[tuple[int, float]]] = []
    for start in range(0, len(queries), step):
        block = distances(queries[start:start + step], cand, metric)
        top = _top(block, k + extra, larger)
        values = np.take_along_axis(block, top, axis=1)
        for row, (idx, val) in enumerate(zip(top.tolist(), values.tolist(), strict=True)):
            pairs = list(zip(idx, val, strict=True))
            if exclude_self and query_ids is not None:
                qid = query_ids[start + row]
                pairs = [p for p in pairs if cand_ids[p[0]] != qid]
            out.append(pairs[:k])
    return out


def _scored(candidates: DocumentArray, pairs: list[tuple[int, float]],
            metric_name: str) -> DocumentArray:
    from .array import DocumentArray

    docs = candidates._docs
    found = []
    for i, value in pairs:
        doc = docs[i].copy()
        doc.scores[metric_name] = NamedScore(value=float(value))
        found.append(doc)
    return DocumentArray._wrap(found)


def match(
    queries: DocumentArray, candidates: DocumentArray, *, metric: str = "cosine",
    limit: int | None = 20, metric_name: str | None = None, exclude_self: bool = False,
    batch_size: int | None = None,
) -> None:
    """Set each query's ``matches`` to the `limit` nearest candidates (copies), scored under
    ``scores[metric_name or metric]``. `batch_size` bounds how many queries share one matrix
    product (memory: ``batch_size x len(candidates)`` distances)."""
    if len(queries) == 0:
        return
    name = metric_name or metric
    ranked = _ranked(_embeddings(queries, "query"), candidates, metric, limit, queries.ids,
                     exclude_self, batch_size)
    for doc, pairs in zip(queries._docs, ranked, strict=True):
        doc.matches = _scored(candidates, pairs, name)


def find(
    candidates: DocumentArray, query: Any, *, metric: str = "cosine", limit: int | None = 20,
    metric_name: str | None = None, exclude_self: bool = False,
) -> DocumentArray | list[DocumentArray]:
    """The nearest documents of `candidates` to `query`, as docarray 0.21 returns them: a
    DocumentArray for a 1-d array; a list of DocumentArrays, one per query, for a Document (a
    list of one), a DocumentArray or a 2-d array. The candidates are not changed."""
    from .array import DocumentArray
    from .document import Document

    ids: list[str] | None = None
    single = False
    if isinstance(query, Document):
        if query.embedding is None:
            raise ValueError("the query Document has no embedding")
        vectors, ids = query.embedding, [query.id]
    elif isinstance(query, DocumentArray):
        vectors, ids = _embeddings(query, "query"), query.ids
    else:
        vectors = np.asarray(query)
        single = vectors.ndim == 1
    q = _as_matrix(vectors, "query")
    ranked = _ranked(q, candidates, metric, limit, ids, exclude_self, None)
    results = [_scored(candidates, pairs, metric_name or metric) for pairs in ranked]
    return results[0] if single else results
