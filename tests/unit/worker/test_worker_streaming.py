"""The worker driving a streaming handler (a generator, async or plain): order, errors after
the docs sent, cancellation closing the generator, the concurrency slot held, metrics (no
sockets)."""

from __future__ import annotations

import asyncio
import threading

from prometheus_client import CollectorRegistry
from toy_executors import Tokens

from flowserve import Document, DocumentArray, Executor, requests
from flowserve.observe.metrics import HandlerMetrics
from flowserve.proto import jina_pb2
from flowserve.wire.deadline import Deadline
from flowserve.wire.request import DataRequest
from flowserve.wire.stream import is_error, new_stream_request
from flowserve.worker.runtime import ExecutorRuntime


class Gated(Executor):
    """Yields one doc, then waits for `go` before the next; records how it ended."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.go = asyncio.Event()
        self.ended: list[str] = []

    @requests(on="/gen")
    async def gen(self, doc: Document, **kwargs):
        try:
            yield Document(text=doc.text + "-1")
            await self.go.wait()
            yield Document(text=doc.text + "-2")
            self.ended.append("finished")
        except BaseException as exc:
            self.ended.append(type(exc).__name__)
            raise

    @requests(on="/bad-item")
    async def bad_item(self, doc: Document, **kwargs):
        yield Document(text="ok")
        yield {"not": "a document"}


def stream_request(text: str, endpoint: str = "/generate", **parameters):
    wire = new_stream_request(Document(text=text), endpoint=endpoint,
                              parameters=parameters or None, request_id="r1")
    return jina_pb2.SingleDocumentRequestProto.FromString(wire.SerializeToString())


async def collect(runtime: ExecutorRuntime, request, endpoint=None, **kwargs):
    return [reply async for reply in runtime.stream(request, endpoint, **kwargs)]


def test_the_runtime_streams_each_yielded_doc_in_order_with_the_request_id():
    runtime = ExecutorRuntime(Tokens())
    replies = asyncio.run(collect(runtime, stream_request("one two three")))
    assert [r.document.text for r in replies] == ["one", "two", "three"]
    assert {r.header.request_id for r in replies} == {"r1"}
    assert not any(is_error(r) for r in replies)
    assert runtime.streaming_endpoints() == ["/generate", "/generate-sync"]


def test_an_error_mid_stream_comes_after_the_docs_already_yielded():
    replies = asyncio.run(collect(ExecutorRuntime(Tokens(runtime_args={"name": "tok"})),
                                  stream_request("a b boom c")))
    assert [r.document.text for r in replies[:-1]] == ["a", "b"]
    last = replies[-1]
    assert is_error(last)
    assert last.header.status.exception.name == "ValueError"
    assert last.header.status.exception.executor == "tok"
    assert "boom after 2 words" in last.header.status.description


def test_closing_the_stream_closes_the_handlers_generator():
    executor = Gated()
    runtime = ExecutorRuntime(executor)

    async def go():
        replies = runtime.stream(stream_request("x"), "/gen")
        first = await anext(replies)
        await replies.aclose()  # the reader went away after the first doc
        return first

    first = asyncio.run(go())
    assert first.document.text == "x-1"
    assert executor.ended == ["GeneratorExit"]


def test_cancelling_the_reader_while_the_handler_waits_cancels_the_generator():
    executor = Gated()
    runtime = ExecutorRuntime(executor)

    async def go():
        replies = runtime.stream(stream_request("x"), "/gen")
        await anext(replies)
        waiting = asyncio.ensure_future(anext(replies))  # the handler waits for `go`
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await replies.aclose()

    asyncio.run(go())
    assert executor.ended == ["CancelledError"]


def test_a_stream_holds_its_concurrency_slot_until_it_ends():
    executor = Gated()
    runtime = ExecutorRuntime(executor, concurrency=1)
    order: list[str] = []

    async def go():
        replies = runtime.stream(stream_request("s"), "/gen")
        await anext(replies)
        post = asyncio.ensure_future(runtime.handle(
            DataRequest.new(DocumentArray([Document(text="p")]), endpoint="/nothing")))
        # /nothing has no handler: it passes through at once, without a slot
        await post
        order.append("pass-through")
        other = asyncio.ensure_future(anext(runtime.stream(stream_request("t"), "/gen")))
        for _ in range(5):
            await asyncio.sleep(0)
        order.append("second waiting" if not other.done() else "second ran")
        executor.go.set()
        rest = [r async for r in replies]
        order.append(f"first ended with {len(rest)} more")
        second = await other
        order.append(second.document.text)

    asyncio.run(go())
    assert order == ["pass-through", "second waiting", "first ended with 1 more", "t-1"]


def test_a_non_generator_endpoint_or_an_unknown_one_is_refused_in_one_reply():
    runtime = ExecutorRuntime(Tokens(runtime_args={"name": "tok"}))
    (plain,) = asyncio.run(collect(runtime, stream_request("x", "/plain")))
    assert is_error(plain) and plain.header.status.exception.name == "BadRequestError"
    assert "'/plain' of executor 'tok' is not a streaming endpoint" in \
        plain.header.status.description
    (unknown,) = asyncio.run(collect(runtime, stream_request("x", "/nope")))
    assert "executor 'tok' has no handler for endpoint '/nope'" in \
        unknown.header.status.description


def test_posting_to_a_streaming_endpoint_is_an_error_naming_stream_doc():
    runtime = ExecutorRuntime(Tokens(runtime_args={"name": "tok"}))
    reply = asyncio.run(runtime.handle(
        DataRequest.new(DocumentArray([Document(text="x")]), endpoint="/generate")))
    assert reply.is_error
    assert "call it with stream_doc" in reply.status.description


def test_an_item_that_is_not_a_document_ends_the_stream_with_an_error():
    replies = asyncio.run(collect(ExecutorRuntime(Gated(runtime_args={"name": "g"})),
                                  stream_request("x", "/bad-item")))
    assert replies[0].document.text == "ok"
    assert is_error(replies[1])
    assert "must yield Documents, not dict" in replies[1].header.status.description


def test_a_deadline_passed_before_the_slot_drops_the_stream_unstarted():
    executor = Gated()
    (reply,) = asyncio.run(collect(ExecutorRuntime(executor), stream_request("x"), "/gen",
                                   deadline=Deadline(at=0.0)))
    assert reply.header.status.exception.name == "DeadlineExceededError"
    assert executor.ended == []


def test_parameters_reach_the_handler_with_the_executors_own_merged_in():
    class Echo(Executor):
        @requests(on="/p")
        async def p(self, doc, parameters, **kwargs):
            yield Document(text=f"{parameters['a']}{parameters['b']}")

    runtime = ExecutorRuntime(Echo(runtime_args={"name": "echo"}))
    (reply,) = asyncio.run(collect(runtime, stream_request("x", "/p", a="1", b="2",
                                                           echo={"b": "3"})))
    assert reply.document.text == "13"


def test_stream_metrics_count_open_streams_docs_and_time_to_first_doc():
    registry = CollectorRegistry()
    metrics = HandlerMetrics(registry)
    executor = Gated(runtime_args={"name": "g"})
    runtime = ExecutorRuntime(executor, observer=metrics)
    labels = {"executor": "g", "endpoint": "/gen"}

    async def go():
        replies = runtime.stream(stream_request("x"), "/gen")
        await anext(replies)
        assert registry.get_sample_value("flowserve_streams_open", labels) == 1
        executor.go.set()
        [r async for r in replies]

    asyncio.run(go())
    assert registry.get_sample_value("flowserve_streams_open", labels) == 0
    assert registry.get_sample_value("flowserve_stream_docs_total", labels) == 2
    assert registry.get_sample_value("flowserve_stream_first_doc_seconds_count", labels) == 1
    assert registry.get_sample_value(
        "flowserve_streams_total", {**labels, "outcome": "success"}) == 1


# -- plain (sync) generators: Jina's streaming endpoints may be either kind -------------------


class SyncGen(Executor):
    """A plain generator handler: each step may block (a model call); records its threads."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.release = threading.Event()
        self.in_step = threading.Event()
        self.threads: list[str] = []
        self.ended: list[str] = []

    @requests(on="/words")
    def words(self, doc: Document, **kwargs):
        try:
            for word in doc.text.split():
                self.threads.append(threading.current_thread().name)
                if word == "boom":
                    raise ValueError("boom in a plain generator")
                if word == "wait":
                    self.in_step.set()
                    assert self.release.wait(60), "never released"
                yield Document(text=word.upper())
            self.ended.append("finished")
        except BaseException as exc:
            self.ended.append(type(exc).__name__)
            raise
        finally:
            self.threads.append(f"finally on {threading.current_thread().name}")

    @requests(on="/post")
    async def post(self, docs, **kwargs):
        for d in docs:
            d.text = "posted"


def test_a_plain_generator_streams_in_order_with_each_step_on_a_handler_thread():
    executor = SyncGen(runtime_args={"name": "sg"})
    runtime = ExecutorRuntime(executor)
    replies = asyncio.run(collect(runtime, stream_request("a b c", "/words")))
    assert [r.document.text for r in replies] == ["A", "B", "C"]
    assert executor.ended == ["finished"]
    steps, last = executor.threads[:3], executor.threads[3:]  # on the handler threads
    assert all(name.startswith("sg_") for name in steps), executor.threads
    assert len(last) == 1 and last[0].startswith("finally on sg_"), executor.threads
    assert "/words" in runtime.streaming_endpoints()


def test_a_blocking_step_leaves_the_event_loop_free_for_other_requests():
    executor = SyncGen(runtime_args={"name": "sg"})
    runtime = ExecutorRuntime(executor, concurrency=2)

    async def go():
        replies = runtime.stream(stream_request("a wait b", "/words"), "/words")
        assert (await anext(replies)).document.text == "A"
        blocked = asyncio.ensure_future(anext(replies))  # the step waits for `release`
        await asyncio.get_running_loop().run_in_executor(None, executor.in_step.wait, 60)
        posted = await runtime.handle(  # answered while the generator's step blocks
            DataRequest.new(DocumentArray([Document(text="p")]), endpoint="/post"))
        assert not blocked.done()
        executor.release.set()
        rest = [(await blocked).document.text] + [r.document.text async for r in replies]
        return posted.docs[0].text, rest

    assert asyncio.run(go()) == ("posted", ["WAIT", "B"])


def test_closing_a_plain_generator_stream_mid_step_closes_it_after_the_step():
    executor = SyncGen(runtime_args={"name": "sg"})
    runtime = ExecutorRuntime(executor)

    async def go():
        replies = runtime.stream(stream_request("a wait b", "/words"), "/words")
        await anext(replies)
        waiting = asyncio.ensure_future(anext(replies))
        await asyncio.get_running_loop().run_in_executor(None, executor.in_step.wait, 60)
        waiting.cancel()  # the reader goes away while the step blocks on its thread
        ended = asyncio.ensure_future(asyncio.gather(waiting, return_exceptions=True))
        for _ in range(5):
            await asyncio.sleep(0)  # the cancellation reaches the stream, which waits
        assert not ended.done() and executor.ended == []  # for the step to end
        executor.release.set()  # the step ends; only then can the generator be closed
        await ended
        await replies.aclose()

    asyncio.run(go())
    assert executor.ended == ["GeneratorExit"]
    assert executor.threads[-1].startswith("finally on sg"), executor.threads


def test_a_plain_generator_error_comes_after_the_docs_it_yielded():
    replies = asyncio.run(collect(ExecutorRuntime(SyncGen(runtime_args={"name": "sg"})),
                                  stream_request("a boom c", "/words")))
    assert [r.document.text for r in replies[:-1]] == ["A"]
    assert is_error(replies[-1])
    assert replies[-1].header.status.exception.name == "ValueError"
    assert "boom in a plain generator" in replies[-1].header.status.description


def test_a_plain_generator_step_past_timeout_handler_ends_the_stream_and_wedges():
    """As a sync handler past `timeout_handler`: the stream ends with HandlerTimeoutError after
    the docs sent, and the replica is told it is wedged (it restarts). Before: the stuck step
    held its concurrency slot, and its stream, for good."""
    executor = SyncGen(runtime_args={"name": "sg"})
    wedged: list[bool] = []
    runtime = ExecutorRuntime(executor, handler_timeout=0.5,
                              on_wedged=lambda: wedged.append(True))
    try:
        replies = asyncio.run(collect(runtime, stream_request("a wait b", "/words")))
    finally:
        executor.release.set()  # let the stuck thread end
        runtime.close()
    assert replies[0].document.text == "A"
    last = replies[-1]
    assert is_error(last) and last.header.status.exception.name == "HandlerTimeoutError"
    assert ("executor 'sg' endpoint '/words': the generator did not yield within 0.5 s "
            "(timeout_handler)") in last.header.status.description
    assert wedged == [True]
