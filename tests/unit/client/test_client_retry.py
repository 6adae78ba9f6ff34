"""Jittered backoff and the retrying sink (no sockets, no sleeps)."""

from __future__ import annotations

import asyncio
import random

from flowserve import Document, DocumentArray
from flowserve.client._callbacks import ResultSink
from flowserve.client._retry import RetryingSink, backoff_delay, is_overload
from flowserve.errors import OverloadedError
from flowserve.wire.request import DataRequest


def test_backoff_grows_is_capped_honours_the_hint_and_is_jittered():
    rng = random.Random(7)
    delays = [backoff_delay(r, base=0.5, cap=4.0, rng=rng) for r in range(1, 7)]
    assert all(0.25 <= d < 6.0 for d in delays)
    assert delays[0] < 0.75 and delays[-1] >= 2.0  # 0.5 * jitter ... 4.0 * jitter
    assert backoff_delay(1, base=0.1, cap=10, hint=3.0, rng=random.Random(1)) >= 1.5
    samples = {round(backoff_delay(2, base=1, cap=10, rng=rng), 6) for _ in range(20)}
    assert len(samples) > 10  # not all clients come back at the same instant


def test_overloaded_requests_are_held_then_delivered_after_the_last_round():
    delivered = []
    sink = ResultSink(on_done=delivered.append, on_error=delivered.append, on_always=None,
                      continue_on_error=False, return_responses=False, progress=None)
    retrying = RetryingSink(sink, retries=1)

    async def go():
        requests = [DataRequest.new(DocumentArray([Document(text=str(i))])) for i in range(2)]
        sent = list(retrying.track(iter(requests)))
        shed = DataRequest()
        shed.header.request_id = sent[0].request_id
        shed.set_error("queue full", name="OverloadedError")
        assert is_overload(shed, None)
        await retrying.deliver(shed)
        await retrying.deliver(sent[1])
        assert delivered == [sent[1]] and retrying.held == [sent[0]]
        again = list(retrying.track(iter(retrying.take_held())))
        await retrying.deliver(again[0], OverloadedError("still full", retry_after=2))
        assert len(delivered) == 2 and delivered[1].is_error  # out of retries: delivered

    asyncio.run(go())
