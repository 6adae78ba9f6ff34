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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, overload

import numpy as np

from .ids import new_id

if TYPE_CHECKING:
    from ..proto import docarray_pb2
    from .array import DocumentArray

__all__ = ["Document", "NamedScore", "ScoreDict"]

T = TypeVar("T")


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

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Like :meth:`dict.update`, converting every value with :meth:`NamedScore.coerce`."""
        for key, value in dict(other, **kwargs).items():
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> NamedScore:
        """Like :meth:`dict.setdefault`; a missing ``default`` stores an empty score."""
        if key not in self:
            self[key] = NamedScore() if default is None else default
        return self[key]

    def __ior__(self, other: Any) -> Self:  # type: ignore[misc,override]
        self.update(other)
        return self

    def copy(self) -> ScoreDict:
        """A copy holding copies of the NamedScore objects."""
        out = ScoreDict()
        for key, score in self.items():
            dict.__setitem__(out, key, replace(score))
        return out


def _floats(values: Iterable[float]) -> list[float]:
    return list(map(float, values))


def _as_array(value: Any) -> np.ndarray | None:
    return None if value is None else np.asarray(value)


def _arrays_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))


def _array_repr(a: np.ndarray) -> str:
    return f"<ndarray {a.dtype} {a.shape}>"


def _check_str(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"Document.{field} must be a str, got {type(value).__name__}")
    return value


def _docs_equal(a: DocumentArray | None, b: DocumentArray | None) -> bool:
    return (a._docs if a is not None else []) == (b._docs if b is not None else [])


def _new_docarray(docs: Iterable[Document]) -> DocumentArray:
    # Imported here: docarray imports this module at its top.
    from .array import DocumentArray

    if isinstance(docs, DocumentArray):
        return docs
    return DocumentArray(docs)


class _Container(Generic[T]):
    """A container attribute backed by a slot: created empty on first read (so documents that
    never use it do not allocate it), converted by ``convert`` on assignment, reset by None."""

    def __init__(self, slot: str, convert: Callable[[Any], T], doc: str) -> None:
        self.slot = slot
        self.convert = convert
        self.__doc__ = doc

    @overload
    def __get__(self, obj: None, owner: type) -> _Container[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object, owner: type) -> T | _Container[T]:
        if obj is None:
            return self
        value: T | None = getattr(obj, self.slot)
        if value is None:
            value = self.convert(())
            setattr(obj, self.slot, value)
        return value

    def __set__(self, obj: object, value: Any) -> None:
        setattr(obj, self.slot, None if value is None else self.convert(value))


class Document:
    """One document: content (``text`` | ``blob`` | ``tensor``), ``embedding``, metadata and
    nested ``chunks``/``matches``.

    ``tensor`` and ``embedding`` are numpy arrays (lists are converted with ``np.asarray``).
    Arrays decoded from protobuf are read-only views of the received bytes; assign a new array
    (or ``.copy()``) to change one in place. ``scores``/``evaluations`` accept plain numbers or
    dicts as values and store :class:`NamedScore` objects.
    """

    __slots__ = (
        "_blob", "_chunks", "_embedding", "_evaluations", "_id", "_location", "_matches",
        "_metadata", "_scores", "_tags", "_tensor", "_text", "adjacency", "granularity",
        "mime_type", "modality", "offset", "parent_id", "uri", "weight",
    )  # fmt: skip

    # Bumped whenever the id of an existing Document changes, so DocumentArray knows its
    # id -> index map may be stale without tracking which arrays hold which documents.
    _id_version: ClassVar[int] = 0

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
        content: Any = None,
    ) -> None:
        if sum(v is not None for v in (text, blob, tensor, content)) > 1:
            raise ValueError("a Document takes at most one of text, blob, tensor and content")
        self._id: str = new_id() if id is None else _check_str("id", id)
        self._text: str | None = None
        self._blob: bytes | None = None
        self._tensor: np.ndarray | None = None
        if text is not None:
            self.text = text
        elif blob is not None:
            self.blob = blob
        elif tensor is not None:
            self.tensor = tensor
        elif content is not None:
            self.content = content
        self._embedding: np.ndarray | None = _as_array(embedding)
        self.uri: str = uri
        self.mime_type: str = mime_type
        self.modality: str = modality
        self.parent_id: str = parent_id
        self.granularity: int = granularity
        self.adjacency: int = adjacency
        self.weight: float = weight
        self.offset: float = offset
        self._tags: dict[str, Any] | None = None if tags is None else dict(tags)
        self._chunks: DocumentArray | None = None if chunks is None else _new_docarray(chunks)
        self._matches: DocumentArray | None = None if matches is None else _new_docarray(matches)
        self._scores: ScoreDict | None = None if scores is None else ScoreDict(scores)
        self._evaluations: ScoreDict | None = (
            None if evaluations is None else ScoreDict(evaluations)
        )
        self._location: list[float] | None = None if location is None else _floats(location)
        self._metadata: dict[str, Any] | None = None  # docarray v1 `_metadata`, kept as is

    @classmethod
    def _blank(cls) -> Document:
        """An empty Document without a generated id (codecs fill the slots directly)."""
        doc = cls.__new__(cls)
        # Every slot is assigned here in one go: the protobuf decoder calls this per document.
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
    def content(self) -> Any:
        """Whichever of ``text``, ``blob``, ``tensor`` is set (None if none is); setting it
        sets ``text`` for a str, ``blob`` for bytes, ``tensor`` otherwise."""
        if self._text is not None:
            return self._text
        if self._blob is not None:
            return self._blob
        return self._tensor

    @content.setter
    def content(self, value: Any) -> None:
        # docarray v1: a str is text, bytes are the blob, anything else becomes the tensor.
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

    # -- containers: created on first read, converted on assignment, reset by None --------

    tags: _Container[dict[str, Any]] = _Container(
        "_tags", dict, "JSON-like metadata (nested dicts/lists of str, numbers, bools, None)."
    )
    chunks: _Container[DocumentArray] = _Container("_chunks", _new_docarray, "Sub-documents.")
    matches: _Container[DocumentArray] = _Container("_matches", _new_docarray, "Matches.")
    scores: _Container[ScoreDict] = _Container("_scores", ScoreDict, "Named scores.")
    evaluations: _Container[ScoreDict] = _Container("_evaluations", ScoreDict, "Evaluations.")
    location: _Container[list[float]] = _Container("_location", _floats, "Positions in parent.")

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
                     "weight", "offset", "_location", "_tags", "_scores", "_evaluations"):
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

    # -- conversions (see proto_codec / json_codec) ---------------------------------------------

    def to_protobuf(self) -> docarray_pb2.DocumentProto:
        """Encode as ``docarray.DocumentProto`` (arrays always dense)."""
        from .proto_codec import document_to_proto

        return document_to_proto(self)

    @classmethod
    def from_protobuf(cls, pb: docarray_pb2.DocumentProto) -> Document:
        """Decode a ``docarray.DocumentProto``; arrays are read-only zero-copy views."""
        from .proto_codec import document_from_proto

        return document_from_proto(pb)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict keyed by protobuf field names; empty fields are omitted."""
        from .json_codec import document_to_dict

        return document_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "document") -> Document:
        """Build a Document from a JSON object; raises BadRequestError prefixed by ``where``."""
        from .json_codec import document_from_dict

        return document_from_dict(data, where=where)
