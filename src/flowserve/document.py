"""The Document: one unit of data flowing through a Flow (docarray v1 layout).

A Document mirrors ``docarray.DocumentProto`` field for field. ``text``, ``blob`` and ``tensor``
form the protobuf ``content`` oneof: setting one of them clears the other two. Containers
(``tags``, ``scores``, ``evaluations``, ``chunks``, ``matches``, ``location``) are created
lazily on first access, so a Document that never uses them costs nothing to encode or decode.

Protobuf stores ``weight``, ``offset``, ``location`` and score values as 32-bit floats and tag
numbers as 64-bit floats; values that do not fit come back rounded.
"""

from __future__ import annotations

import numbers
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from .docarray import DocumentArray
    from .proto import docarray_pb2

__all__ = ["Document", "NamedScore", "ScoreDict"]


@dataclass(slots=True)
class NamedScore:
    """A score or evaluation attached to a Document under a name (``doc.scores['cosine']``)."""

    value: float = 0.0
    op_name: str = ""
    description: str = ""
    ref_id: str = ""

    @classmethod
    def coerce(cls, value: NamedScore | float | Mapping[str, Any]) -> NamedScore:
        """Return ``value`` as a NamedScore: a plain number becomes ``NamedScore(value=...)``,
        a mapping is passed as keyword arguments."""
        if isinstance(value, NamedScore):
            return value
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return cls(value=float(value))
        if isinstance(value, Mapping):
            return cls(**value)
        raise TypeError(f"a score must be a NamedScore, a number or a dict, got {value!r}")


class ScoreDict(dict[str, NamedScore]):
    """A ``dict[str, NamedScore]`` that converts numbers and dicts on assignment.

    As in docarray v1, reading a missing name creates an empty score, so
    ``doc.scores['cosine'].value = 0.9`` works on a fresh Document.
    """

    __slots__ = ()

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), /) -> None:
        super().__init__()
        self.update(items)

    def __setitem__(self, key: str, value: NamedScore | float | Mapping[str, Any]) -> None:
        if not isinstance(key, str):
            raise TypeError(f"score names must be strings, got {key!r}")
        super().__setitem__(key, NamedScore.coerce(value))

    def __missing__(self, key: str) -> NamedScore:
        score = NamedScore()
        self[key] = score
        return score

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # type: ignore[override]
        """Like :meth:`dict.update`, converting every value with :meth:`NamedScore.coerce`."""
        for key, value in dict(other, **kwargs).items():
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> NamedScore:  # type: ignore[override]
        """Like :meth:`dict.setdefault`; a missing ``default`` stores an empty score."""
        if key not in self:
            self[key] = NamedScore() if default is None else default
        return self[key]

    def __ior__(self, other: Any) -> ScoreDict:  # type: ignore[override]
        self.update(other)
        return self

    def copy(self) -> ScoreDict:
        """A copy holding copies of the NamedScore objects."""
        out = ScoreDict()
        for key, score in self.items():
            dict.__setitem__(out, key, NamedScore(*_score_fields(score)))
        return out


def _score_fields(s: NamedScore) -> tuple[float, str, str, str]:
    return (s.value, s.op_name, s.description, s.ref_id)


def _as_array(value: Any) -> np.ndarray | None:
    return None if value is None else np.asarray(value)


def _arrays_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))


def _array_repr(a: np.ndarray) -> str:
    return f"<ndarray {a.dtype} {a.shape}>"


class Document:
    """One document: content (``text`` | ``blob`` | ``tensor``), ``embedding``, metadata and
    nested ``chunks``/``matches``.

    ``tensor`` and ``embedding`` are numpy arrays (lists are converted with ``np.asarray``).
    Arrays decoded from protobuf are read-only views of the received bytes; assign a new array
    (or ``.copy()``) to change one in place. ``scores``/``evaluations`` accept plain numbers or
    dicts as values and store :class:`NamedScore` objects.
    """

    __slots__ = (
        "_id", "_text", "_blob", "_tensor", "_embedding", "uri", "mime_type", "modality",
        "_tags", "_chunks", "_matches", "_scores", "_evaluations", "granularity", "adjacency",
        "parent_id", "weight", "offset", "_location", "_metadata",
    )  # fmt: skip

    # Bumped whenever the id of an existing Document changes, so DocumentArray knows its
    # id -> index map may be stale without tracking which arrays hold which documents.
    _id_version: ClassVar[int] = 0

    _id: str
    _text: str | None
    _blob: bytes | None
    _tensor: np.ndarray | None
    _embedding: np.ndarray | None
    uri: str
    mime_type: str
    modality: str
    _tags: dict[str, Any] | None
    _chunks: DocumentArray | None
    _matches: DocumentArray | None
    _scores: ScoreDict | None
    _evaluations: ScoreDict | None
    granularity: int
    adjacency: int
    parent_id: str
    weight: float
    offset: float
    _location: list[float] | None
    _metadata: dict[str, Any] | None

    def __init__(
        self,
        *,
        id: str | None = None,
        text: str | None = None,
        blob: bytes | None = None,
        tensor: Any = None,
        embedding: Any = None,
        uri: str = "",
        mime_type: str = "",
        modality: str = "",
        tags: Mapping[str, Any] | None = None,
        chunks: Iterable[Document] | None = None,
        matches: Iterable[Document] | None = None,
        scores: Mapping[str, Any] | None = None,
        evaluations: Mapping[str, Any] | None = None,
        granularity: int = 0,
        adjacency: int = 0,
        parent_id: str = "",
        weight: float = 0.0,
        offset: float = 0.0,
        location: Iterable[float] | None = None,
    ) -> None:
        if sum(v is not None for v in (text, blob, tensor)) > 1:
            raise ValueError("a Document takes at most one of text, blob and tensor")
        _init_blank(self)
        self._id = uuid.uuid4().hex if id is None else _check_str("id", id)
        if text is not None:
            self.text = text
        elif blob is not None:
            self.blob = blob
        elif tensor is not None:
            self.tensor = tensor
        self._embedding = _as_array(embedding)
        self.uri, self.mime_type, self.modality = uri, mime_type, modality
        self.granularity, self.adjacency, self.parent_id = granularity, adjacency, parent_id
        self.weight, self.offset = weight, offset
        self.tags = tags  # type: ignore[assignment]
        self.chunks = chunks  # type: ignore[assignment]
        self.matches = matches  # type: ignore[assignment]
        self.scores = scores  # type: ignore[assignment]
        self.evaluations = evaluations  # type: ignore[assignment]
        self.location = location  # type: ignore[assignment]

    @classmethod
    def _blank(cls) -> Document:
        """An empty Document without a generated id (codecs fill the slots directly)."""
        doc = cls.__new__(cls)
        # Same as _init_blank, inlined: the protobuf decoder calls this once per document.
        doc._id = doc.uri = doc.mime_type = doc.modality = doc.parent_id = ""
        doc._text = doc._blob = doc._tensor = doc._embedding = None
        doc._tags = doc._metadata = doc._location = doc._chunks = doc._matches = None
        doc._scores = doc._evaluations = None
        doc.granularity = doc.adjacency = 0
        doc.weight = doc.offset = 0.0
        return doc

    # -- id and content ---------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The document id (a uuid4 hex string unless given)."""
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        self._id = _check_str("id", value)
        Document._id_version += 1

    @property
    def text(self) -> str | None:
        """Text content; setting it (non-None) clears ``blob`` and ``tensor``."""
        return self._text

    @text.setter
    def text(self, value: str | None) -> None:
        if value is not None:
            self._text = _check_str("text", value)
            self._blob = self._tensor = None
        else:
            self._text = None

    @property
    def blob(self) -> bytes | None:
        """Binary content; setting it (non-None) clears ``text`` and ``tensor``."""
        return self._blob

    @blob.setter
    def blob(self, value: bytes | bytearray | memoryview | None) -> None:
        if value is not None:
            if not isinstance(value, bytes | bytearray | memoryview):
                raise TypeError(f"Document.blob must be bytes, got {type(value).__name__}")
            self._blob = bytes(value)
            self._text = self._tensor = None
        else:
            self._blob = None

    @property
    def tensor(self) -> np.ndarray | None:
        """Array content; setting it (non-None) clears ``text`` and ``blob``."""
        return self._tensor

    @tensor.setter
    def tensor(self, value: Any) -> None:
        if value is not None:
            self._tensor = np.asarray(value)
            self._text = self._blob = None
        else:
            self._tensor = None

    @property
    def content(self) -> str | bytes | np.ndarray | None:
        """Whichever of ``text``, ``blob``, ``tensor`` is set (None if none is).

        Assigning dispatches on type: ``str`` -> text, bytes-like -> blob, else tensor.
        """
        if self._text is not None:
            return self._text
        if self._blob is not None:
            return self._blob
        return self._tensor

    @content.setter
    def content(self, value: Any) -> None:
        if value is None:
            self._text = self._blob = self._tensor = None
        elif isinstance(value, str):
            self.text = value
        elif isinstance(value, bytes | bytearray | memoryview):
            self.blob = value
        else:
            self.tensor = value

    @property
    def embedding(self) -> np.ndarray | None:
        """The embedding vector (or any array); lists are converted with ``np.asarray``."""
        return self._embedding

    @embedding.setter
    def embedding(self, value: Any) -> None:
        self._embedding = _as_array(value)

    # -- containers (created on first access) -----------------------------------------------

    @property
    def tags(self) -> dict[str, Any]:
        """JSON-like metadata (nested dicts/lists of str, numbers, bools, None)."""
        if self._tags is None:
            self._tags = {}
        return self._tags

    @tags.setter
    def tags(self, value: Mapping[str, Any] | None) -> None:
        self._tags = None if value is None else dict(value)

    @property
    def chunks(self) -> DocumentArray:
        """Sub-documents of this document."""
        if self._chunks is None:
            self._chunks = _new_docarray(None)
        return self._chunks

    @chunks.setter
    def chunks(self, value: Iterable[Document] | None) -> None:
        self._chunks = None if value is None else _new_docarray(value)

    @property
    def matches(self) -> DocumentArray:
        """Documents matched to this one (e.g. search results)."""
        if self._matches is None:
            self._matches = _new_docarray(None)
        return self._matches

    @matches.setter
    def matches(self, value: Iterable[Document] | None) -> None:
        self._matches = None if value is None else _new_docarray(value)

    @property
    def scores(self) -> ScoreDict:
        """Named scores, e.g. ``doc.scores['cosine'] = 0.9``."""
        if self._scores is None:
            self._scores = ScoreDict()
        return self._scores

    @scores.setter
    def scores(self, value: Mapping[str, Any] | None) -> None:
        self._scores = None if value is None else ScoreDict(value)

    @property
    def evaluations(self) -> ScoreDict:
        """Named evaluation results, same shape as :attr:`scores`."""
        if self._evaluations is None:
            self._evaluations = ScoreDict()
        return self._evaluations

    @evaluations.setter
    def evaluations(self, value: Mapping[str, Any] | None) -> None:
        self._evaluations = None if value is None else ScoreDict(value)

    @property
    def location(self) -> list[float]:
        """Positions of this document inside its parent (``repeated float``)."""
        if self._location is None:
            self._location = []
        return self._location

    @location.setter
    def location(self, value: Iterable[float] | None) -> None:
        self._location = None if value is None else list(map(float, value))

    # -- comparison, display, copies --------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        return (
            self._id == other._id
            and self._text == other._text
            and self._blob == other._blob
            and _arrays_equal(self._tensor, other._tensor)
            and _arrays_equal(self._embedding, other._embedding)
            and self.uri == other.uri
            and self.mime_type == other.mime_type
            and self.modality == other.modality
            and self.granularity == other.granularity
            and self.adjacency == other.adjacency
            and self.parent_id == other.parent_id
            and self.weight == other.weight
            and self.offset == other.offset
            and (self._location or []) == (other._location or [])
            and (self._tags or {}) == (other._tags or {})
            and (self._metadata or {}) == (other._metadata or {})
            and (self._scores or {}) == (other._scores or {})
            and (self._evaluations or {}) == (other._evaluations or {})
            and _docs_equal(self._chunks, other._chunks)
            and _docs_equal(self._matches, other._matches)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [f"id={self._id!r}"]
        if self._text is not None:
            text = self._text if len(self._text) <= 40 else self._text[:37] + "..."
            parts.append(f"text={text!r}")
        if self._blob is not None:
            parts.append(f"blob=<{len(self._blob)} bytes>")
        if self._tensor is not None:
            parts.append(f"tensor={_array_repr(self._tensor)}")
        if self._embedding is not None:
            parts.append(f"embedding={_array_repr(self._embedding)}")
        for name in ("uri", "mime_type", "modality", "granularity", "adjacency", "parent_id",
                     "weight", "offset", "_location", "_tags", "_scores", "_evaluations"):  # fmt: skip
            value = getattr(self, name)
            if value:
                parts.append(f"{name.lstrip('_')}={value!r}")
        for name in ("_chunks", "_matches"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name[1:]}={value!r}")
        return f"Document({', '.join(parts)})"

    def copy(self) -> Document:
        """A copy whose containers (tags, scores, evaluations, location, chunks, matches) are
        copied recursively; numpy arrays, blob and tag values are shared."""
        doc = Document._blank()
        for name in Document.__slots__:
            setattr(doc, name, getattr(self, name))
        for name in ("_tags", "_metadata", "_location"):
            value = getattr(self, name)
            if value is not None:
                setattr(doc, name, value.copy())
        if self._scores is not None:
            doc._scores = self._scores.copy()
        if self._evaluations is not None:
            doc._evaluations = self._evaluations.copy()
        if self._chunks is not None:
            doc._chunks = _new_docarray(c.copy() for c in self._chunks)
        if self._matches is not None:
            doc._matches = _new_docarray(m.copy() for m in self._matches)
        return doc

    # -- conversions (see _docproto / _docjson) ---------------------------------------------

    def to_protobuf(self) -> docarray_pb2.DocumentProto:
        """Encode as ``docarray.DocumentProto`` (arrays always dense)."""
        from ._docproto import document_to_proto

        return document_to_proto(self)

    @classmethod
    def from_protobuf(cls, pb: docarray_pb2.DocumentProto) -> Document:
        """Decode a ``docarray.DocumentProto``; arrays are read-only zero-copy views."""
        from ._docproto import document_from_proto

        return document_from_proto(pb)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict keyed by protobuf field names; empty fields are omitted."""
        from ._docjson import document_to_dict

        return document_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "document") -> Document:
        """Build a Document from a JSON object; raises BadRequestError prefixed by ``where``."""
        from ._docjson import document_from_dict

        return document_from_dict(data, where=where)


def _init_blank(doc: Document) -> None:
    doc._id = ""
    doc._text = doc._blob = doc._tensor = doc._embedding = None
    doc.uri = doc.mime_type = doc.modality = doc.parent_id = ""
    doc._tags = doc._metadata = doc._location = None
    doc._chunks = doc._matches = None
    doc._scores = doc._evaluations = None
    doc.granularity = doc.adjacency = 0
    doc.weight = doc.offset = 0.0


def _check_str(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"Document.{field} must be a str, got {type(value).__name__}")
    return value


def _docs_equal(a: DocumentArray | None, b: DocumentArray | None) -> bool:
    return (a._docs if a is not None else []) == (b._docs if b is not None else [])


def _new_docarray(docs: Iterable[Document] | None) -> DocumentArray:
    # Imported here: docarray imports this module at its top.
    from .docarray import DocumentArray

    if isinstance(docs, DocumentArray):
        return docs
    return DocumentArray(docs)
