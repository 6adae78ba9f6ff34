"""Client pieces without sockets: batching, addresses, the prefetch window, callbacks, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import httpx
import pytest

from flowserve.client._address import Address, parse_address
from flowserve.client._batching import count_requests, iter_batches, iter_requests
from flowserve.client._callbacks import ResultSink, error_from_status
from flowserve.client._engine import StreamBroken, run_post
from flowserve.client._grpc import error_from_rpc
from flowserve.client._http import error_from_http
from flowserve.client._inflight import InFlight
from flowserve.documents.array import DocumentArray
from flowserve.documents.document import Document
from flowserve.errors import (
    BadRequestError,
    DeadlineExceededError,
    ExecutorError,
    OverloadedError,
    RequestError,
    UnavailableError,
)
from flowserve.wire.request import DataRequest


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


# -- the prefetch window ------------------------------------------------------------------------


def _req(text: str) -> DataRequest:
    return DataRequest.new(DocumentArray([Document(text=text)]), endpoint="/")


def test_inflight_limits_and_frees_slots() -> None:
    async def main() -> None:
        window = InFlight(2)
        a, b, c = _req("a"), _req("b"), _req("c")
        for r in (a, b):
            await window.acquire()
            window.add(r)
        third = asyncio.ensure_future(window.acquire())
        await asyncio.sleep(0)  # one loop turn: the acquire must still be blocked
        assert not third.done() and len(window) == 2
        assert window.answer(b) == [(b, None)]
        await asyncio.wait_for(third, 5)
        window.add(c)
        assert window.max_in_flight == 2

    asyncio.run(main())


def test_inflight_ordered_hands_out_in_send_order() -> None:
    async def main() -> None:
        window = InFlight(0, ordered=True)
        reqs = [_req(str(i)) for i in range(3)]
        for r in reqs:
            await window.acquire()
            window.add(r)
        assert window.answer(reqs[2]) == []
        err = OverloadedError("busy")
        assert window.fail(reqs[1].request_id, err) == []
        out = window.answer(reqs[0])
        assert [(o[0].request_id, o[1]) for o in out] == [
            (reqs[0].request_id, None),
            (reqs[1].request_id, err),
            (reqs[2].request_id, None),
        ]
        assert len(window) == 0

    asyncio.run(main())


def test_inflight_fail_all_and_unknown_ids() -> None:
    async def main() -> None:
        window = InFlight(5)
        reqs = [_req(str(i)) for i in range(2)]
        for r in reqs:
            await window.acquire()
            window.add(r)
        stranger = DataRequest.new(endpoint="/", request_id="not-sent")
        # an answer without a known id is attributed to the oldest request
        assert window.answer(stranger) == [(stranger, None)]
        err = UnavailableError("gone")
        assert window.fail_all(err) == [(reqs[1], err)]
        assert len(window) == 0
        with pytest.raises(ValueError, match="prefetch"):
            InFlight(-1)

    asyncio.run(main())


# -- callbacks and the error policy -------------------------------------------------------------


def _error_reply(name: str = "ValueError") -> DataRequest:
    reply = _req("x")
    reply.set_error("ValueError: boom", name=name, executor="enc")
    reply.status.exception.stacks.append("Traceback ...")
    return reply


def test_sink_callback_order_and_no_collection() -> None:
    calls: list[str] = []

    async def on_error(r: DataRequest) -> None:  # coroutine callbacks are awaited
        calls.append("error")

    sink = ResultSink(
        on_done=lambda r: calls.append("done"),
        on_error=on_error,
        on_always=lambda r: calls.append("always"),
    )

    async def main() -> None:
        await sink.deliver(_req("a"))
        await sink.deliver(_error_reply())
        await sink.deliver(_req("b"), OverloadedError("slow down"))

    asyncio.run(main())
    assert calls == ["done", "always", "error", "always", "error", "always"]
    assert sink.result() is None


def test_sink_collects_docs_or_responses() -> None:
    docs_sink = ResultSink()
    resp_sink = ResultSink(return_responses=True)

    async def main() -> None:
        for sink in (docs_sink, resp_sink):
            await sink.deliver(_req("a"))
            await sink.deliver(_req("b"))

    asyncio.run(main())
    result = docs_sink.result()
    assert isinstance(result, DocumentArray) and [d.text for d in result] == ["a", "b"]
    responses = resp_sink.result()
    assert isinstance(responses, list) and len(responses) == 2


def test_sink_raises_executor_error_without_on_error() -> None:
    always: list[DataRequest] = []
    sink = ResultSink(on_always=always.append)
    with pytest.raises(ExecutorError) as info:
        asyncio.run(sink.deliver(_error_reply()))
    assert len(always) == 1  # on_always still ran
    err = info.value
    assert (err.executor, err.name, err.args_, err.stacks) == (
        "enc",
        "ValueError",
        ["ValueError: boom"],
        ["Traceback ..."],
    )
    assert "enc" in str(err) and "boom" in str(err)


def test_sink_transport_failure_becomes_error_response() -> None:
    seen: list[DataRequest] = []
    sink = ResultSink(on_error=seen.append)
    asyncio.run(sink.deliver(_req("a"), OverloadedError("too many requests")))
    (reply,) = seen
    assert reply.is_error
    assert reply.status.exception.name == "OverloadedError"
    assert reply.status.description == "too many requests"
    assert [d.text for d in reply.docs] == ["a"]  # built from the request that failed


def test_sink_continue_on_error_logs(caplog: pytest.LogCaptureFixture) -> None:
    sink = ResultSink(continue_on_error=True)

    async def main() -> None:
        await sink.deliver(_error_reply())
        await sink.deliver(_req("ok"))

    with caplog.at_level("ERROR", logger="flowserve.client"):
        asyncio.run(main())
    assert "ExecutorError" in caplog.text
    result = sink.result()
    assert isinstance(result, DocumentArray) and [d.text for d in result] == ["ok"]


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("OverloadedError", OverloadedError),
        ("DeadlineExceededError", DeadlineExceededError),
        ("UnavailableError", UnavailableError),
        ("BadRequestError", BadRequestError),
        ("KeyError", ExecutorError),
    ],
)
def test_error_from_status(name: str, cls: type) -> None:
    assert type(error_from_status(_error_reply(name))) is cls


# -- transport error mapping --------------------------------------------------------------------


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str, trailing: tuple = ()) -> None:
        self._code, self._details, self._trailing = code, details, trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple:
        return self._trailing


def test_error_from_rpc() -> None:
    addr = parse_address("grpc://gw:1")
    err = error_from_rpc(
        FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "busy", (("retry-after", "2.5"),)), addr
    )
    assert isinstance(err, OverloadedError) and str(err) == "busy" and err.retry_after == 2.5
    err = error_from_rpc(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "refused"), addr)
    assert isinstance(err, UnavailableError) and "grpc://gw:1" in str(err)
    err = error_from_rpc(FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "late"), addr)
    assert isinstance(err, DeadlineExceededError)
    err = error_from_rpc(FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "bad"), addr)
    assert isinstance(err, BadRequestError)
    err = error_from_rpc(FakeRpcError(grpc.StatusCode.INTERNAL, "bug"), addr)
    assert type(err) is RequestError and "INTERNAL" in str(err)


def test_error_from_http() -> None:
    addr = parse_address("http://gw:1")
    reply = httpx.Response(
        429, json={"detail": "queue full", "error": "OverloadedError"}, headers={"Retry-After": "3"}
    )
    err = error_from_http(reply, addr)
    assert isinstance(err, OverloadedError) and str(err) == "queue full" and err.retry_after == 3
    err = error_from_http(
        httpx.Response(503, json={"detail": "x", "error": "UnavailableError"}), addr
    )
    assert isinstance(err, UnavailableError)
    err = error_from_http(httpx.Response(503, text="busy", headers={"Retry-After": "1"}), addr)
    assert isinstance(err, OverloadedError)
    assert isinstance(
        error_from_http(httpx.Response(504, text="late"), addr), DeadlineExceededError
    )
    assert isinstance(
        error_from_http(httpx.Response(422, json={"detail": "no"}), addr), BadRequestError
    )
    err = error_from_http(httpx.Response(500, text="oops"), addr)
    assert type(err) is RequestError and "500" in str(err)


# -- one post over an in-memory stream ----------------------------------------------------------


class EchoStream:
    """Answers each request at once; ``break`` kills the stream, ``down`` is a fatal failure."""

    def __init__(self, log: list[str]) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.dead = False
        self.log = log

    async def write(self, request: DataRequest) -> bool:
        if self.dead:
            return False
        text = request.docs[0].text if len(request.docs) else ""
        self.log.append(text or "")
        if text in ("break", "down"):
            self.dead = True
            error = OverloadedError("busy") if text == "break" else UnavailableError("gw:1 down")
            self.queue.put_nowait(StreamBroken(error, fatal=text == "down"))
        elif text == "eof":
            self.dead = True
            self.queue.put_nowait(None)  # ends cleanly without answering
        else:
            self.queue.put_nowait(request)
        return True

    async def done_writing(self) -> None:
        if not self.dead:
            self.queue.put_nowait(None)

    async def read(self) -> DataRequest | None:
        item = await self.queue.get()
        if isinstance(item, StreamBroken):
            raise item
        return item  # type: ignore[return-value]

    def cancel(self) -> None:
        self.dead = True


def _post(texts: list[object], sink: ResultSink, prefetch: int = 1) -> tuple[int, list[str]]:
    opened = 0
    written: list[str] = []

    async def open_stream(remaining: float | None) -> EchoStream:
        nonlocal opened
        opened += 1
        return EchoStream(written)

    requests = iter_requests(texts, endpoint="/", request_size=1)  # type: ignore[arg-type]
    asyncio.run(run_post(open_stream, requests, sink, InFlight(prefetch), where="gw:1"))
    return opened, written


def test_post_goes_on_after_a_broken_stream_on_a_new_one() -> None:
    done: list[str] = []
    errors: list[DataRequest] = []
    sink = ResultSink(on_done=lambda r: done.append(r.docs[0].text or ""), on_error=errors.append)
    opened, written = _post(["a", "break", "c", "d"], sink)
    assert opened == 2 and written == ["a", "break", "c", "d"]
    assert done == ["a", "c", "d"]
    assert [e.status.exception.name for e in errors] == ["OverloadedError"]


def test_post_raises_fatal_stream_errors_even_with_on_error() -> None:
    errors: list[DataRequest] = []
    with pytest.raises(UnavailableError, match="gw:1 down"):
        _post(["a", "down", "c"], ResultSink(on_error=errors.append))
    assert errors == []


def test_post_stream_ending_early_is_an_error() -> None:
    with pytest.raises(UnavailableError, match="ended the stream"):
        _post(["a", "eof", "c"], ResultSink())


def test_post_bad_input_raises_without_hanging() -> None:
    with pytest.raises(TypeError, match=r"inputs\[1\]"):
        _post(["a", 3, "c"], ResultSink(), prefetch=5)
