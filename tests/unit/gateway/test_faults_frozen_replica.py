"""Faults #1: a request stuck on an ejected (frozen) replica does not hold a slot of the
healthy ones (no sockets; a fake replica that never answers)."""

from __future__ import annotations

import asyncio

from fakes import InProcessReplica
from toy_executors import NoOp

from flowserve import Document, DocumentArray
from flowserve.gateway.deployment import Deployment
from flowserve.wire.request import DataRequest


class Frozen:
    """A replica that takes a request and never answers (SIGSTOP)."""

    address = "frozen:1"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def process(self, request, *, endpoint, timeout):
        self.started.set()
        await self.release.wait()
        return request

    async def is_ready(self, timeout):
        return False

    async def endpoints(self, timeout):
        return []

    async def close(self):
        pass


def _request():
    return DataRequest.new(DocumentArray([Document(text="x")]), endpoint="/").proto


def test_a_request_stuck_on_an_ejected_replica_leaves_the_healthy_one_its_slot() -> None:
    """Before: capacity 1, in flight 1 (the stuck request): the healthy replica sat idle."""

    async def run() -> None:
        frozen, healthy = Frozen(), InProcessReplica(NoOp(), "healthy:1")
        deployment = Deployment("e", [frozen, healthy], balancing="round_robin")
        stuck = asyncio.create_task(deployment.process(_request(), endpoint="/", deadline=None))
        await frozen.started.wait()
        deployment.shards[0].eject(0)  # what the health monitor does to a frozen replica
        assert deployment.queue.capacity == 2  # the healthy slot + the stranded request
        answered = asyncio.gather(*(deployment.process(_request(), endpoint="/", deadline=None)
                                    for _ in range(3)))
        done, _ = await asyncio.wait({answered}, timeout=30)
        assert answered in done, "the healthy replica was left idle"
        assert healthy.calls == 3
        frozen.release.set()  # the frozen replica resumes: its request ends ...
        await stuck
        assert deployment.queue.capacity == 1  # ... and its extra slot goes with it
        await deployment.close()

    asyncio.run(run())


def test_with_every_replica_ejected_capacity_is_zero() -> None:
    async def run() -> None:
        frozen = Frozen()
        deployment = Deployment("e", [frozen])
        stuck = asyncio.create_task(deployment.process(_request(), endpoint="/", deadline=None))
        await frozen.started.wait()
        deployment.shards[0].eject(0)
        assert deployment.queue.capacity == 0  # fail fast / probe, as before
        frozen.release.set()
        await stuck

    asyncio.run(run())
