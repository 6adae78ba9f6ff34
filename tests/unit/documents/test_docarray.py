"""DocumentArray behaviour: indexing, id lookup, columnar accessors, reduce."""

from __future__ import annotations

import numpy as np
import pytest

from flowserve.documents.array import DocumentArray
from flowserve.documents.document import Document, NamedScore
from flowserve.documents.merging import reduce_all
from flowserve.errors import BadRequestError


def make(n: int, prefix: str = "d") -> DocumentArray:
    return DocumentArray(Document(id=f"{prefix}{i}", text=f"t{i}") for i in range(n))


# -- construction and indexing --------------------------------------------------------------


def test_construction_from_none_document_iterable_and_array() -> None:
    doc = Document()
    assert len(DocumentArray()) == 0
    assert list(DocumentArray(doc)) == [doc]
    da = DocumentArray(iter([doc, Document()]))
    copy = DocumentArray(da)
    copy.append(Document())
    assert len(da) == 2 and len(copy) == 3
    with pytest.raises(TypeError, match="Documents"):
        DocumentArray([doc, "x"])  # type: ignore[list-item]


def test_getitem_by_int_slice_id_and_lists() -> None:
    da = make(5)
    assert da[0].id == "d0" and da[-1].id == "d4" and da[np.int64(2)].id == "d2"
    sub = da[1:4]
    assert isinstance(sub, DocumentArray) and sub.ids == ["d1", "d2", "d3"]
    assert sub[0] is da[1]  # slices share the documents
    assert da["d3"] is da[3]
    assert da[[4, 0]].ids == ["d4", "d0"]
    assert da[["d2", "d1"]].ids == ["d2", "d1"]
    with pytest.raises(KeyError, match="nope"):
        da["nope"]
    with pytest.raises(IndexError):
        da[5]


def test_contains_by_id_and_by_document() -> None:
    da = make(3)
    assert "d1" in da and "d9" not in da
    assert da[2] in da
    assert Document(id="d0") in da  # membership is by id
    assert Document() not in da
    assert 3 not in da


def test_duplicate_ids_resolve_to_the_first() -> None:
    first, second = Document(id="same", text="1"), Document(id="same", text="2")
    da = DocumentArray([first, second])
    assert da["same"] is first


def test_id_map_follows_insert_delete_and_setitem() -> None:
    da = make(3)
    assert da["d2"].text == "t2"  # builds the map
    da.insert(0, Document(id="new"))
    assert da["d2"] is da[3] and da["new"] is da[0]
    del da[0]
    assert da["d2"] is da[2] and "new" not in da
    da[1] = Document(id="replaced")
    assert "d1" not in da and da["replaced"] is da[1]
    da.append(Document(id="tail"))
    assert da["tail"] is da[3]
    da.extend([Document(id="x"), Document(id="y")])
    assert da["y"] is da[5]
    da.clear()
    assert "d0" not in da and len(da) == 0


def test_id_map_follows_renamed_documents() -> None:
    da = make(3)
    assert "d1" in da
    da[1].id = "renamed"
    assert "d1" not in da
    assert da["renamed"] is da[1]


def test_setitem_and_delitem_with_slices_and_ids() -> None:
    da = make(5)
    da[1:3] = [Document(id="a")]
    assert da.ids == ["d0", "a", "d3", "d4"]
    assert da["d4"] is da[3]
    del da[::2]
    assert da.ids == ["a", "d4"]
    del da["a"]
    assert da.ids == ["d4"]
    da["d4"] = Document(id="z")
    assert da.ids == ["z"]
    with pytest.raises(TypeError):
        da[0] = "not a doc"  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        da[0:1] = ["not a doc"]  # type: ignore[list-item]


def test_equality_and_repr() -> None:
    assert make(3) == make(3)
    assert make(3) != make(2)
    assert make(1) != [Document(id="d0", text="t0")]
    assert repr(make(3)) == "<DocumentArray (length=3)>"


# -- columnar accessors ---------------------------------------------------------------------


def test_embeddings_setter_makes_row_views_and_getter_stacks() -> None:
    da = make(3)
    assert da.embeddings is None
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    da.embeddings = matrix
    for i, doc in enumerate(da):
        assert doc.embedding is not None and np.shares_memory(doc.embedding, matrix)
        np.testing.assert_array_equal(doc.embedding, matrix[i])
    matrix[1, 0] = -1  # views see changes to the matrix
    assert da[1].embedding[0] == -1  # type: ignore[index]
    stacked = da.embeddings
    assert stacked is not None and stacked.dtype == np.float32
    np.testing.assert_array_equal(stacked, matrix)
    da.embeddings = None
    assert all(d.embedding is None for d in da) and da.embeddings is None


def test_embeddings_setter_requires_one_row_per_document() -> None:
    da = make(3)
    with pytest.raises(ValueError, match=r"2 values for 3 documents"):
        da.embeddings = np.zeros((2, 4))
    with pytest.raises(ValueError, match="0-d"):
        da.embeddings = np.float32(1.0)


def test_embeddings_getter_names_the_first_document_without_one() -> None:
    da = make(3)
    da[0].embedding = np.zeros(2)
    da[2].embedding = np.zeros(2)
    with pytest.raises(ValueError, match=r"'d1'"):
        _ = da.embeddings


def test_tensors_accessor_sets_content() -> None:
    da = make(2)
    da.tensors = [[1, 2], [3, 4]]
    assert da.texts == [None, None]
    tensors = da.tensors
    assert tensors is not None and tensors.shape == (2, 2)
    assert make(0).tensors is None


def test_texts_and_ids_accessors() -> None:
    da = make(3)
    assert da.texts == ["t0", "t1", "t2"]
    da.texts = ["a", None, "c"]
    assert da.texts == ["a", None, "c"]
    with pytest.raises(ValueError, match="2 values for 3"):
        da.texts = ["x", "y"]
    da.ids = ["x", "y", "z"]
    assert da.ids == ["x", "y", "z"] and da["y"] is da[1]


# -- reduce ---------------------------------------------------------------------------------


def test_reduce_merges_overlapping_ids_and_appends_new_ones() -> None:
    base = DocumentArray(
        [
            Document(id="a", text="old", tags={"x": 1, "y": 1}, scores={"s": 1.0}, uri="u"),
            Document(id="b", text="b"),
        ]
    )
    other = DocumentArray(
        [
            Document(id="a", tags={"y": 2, "z": 3}, scores={"t": 2.0}, embedding=[1.0]),
            Document(id="c", text="c"),
        ]
    )
    out = base.reduce(other)
    assert out is base
    assert base.ids == ["a", "b", "c"]
    a = base["a"]
    assert a.text == "old" and a.uri == "u"  # empty fields in `other` do not override
    assert a.tags == {"x": 1, "y": 2, "z": 3}
    assert a.scores == {"s": NamedScore(value=1.0), "t": NamedScore(value=2.0)}
    assert a.embedding is not None and a.embedding.tolist() == [1.0]
    assert base["c"] is other[1]  # appended as is, like Jina


def test_reduce_lets_set_fields_of_other_override() -> None:
    base = DocumentArray([Document(id="a", text="old", granularity=1, weight=0.5)])
    base.reduce(DocumentArray([Document(id="a", tensor=np.ones(2), granularity=2)]))
    doc = base["a"]
    assert doc.text is None and doc.tensor is not None  # content oneof replaced
    assert doc.granularity == 2 and doc.weight == 0.5


def test_reduce_merges_nested_matches_and_chunks_by_id() -> None:
    base = DocumentArray([Document(id="q", matches=[Document(id="m1", tags={"from": "base"})])])
    other = DocumentArray(
        [
            Document(
                id="q",
                matches=[Document(id="m1", scores={"s": 0.5}), Document(id="m2")],
                chunks=[Document(id="c1", matches=[Document(id="cm")])],
            )
        ]
    )
    base.reduce(other)
    q = base["q"]
    assert q.matches.ids == ["m1", "m2"]
    assert q.matches["m1"].tags == {"from": "base"}
    assert q.matches["m1"].scores["s"].value == 0.5
    assert q.chunks.ids == ["c1"] and q.chunks["c1"].matches.ids == ["cm"]
    base.reduce(other)  # reducing again adds no duplicates
    assert q.matches.ids == ["m1", "m2"] and q.chunks.ids == ["c1"]


def test_reduce_with_duplicate_ids_in_other_never_duplicates() -> None:
    base = DocumentArray([Document(id="a")])
    base.reduce(DocumentArray([Document(id="n", uri="1"), Document(id="n", mime_type="m")]))
    assert base.ids == ["a", "n"]
    assert base["n"].uri == "1" and base["n"].mime_type == "m"


def test_reduce_all_mutates_only_the_first_array() -> None:
    first = DocumentArray([Document(id="a", tags={"k": 0})])
    second = DocumentArray([Document(id="a", tags={"k": 1}), Document(id="b", uri="2")])
    third = DocumentArray([Document(id="b", uri="3", matches=[Document(id="m")])])
    snapshots = (second.to_bytes(), third.to_bytes())
    out = reduce_all([first, second, third])
    assert out is first
    assert out.ids == ["a", "b"]
    assert out["a"].tags == {"k": 1}
    assert out["b"].uri == "3" and out["b"].matches.ids == ["m"]
    assert (second.to_bytes(), third.to_bytes()) == snapshots
    assert out["b"] is not second[1]
    assert len(reduce_all([])) == 0


# -- conversions ----------------------------------------------------------------------------


def test_json_and_bytes_conversions_round_trip() -> None:
    da = make(3)
    da[0].embedding = np.arange(3, dtype=np.float64)
    assert DocumentArray.from_json(da.to_json()) == da
    assert DocumentArray.from_dict_list(da.to_dict_list()) == da
    assert DocumentArray.from_bytes(da.to_bytes()) == da
    assert DocumentArray.from_protobuf(da.to_protobuf()) == da


def test_from_json_rejects_invalid_json_and_non_lists() -> None:
    with pytest.raises(BadRequestError, match="invalid JSON"):
        DocumentArray.from_json("[{")
    with pytest.raises(BadRequestError, match="expected a list"):
        DocumentArray.from_json('{"text": "x"}')
    with pytest.raises(BadRequestError, match=r"^data\[1\]: unknown Document field 'txt'$"):
        DocumentArray.from_json('[{"text": "a"}, {"txt": "b"}]')
