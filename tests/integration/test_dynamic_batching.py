"""Dynamic batching through a real Flow: concurrent clients share handler calls, each gets its
own docs back; parameters split batches; errors, deadlines, and a light client beside a
flooding one."""

from __future__ import annotations

import threading
import time

import pytest
from procs import running, wait_until
from toy_executors import BatchedModel

from flowserve import Client, Document, DocumentArray, Flow
from flowserve.errors import RequestError

pytestmark = pytest.mark.integration

CLIENTS = 8


@pytest.fixture(scope="module")
def flow():
    with running(Flow().add(name="model", uses=BatchedModel)) as f:
        yield f


def run_clients(url: str, work) -> list:
    results: list = [None] * CLIENTS

    def one(i: int) -> None:
        try:
            with Client(host=url) as client:
                results[i] = work(client, i)
        except BaseException as exc:  # noqa: BLE001 - checked by the test
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_concurrent_clients_with_different_parameters_get_their_own_docs(flow):
    def work(client: Client, i: int) -> list[DocumentArray]:
        return [client.post("/embed", DocumentArray([Document(text=f"c{i}-r{r}")]),
                            parameters={"prefix": f"p{i % 2}:"}) for r in range(10)]

    results = run_clients(flow.addresses.gateway_url("grpc"), work)
    sizes = []
    for i, replies in enumerate(results):
        assert not isinstance(replies, BaseException), replies
        assert [d.text for r in replies for d in r] == [f"p{i % 2}:c{i}-r{r}" for r in range(10)]
        sizes += [d.tags["batch"] for r in replies for d in r]
    assert max(sizes) > 1  # requests of different clients shared calls
    assert max(sizes) <= 8


def test_a_failing_batch_fails_its_requests_and_the_others_succeed(flow):
    def work(client: Client, i: int) -> str:
        try:
            client.post("/embed", DocumentArray([Document(text="x")]),
                        parameters={"fail": i % 2 == 0})
        except RequestError as exc:
            return str(exc)
        return "ok"

    results = run_clients(flow.addresses.gateway_url("grpc"), work)
    assert results[1::2] == ["ok"] * (CLIENTS // 2)
    assert all("failing a batch" in r for r in results[::2]), results


def test_a_deadline_cuts_the_wait_for_a_batch_short():
    flow = Flow().add(name="model", uses=BatchedModel, uses_dynamic_batching={
        "/embed": {"preferred_batch_size": 100, "timeout": 60_000}})
    with running(flow), Client(host=flow.addresses.gateway_url("grpc")) as client:
        started = time.monotonic()
        reply = client.post("/embed", DocumentArray([Document(text="x")]), timeout=4.0)
        assert time.monotonic() - started < 4.0  # the batch's 60 s wait was cut short
        assert reply[0].tags["batch"] == 1


@pytest.fixture
def slow_flow():
    """A model whose batch costs 0.1 s: a queue of ~200 requests (25 batches) takes ~2.5 s,
    far from the light client's bound on a loaded machine in either direction."""
    with running(Flow().add(name="model", uses=BatchedModel, uses_with={"fixed": 0.1})) as f:
        yield f


def test_a_light_client_is_served_beside_a_flooding_one(slow_flow):
    url = slow_flow.addresses.gateway_url("grpc")
    answered = [0]
    flooded: list[BaseException] = []

    def flood() -> None:
        docs = DocumentArray(Document(text=f"f{j}") for j in range(800))
        try:
            with Client(host=url) as client:
                client.post("/embed", docs, request_size=1, prefetch=200,
                            on_done=lambda r: answered.__setitem__(0, answered[0] + 1))
        except BaseException as exc:  # noqa: BLE001 - checked below
            flooded.append(exc)

    flooder = threading.Thread(target=flood)
    flooder.start()
    try:
        assert wait_until(lambda: answered[0] >= 50, 60), answered
        with Client(host=url) as light:
            started = time.monotonic()
            reply = light.post("/embed", DocumentArray([Document(text="light")]))
            latency = time.monotonic() - started
        backlog = 800 - answered[0]
    finally:
        flooder.join(120)
    assert not flooded, flooded
    assert reply[0].text == "light"
    # the flooder keeps ~200 requests queued (25 batches, ~2.5 s); the light client's request
    # goes into one of the next batches instead of waiting behind them
    assert backlog > 100 and latency < 1.0, (backlog, latency)
