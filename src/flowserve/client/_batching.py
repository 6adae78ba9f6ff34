"""Cut a client's inputs into DocumentArrays of ``request_size`` docs, lazily.

Nothing here reads ahead: the next batch is taken from the inputs only when the caller asks for
it, so a generator of a million documents is never materialized. The sender asks for a batch
only once a prefetch slot is free, which bounds how many batches exist at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

from ..documents.array import DocumentArray
from ..documents.document import Document
from ..wire.request import DataRequest

__all__ = ["InputType", "count_requests", "iter_batches", "iter_requests"]

InputType = Document | Iterable[Any] | Callable[[], Iterable[Any]] | None


def _as_document(item: Any, index: int) -> Document:
    if isinstance(item, Document):
        return item
    if isinstance(item, str):
        return Document(text=item)
    if isinstance(item, Mapping):
        return Document.from_dict(item, where=f"inputs[{index}]")
    raise TypeError(
        f"inputs[{index}] is a {type(item).__name__}; expected a Document, a str or a dict"
    )


def _check_size(request_size: int) -> int:
    if isinstance(request_size, bool) or not isinstance(request_size, int) or request_size < 1:
        raise ValueError(f"invalid request_size {request_size!r}: must be a positive integer")
    return request_size


def iter_batches(inputs: InputType, request_size: int = 100) -> Iterator[DocumentArray]:
    """Yield DocumentArrays of at most `request_size` docs taken lazily from `inputs`.

    `inputs` may be None (one empty batch: a request without docs), a Document, a
    DocumentArray or other sequence, any iterable/generator of Documents (str items become
    ``Document(text=...)``, dicts go through ``Document.from_dict``), or a callable returning one.
    An empty iterable yields no batch at all.
    """
    size = _check_size(request_size)
    if inputs is None:
        yield DocumentArray()
        return
    if isinstance(inputs, Document):
        yield DocumentArray([inputs])
        return
    if callable(inputs) and not isinstance(inputs, Iterable):
        inputs = inputs()
    if isinstance(inputs, (str, bytes, Mapping)):
        raise TypeError(
            f"inputs is a {type(inputs).__name__}; expected Documents, a DocumentArray or an "
            "iterable of Documents"
        )
    if not isinstance(inputs, Iterable):
        raise TypeError(f"inputs is a {type(inputs).__name__}, which is not iterable")
    if isinstance(inputs, DocumentArray):
        for start in range(0, len(inputs), size):
            yield inputs[start : start + size]  # a DocumentArray view, no copy of the docs
        return
    iterator = iter(inputs)
    index = 0
    while True:
        chunk = [_as_document(item, index + i) for i, item in enumerate(islice(iterator, size))]
        if not chunk:
            return
        index += len(chunk)
        yield DocumentArray(chunk)
        if len(chunk) < size:  # a short batch means the iterator is exhausted; don't poll it
            return


def count_requests(inputs: InputType, request_size: int) -> int | None:
    """How many requests `inputs` will make, when that is known without consuming them."""
    if inputs is None or isinstance(inputs, Document):
        return 1
    if isinstance(inputs, Sequence) and not isinstance(inputs, (str, bytes)):
        return -(-len(inputs) // _check_size(request_size))
    return None


def iter_requests(
    inputs: InputType,
    *,
    endpoint: str,
    request_size: int = 100,
    parameters: dict[str, Any] | None = None,
    target_executor: str | None = None,
    timeout_ms: int | None = None,
) -> Iterator[DataRequest]:
    """Wrap each batch of `inputs` into a fresh DataRequest for `endpoint`."""
    for docs in iter_batches(inputs, request_size):
        yield DataRequest.new(
            docs,
            endpoint=endpoint,
            parameters=parameters,
            target_executor=target_executor,
            timeout_ms=timeout_ms,
        )
