"""Client pieces without sockets: the prefetch window, callbacks, the error policy and the
mapping of transport errors."""

from __future__ import annotations

import asyncio

import grpc
import httpx
import pytest

from flowserve.client._address import parse_address
from flowserve.client._callbacks import ResultSink, error_from_status
from flowserve.client._grpc import error_from_rpc
from flowserve.client._http import error_from_http
from flowserve.client._inflight import InFlight
from flowserve.documents.array import DocumentArray
from flowserve.documents.document import Document
from flowserve.errors import (
    BadRequestError,
    DeadlineExceededError,
    ExecutorError,
    HandlerTimeoutError,
    OverloadedError,
    RequestError,
    UnavailableError,
)
from flowserve.wire.request import DataRequest

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
        ("HandlerTimeoutError", HandlerTimeoutError),
    ],
)
def test_error_from_status(name: str, cls: type) -> None:
    assert type(error_from_status(_error_reply(name))) is cls


def test_a_handler_timeout_is_an_executor_error_and_a_timeout() -> None:
    reply = _error_reply("HandlerTimeoutError")
    reply.status.exception.executor = "slow"
    error = error_from_status(reply)
    assert isinstance(error, ExecutorError) and isinstance(error, TimeoutError)
    assert error.executor == "slow" and error.name == "HandlerTimeoutError"
    assert "executor 'slow' failed" in str(error)


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
    assert "cannot reach the gateway" in str(err)
    err = error_from_rpc(FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "late"), addr)
    assert isinstance(err, DeadlineExceededError)
    err = error_from_rpc(FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "bad"), addr)
    assert isinstance(err, BadRequestError)
    err = error_from_rpc(FakeRpcError(grpc.StatusCode.INTERNAL, "bug"), addr)
    assert type(err) is RequestError and "INTERNAL" in str(err)


def test_unavailable_behind_a_gateway_that_answered_is_not_an_unreachable_gateway() -> None:
    """The gateway's `flowserve-error` trailer says it answered: an executor is unavailable,
    as the trailer's class says (before: "cannot reach the gateway at ...: executor 'x' ...")."""
    from flowserve.errors import ReplicaLostError
    from flowserve.wire.names import ERROR_TRAILER

    addr = parse_address("grpc://gw:1")
    for name, cls in (("UnavailableError", UnavailableError),
                      ("ReplicaLostError", ReplicaLostError), ("Whatever", UnavailableError)):
        err = error_from_rpc(FakeRpcError(grpc.StatusCode.UNAVAILABLE,
                                          "executor 'x': no healthy replica",
                                          ((ERROR_TRAILER, name),)), addr)
        assert type(err) is cls
        assert str(err) == "grpc://gw:1: executor 'x': no healthy replica"


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
