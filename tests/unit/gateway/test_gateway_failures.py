"""How the gateway accounts for sends that fail, are cancelled or time out (no sockets)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fakes import DownReplica

from flowserve import Document, DocumentArray
from flowserve.errors import DeadlineExceededError, UnavailableError
from flowserve.gateway.deployment import Deployment
from flowserve.gateway.replicas import ReplicaSet
from flowserve.wire.deadline import Deadline
from flowserve.wire.request import DataRequest


def request() -> Any:
    return DataRequest.new(DocumentArray([Document(text="x")]), endpoint="/").proto


class Hangs:
    """A replica that takes a request and never answers."""

    address = "hangs:1"

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def process(self, request, *, endpoint, timeout):
        self.started.set()
        await asyncio.Event().wait()

    async def is_ready(self, timeout):
        return True

    async def close(self):
        pass


class TimesOut(Hangs):
    async def process(self, request, *, endpoint, timeout):
        raise DeadlineExceededError("deadline exceeded waiting for executor 'a'")


class CountsProbes(DownReplica):
    """Down for sends; each health check is counted and says ready."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.probes = 0

    async def is_ready(self, timeout):
        self.probes += 1
        await asyncio.sleep(0)
        return True


def test_a_cancelled_send_says_nothing_about_the_replica():
    replica = Hangs()
    shard = ReplicaSet("a", [replica])

    async def go():
        send = asyncio.ensure_future(shard.send(request(), endpoint="/", deadline=None))
        await replica.started.wait()
        send.cancel()
        with pytest.raises(asyncio.CancelledError):
            await send

    asyncio.run(go())
    (row,) = shard.balancer.snapshot()
    assert row["in_flight"] == 0 and row["failures"] == 0 and row["ewma_ms"] is None


def test_a_deadline_counts_as_latency_not_as_a_failure():
    shard = ReplicaSet("a", [TimesOut()])
    with pytest.raises(DeadlineExceededError):
        asyncio.run(shard.send(request(), endpoint="/", deadline=Deadline.from_timeout(1.0)))
    (row,) = shard.balancer.snapshot()
    assert row["failures"] == 0 and row["ewma_ms"] is not None and not shard.ejected()


def test_polling_all_cancels_the_other_shards_when_one_fails():
    slow = Hangs()
    deployment = Deployment("a", [[DownReplica()], [slow]], polling="ALL", retries=0)

    async def go():
        with pytest.raises(UnavailableError):
            await deployment.process(request(), endpoint="/", deadline=None)
        # checked before the loop ends (which would cancel any orphaned send anyway)
        assert slow.started.is_set()
        assert deployment.queue.in_flight == 0
        assert [s.balancer.in_flight(0) for s in deployment.shards] == [0, 0]

    asyncio.run(go())


def test_requests_finding_every_replica_ejected_share_one_probe():
    replicas = [CountsProbes("r:1"), CountsProbes("r:2")]
    deployment = Deployment("a", replicas)
    for i in range(2):
        deployment.shards[0].eject(i)

    async def go():
        await asyncio.gather(*(deployment.probe_ejected() for _ in range(3)))

    asyncio.run(go())
    assert [r.probes for r in replicas] == [1, 1]
    assert not deployment.shards[0].ejected()



class FakeContext:
    def invocation_metadata(self):
        return ()

    def peer(self):
        return "ipv4:127.0.0.1:1234"

    def time_remaining(self):
        return None


async def _requests(n: int, sent: list[int]):
    for _ in range(n):
        sent.append(1)
        yield request()
    await asyncio.Event().wait()  # the client keeps the stream open


def test_a_cancelled_stream_gives_its_window_places_back_to_the_client():
    from flowserve.config.graph import graph_from_mapping
    from flowserve.gateway.core import GatewayCore
    from flowserve.gateway.grpc_service import GatewayServicer

    core = GatewayCore(graph_from_mapping({"a": ["gateway"]}), {"a": Deployment("a", [Hangs()])})
    servicer = GatewayServicer(core, stream_window=5)
    client = FakeContext().peer()

    async def consume(stream):
        async for _ in stream:
            pass

    async def go():
        other = asyncio.ensure_future(consume(servicer.Call(_requests(0, []), FakeContext())))
        sent: list[int] = []
        stream = asyncio.ensure_future(consume(servicer.Call(_requests(3, sent), FakeContext())))
        for _ in range(1000):  # a few loop turns: the gateway reads the three requests
            if len(sent) == 3 and servicer._windows._windows[client][0]._value == 2:
                break
            await asyncio.sleep(0)
        assert servicer._windows._windows[client][0]._value == 2  # 3 places taken
        stream.cancel()
        await asyncio.gather(stream, return_exceptions=True)
        window = servicer._windows._windows[client][0]  # still open: `other` uses it
        other.cancel()
        await asyncio.gather(other, return_exceptions=True)
        return window._value

    assert asyncio.run(go()) == 5
