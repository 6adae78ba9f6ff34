"""Document / DocumentArray <-> JSON-able dicts (the HTTP gateway's document format).

Keys are the protobuf field names (``id``, ``text``, ``blob``, ``tensor``, ``embedding``,
``uri``, ``mime_type``, ``modality``, ``tags``, ``chunks``, ``matches``, ``scores``,
``evaluations``, ``granularity``, ``adjacency``, ``parent_id``, ``weight``, ``offset``,
``location``, ``_metadata``); empty fields are omitted. ``blob`` is base64. ``tensor`` and
``embedding`` are nested lists of numbers; scores are
``{name: {value, op_name, description, ref_id}}``.

Arrays in JSON carry no dtype: bool lists come back ``bool``, integer lists ``int64`` and
lists with any float ``float64`` (so a float32 embedding returns as float64 with the same
values). Zero-size arrays lose their dtype and, when a leading dimension is 0, their shape. For
an exact array, a client may send the protobuf-JSON form of an NdArray instead of a list,
``{"dense": {"buffer": <base64>, "shape": [...], "dtype": "<f4"}}``. Only bool, integer and
float arrays can be written as JSON.

Parsing is strict: an unknown key or a value of the wrong type raises BadRequestError whose
message starts with where the document was (``data[3]: unknown Document field 'txt'``).
``null`` values are treated as absent; a missing or empty ``id`` gets a fresh uuid. Of the
content fields (``text``, ``blob``, ``tensor``) at most one may be non-empty.
``mimeType``/``parentId`` (and ``opName``/``refId`` in scores) are accepted as aliases.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

import numpy as np
from google.protobuf import json_format

from ..errors import BadRequestError
from ..proto import docarray_pb2
from .array import DocumentArray
from .document import Document, NamedScore, ScoreDict
from .ids import new_id
from .ndarray import ndarray_from_proto

__all__ = [
    "docarray_from_dict_list",
    "docarray_from_json",
    "docarray_to_dict_list",
    "docarray_to_json",
    "document_from_dict",
    "document_to_dict",
]

_JSON_ARRAY_KINDS = frozenset("biuf")
_CONTENT = frozenset(("text", "blob", "tensor"))
_ALIASES = {"mimeType": "mime_type", "parentId": "parent_id"}
_SCORE_ALIASES = {"opName": "op_name", "refId": "ref_id"}


# -- to JSON --------------------------------------------------------------------------------


def docarray_to_dict_list(docs: Iterable[Document]) -> list[dict[str, Any]]:
    """One JSON-able dict per document."""
    return [document_to_dict(doc) for doc in docs]


def docarray_to_json(docs: Iterable[Document]) -> str:
    """A JSON array of documents."""
    return json.dumps(docarray_to_dict_list(docs))


def document_to_dict(doc: Document) -> dict[str, Any]:
    """A JSON-able dict of ``doc``'s non-empty fields (see the module docstring)."""
    out: dict[str, Any] = {}
    if doc._id:
        out["id"] = doc._id
    if doc._text is not None:
        out["text"] = doc._text
    elif doc._blob is not None:
        out["blob"] = base64.b64encode(doc._blob).decode("ascii")
    elif doc._tensor is not None:
        out["tensor"] = _array_to_json(doc._tensor, "tensor")
    if doc._embedding is not None:
        out["embedding"] = _array_to_json(doc._embedding, "embedding")
    for name in ("uri", "mime_type", "modality", "granularity", "adjacency", "parent_id"):
        value = getattr(doc, name)
        if value:
            out[name] = value
    if doc.weight:
        out["weight"] = float(doc.weight)
    if doc.offset:
        out["offset"] = float(doc.offset)
    if doc._location:
        out["location"] = list(doc._location)
    if doc._tags:
        out["tags"] = dict(doc._tags)
    if doc._chunks:
        out["chunks"] = [document_to_dict(c) for c in doc._chunks]
    if doc._matches:
        out["matches"] = [document_to_dict(m) for m in doc._matches]
    if doc._scores:
        out["scores"] = _scores_to_json(doc._scores)
    if doc._evaluations:
        out["evaluations"] = _scores_to_json(doc._evaluations)
    if doc._metadata:
        out["_metadata"] = dict(doc._metadata)
    return out


def _array_to_json(array: np.ndarray, field: str) -> Any:
    if array.dtype.kind not in _JSON_ARRAY_KINDS:
        raise TypeError(f"cannot write a {array.dtype} {field} as JSON (numbers/bools only)")
    return array.tolist()


def _scores_to_json(scores: Mapping[str, NamedScore]) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "value": float(s.value),
            "op_name": s.op_name,
            "description": s.description,
            "ref_id": s.ref_id,
        }
        for name, s in scores.items()
    }


# -- from JSON ------------------------------------------------------------------------------


def docarray_from_json(text: str | bytes) -> DocumentArray:
    """Parse a JSON array of documents; invalid JSON raises BadRequestError."""
    try:
        items = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"invalid JSON: {exc}") from None
    return docarray_from_dict_list(items)


def docarray_from_dict_list(items: Any, *, where: str = "data") -> DocumentArray:
    """Build a DocumentArray from a list of JSON objects; errors are prefixed ``where[i]``."""
    if not isinstance(items, list | tuple):
        raise BadRequestError(f"{where}: expected a list of Documents, got {_kind(items)}")
    return DocumentArray._wrap(
        [document_from_dict(item, where=f"{where}[{i}]") for i, item in enumerate(items)]
    )


def document_from_dict(data: Any, *, where: str = "document") -> Document:
    """Build a Document from a JSON object, validating every key and value type."""
    if not isinstance(data, Mapping):
        raise BadRequestError(f"{where}: a Document must be a JSON object, got {_kind(data)}")
    doc = Document._blank()
    seen: set[str] = set()
    contents: list[tuple[str, Any]] = []
    for key, value in data.items():
        name: str = _ALIASES.get(key) or key
        parse = _PARSERS.get(name)
        if parse is None:
            raise BadRequestError(f"{where}: unknown Document field {key!r}")
        if name in seen:
            raise BadRequestError(f"{where}: Document field {name!r} given twice")
        seen.add(name)
        if value is None:
            continue
        parsed = parse(value, where, key)
        if name in _CONTENT:
            contents.append((name, parsed))
        else:
            setattr(doc, _SLOTS.get(name, name), parsed)
    if contents:
        _set_content(doc, contents, where)
    if not doc._id:
        doc._id = new_id()
    return doc


def _set_content(doc: Document, contents: list[tuple[str, Any]], where: str) -> None:
    # Clients that send every field (e.g. `"text": "hi", "blob": ""`) are fine: only
    # non-empty values compete for the content oneof.
    filled = [(n, v) for n, v in contents if (v.size if isinstance(v, np.ndarray) else v)]
    if len(filled) > 1:
        raise BadRequestError(
            f"{where}: a Document takes only one of text, blob and tensor "
            f"(got {filled[0][0]!r} and {filled[1][0]!r})"
        )
    name, value = (filled or contents)[0]
    setattr(doc, _SLOTS[name], value)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _fail(where: str, key: str, expected: str, value: Any) -> BadRequestError:
    return BadRequestError(
        f"{where}: Document field {key!r} must be {expected}, got {_kind(value)}"
    )


def _str(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, key, "a string", value)
    return value


def _uint32(value: Any, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise _fail(where, key, "a non-negative integer below 2**32", value)
    return value


def _number(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, key, "a number", value)
    return float(value)


def _blob(value: Any, where: str, key: str) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str):
        raise _fail(where, key, "a base64 string", value)
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise BadRequestError(f"{where}: Document field {key!r} is not valid base64") from None


def _array(value: Any, where: str, key: str) -> np.ndarray:
    if isinstance(value, Mapping):
        try:
            pb = json_format.ParseDict(cast(dict[str, Any], value), docarray_pb2.NdArray())
        except json_format.ParseError as exc:
            raise BadRequestError(f"{where}: Document field {key!r}: {exc}") from None
        try:
            array = ndarray_from_proto(pb)
        except BadRequestError as exc:
            raise BadRequestError(f"{where}: Document field {key!r}: {exc}") from None
        if array is None:
            raise _fail(where, key, "a list of numbers or an NdArray", value)
        return array
    if isinstance(value, bool | int | float):
        return np.asarray(value)
    if not isinstance(value, list | tuple):
        raise _fail(where, key, "a list of numbers", value)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise BadRequestError(
            f"{where}: Document field {key!r} must be a rectangular list of numbers"
        ) from None
    if array.dtype.kind not in _JSON_ARRAY_KINDS:
        raise _fail(where, key, "a list of numbers", value)
    return array


def _object(value: Any, where: str, key: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, key, "a JSON object", value)
    return dict(value)


def _location(value: Any, where: str, key: str) -> list[float]:
    if not isinstance(value, list | tuple):
        raise _fail(where, key, "a list of numbers", value)
    return [_number(v, where, key) for v in value]


def _docs(value: Any, where: str, key: str) -> DocumentArray:
    return docarray_from_dict_list(value, where=f"{where}.{key}")


def _scores(value: Any, where: str, key: str) -> ScoreDict:
    if not isinstance(value, Mapping):
        raise _fail(where, key, "a JSON object of scores", value)
    scores = ScoreDict()
    for name, score in value.items():
        at = f"{where}: {key}[{name!r}]"
        if isinstance(score, Mapping):
            fields: dict[str, Any] = {}
            for k, v in score.items():
                field = _SCORE_ALIASES.get(k, k)
                if field not in ("value", "op_name", "description", "ref_id"):
                    raise BadRequestError(f"{at}: unknown NamedScore field {k!r}")
                if v is None:
                    continue
                if field == "value":
                    if isinstance(v, bool) or not isinstance(v, int | float):
                        raise BadRequestError(f"{at}: 'value' must be a number, got {_kind(v)}")
                    v = float(v)
                elif not isinstance(v, str):
                    raise BadRequestError(f"{at}: {k!r} must be a string, got {_kind(v)}")
                fields[field] = v
            scores[name] = NamedScore(**fields)
        elif isinstance(score, int | float) and not isinstance(score, bool):
            scores[name] = NamedScore(value=float(score))
        else:
            raise BadRequestError(f"{at}: a score must be a number or an object")
    return scores


_PARSERS: dict[str, Callable[[Any, str, str], Any]] = {
    "id": _str,
    "text": _str,
    "blob": _blob,
    "tensor": _array,
    "embedding": _array,
    "uri": _str,
    "mime_type": _str,
    "modality": _str,
    "parent_id": _str,
    "granularity": _uint32,
    "adjacency": _uint32,
    "weight": _number,
    "offset": _number,
    "location": _location,
    "tags": _object,
    "_metadata": _object,
    "chunks": _docs,
    "matches": _docs,
    "scores": _scores,
    "evaluations": _scores,
}

# Document slots whose names differ from the JSON keys.
_SLOTS = {
    "id": "_id",
    "text": "_text",
    "blob": "_blob",
    "tensor": "_tensor",
    "embedding": "_embedding",
    "location": "_location",
    "tags": "_tags",
    "chunks": "_chunks",
    "matches": "_matches",
    "scores": "_scores",
    "evaluations": "_evaluations",
}
