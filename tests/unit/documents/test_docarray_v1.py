"""The docarray v1 surface, each against the behaviour docarray 0.21 documents (checked
side by side with docarray 0.21.1)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest

from flowserve.documents import matching
from flowserve.documents.array import DocumentArray
from flowserve.documents.document import Document


def _nested() -> DocumentArray:
    root = Document(text="root", tags={"x": 5},
                    chunks=[Document(text="c1"), Document(text="c2")],
                    matches=[Document(text="m1", tags={"x": 1})])
    return DocumentArray([root, Document(text="two", tags={"x": 7})])


# -- selectors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("selector", "texts"), [
    ("@m", ["m1"]),
    ("@c", ["c1", "c2"]),
    ("@c,m", ["c1", "c2", "m1"]),
    ("@r", ["root", "two"]),
    ("@c[:1]", ["c1"]),
    ("@r[1]", ["two"]),
    ("@r,c", ["root", "two", "c1", "c2"]),
    ("@cm", []),
])
def test_traversal_selectors(selector: str, texts: list[str]) -> None:
    assert _nested()[selector][:, "text"] == texts


def test_bad_selector_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bad traversal path"):
        _nested()["@x"]


def test_attribute_access_by_column() -> None:
    da = _nested()
    assert da[:, "tags__x"] == [5, 7]
    ids, texts = da[:, ("id", "text")]
    assert ids == da.ids and texts == ["root", "two"]
    assert da[0, "text"] == "root"
    assert da[da[1].id, "tags__x"] == 7
    assert da[[0, 1], "text"] == ["root", "two"]
    assert da["@r", "text"] == ["root", "two"]


def test_ellipsis_flattens_every_level() -> None:
    da = _nested()
    assert da[..., "text"] == ["c1", "c2", "m1", "root", "two"]
    assert len(da[...]) == 5


def test_embedding_column_is_stacked_and_settable() -> None:
    da = DocumentArray.empty(3)
    da[:, "embedding"] = np.eye(3, dtype=np.float32)
    assert da[:, "embedding"].shape == (3, 3)
    da[:, "text"] = ["a", "b", "c"]
    da[:, "tags__k"] = [1, 2, 3]
    assert da.texts == ["a", "b", "c"] and [d.tags["k"] for d in da] == [1, 2, 3]
    with pytest.raises(ValueError, match="got 2 values for 3 documents"):
        da[:, "text"] = ["a", "b"]


def test_boolean_masks() -> None:
    da = _nested()
    assert da[[True, False]][:, "text"] == ["root"]
    assert da[np.array([False, True])][:, "text"] == ["two"]
    assert da[np.array([1, 0])][:, "text"] == ["two", "root"]
    with pytest.raises(IndexError, match="mask"):
        da[[True]]


# -- construction -------------------------------------------------------------------------------


def test_empty() -> None:
    da = DocumentArray.empty(4)
    assert len(da) == 4 and len(set(da.ids)) == 4
    assert all(d.content is None for d in da)


def test_content_by_type() -> None:
    assert Document(content="x").text == "x"
    assert Document(content=b"x").blob == b"x"
    np.testing.assert_array_equal(Document(content=np.zeros(2)).tensor, np.zeros(2))
    doc = Document(text="t")
    doc.content = b"b"
    assert doc.blob == b"b" and doc.text is None
    with pytest.raises(ValueError, match="at most one"):
        Document(text="t", content="c")


def test_add_concatenates_into_a_new_array() -> None:
    a, b = DocumentArray.empty(2), DocumentArray.empty(3)
    both = a + b
    assert isinstance(both, DocumentArray) and len(both) == 5 and len(a) == 2
    assert both.ids == a.ids + b.ids
    a += b
    assert len(a) == 5


# -- match / find -------------------------------------------------------------------------------


def _points() -> tuple[DocumentArray, DocumentArray]:
    q = DocumentArray.empty(3)
    q.embeddings = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    c = DocumentArray.empty(4)
    c.embeddings = np.array([[1, 0], [0, 1], [1, 1], [2, 0]], dtype=np.float32)
    return q, c


def test_match_cosine_writes_sorted_matches_with_distances() -> None:
    q, c = _points()
    q.match(c, limit=2)
    first = q[0].matches
    assert len(first) == 2 and {m.id for m in first} == {c[0].id, c[3].id}
    assert [m.scores["cosine"].value for m in first] == pytest.approx([0.0, 0.0])
    assert q[2].matches[0].id == c[2].id
    assert not any(m is d for m in first for d in c)  # matches are copies
    assert all(not d._scores for d in c)


@pytest.mark.parametrize(("metric", "expected"), [
    ("euclidean", [0.0, 1.0]),
    ("sqeuclidean", [0.0, 1.0]),
])
def test_match_euclidean_family(metric: str, expected: list[float]) -> None:
    q, c = _points()
    q.match(c, metric=metric, limit=2)
    assert [m.scores[metric].value for m in q[2].matches] == pytest.approx(expected)


def test_match_dot_ranks_largest_first_and_metric_name() -> None:
    q, c = _points()
    q.match(c, metric="dot", limit=1, metric_name="ip")
    assert q[0].matches[0].id == c[3].id
    assert q[0].matches[0].scores["ip"].value == pytest.approx(2.0)


def test_match_exclude_self_and_unknown_metric() -> None:
    q, _ = _points()
    q.match(q, limit=2, exclude_self=True)
    assert all(len(d.matches) == 2 and d.id not in d.matches for d in q)
    with pytest.raises(ValueError, match="unknown metric"):
        q.match(q, metric="manhattan")


def test_find_return_shapes() -> None:
    q, c = _points()
    one = c.find(np.array([1, 0], dtype=np.float32), limit=2)
    assert isinstance(one, DocumentArray) and len(one) == 2
    assert [m.scores["cosine"].value for m in one] == pytest.approx([0.0, 0.0])
    assert isinstance(c.find(q[0], limit=2), list) and len(c.find(q[0], limit=2)) == 1
    many = c.find(q, limit=3)
    assert isinstance(many, list) and [len(r) for r in many] == [3, 3, 3]
    assert [len(r) for r in c.find(q.embeddings, limit=1)] == [1, 1, 1]
    assert len(c[0].matches) == 0  # find leaves the candidates alone


def test_match_10k_x_512_is_one_matrix_product(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    index = DocumentArray.empty(10_000)
    index.embeddings = rng.standard_normal((10_000, 512), dtype=np.float32)
    queries = DocumentArray.empty(100)
    queries.embeddings = rng.standard_normal((100, 512), dtype=np.float32)
    calls: list[tuple[int, int]] = []
    real = matching.distances

    def spy(q: np.ndarray, c: np.ndarray, metric: str = "cosine") -> np.ndarray:
        calls.append((len(q), len(c)))
        return real(q, c, metric)

    monkeypatch.setattr(matching, "distances", spy)
    start = time.perf_counter()
    queries.match(index, limit=10)
    elapsed = time.perf_counter() - start
    assert calls == [(100, 10_000)]
    assert elapsed < 10  # measured ~0.1 s; the bound only catches a per-candidate loop
    best = np.argmin(matching.distances(queries.embeddings[:1], index.embeddings), axis=1)[0]
    assert queries[0].matches[0].id == index[int(best)].id


# -- batch / map / apply / summary --------------------------------------------------------------


def test_batch() -> None:
    da = DocumentArray.empty(5)
    batches = list(da.batch(2))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert [d.id for b in batches for d in b] == da.ids
    assert sorted(d.id for b in da.batch(2, shuffle=True) for d in b) == sorted(da.ids)


def test_map_keeps_order() -> None:
    da = _nested()
    assert list(da.map(lambda d: d.text)) == ["root", "two"]


def test_apply_in_place_and_by_return_value() -> None:
    da = _nested()

    def upper(doc: Document) -> Document:
        doc.text = (doc.text or "").upper()
        return doc

    assert da.apply(upper) is da
    assert da.texts == ["ROOT", "TWO"]
    da.apply(lambda d: Document(id=d.id, text="new"))
    assert da.texts == ["new", "new"]


def test_summary_prints_length_and_attributes(capsys: pytest.CaptureFixture[str]) -> None:
    _nested().summary()
    out = capsys.readouterr().out
    assert "Documents Summary" in out and "Length" in out and "Attributes Summary" in out
    assert "chunks" in out and "tags" in out


# -- bytes, JSON, files -------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [None, "zlib", "gzip", "bz2", "lzma"])
def test_bytes_round_trip(compress: str | None) -> None:
    da = _nested()
    da[0].embedding = np.arange(3, dtype=np.float32)
    data = da.to_bytes(compress=compress)
    assert DocumentArray.from_bytes(data, compress=compress) == da


def test_pickle_protocols_are_refused() -> None:
    with pytest.raises(ValueError, match="pickle"):
        _nested().to_bytes(protocol="pickle-array")


def test_json_round_trip() -> None:
    da = _nested()
    assert DocumentArray.from_json(da.to_json()) == da


def test_save_and_load_binary(tmp_path: object) -> None:
    da = _nested()
    path = f"{tmp_path}/docs.bin"
    da.save_binary(path, compress="gzip")
    assert DocumentArray.load_binary(path, compress="gzip") == da
    buf = io.BytesIO()
    da.save_binary(buf)
    buf.seek(0)
    assert DocumentArray.load_binary(buf) == da


def test_loads_a_file_docarray_0_21_saved() -> None:
    # Written by docarray 0.21.1: save_binary(path, protocol='protobuf-array', compress='gzip')
    # of [Document(id='r', text='root', tags={'x': 5}, chunks=[c1], matches=[m1],
    # embedding=np.arange(3, dtype='float32')), Document(id='two', blob=b'xy')].
    path = Path(__file__).resolve().parents[2] / "data" / "docarray021_protobuf_array.gz"
    da = DocumentArray.load_binary(path, compress="gzip")
    assert da.ids == ["r", "two"]
    assert da[0].text == "root" and da[0].tags == {"x": 5.0} and da[1].blob == b"xy"
    assert da["@c,m"].texts == ["c1", "m1"]
    np.testing.assert_array_equal(da[0].embedding, np.arange(3, dtype=np.float32))
