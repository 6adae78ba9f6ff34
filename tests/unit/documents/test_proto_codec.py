"""The protobuf codec of Document/DocumentArray and ndarrays, with hypothesis round trips."""

from __future__ import annotations

import numpy as np
import pytest
from doc_strategies import NUMERIC_DTYPES, ROUND_TRIP, arrays, documents
from hypothesis import given, settings
from hypothesis import strategies as st

from flowserve.documents.array import DocumentArray
from flowserve.documents.document import Document
from flowserve.documents.ndarray import MAX_SPARSE_DENSE_BYTES, ndarray_from_proto, ndarray_to_proto
from flowserve.documents.proto_codec import document_from_proto, struct_to_dict
from flowserve.errors import BadRequestError
from flowserve.proto import docarray_pb2

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
