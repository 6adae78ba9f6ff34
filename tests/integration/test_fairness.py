"""A flooding incident, scaled down, with default settings: flooders cannot starve a light
client, and every flooding request is answered."""

from __future__ import annotations

import threading
import time

import pytest
from procs import running, wait_until
from toy_executors import Embed, Slow

from flowserve import Client, Document, DocumentArray, Flow

pytestmark = pytest.mark.integration

SERVICE_TIME = 0.2
FLOODERS = 3
REQUESTS_PER_FLOODER = 60


def test_light_client_is_not_starved_by_three_flooders():
    flow = (
        Flow()
        .add(name="slow_executor", uses=Slow, uses_with={"delay": SERVICE_TIME}, replicas=2)
        .add(name="bulky_executor", uses=Embed, uses_with={"n_dim": 512})
    )
    with running(flow):
        url = flow.addresses.gateway_url("grpc")
        answered = [0] * FLOODERS
        errors: list[BaseException] = []

        def flood(i: int) -> None:
            docs = DocumentArray(Document(text=f"f{i}-{j}")
                                 for j in range(REQUESTS_PER_FLOODER * 20))
            try:
                with Client(host=url) as client:
                    client.post("/", docs, request_size=20,
                                on_done=lambda r: answered.__setitem__(i, answered[i] + 1))
            except BaseException as exc:  # noqa: BLE001 - surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=flood, args=(i,)) for i in range(FLOODERS)]
        for t in threads:
            t.start()
        try:
            # all flooders are streaming and the slow executor's queue is deep
            assert wait_until(lambda: min(answered) >= 2, 120), answered
            with Client(host=url) as light:
                assert light.is_flow_ready(timeout=10)
                answered_before = sum(answered)
                started = time.monotonic()
                result = light.post("/", DocumentArray([Document(text="light")]))
                latency = time.monotonic() - started
                answered_after = sum(answered)
        finally:
            for t in threads:
                t.join(300)
        assert not errors, errors
        assert result.embeddings.shape == (1, 512)
        # The flooders' requests not yet answered when the light one was sent: had it queued
        # behind them (FIFO), all of these would have been answered before it.
        backlog = FLOODERS * REQUESTS_PER_FLOODER - answered_before
        assert backlog > 60, (
            f"the flooders were not flooding when the light client posted: {backlog}")
        # Fair queueing: it waits for a free slot at the slow executor (2 replicas), not for
        # the backlog, so only a handful of flooder requests get answered in the meantime.
        # Counted, not timed: a loaded machine slows everything alike.
        overtaken = answered_after - answered_before
        assert overtaken <= 10, (
            f"{overtaken} of {backlog} queued flooder requests were answered before the light one")
        # and, generously (without fairness it would wait backlog / 2 x SERVICE_TIME >= 6 s)
        assert latency < 5 * SERVICE_TIME, f"light client waited {latency:.3f} s"
        assert answered == [REQUESTS_PER_FLOODER] * FLOODERS  # nothing lost


def test_http_overload_is_shed_with_429_and_the_client_can_retry():
    flow = Flow(protocol="http", max_queue_per_client=1).add(
        name="slow", uses=Slow, uses_with={"delay": 0.3})
    with running(flow):
        url = flow.addresses.gateway_url("http")
        errors: list = []
        with Client(host=url) as client:
            client.post("/", DocumentArray(Document(text=str(i)) for i in range(6)),
                        request_size=1, prefetch=6, on_error=errors.append, on_done=lambda r: None)
            assert errors, "nothing was shed although the client's queue holds one request"
            assert {e.header.status.exception.name for e in errors} == {"OverloadedError"}
            done: list = []
            client.post("/", DocumentArray(Document(text=str(i)) for i in range(6)),
                        request_size=1, prefetch=6, on_done=done.append, retries=10,
                        retry_backoff=0.1)
            assert len(done) == 6
