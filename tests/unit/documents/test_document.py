"""Document and NamedScore behaviour (no codecs: see test_doc_codecs.py)."""

from __future__ import annotations

import numpy as np
import pytest

from flowserve.documents.array import DocumentArray
from flowserve.documents.document import Document, NamedScore, ScoreDict


def test_id_defaults_to_fresh_uuid_hex() -> None:
    a, b = Document(), Document()
    assert len(a.id) == 32 and int(a.id, 16) >= 0
    assert a.id != b.id
    assert Document(id="mine").id == "mine"


def test_id_must_be_str() -> None:
    with pytest.raises(TypeError, match="id"):
        Document(id=3)  # type: ignore[arg-type]
    doc = Document()
    with pytest.raises(TypeError, match="id"):
        doc.id = None  # type: ignore[assignment]


def test_setting_one_content_field_clears_the_others() -> None:
    doc = Document(text="hello")
    assert doc.content == "hello"

    doc.blob = b"\x00\x01"
    assert (doc.text, doc.blob, doc.tensor) == (None, b"\x00\x01", None)
    assert doc.content == b"\x00\x01"

    doc.tensor = [[1, 2], [3, 4]]
    assert doc.text is None and doc.blob is None
    assert isinstance(doc.tensor, np.ndarray) and doc.tensor.shape == (2, 2)
    assert doc.content is doc.tensor

    doc.text = "again"
    assert doc.tensor is None and doc.content == "again"


def test_setting_content_field_to_none_only_clears_that_field() -> None:
    doc = Document(text="keep")
    doc.blob = None
    doc.tensor = None
    assert doc.text == "keep"
    doc.text = None
    assert doc.content is None


def test_constructor_rejects_two_contents_and_wrong_types() -> None:
    with pytest.raises(ValueError, match="at most one"):
        Document(text="a", blob=b"b")
    with pytest.raises(TypeError, match="text"):
        Document(text=b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="blob"):
        Document(blob="str")  # type: ignore[arg-type]


def test_arrays_accept_lists_and_keep_ndarrays_uncopied() -> None:
    emb = np.arange(4, dtype=np.float32)
    doc = Document(embedding=emb, tensor=[1.0, 2.0])
    assert doc.embedding is emb
    assert doc.tensor is not None and doc.tensor.dtype == np.float64
    doc.embedding = [True, False]
    assert doc.embedding is not None and doc.embedding.dtype == np.bool_
    doc.embedding = None
    assert doc.embedding is None


def test_containers_are_created_lazily_and_stick() -> None:
    doc = Document()
    assert doc._tags is None and doc._chunks is None and doc._scores is None
    doc.tags["k"] = "v"
    doc.chunks.append(Document(text="c"))
    doc.location.append(1.5)
    assert doc.tags == {"k": "v"}
    assert len(doc.chunks) == 1 and isinstance(doc.chunks, DocumentArray)
    assert doc.location == [1.5]


def test_tags_are_copied_on_assignment() -> None:
    tags = {"a": 1}
    doc = Document(tags=tags)
    tags["b"] = 2
    assert doc.tags == {"a": 1}


def test_chunks_and_matches_accept_any_iterable_of_documents() -> None:
    docs = [Document(text=str(i)) for i in range(3)]
    doc = Document(chunks=iter(docs), matches=(d for d in docs[:1]))
    assert isinstance(doc.chunks, DocumentArray) and doc.chunks.texts == ["0", "1", "2"]
    assert doc.matches.texts == ["0"]
    existing = DocumentArray(docs)
    doc.matches = existing
    assert doc.matches is existing
    with pytest.raises(TypeError, match="Documents"):
        Document(chunks=["not a doc"])  # type: ignore[list-item]


def test_location_is_converted_to_floats() -> None:
    doc = Document(location=[1, 2])
    assert doc.location == [1.0, 2.0] and all(type(x) is float for x in doc.location)


def test_scores_convert_numbers_and_dicts_to_named_scores() -> None:
    doc = Document(scores={"a": 0.5, "b": {"value": 2, "op_name": "cos"}})
    assert doc.scores["a"] == NamedScore(value=0.5)
    assert doc.scores["b"] == NamedScore(value=2.0, op_name="cos")
    doc.scores["c"] = 1
    doc.scores.update({"d": NamedScore(value=3.0, ref_id="r")}, e=4.0)
    assert doc.scores["c"] == NamedScore(value=1.0)
    assert doc.scores["d"].ref_id == "r" and doc.scores["e"].value == 4.0
    doc.evaluations = {"acc": 0.9}
    assert doc.evaluations["acc"].value == pytest.approx(0.9)


def test_score_dict_creates_missing_scores_like_docarray_v1() -> None:
    doc = Document()
    doc.scores["cosine"].value = 0.25
    assert doc.scores == {"cosine": NamedScore(value=0.25)}
    assert doc.scores.setdefault("l2") == NamedScore()
    assert doc.scores.setdefault("l2", 9.0) == NamedScore()  # existing entry kept
    scores = ScoreDict()
    scores |= {"x": 1.0}
    assert scores["x"] == NamedScore(value=1.0)


def test_score_dict_rejects_bad_values_and_keys() -> None:
    scores = ScoreDict()
    with pytest.raises(TypeError, match="score"):
        scores["a"] = "high"  # type: ignore[assignment]
    with pytest.raises(TypeError):
        scores["a"] = True
    with pytest.raises(TypeError, match="names"):
        scores[1] = 0.5  # type: ignore[index]
    with pytest.raises(TypeError):
        NamedScore.coerce({"valu": 1.0})


def test_score_dict_copy_copies_named_scores() -> None:
    original = ScoreDict({"a": 1.0})
    copied = original.copy()
    copied["a"].value = 5.0
    assert isinstance(copied, ScoreDict) and original["a"].value == 1.0


def test_equality_compares_every_field() -> None:
    def make() -> Document:
        return Document(
            id="x",
            text="t",
            embedding=np.arange(3, dtype=np.float32),
            tags={"a": [1, {"b": None}]},
            scores={"s": 0.5},
            chunks=[Document(id="c", uri="u")],
            weight=0.5,
            location=[1.0],
        )

    assert make() == make()
    variants = [
        ("text", "other"),
        ("uri", "x://"),
        ("weight", 0.25),
        ("granularity", 1),
        ("tags", {"a": 2}),
        ("scores", {"s": 0.75}),
        ("location", [2.0]),
        ("chunks", [Document(id="c", uri="v")]),
        ("matches", [Document(id="m")]),
    ]
    for field, value in variants:
        changed = make()
        setattr(changed, field, value)
        assert changed != make(), field


def test_equality_of_arrays_requires_same_dtype_and_shape() -> None:
    a = Document(id="x", embedding=np.arange(4, dtype=np.float32))
    assert a == Document(id="x", embedding=np.arange(4, dtype=np.float32))
    assert a != Document(id="x", embedding=np.arange(4, dtype=np.float64))
    assert a != Document(id="x", embedding=np.arange(4, dtype=np.float32).reshape(2, 2))
    assert a != Document(id="x")
    assert a != Document(id="x", tensor=np.arange(4, dtype=np.float32))


def test_untouched_and_lazily_created_empty_containers_are_equal() -> None:
    a, b = Document(id="x"), Document(id="x")
    _ = (a.tags, a.chunks, a.matches, a.scores, a.evaluations, a.location)
    assert a == b and b == a
    assert a != "x"


def test_documents_are_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(Document())


def test_repr_shows_only_set_fields() -> None:
    doc = Document(id="abc", text="hi", embedding=np.zeros((2, 3), np.float32), tags={"k": 1})
    text = repr(doc)
    assert text.startswith("Document(id='abc', text='hi', ")
    assert "embedding=<ndarray float32 (2, 3)>" in text and "tags={'k': 1}" in text
    assert "uri" not in text and "blob" not in text and "chunks" not in text
    long = repr(Document(id="x", text="y" * 100, chunks=[Document()]))
    assert "y" * 37 + "..." in long and "y" * 41 not in long
    assert "chunks=<DocumentArray (length=1)>" in long


def test_copy_copies_containers_and_shares_arrays() -> None:
    emb = np.ones(3)
    doc = Document(embedding=emb, tags={"a": 1}, scores={"s": 1.0}, matches=[Document(id="m")])
    clone = doc.copy()
    assert clone == doc
    clone.tags["b"] = 2
    clone.scores["s"].value = 9.0
    clone.matches[0].uri = "changed"
    clone.matches.append(Document())
    assert doc.tags == {"a": 1} and doc.scores["s"].value == 1.0
    assert doc.matches[0].uri == "" and len(doc.matches) == 1
    assert clone.embedding is emb
