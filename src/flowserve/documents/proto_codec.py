"""Document / DocumentArray <-> ``docarray`` protobuf messages (pure functions).

This is the serving hot path, so it reads and writes the Documents' slots directly and touches
only the fields that are set: decoding walks ``ListFields()`` (present fields only) and encoding
skips empty/default fields, so a document carrying just an id and an embedding costs two field
writes and two field reads. Arrays decode to read-only zero-copy views (see ``ndarray``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf.message import DecodeError
from google.protobuf.struct_pb2 import ListValue, Struct

from ..errors import BadRequestError
from ..proto import docarray_pb2
from .array import DocumentArray
from .document import Document, NamedScore, ScoreDict
from .ndarray import ndarray_from_proto, ndarray_to_proto

__all__ = [
    "docarray_from_bytes",
    "docarray_into_proto",
    "docarray_to_proto",
    "document_from_proto",
    "document_into_proto",
    "document_to_proto",
    "struct_to_dict",
]

DocumentProto = docarray_pb2.DocumentProto
DocumentArrayProto = docarray_pb2.DocumentArrayProto

_blank = Document._blank
_wrap = DocumentArray._wrap
_new_scores = ScoreDict.__new__
_set_score = dict.__setitem__


# -- encoding -------------------------------------------------------------------------------


def document_to_proto(doc: Document) -> docarray_pb2.DocumentProto:
    """Encode one Document as a new ``DocumentProto``."""
    pb = DocumentProto()
    document_into_proto(doc, pb)
    return pb


def docarray_to_proto(docs: Iterable[Document]) -> docarray_pb2.DocumentArrayProto:
    """Encode Documents as a new ``DocumentArrayProto``."""
    pb = DocumentArrayProto()
    docarray_into_proto(docs, pb)
    return pb


def docarray_into_proto(docs: Iterable[Document], pb: docarray_pb2.DocumentArrayProto) -> None:
    """Append Documents to ``pb.docs`` (e.g. a request's ``data.docs``) without copies."""
    add = pb.docs.add
    items = docs._docs if isinstance(docs, DocumentArray) else docs
    for doc in items:
        document_into_proto(doc, add())


def document_into_proto(doc: Document, pb: docarray_pb2.DocumentProto) -> None:
    """Write ``doc`` into an empty ``pb``, skipping empty and default fields."""
    if doc._id:
        pb.id = doc._id
    if doc._text is not None:
        pb.text = doc._text
    elif doc._blob is not None:
        pb.blob = doc._blob
    elif doc._tensor is not None:
        ndarray_to_proto(doc._tensor, pb.tensor)
    if doc._embedding is not None:
        ndarray_to_proto(doc._embedding, pb.embedding)
    if doc.granularity:
        pb.granularity = doc.granularity
    if doc.adjacency:
        pb.adjacency = doc.adjacency
    if doc.parent_id:
        pb.parent_id = doc.parent_id
    if doc.weight:
        pb.weight = doc.weight
    if doc.uri:
        pb.uri = doc.uri
    if doc.modality:
        pb.modality = doc.modality
    if doc.mime_type:
        pb.mime_type = doc.mime_type
    if doc.offset:
        pb.offset = doc.offset
    if doc._location:
        pb.location.extend(doc._location)
    if doc._chunks is not None and doc._chunks._docs:
        add = pb.chunks.add
        for chunk in doc._chunks._docs:
            document_into_proto(chunk, add())
    if doc._matches is not None and doc._matches._docs:
        add = pb.matches.add
        for match in doc._matches._docs:
            document_into_proto(match, add())
    if doc._tags:
        pb.tags.update(doc._tags)
    if doc._scores:
        _scores_into_proto(doc._scores, pb.scores)
    if doc._evaluations:
        _scores_into_proto(doc._evaluations, pb.evaluations)
    if doc._metadata:
        pb._metadata.update(doc._metadata)


def _scores_into_proto(scores: dict[str, NamedScore], pb: Any) -> None:
    for name, score in scores.items():
        entry = pb[name]
        if score.value:
            entry.value = score.value
        if score.op_name:
            entry.op_name = score.op_name
        if score.description:
            entry.description = score.description
        if score.ref_id:
            entry.ref_id = score.ref_id


# -- decoding -------------------------------------------------------------------------------


def docarray_from_bytes(data: bytes) -> DocumentArray:
    """Parse a serialized ``DocumentArrayProto``; malformed bytes raise BadRequestError."""
    try:
        pb = DocumentArrayProto.FromString(data)
    except DecodeError as exc:
        raise BadRequestError(f"invalid DocumentArray bytes: {exc}") from None
    return DocumentArray.from_protobuf(pb)  # lazy, like every array read from the wire


def document_from_proto(pb: docarray_pb2.DocumentProto) -> Document:
    """Decode a ``DocumentProto``; malformed arrays raise BadRequestError."""
    doc = _blank()
    for field, value in pb.ListFields():
        number = field.number
        if number == 1:
            doc._id = value
        elif number == 16:
            doc._embedding = ndarray_from_proto(value)
        elif number == 4:
            doc._text = value
        elif number == 2:
            doc._blob = value
        elif number == 3:
            doc._tensor = ndarray_from_proto(value)
        elif number == 17:
            doc._tags = struct_to_dict(value)
        elif number == 15:
            doc._matches = _wrap([document_from_proto(m) for m in value])
        elif number == 14:
            doc._chunks = _wrap([document_from_proto(c) for c in value])
        elif number == 18:
            doc._scores = _scores_from_proto(value)
        elif number == 19:
            doc._evaluations = _scores_from_proto(value)
        elif number == 20:
            doc._metadata = struct_to_dict(value)
        elif number == 13:
            doc._location = list(value)
        else:
            # Plain scalar slots named exactly like their proto fields.
            setattr(doc, field.name, value)
    return doc


def _scores_from_proto(pb: Any) -> ScoreDict:
    scores = _new_scores(ScoreDict)
    for name, s in pb.items():
        _set_score(scores, name, NamedScore(s.value, s.op_name, s.description, s.ref_id))
    return scores


def struct_to_dict(pb: Struct) -> dict[str, Any]:
    """Convert a ``google.protobuf.Struct`` to a dict (numbers come back as float).

    Unlike ``json_format.MessageToDict`` this keeps NaN/inf and is several times faster.
    """
    return {key: _value_to_py(value) for key, value in pb.fields.items()}


def _list_to_py(pb: ListValue) -> list[Any]:
    return [_value_to_py(value) for value in pb.values]


def _value_to_py(pb: Any) -> Any:
    kind = pb.WhichOneof("kind")
    if kind == "string_value":
        return pb.string_value
    if kind == "number_value":
        return pb.number_value
    if kind == "bool_value":
        return pb.bool_value
    if kind == "struct_value":
        return struct_to_dict(pb.struct_value)
    if kind == "list_value":
        return _list_to_py(pb.list_value)
    return None
