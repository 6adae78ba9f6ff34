"""The seed's incident, scaled down, with default settings: flooders cannot starve a light
client, and every flooding request is answered."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import running, wait_until
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
            docs = DocumentArray(Document(text=f"f{i}-{j}") for j in range(REQUESTS_PER_FLOODER * 20))
            try:
                with Client(host=url) as client:
                    client.post("/", docs, request_size=20,
                                on_done=lambda r: answered.__setitem__(i, answered[i] + 1))
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=flood, args=(i,)) for i in range(FLOODERS)]
        for t in threads:
            t.start()
        try:
            # all flooders are streaming and the slow executor's queue is deep
            assert wait_until(lambda: min(answered) >= 2, 120), answered
            with Client(host=url) as light:
                assert light.is_flow_ready(timeout=10)
                started = time.monotonic()
                result = light.post("/", DocumentArray([Document(text="light")]))
                latency = time.monotonic() - started
            backlog = FLOODERS * REQUESTS_PER_FLOODER - sum(answered)
        finally:
            for t in threads:
                t.join(300)
        assert not errors, errors
        assert result.embeddings.shape == (1, 512)
        assert backlog > 20, "the flooders were not flooding when the light client posted"
        assert latency <= 2.5 * SERVICE_TIME, f"light client waited {latency:.3f} s"
        assert answered == [REQUESTS_PER_FLOODER] * FLOODERS  # nothing lost
