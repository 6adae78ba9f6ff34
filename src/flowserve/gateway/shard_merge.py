"""Merging the replies of every shard of a deployment (polling ALL)."""

from __future__ import annotations

from collections.abc import Sequence

from ..documents.array import DocumentArray
from ..documents.document import Document
from ..proto import jina_pb2
from ..wire.request import DataRequest
from .merge import merge_parameters

__all__ = ["merge_shard_replies"]


def _score(doc: Document, name: str) -> float:
    score = doc.scores.get(name)
    return score.value if score is not None else float("-inf")


def merge_shard_replies(
    replies: Sequence[jina_pb2.DataRequestProto],
) -> jina_pb2.DataRequestProto:
    """Docs concatenated by id (a doc several shards return once, its matches united); matches
    sorted by their first score, highest first, when they have scores. An error reply from any
    shard is the result."""
    requests = [DataRequest(r) for r in replies]
    for r in requests:
        if r.is_error:
            return r.proto
    merged = DocumentArray()
    for r in requests:
        for doc in r.docs:
            if doc.id not in merged:
                merged.append(doc)
                continue
            target = merged[doc.id]
            for match in doc.matches:
                if match.id not in target.matches:
                    target.matches.append(match)
    for doc in merged:
        matches = doc.matches
        if len(matches) > 1 and len(matches[0].scores):
            name = next(iter(matches[0].scores))
            doc.matches = DocumentArray(sorted(matches, key=lambda m: _score(m, name),
                                               reverse=True))
    out = DataRequest()
    out.header.CopyFrom(requests[0].header)
    out.docs = merged
    params = merge_parameters([r.parameters for r in requests])
    if params:
        out.parameters = params
    return out.proto
