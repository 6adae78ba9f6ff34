"""The JSON codec of Document/DocumentArray, with hypothesis round trips."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from doc_strategies import JSON_DTYPES, ROUND_TRIP, arrays, documents
from hypothesis import given

from flowserve.documents.array import DocumentArray
from flowserve.documents.document import Document, NamedScore
from flowserve.documents.json_codec import document_from_dict
from flowserve.errors import BadRequestError

# -- JSON -----------------------------------------------------------------------------------


def json_expected(doc: Document) -> Document:
    """What a JSON round trip of ``doc`` gives back: arrays lose their dtype, so bool lists
    return as bool, integer lists as int64 and float lists as float64."""
    out = doc.copy()
    for name in ("_tensor", "_embedding"):
        array = getattr(out, name)
        if array is not None:
            kind = (
                "bool"
                if array.dtype.kind == "b"
                else "int64"
                if array.dtype.kind in "iu"
                else "float64"
            )
            setattr(out, name, array.astype(kind))
    for container in (out._chunks, out._matches):
        for i, child in enumerate(container or ()):
            container._docs[i] = json_expected(child)  # type: ignore[union-attr]
    return out


@ROUND_TRIP
@given(documents(arrays(JSON_DTYPES, min_side=1)))
def test_json_round_trip_through_json_text(doc: Document) -> None:
    data = json.loads(json.dumps(doc.to_dict()))
    assert Document.from_dict(data) == json_expected(doc)


def test_to_dict_uses_proto_field_names_and_omits_empty_fields() -> None:
    doc = Document(
        id="x",
        blob=b"\x00\xff",
        embedding=np.array([[1, 2]], dtype=np.int8),
        mime_type="image/png",
        scores={"s": NamedScore(value=0.5, op_name="op")},
    )
    _ = doc.tags
    assert doc.to_dict() == {
        "id": "x",
        "blob": base64.b64encode(b"\x00\xff").decode(),
        "embedding": [[1, 2]],
        "mime_type": "image/png",
        "scores": {"s": {"value": 0.5, "op_name": "op", "description": "", "ref_id": ""}},
    }


def test_json_dtypes_and_zero_size_arrays() -> None:
    doc = Document(id="x", tensor=np.zeros((0, 3), np.float32), embedding=np.ones(2, np.float32))
    back = Document.from_dict(json.loads(json.dumps(doc.to_dict())))
    assert back.embedding is not None and back.embedding.dtype == np.float64
    assert back.tensor is not None and back.tensor.shape == (0,)  # leading 0 loses the shape
    scalar = Document.from_dict({"tensor": 2.5})
    assert scalar.tensor is not None and scalar.tensor.shape == ()


def test_from_dict_accepts_aliases_nulls_and_exact_ndarray_json() -> None:
    exact = {
        "dense": {
            "buffer": base64.b64encode(np.arange(3, dtype="<f4").tobytes()).decode(),
            "shape": [3],
            "dtype": "<f4",
        },
        "clsName": "numpy",
    }
    doc = Document.from_dict(
        {
            "mimeType": "text/plain",
            "parentId": "p",
            "text": None,
            "embedding": exact,
            "scores": {"s": {"value": 1, "opName": "o", "refId": "r"}, "t": 2},
        }
    )
    assert doc.mime_type == "text/plain" and doc.parent_id == "p" and doc.text is None
    assert doc.embedding is not None and doc.embedding.dtype == np.float32
    assert doc.scores == {"s": NamedScore(1.0, "o", "", "r"), "t": NamedScore(value=2.0)}
    assert len(doc.id) == 32  # missing id -> fresh uuid


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"txt": "x"}, r"^data\[1\]: unknown Document field 'txt'$"),
        ({"text": 3}, r"^data\[1\]: Document field 'text' must be a string, got int$"),
        ({"embedding": "abc"}, r"'embedding' must be a list of numbers, got str"),
        ({"embedding": ["a", "b"]}, r"'embedding' must be a list of numbers"),
        ({"embedding": [[1, 2], [3]]}, r"'embedding' must be a rectangular list"),
        ({"embedding": {"dense": {"buffer": 1}}}, r"data\[1\]: Document field 'embedding'"),
        ({"blob": "***"}, r"'blob' is not valid base64"),
        ({"granularity": -1}, r"'granularity' must be a non-negative integer"),
        ({"granularity": True}, r"'granularity'"),
        ({"weight": "1"}, r"'weight' must be a number, got str"),
        ({"tags": [1]}, r"'tags' must be a JSON object, got list"),
        ({"location": [1, "a"]}, r"'location' must be a number"),
        ({"text": "a", "blob": "AA=="}, r"only one of text, blob and tensor"),
        ({"tensor": [1], "blob": "AA=="}, r"got 'tensor' and 'blob'"),
        ({"mime_type": "a", "mimeType": "b"}, r"'mime_type' given twice"),
        (
            {"scores": {"s": {"val": 1}}},
            r"data\[1\]: scores\['s'\]: unknown NamedScore field 'val'",
        ),
        ({"scores": {"s": "high"}}, r"scores\['s'\]: a score must be a number"),
        ({"scores": {"s": {"op_name": 1}}}, r"'op_name' must be a string"),
        ({"chunks": [{}, {"bad": 1}]}, r"^data\[1\]\.chunks\[1\]: unknown Document field 'bad'$"),
        ({"matches": {"id": "x"}}, r"^data\[1\]\.matches: expected a list of Documents"),
        ("text", r"^data\[1\]: a Document must be a JSON object, got str$"),
    ],
)
def test_bad_json_documents_name_position_and_key(doc: Any, message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        DocumentArray.from_dict_list([{"text": "fine"}, doc])


def test_from_dict_ignores_empty_competing_content_fields() -> None:
    doc = Document.from_dict({"text": "", "blob": "AAE=", "tensor": []})
    assert doc.blob == b"\x00\x01" and doc.text is None and doc.tensor is None
    doc = Document.from_dict({"text": "", "blob": ""})
    assert doc.text == "" and doc.blob is None


def test_from_dict_default_prefix_and_custom_prefix() -> None:
    with pytest.raises(BadRequestError, match=r"^document: unknown Document field 'x'$"):
        document_from_dict({"x": 1})
    with pytest.raises(BadRequestError, match=r"^data\.docs\[0\]: "):
        DocumentArray.from_dict_list([{"x": 1}], where="data.docs")


def test_non_numeric_arrays_cannot_be_written_as_json() -> None:
    with pytest.raises(TypeError, match="complex"):
        Document(tensor=np.ones(2, np.complex64)).to_dict()
