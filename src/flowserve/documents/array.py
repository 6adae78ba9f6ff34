"""DocumentArray: a list of Documents with O(1) lookup by id and columnar accessors."""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Iterable, Iterator, MutableSequence, Sequence, Sized
from typing import IO, TYPE_CHECKING, Any, SupportsIndex, overload

import numpy as np

from .document import Document
from .selectors import (
    flatten,
    get_attributes,
    is_mask,
    select_mask,
    set_attributes,
    traverse_flat,
)

if TYPE_CHECKING:
    from ..proto import docarray_pb2

__all__ = ["DocumentArray"]


class DocumentArray(MutableSequence[Document]):
    """A mutable sequence of :class:`Document`.

    Index by position (``da[0]``), slice (``da[1:3]``, a new DocumentArray sharing the
    documents), id (``da['abc']``, O(1)) or a list of positions/ids. ``'abc' in da`` and
    ``doc in da`` test by id. Ids need not be unique; lookup by id finds the first match.

    docarray v1 indexing works too: selectors (``da['@c,m']``), boolean masks, ``da[...]``
    (every level) and attribute columns (``da[:, 'tags__x']``); see
    :mod:`flowserve.documents.selectors`.
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
    @overload
    def __getitem__(self, key: tuple[Any, str | Sequence[str]]) -> Any: ...
    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple):
            return self._attributes(key)
        if key is Ellipsis:
            return flatten(self)
        if isinstance(key, str):
            if key.startswith("@"):
                return traverse_flat(self, key)
            return self._docs[self._position(key)]
        if is_mask(key):
            return select_mask(self, key)
        if isinstance(key, slice):
            return DocumentArray._wrap(self._docs[key])
        if isinstance(key, Iterable):
            return DocumentArray._wrap([self[k] for k in key])
        return self._docs[operator.index(key)]

    @overload
    def __setitem__(self, key: SupportsIndex | str, value: Document) -> None: ...
    @overload
    def __setitem__(self, key: slice, value: Iterable[Document]) -> None: ...
    @overload
    def __setitem__(self, key: tuple[Any, str | Sequence[str]], value: Any) -> None: ...
    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, tuple):
            self._attributes(key, value, assign=True)
            return
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

    def _attributes(self, key: tuple[Any, Any], value: Any = None, *,
                    assign: bool = False) -> Any:
        """``da[rows, fields]``: get (or set) attributes of the documents ``rows`` selects."""
        if len(key) != 2:
            raise IndexError(f"expected da[rows, fields], got a key of length {len(key)}")
        rows, fields = key
        if rows is Ellipsis:
            target = flatten(self)
        else:
            target = self if isinstance(rows, slice) and rows == slice(None) else self[rows]
        if isinstance(target, Document):
            if not assign and isinstance(fields, str):  # da[0, 'text']: the value itself
                return get_attributes(DocumentArray._wrap([target]), fields)[0]
            target = DocumentArray._wrap([target])
        if assign:
            set_attributes(target, fields, value)
            return None
        return get_attributes(target, fields)

    def __add__(self, other: Iterable[Document]) -> DocumentArray:
        """A new DocumentArray with the documents of both (the same objects)."""
        if not isinstance(other, Iterable):
            return NotImplemented
        return DocumentArray(list(self._docs) + list(other))

    @classmethod
    def empty(cls, size: int = 0) -> DocumentArray:
        """`size` empty Documents, each with a fresh id."""
        return cls._wrap([Document() for _ in range(size)])

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
        from .merging import reduce_into

        reduce_into(self, other, copy_new=False)
        return self

    # -- docarray v1 operations (see matching, iteration, summary) ----------------------------

    def match(self, darray: DocumentArray, *, metric: str = "cosine", limit: int | None = 20,
              metric_name: str | None = None, exclude_self: bool = False,
              batch_size: int | None = None) -> None:
        """Set each document's ``matches`` to its `limit` nearest documents of `darray` by
        embedding, scored under ``scores[metric_name or metric]`` (see
        :mod:`flowserve.documents.matching`; metrics cosine, euclidean, sqeuclidean, dot)."""
        from .matching import match

        match(self, darray, metric=metric, limit=limit, metric_name=metric_name,
              exclude_self=exclude_self, batch_size=batch_size)

    def find(self, query: Any, *, metric: str = "cosine", limit: int | None = 20,
             metric_name: str | None = None,
             exclude_self: bool = False) -> DocumentArray | list[DocumentArray]:
        """The documents nearest to `query`: a DocumentArray for a 1-d array, a list with one
        DocumentArray per query for a Document, a DocumentArray or a 2-d array (docarray 0.21)."""
        from .matching import find

        return find(self, query, metric=metric, limit=limit, metric_name=metric_name,
                    exclude_self=exclude_self)

    def batch(self, batch_size: int, shuffle: bool = False) -> Iterator[DocumentArray]:
        """Consecutive DocumentArrays of at most `batch_size` documents."""
        from .iteration import batch

        return batch(self, batch_size, shuffle)

    def map(self, func: Callable[[Document], Any], backend: str = "thread",
            num_worker: int | None = None) -> Iterator[Any]:
        """``func(doc)`` for each document, in order, run in a thread (or process) pool."""
        from .iteration import map_docs

        return map_docs(self, func, backend, num_worker)

    def apply(self, func: Callable[[Document], Any], backend: str = "thread",
              num_worker: int | None = None) -> DocumentArray:
        """Replace each document by ``func(doc)`` (None keeps it) and return this array."""
        from .iteration import apply

        return apply(self, func, backend, num_worker)

    def summary(self) -> None:
        """Print the length and which attributes the documents set."""
        from .summary import summary

        summary(self)

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

    def to_bytes(self, protocol: str = "protobuf-array", compress: str | None = None) -> bytes:
        """Serialize as a ``docarray.DocumentArrayProto`` message (an array never used since
        it was read from the wire is written back as it came), compressed with `compress`
        (zlib, gzip, bz2, lzma); see :mod:`flowserve.documents.binary`."""
        from .binary import check_protocol, compress_bytes

        check_protocol(protocol)
        return compress_bytes(self.to_protobuf().SerializeToString(), compress)

    @classmethod
    def from_bytes(cls, data: bytes, protocol: str = "protobuf-array",
                   compress: str | None = None) -> DocumentArray:
        """Parse what :meth:`to_bytes` wrote; malformed input raises BadRequestError."""
        from .binary import check_protocol, decompress_bytes
        from .proto_codec import docarray_from_bytes

        check_protocol(protocol)
        return docarray_from_bytes(decompress_bytes(data, compress))

    def save_binary(self, file: str | os.PathLike[str] | IO[bytes],
                    protocol: str = "protobuf-array", compress: str | None = None) -> None:
        """Write :meth:`to_bytes` to a path or a binary file object."""
        from .binary import save_binary

        save_binary(self, file, protocol=protocol, compress=compress)

    @classmethod
    def load_binary(cls, file: str | os.PathLike[str] | IO[bytes] | bytes,
                    protocol: str = "protobuf-array",
                    compress: str | None = None) -> DocumentArray:
        """Read what :meth:`save_binary` wrote."""
        from .binary import load_binary

        return load_binary(file, protocol=protocol, compress=compress)

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


def _check_doc(value: Any) -> Document:
    if not isinstance(value, Document):
        raise TypeError(f"a DocumentArray holds Documents, got {type(value).__name__}")
    return value
