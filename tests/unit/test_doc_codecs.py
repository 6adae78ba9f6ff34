"""Protobuf and JSON codecs of Document/DocumentArray, with hypothesis round trips."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from flowserve.documents.array import DocumentArray
from flowserve.documents.document import Document, NamedScore
from flowserve.documents.json_codec import document_from_dict
from flowserve.documents.ndarray import MAX_SPARSE_DENSE_BYTES, ndarray_from_proto, ndarray_to_proto
from flowserve.documents.proto_codec import document_from_proto, struct_to_dict
from flowserve.errors import BadRequestError
from flowserve.wire.proto import docarray_pb2

NUMERIC_DTYPES = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
]  # fmt: skip
# uint64 is left out of JSON: values past int64 have no dtype-free JSON spelling.
JSON_DTYPES = [d for d in NUMERIC_DTYPES if d != "uint64"]

# Protobuf `float` fields (weight, offset, location, score values) hold float32 values.
float32s = st.floats(width=32, allow_nan=False, allow_infinity=False)
names = st.text(max_size=8)
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)  # Struct numbers are float64: exact up to 2**53
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(names, json_values, max_size=4)


def arrays(dtypes: list[str], min_side: int = 0) -> st.SearchStrategy[np.ndarray]:
    def for_dtype(name: str) -> st.SearchStrategy[np.ndarray]:
        dtype = np.dtype(name)
        extra: dict[str, Any] = {}
        if dtype.kind == "f":
            extra = {"allow_nan": False, "allow_infinity": False}
        shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=min_side, max_side=4)
        return hnp.arrays(dtype, shapes, elements=hnp.from_dtype(dtype, **extra))

    return st.sampled_from(dtypes).flatmap(for_dtype)


scores = st.dictionaries(
    names,
    st.builds(NamedScore, value=float32s, op_name=names, description=names, ref_id=names),
    max_size=2,
)


def documents(array_strategy: st.SearchStrategy[np.ndarray], depth: int = 2) -> Any:
    children = (
        st.just([]) if depth == 0 else st.lists(documents(array_strategy, depth - 1), max_size=2)
    )
    content = st.one_of(
        st.just({}),
        st.builds(lambda t: {"text": t}, st.text(max_size=20)),
        st.builds(lambda b: {"blob": b}, st.binary(max_size=20)),
        st.builds(lambda a: {"tensor": a}, array_strategy),
    )

    def build(
        fields: dict[str, Any], content: dict[str, Any], metadata: dict[str, Any]
    ) -> Document:
        doc = Document(**fields, **content)
        doc._metadata = metadata or None
        return doc

    fields = st.fixed_dictionaries(
        {"id": st.text(min_size=1, max_size=12)},
        optional={
            "embedding": array_strategy,
            "uri": st.text(max_size=10),
            "mime_type": st.text(max_size=10),
            "modality": st.text(max_size=5),
            "parent_id": st.text(max_size=5),
            "tags": json_objects,
            "chunks": children,
            "matches": children,
            "scores": scores,
            "evaluations": scores,
            "granularity": st.integers(0, 2**32 - 1),
            "adjacency": st.integers(0, 2**32 - 1),
            "weight": float32s,
            "offset": float32s,
            "location": st.lists(float32s, max_size=3),
        },
    )
    return st.builds(build, fields, content, json_objects)


ROUND_TRIP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- protobuf -------------------------------------------------------------------------------


@ROUND_TRIP
@given(documents(arrays(NUMERIC_DTYPES)))
def test_protobuf_round_trip_through_bytes(doc: Document) -> None:
    data = doc.to_protobuf().SerializeToString()
    back = Document.from_protobuf(docarray_pb2.DocumentProto.FromString(data))
    assert back == doc


@ROUND_TRIP
@given(st.lists(documents(arrays(NUMERIC_DTYPES), depth=1), max_size=4))
def test_docarray_protobuf_round_trip(docs: list[Document]) -> None:
    da = DocumentArray(docs)
    assert DocumentArray.from_bytes(da.to_bytes()) == da


@settings(max_examples=200, deadline=None)
@given(arrays(NUMERIC_DTYPES + ["complex64", ">f4", ">i8"]))
def test_ndarray_round_trip_keeps_dtype_shape_and_values(array: np.ndarray) -> None:
    pb = docarray_pb2.NdArray()
    ndarray_to_proto(array, pb)
    assert pb.cls_name == "numpy" and pb.dense.dtype == array.dtype.str
    assert list(pb.dense.shape) == list(array.shape)
    back = ndarray_from_proto(docarray_pb2.NdArray.FromString(pb.SerializeToString()))
    assert back is not None
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_dense_decode_is_a_read_only_zero_copy_view() -> None:
    pb = docarray_pb2.NdArray()
    ndarray_to_proto(np.arange(6, dtype=np.float32).reshape(2, 3), pb)
    back = ndarray_from_proto(pb)
    assert back is not None and not back.flags.writeable
    assert isinstance(back.base, bytes) or isinstance(back.base.base, bytes)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="read-only"):
        back[0, 0] = 1


def test_non_contiguous_arrays_are_encoded_in_c_order() -> None:
    base = np.arange(24, dtype=np.int16).reshape(4, 6)
    for view in (base.T, base[::2, 1::2], np.asfortranarray(base)):
        pb = docarray_pb2.NdArray()
        ndarray_to_proto(view, pb)
        assert pb.dense.buffer == np.ascontiguousarray(view).tobytes()
        np.testing.assert_array_equal(ndarray_from_proto(pb), view)


def test_object_arrays_cannot_be_encoded() -> None:
    with pytest.raises(TypeError, match="object"):
        ndarray_to_proto(np.array([{}, 1], dtype=object), docarray_pb2.NdArray())


def dense_pb(buffer: bytes, shape: list[int], dtype: str) -> docarray_pb2.NdArray:
    return docarray_pb2.NdArray(
        dense=docarray_pb2.DenseNdArray(buffer=buffer, shape=shape, dtype=dtype)
    )


@pytest.mark.parametrize(
    ("buffer", "shape", "dtype", "message"),
    [
        (b"\0" * 8, [3], "<f4", "8 bytes"),
        (b"\0" * 7, [2], "<f4", "7 bytes"),
        (b"\0" * 8, [2], "not-a-dtype", "invalid NdArray dtype"),
        (b"\0" * 8, [1], "|O", "unsupported"),
        (b"\0" * 8, [1], "|V8", "unsupported"),
        (b"", [], "<f4", "0 bytes"),
    ],
)
def test_malformed_dense_arrays_raise_bad_request(
    buffer: bytes, shape: list[int], dtype: str, message: str
) -> None:
    with pytest.raises(BadRequestError, match=message):
        ndarray_from_proto(dense_pb(buffer, shape, dtype))


def test_empty_ndarray_message_decodes_to_none() -> None:
    assert ndarray_from_proto(docarray_pb2.NdArray(cls_name="numpy")) is None


def sparse_pb(indices: np.ndarray, values: np.ndarray, shape: list[int]) -> docarray_pb2.NdArray:
    def dense(a: np.ndarray) -> docarray_pb2.DenseNdArray:
        return docarray_pb2.DenseNdArray(buffer=a.tobytes(), shape=list(a.shape), dtype=a.dtype.str)

    return docarray_pb2.NdArray(
        sparse=docarray_pb2.SparseNdArray(
            indices=dense(indices), values=dense(values), shape=shape
        ),
        cls_name="scipy",
    )


def test_sparse_arrays_decode_to_dense_in_both_index_layouts() -> None:
    expected = np.zeros((3, 4), dtype=np.float32)
    expected[0, 1], expected[2, 3], expected[1, 0] = 1.5, -2.0, 4.0
    rows, cols = np.nonzero(expected)
    values = expected[rows, cols]
    v1_layout = np.stack([rows, cols], axis=1)  # (nnz, ndim), as docarray v1 wrote it
    for indices in (v1_layout, v1_layout.T.copy()):
        out = ndarray_from_proto(sparse_pb(indices, values, [3, 4]))
        assert out is not None and out.dtype == np.float32 and out.flags.writeable
        np.testing.assert_array_equal(out, expected)


def test_sparse_decode_sums_duplicates_and_accepts_1d_indices() -> None:
    out = ndarray_from_proto(sparse_pb(np.array([1, 1, 3]), np.array([1, 2, 5]), [4]))
    np.testing.assert_array_equal(out, np.array([0, 3, 0, 5]))


@pytest.mark.parametrize(
    ("indices", "values", "shape", "message"),
    [
        (np.array([[0, 4]]), np.array([1.0]), [2, 4], "out of bounds"),
        (np.array([[0, -1]]), np.array([1.0]), [2, 4], "out of bounds"),
        (np.array([[0, 1, 2]]), np.array([1.0]), [2, 4], "do not match"),
        (np.array([[0.0, 1.0]]), np.array([1.0]), [2, 4], "integers"),
        (np.array([[0, 0]]), np.array([1.0]), [], "empty shape"),
        (np.array([[0, 0]]), np.array([1.0]), [2**31, 2**31], "too large"),
    ],
)
def test_malformed_sparse_arrays_raise_bad_request(
    indices: np.ndarray, values: np.ndarray, shape: list[int], message: str
) -> None:
    assert MAX_SPARSE_DENSE_BYTES < 2**62
    with pytest.raises(BadRequestError, match=message):
        ndarray_from_proto(sparse_pb(indices, values, shape))


def test_sparse_document_fields_decode_dense() -> None:
    pb = docarray_pb2.DocumentProto(id="s")
    pb.embedding.CopyFrom(sparse_pb(np.array([[2]]), np.array([7.0]), [3]))
    doc = Document.from_protobuf(pb)
    np.testing.assert_array_equal(doc.embedding, [0.0, 0.0, 7.0])
    assert doc.to_protobuf().embedding.WhichOneof("content") == "dense"


def test_empty_fields_are_not_encoded() -> None:
    doc = Document(id="only")
    _ = (doc.tags, doc.scores, doc.chunks, doc.matches, doc.location)  # empty containers
    pb = doc.to_protobuf()
    assert [f.name for f, _ in pb.ListFields()] == ["id"]
    assert not pb.HasField("tags") and not pb.HasField("_metadata")


def test_empty_text_is_kept_in_the_content_oneof() -> None:
    back = Document.from_protobuf(Document(id="x", text="").to_protobuf())
    assert back.text == "" and back.content == ""


def test_tags_decode_with_numbers_as_floats_and_non_finite_values() -> None:
    doc = Document(id="t", tags={"n": 3, "l": [1, "a", None, True, {"f": float("inf")}]})
    back = Document.from_protobuf(doc.to_protobuf())
    assert back.tags == {"n": 3.0, "l": [1.0, "a", None, True, {"f": float("inf")}]}
    assert type(back.tags["n"]) is float
    assert struct_to_dict(doc.to_protobuf().tags) == back.tags


def test_from_bytes_rejects_garbage() -> None:
    with pytest.raises(BadRequestError, match="invalid DocumentArray bytes"):
        DocumentArray.from_bytes(b"\xff\xff\xff")


def test_proto_decoding_error_in_nested_match_is_bad_request() -> None:
    pb = docarray_pb2.DocumentProto(id="q")
    match = pb.matches.add(id="m")
    match.embedding.CopyFrom(dense_pb(b"\0" * 3, [1], "<f4"))
    with pytest.raises(BadRequestError, match="3 bytes"):
        document_from_proto(pb)


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
