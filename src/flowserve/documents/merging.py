"""Merging DocumentArrays by id: fan-in results at the gateway, :meth:`DocumentArray.reduce`."""

from __future__ import annotations

from collections.abc import Sequence

from .array import DocumentArray
from .document import Document

__all__ = ["merge_doc", "reduce_all", "reduce_into"]


def reduce_all(arrays: Sequence[DocumentArray]) -> DocumentArray:
    """Merge fan-in results: ``arrays[1:]`` are reduced into ``arrays[0]``, which is returned.

    ``arrays[0]`` is mutated in place and returned (no copy: the gateway owns the decoded
    arrays). The other arrays are left untouched: documents taken from them are copied
    (:meth:`Document.copy`, arrays shared) before being appended. Returns an empty
    DocumentArray for an empty sequence.
    """
    if not arrays:
        return DocumentArray()
    base = arrays[0]
    for other in arrays[1:]:
        reduce_into(base, other, copy_new=True)
    return base


def merge_doc(dst: Document, src: Document, *, copy_new: bool = False) -> None:
    """Merge ``src`` into ``dst`` in place (Jina's ``Document.update`` + reduce semantics).

    Non-empty content (text, blob, tensor), embedding, non-default scalars and a non-empty
    location of ``src`` replace those of ``dst``; tags, metadata, scores and evaluations are
    dict-updated; matches and chunks are reduced recursively by id. With ``copy_new``,
    documents appended from ``src`` are copies, so ``src`` is never mutated later.
    """
    if src._text:
        dst.text = src._text
    elif src._blob:
        dst.blob = src._blob
    elif src._tensor is not None:
        dst.tensor = src._tensor
    if src._embedding is not None:
        dst._embedding = src._embedding
    if src.uri:
        dst.uri = src.uri
    if src.mime_type:
        dst.mime_type = src.mime_type
    if src.modality:
        dst.modality = src.modality
    if src.parent_id:
        dst.parent_id = src.parent_id
    if src.granularity:
        dst.granularity = src.granularity
    if src.adjacency:
        dst.adjacency = src.adjacency
    if src.weight:
        dst.weight = src.weight
    if src.offset:
        dst.offset = src.offset
    if src._location:
        dst._location = list(src._location)
    if src._tags:
        dst.tags.update(src._tags)
    if src._metadata:
        if dst._metadata is None:
            dst._metadata = {}
        dst._metadata.update(src._metadata)
    if src._scores:
        dst.scores.update(src._scores.copy() if copy_new else src._scores)
    if src._evaluations:
        dst.evaluations.update(src._evaluations.copy() if copy_new else src._evaluations)
    if src._matches:
        reduce_into(dst.matches, src._matches, copy_new=copy_new)
    if src._chunks:
        reduce_into(dst.chunks, src._chunks, copy_new=copy_new)


def reduce_into(base: DocumentArray, other: DocumentArray, *, copy_new: bool) -> None:
    """Reduce `other` into `base` in place (see :meth:`DocumentArray.reduce`)."""
    id_map = base._index_map()
    docs = base._docs
    for doc in list(other._docs):
        index = id_map.get(doc._id)
        if index is None:
            base.append(doc.copy() if copy_new else doc)  # append keeps id_map current
        elif docs[index] is not doc:
            merge_doc(docs[index], doc, copy_new=copy_new)
