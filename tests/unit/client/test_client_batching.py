"""Client pieces without sockets: batching inputs into requests, and addresses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowserve.client._address import Address, parse_address
from flowserve.client._batching import count_requests, iter_batches, iter_requests
from flowserve.documents.array import DocumentArray
from flowserve.documents.document import Document
from flowserve.errors import (
    BadRequestError,
)


class CountingDocs:
    """A generator of Documents that records how many were taken."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.taken = 0

    def __iter__(self) -> Iterator[Document]:
        for i in range(self.n):
            self.taken += 1
            yield Document(text=f"doc {i}")


# -- batching -----------------------------------------------------------------------------------


def test_batches_of_request_size_with_short_tail() -> None:
    da = DocumentArray(Document(text=str(i)) for i in range(25))
    sizes = [len(b) for b in iter_batches(da, 10)]
    assert sizes == [10, 10, 5]
    batches = list(iter_batches(iter(da), 10))
    assert [d.text for b in batches for d in b] == [str(i) for i in range(25)]


def test_none_is_one_empty_request_and_empty_input_is_none() -> None:
    assert [len(b) for b in iter_batches(None, 10)] == [0]
    assert list(iter_batches([], 10)) == []
    assert list(iter_batches(DocumentArray(), 10)) == []


def test_single_document_and_callable_inputs() -> None:
    doc = Document(text="x")
    (batch,) = iter_batches(doc, 3)
    assert batch[0] is doc
    batches = list(iter_batches(lambda: (Document(text=str(i)) for i in range(4)), 3))
    assert [len(b) for b in batches] == [3, 1]


def test_strings_and_dicts_become_documents() -> None:
    (batch,) = iter_batches(["a", {"text": "b"}], 5)
    assert [d.text for d in batch] == ["a", "b"]


def test_bad_items_name_their_index() -> None:
    with pytest.raises(TypeError, match=r"inputs\[2\] is a int"):
        list(iter_batches([Document(), Document(), 3], 2))
    with pytest.raises(BadRequestError, match=r"inputs\[1\]"):
        list(iter_batches([{"text": "a"}, {"txt": "b"}], 5))
    with pytest.raises(TypeError, match="not iterable"):
        list(iter_batches(42, 5))  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_bad_request_size(size: object) -> None:
    with pytest.raises(ValueError, match="request_size"):
        list(iter_batches([Document()], size))  # type: ignore[arg-type]


def test_generator_is_consumed_only_as_far_as_asked() -> None:
    docs = CountingDocs(100_000)
    batches = iter_batches(docs, 100)
    assert docs.taken == 0  # nothing happens before the first batch is asked for
    first = next(batches)
    assert len(first) == 100 and docs.taken == 100
    next(batches)
    assert docs.taken == 200
    batches.close()
    assert docs.taken == 200


def test_short_final_batch_does_not_poll_the_iterator_again() -> None:
    docs = CountingDocs(5)
    assert [len(b) for b in iter_batches(docs, 2)] == [2, 2, 1]
    assert docs.taken == 5


def test_iter_requests_builds_data_requests() -> None:
    reqs = list(
        iter_requests(
            [Document(text="a"), Document(text="b"), Document(text="c")],
            endpoint="/foo",
            request_size=2,
            parameters={"k": 1},
            target_executor="enc.*",
            timeout_ms=1500,
        )
    )
    assert len(reqs) == 2
    assert {r.request_id for r in reqs} != {""} and reqs[0].request_id != reqs[1].request_id
    assert reqs[0].endpoint == "/foo" and reqs[0].target_executor == "enc.*"
    assert reqs[0].parameters == {"k": 1}
    assert reqs[1].header.timeout == 1500
    assert [d.text for d in reqs[1].docs] == ["c"]


def test_count_requests() -> None:
    assert count_requests(None, 10) == 1
    assert count_requests(Document(), 10) == 1
    assert count_requests(DocumentArray(Document() for _ in range(21)), 10) == 3
    assert count_requests(iter([]), 10) is None


# -- addresses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("grpc://localhost:8080",), Address("localhost", 8080, "grpc")),
        (("http://127.0.0.1:1234",), Address("127.0.0.1", 1234, "http")),
        (("https://example.com",), Address("example.com", 443, "http", tls=True)),
        (("grpcs://example.com:9000",), Address("example.com", 9000, "grpc", tls=True)),
        (("localhost:8080",), Address("localhost", 8080, "grpc")),
        (("localhost",), Address("localhost", 8080, "grpc")),
        (("localhost", 1234, "http"), Address("localhost", 1234, "http")),
        (("grpc://localhost", "45678"), Address("localhost", 45678, "grpc")),
        (("[::1]:8080",), Address("::1", 8080, "grpc")),
    ],
)
def test_parse_address(args: tuple, expected: Address) -> None:
    assert parse_address(*args) == expected


def test_address_forms() -> None:
    assert parse_address("grpc://localhost:8080").target == "localhost:8080"
    assert parse_address("[::1]:81").target == "[::1]:81"
    assert str(parse_address("localhost", 81, "http")) == "http://localhost:81"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("ftp://localhost:21",), "'ftp'"),
        (("localhost:99999",), "99999"),
        (("localhost:abc",), "'abc'"),
        (("localhost", 0), "0"),
        (("localhost", "x"), "'x'"),
        (("localhost", 8080, "websocket"), "'websocket'"),
        (("http://localhost:80", None, "grpc"), "'grpc'"),
        (("localhost:80", 81), "81"),
        (("http://localhost/post",), "path"),
        (("",), "''"),
    ],
)
def test_bad_addresses_name_the_value(args: tuple, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_address(*args)
