"""Streaming endpoints through a real Flow, over gRPC and HTTP: order, the first document
before the stream ends, a client that leaves cancelling the executor's generator, an error
after the documents sent (the executor's, or its process lost), the deadline, the fair-queue
slot held, and the executor's metrics."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from procs import running, wait_until
from prometheus_client.parser import text_string_to_metric_families
from toy_executors import Tokens

from flowserve import Client, Document, Flow
from flowserve.errors import DeadlineExceededError, ExecutorError, UnavailableError

pytestmark = pytest.mark.integration

PROTOCOLS = ["grpc", "http"]


@pytest.fixture(scope="module")
def markers(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stream-markers")


@pytest.fixture(scope="module")
def flow(markers):
    f = Flow(protocol=PROTOCOLS, monitoring=True).add(
        name="tok", uses=Tokens, uses_with={"marker_dir": str(markers)})
    with running(f):
        yield f


def client(flow, protocol: str) -> Client:
    return Client(host=flow.addresses.gateway_url(protocol))


def ends(markers: Path, name: str) -> list[str]:
    path = markers / name
    return path.read_text().split() if path.exists() else []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_docs_arrive_in_the_order_the_handler_yields_them(flow, protocol):
    with client(flow, protocol) as c:
        docs = list(c.stream_doc(on="/generate", inputs=Document(text="one two three four")))
    assert [d.text for d in docs] == ["one", "two", "three", "four"]
    assert [d.tags["i"] for d in docs] == [0, 1, 2, 3]


def test_the_flow_streams_through_its_own_client(flow):
    assert [d.text for d in flow.stream_doc("/generate", Document(text="x y"))] == ["x", "y"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_first_doc_arrives_as_soon_as_it_is_yielded(flow, protocol):
    # the handler yields "first", then holds 3 s before "second": no buffering means the
    # client holds "first" long before the stream ends
    seen: list[tuple[str, float]] = []
    with client(flow, protocol) as c:
        for doc in c.stream_doc(on="/generate", inputs=Document(text="first second"),
                                parameters={"hold": 3.0}):
            seen.append((doc.text, time.monotonic()))
        ended = time.monotonic()
    assert [text for text, _ in seen] == ["first", "second"]
    assert ended - seen[0][1] >= 2.5


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_client_that_leaves_cancels_the_executors_generator(flow, markers, protocol):
    marker = f"leave-{protocol}"
    with client(flow, protocol) as c:
        for doc in c.stream_doc(on="/generate", inputs=Document(text="a b c",
                                                                 tags={"marker": marker}),
                                parameters={"hold": 600.0}):
            assert doc.text == "a"
            break  # leaves while the handler holds: the stream is cancelled
    assert wait_until(lambda: ends(markers, marker) == ["cancelled"], timeout=60), \
        ends(markers, marker)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_plain_generator_streams_and_is_closed_when_the_client_leaves(flow, markers,
                                                                       protocol):
    """Jina's streaming endpoints may be plain generators: their steps block a handler
    thread, not the executor's event loop; a client that leaves closes the generator after
    the step it is in."""
    with client(flow, protocol) as c:
        docs = list(c.stream_doc(on="/generate-sync", inputs=Document(text="one two three")))
        assert [(d.text, d.tags["i"]) for d in docs] == [("one", 0), ("two", 1), ("three", 2)]
        with pytest.raises(ExecutorError, match="boom after 1 words"):
            list(c.stream_doc(on="/generate-sync", inputs=Document(text="a boom")))
        marker = f"leave-sync-{protocol}"
        words = " ".join(f"w{i}" for i in range(100))  # 1 s apart: 100 s if never closed
        for doc in c.stream_doc(on="/generate-sync", parameters={"pause": 1.0},
                                inputs=Document(text=words, tags={"marker": marker})):
            assert doc.text == "w0"
            break
        assert wait_until(lambda: ends(markers, marker) == ["closed"], timeout=60), \
            ends(markers, marker)
        # the executor answers other calls meanwhile, and afterwards
        assert [d.text for d in c.post("/plain", Document(text="p"))] == ["p!"]


def test_an_http_client_that_leaves_before_the_first_doc_cancels_the_generator(flow, markers):
    marker = "leave-early-http"
    body = {"data": [{"text": "a b", "tags": {"marker": marker}}],
            "parameters": {"before": 600.0}}
    url = flow.addresses.gateway_url("http") + "/generate"
    # gives up waiting, closing the connection
    with pytest.raises(httpx.ReadTimeout), httpx.stream(
            "GET", url, json=body, timeout=httpx.Timeout(2.0, connect=30)) as r:
        r.read()
    assert wait_until(lambda: ends(markers, marker) == ["cancelled"], timeout=60), \
        ends(markers, marker)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_error_mid_stream_arrives_after_the_docs_sent(flow, protocol):
    got: list[str] = []
    with client(flow, protocol) as c, pytest.raises(ExecutorError) as error:
        for doc in c.stream_doc(on="/generate", inputs=Document(text="a b boom c")):
            got.append(doc.text)
    assert got == ["a", "b"]
    assert error.value.executor == "tok" and error.value.name == "ValueError"
    assert "boom after 2 words" in str(error.value)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_deadline_ends_the_stream_and_the_generator(flow, markers, protocol):
    marker = f"deadline-{protocol}"
    got: list[str] = []
    with client(flow, protocol) as c, pytest.raises(DeadlineExceededError):
        for doc in c.stream_doc(on="/generate", timeout=3.0,
                                inputs=Document(text="a b", tags={"marker": marker}),
                                parameters={"hold": 600.0}):
            got.append(doc.text)
    assert got == ["a"]
    assert wait_until(lambda: ends(markers, marker) == ["cancelled"], timeout=60)


def test_a_stream_holds_its_executor_slot_until_it_ends(flow):
    # one replica, concurrency 1: a post to the same executor waits for the stream's end
    url = flow.addresses.gateway_url("grpc")
    received: list[float] = []
    first = threading.Event()

    def stream() -> None:
        with Client(host=url) as c:
            for _ in c.stream_doc(on="/generate", inputs=Document(text="a b c"),
                                  parameters={"pause": 1.0}):
                received.append(time.monotonic())
                first.set()

    streamer = threading.Thread(target=stream)
    streamer.start()
    try:
        assert first.wait(60)
        with Client(host=url) as c:
            reply = c.post("/plain", Document(text="p"))
        posted = time.monotonic()
    finally:
        streamer.join(120)
    assert reply[0].text == "p!"
    assert len(received) == 3
    # the handler pauses 1 s after its last doc before it ends: the post came after that
    assert posted > received[-1]


def test_the_executor_reports_stream_metrics(flow):
    with client(flow, "grpc") as c:
        list(c.stream_doc(on="/generate", inputs=Document(text="m1 m2")))
    (address,) = flow.addresses.executor_monitoring["tok"]
    text = httpx.get(f"http://{address}/metrics", timeout=10).text
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    labels = frozenset({"executor": "tok", "endpoint": "/generate"}.items())
    assert samples[("flowserve_streams_open", labels)] == 0
    assert samples[("flowserve_stream_docs_total", labels)] >= 2
    assert samples[("flowserve_stream_first_doc_seconds_count", labels)] >= 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_executor_lost_mid_stream_is_an_error_after_the_docs_sent(protocol):
    f = Flow(protocol=PROTOCOLS).add(name="lost", uses=Tokens)
    with running(f):
        (executor,) = [c for c in f._runtime.children if c.role != "gateway"]
        got: list[str] = []
        with client(f, protocol) as c, pytest.raises(UnavailableError):
            for doc in c.stream_doc(on="/generate", inputs=Document(text="a b"),
                                    parameters={"hold": 600.0}):
                got.append(doc.text)
                os.kill(executor.pid, signal.SIGKILL)  # dies while the handler holds
        assert got == ["a"]


def test_a_plain_generator_stuck_past_timeout_handler_fails_the_stream_and_restarts():
    """A step of a plain generator that blocks past `timeout_handler` ends the stream with
    HandlerTimeoutError after the docs sent, and the replica restarts (its thread cannot be
    stopped), as for a sync handler. Before: the stream, and the executor's slot, hung."""
    from flowserve.errors import HandlerTimeoutError

    f = Flow(protocol=PROTOCOLS).add(name="tok", uses=Tokens, timeout_handler=2)
    with running(f):
        for protocol in PROTOCOLS:
            with client(f, protocol) as c:
                seen: list[str] = []
                with pytest.raises(HandlerTimeoutError, match="did not yield within 2 s"):
                    for doc in c.stream_doc(on="/generate-sync", parameters={"pause": 60.0},
                                            inputs=Document(text="a b")):
                        seen.append(doc.text)
                assert seen == ["a"]

                def answers() -> bool:
                    try:
                        return [d.text for d in c.post("/plain", Document(text="p"),
                                                       timeout=10)] == ["p!"]
                    except Exception:  # noqa: BLE001 - restarting: not yet
                        return False

                assert wait_until(answers, 120), "the replica did not come back"
