"""DocumentArray: a list of Documents with O(1) lookup by id and columnar accessors."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, MutableSequence, Sequence, Sized
from typing import TYPE_CHECKING, Any, SupportsIndex, overload

import numpy as np

from .document import Document

if TYPE_CHECKING:
    from ..proto import docarray_pb2

__all__ = ["DocumentArray", "merge_doc", "reduce_all"]


class DocumentArray(MutableSequence[Document]):
    """A mutable sequence of :class:`Document`.

    Index by position (``da[0]``), slice (``da[1:3]``, a new DocumentArray sharing the
    documents), id (``da['abc']``, O(1)) or a list of positions/ids. ``'abc' in da`` and
    ``doc in da`` test by id. Ids need not be unique; lookup by id finds the first match.
    """

    __slots__ = ("_id_map", "_id_map_version", "_items", "_source")

    _items: list[Document] | None
    _source: docarray_pb2.DocumentArrayProto | None
    _id_map: dict[str, int] | None
    _id_map_version: int

    @property
    def _docs(self) -> list[Document]:
        """The documents; an array decoded lazily from the wire decodes them on first use."""
        items = self._items
        if items is None:
            from .proto_codec import document_from_proto

            assert self._source is not None
            items = self._items = [document_from_proto(d) for d in self._source.docs]
        return items

    @_docs.setter
    def _docs(self, value: list[Document]) -> None:
        self._items = value

    @property
    def is_decoded(self) -> bool:
        """False while this array is still the untouched wire message it was read from."""
        return self._items is not None

    @classmethod
    def _lazy(cls, pb: docarray_pb2.DocumentArrayProto) -> DocumentArray:
        """An array over a wire message, decoded only when its documents are first used; until
        then, encoding it again returns the message as is (a pass-through costs nothing)."""
        return cls._new(None, pb)

    @classmethod
    def _new(cls, items: list[Document] | None,
             source: docarray_pb2.DocumentArrayProto | None) -> DocumentArray:
        da = cls.__new__(cls)
        da._items = items
        da._source = source
        da._id_map = None
        da._id_map_version = 0
        return da

    def __init__(self, docs: Iterable[Document] | Document | None = None) -> None:
        if docs is None:
            items: list[Document] = []
        elif isinstance(docs, Document):
            items = [docs]
        elif isinstance(docs, DocumentArray):
            items = list(docs._docs)
        else:
            items = list(docs)
            for doc in items:
                _check_doc(doc)
        self._items = items
        self._source = None
        self._id_map = None
        self._id_map_version = 0

    @classmethod
    def _wrap(cls, docs: list[Document]) -> DocumentArray:
        """Wrap a list of Documents without copying or checking it (codecs, slicing)."""
        return cls._new(docs, None)

    # -- id map -----------------------------------------------------------------------------

    def _index_map(self) -> dict[str, int]:
        id_map = self._id_map
        if id_map is None or self._id_map_version != Document._id_version:
            docs = self._docs
            # Built back to front so the first of duplicate ids wins.
            id_map = {docs[i]._id: i for i in range(len(docs) - 1, -1, -1)}
            self._id_map = id_map
            self._id_map_version = Document._id_version
        return id_map

    def _invalidate(self) -> None:
        self._id_map = None

    def _position(self, doc_id: str) -> int:
        try:
            return self._index_map()[doc_id]
        except KeyError:
            raise KeyError(f"no Document with id {doc_id!r} in this DocumentArray") from None

    # -- sequence protocol ------------------------------------------------------------------

    def __len__(self) -> int:
        if self._items is None and self._source is not None:
            return len(self._source.docs)
        return len(self._docs)

    def __iter__(self) -> Iterator[Document]:
        return iter(self._docs)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return item in self._index_map()
        if isinstance(item, Document):
            return item._id in self._index_map()
        return False

    @overload
    def __getitem__(self, key: SupportsIndex | str) -> Document: ...  # type: ignore[overload-overlap]
    @overload
    def __getitem__(self, key: slice | Sequence[int] | Sequence[str]) -> DocumentArray: ...
    def __getitem__(self, key: Any) -> Document | DocumentArray:
        if isinstance(key, str):
            return self._docs[self._position(key)]
        if isinstance(key, slice):
            return DocumentArray._wrap(self._docs[key])
        if isinstance(key, Iterable):
            return DocumentArray._wrap([self[k] for k in key])
        return self._docs[operator.index(key)]

    @overload
    def __setitem__(self, key: SupportsIndex | str, value: Document) -> None: ...
    @overload
    def __setitem__(self, key: slice, value: Iterable[Document]) -> None: ...
    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            docs = list(value)
            for doc in docs:
                _check_doc(doc)
            self._docs[key] = docs
        else:
            index = self._position(key) if isinstance(key, str) else operator.index(key)
            self._docs[index] = _check_doc(value)
        self._invalidate()

    def __delitem__(self, key: SupportsIndex | slice | str) -> None:
        if isinstance(key, str):
            del self._docs[self._position(key)]
        elif isinstance(key, slice):
            del self._docs[key]
        else:
            del self._docs[operator.index(key)]
        self._invalidate()

    def insert(self, index: int, value: Document) -> None:
        """Insert ``value`` before position ``index``."""
        self._docs.insert(index, _check_doc(value))
        self._invalidate()

    def append(self, value: Document) -> None:
        """Append a Document (keeps an existing id map up to date instead of dropping it)."""
        self._docs.append(_check_doc(value))
        if self._id_map is not None:
            self._id_map.setdefault(value._id, len(self._docs) - 1)

    def extend(self, values: Iterable[Document]) -> None:
        """Append every Document of ``values``."""
        added = list(values._docs) if isinstance(values, DocumentArray) else [
            _check_doc(doc) for doc in values]
        docs = self._docs
        start = len(docs)
        docs.extend(added)
        id_map = self._id_map
        if id_map is not None:
            for i, doc in enumerate(added, start):
                id_map.setdefault(doc._id, i)

    def clear(self) -> None:
        """Remove every Document."""
        self._docs.clear()
        self._invalidate()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DocumentArray):
            return NotImplemented
        return self._docs == other._docs

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<DocumentArray (length={len(self._docs)})>"

    # -- columnar accessors -----------------------------------------------------------------

    @property
    def ids(self) -> list[str]:
        """The ids of all documents, in order."""
        return [d._id for d in self._docs]

    @ids.setter
    def ids(self, values: Sequence[str]) -> None:
        self._check_len(values, "ids")
        for doc, value in zip(self._docs, values, strict=True):
            doc.id = value
        self._invalidate()

    @property
    def texts(self) -> list[str | None]:
        """The ``text`` of every document (None where unset)."""
        return [d._text for d in self._docs]

    @texts.setter
    def texts(self, values: Sequence[str | None]) -> None:
        self._check_len(values, "texts")
        for doc, value in zip(self._docs, values, strict=True):
            doc.text = value

    @property
    def embeddings(self) -> np.ndarray | None:
        """All embeddings stacked into one array (``np.stack``), None if no doc has one.

        Setting an array of ``len(self)`` rows makes each doc's embedding a view of its row
        (no copy); setting None clears them. Raises ValueError if only some docs have one.
        """
        return self._stack("embedding")

    @embeddings.setter
    def embeddings(self, value: Any) -> None:
        self._unstack("embedding", value)

    @property
    def tensors(self) -> np.ndarray | None:
        """All tensors stacked into one array; same rules as :attr:`embeddings`.

        Setting tensors clears each document's ``text``/``blob`` (the content oneof).
        """
        return self._stack("tensor")

    @tensors.setter
    def tensors(self, value: Any) -> None:
        self._unstack("tensor", value)

    def _check_len(self, values: Sized, what: str) -> None:
        if len(values) != len(self._docs):
            raise ValueError(
                f"cannot set {what}: got {len(values)} values for {len(self._docs)} documents"
            )

    def _stack(self, field: str) -> np.ndarray | None:
        arrays = [getattr(d, field) for d in self._docs]
        missing = [i for i, a in enumerate(arrays) if a is None]
        if len(missing) == len(arrays):
            return None
        if missing:
            i = missing[0]
            raise ValueError(
                f"document {self._docs[i]._id!r} (position {i}) has no {field} "
                f"while others do; cannot stack {field}s"
            )
        return np.stack(arrays)

    def _unstack(self, field: str, value: Any) -> None:
        if value is None:
            for doc in self._docs:
                setattr(doc, field, None)
            return
        array = np.asarray(value)
        if array.ndim == 0:
            raise ValueError(f"cannot set {field}s from a 0-d array")
        self._check_len(array, f"{field}s")
        # Iterating an ndarray yields views of its rows: no per-row copies.
        for doc, row in zip(self._docs, array, strict=True):
            setattr(doc, field, row)

    # -- merging ----------------------------------------------------------------------------

    def reduce(self, other: DocumentArray) -> DocumentArray:
        """Merge ``other`` into this array in place, by id, and return ``self``.

        Documents of ``other`` whose id is not here are appended (the same objects, as in
        Jina). For an id present in both, fields set in ``other`` win (see :func:`merge_doc`)
        and ``matches``/``chunks`` are reduced recursively, so no id is duplicated.
        """
        _reduce_into(self, other, copy_new=False)
        return self

    # -- conversions ------------------------------------------------------------------------

    def to_protobuf(self) -> docarray_pb2.DocumentArrayProto:
        """Encode as ``docarray.DocumentArrayProto`` (arrays always dense). An array whose
        documents were never used returns the message it was read from."""
        if self._items is None and self._source is not None:
            return self._source
        from .proto_codec import docarray_to_proto

        return docarray_to_proto(self)

    @classmethod
    def from_protobuf(cls, pb: docarray_pb2.DocumentArrayProto) -> DocumentArray:
        """Decode a ``docarray.DocumentArrayProto``, lazily: documents are built on first use;
        arrays are read-only zero-copy views of the message's buffers."""
        return cls._lazy(pb)

    def to_bytes(self) -> bytes:
        """Serialize as a ``docarray.DocumentArrayProto`` message (an array never used since
        it was read from the wire is written back as it came)."""
        data: bytes = self.to_protobuf().SerializeToString()
        return data

    @classmethod
    def from_bytes(cls, data: bytes) -> DocumentArray:
        """Parse a serialized ``DocumentArrayProto``; malformed input raises BadRequestError."""
        from .proto_codec import docarray_from_bytes

        return docarray_from_bytes(data)

    def to_dict_list(self) -> list[dict[str, Any]]:
        """One JSON-able dict per document (see :meth:`Document.to_dict`)."""
        from .json_codec import docarray_to_dict_list

        return docarray_to_dict_list(self)

    @classmethod
    def from_dict_list(cls, items: Any, *, where: str = "data") -> DocumentArray:
        """Build from a list of JSON objects; errors name ``where[i]`` and the bad key."""
        from .json_codec import docarray_from_dict_list

        return docarray_from_dict_list(items, where=where)

    def to_json(self) -> str:
        """A JSON array of documents."""
        from .json_codec import docarray_to_json

        return docarray_to_json(self)

    @classmethod
    def from_json(cls, text: str | bytes) -> DocumentArray:
        """Parse a JSON array of documents; bad input raises BadRequestError."""
        from .json_codec import docarray_from_json

        return docarray_from_json(text)


def reduce_all(arrays: Sequence[DocumentArray]) -> DocumentArray:
    """Merge fan-in results: ``arrays[1:]`` are reduced into ``arrays[0]``, which is returned.

    ``arrays[0]`` is mutated in place and returned (no copy: the gateway owns the decoded
    arrays). The other arrays are left untouched: documents taken from them are copied
    (:meth:`Document.copy`, arrays shared) before being appended. Returns an empty
    DocumentArray for an empty sequence.
    """
    if not arrays:
        return DocumentArray()
    base = arrays[0]
    for other in arrays[1:]:
        _reduce_into(base, other, copy_new=True)
    return base


def merge_doc(dst: Document, src: Document, *, copy_new: bool = False) -> None:
    """Merge ``src`` into ``dst`` in place (Jina's ``Document.update`` + reduce semantics).

    Non-empty content (text, blob, tensor), embedding, non-default scalars and a non-empty
    location of ``src`` replace those of ``dst``; tags, metadata, scores and evaluations are
    dict-updated; matches and chunks are reduced recursively by id. With ``copy_new``,
    documents appended from ``src`` are copies, so ``src`` is never mutated later.
    """
    if src._text:
        dst.text = src._text
    elif src._blob:
        dst.blob = src._blob
    elif src._tensor is not None:
        dst.tensor = src._tensor
    if src._embedding is not None:
        dst._embedding = src._embedding
    if src.uri:
        dst.uri = src.uri
    if src.mime_type:
        dst.mime_type = src.mime_type
    if src.modality:
        dst.modality = src.modality
    if src.parent_id:
        dst.parent_id = src.parent_id
    if src.granularity:
        dst.granularity = src.granularity
    if src.adjacency:
        dst.adjacency = src.adjacency
    if src.weight:
        dst.weight = src.weight
    if src.offset:
        dst.offset = src.offset
    if src._location:
        dst._location = list(src._location)
    if src._tags:
        dst.tags.update(src._tags)
    if src._metadata:
        if dst._metadata is None:
            dst._metadata = {}
        dst._metadata.update(src._metadata)
    if src._scores:
        dst.scores.update(src._scores.copy() if copy_new else src._scores)
    if src._evaluations:
        dst.evaluations.update(src._evaluations.copy() if copy_new else src._evaluations)
    if src._matches:
        _reduce_into(dst.matches, src._matches, copy_new=copy_new)
    if src._chunks:
        _reduce_into(dst.chunks, src._chunks, copy_new=copy_new)


def _reduce_into(base: DocumentArray, other: DocumentArray, *, copy_new: bool) -> None:
    id_map = base._index_map()
    docs = base._docs
    for doc in list(other._docs):
        index = id_map.get(doc._id)
        if index is None:
            base.append(doc.copy() if copy_new else doc)  # append keeps id_map current
        elif docs[index] is not doc:
            merge_doc(docs[index], doc, copy_new=copy_new)


def _check_doc(value: Any) -> Document:
    if not isinstance(value, Document):
        raise TypeError(f"a DocumentArray holds Documents, got {type(value).__name__}")
    return value
