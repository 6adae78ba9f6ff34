"""Faults #1: a request stuck on an ejected (frozen) replica does not hold a slot of the
healthy ones, and is itself abandoned `timeout_ejected` s after the ejection (no sockets; a
fake replica that never answers)."""

from __future__ import annotations

import asyncio

import pytest
from fakes import InProcessReplica
from toy_executors import NoOp

from flowserve import Document, DocumentArray
from flowserve.config.spec import flow_from_dict
from flowserve.errors import ReplicaLostError
from flowserve.gateway.attempts import Attempts
from flowserve.gateway.config import DeploymentConfig, deployment_config
from flowserve.gateway.deployment import Deployment
from flowserve.gateway.replicas import ReplicaSet
from flowserve.proto import jina_pb2
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


# -- the stuck request itself: abandoned `timeout_ejected` s after the ejection -------------


def test_a_request_stuck_on_an_ejected_replica_is_abandoned_and_retried_elsewhere() -> None:
    """Before: it waited for the frozen replica to resume, for good without a deadline."""

    async def run() -> None:
        frozen, healthy = Frozen(), InProcessReplica(NoOp(), "healthy:1")
        shard = ReplicaSet("e", [frozen, healthy], balancing="round_robin", timeout_ejected=0)
        attempts = Attempts()
        stuck = asyncio.create_task(shard.send(_request(), endpoint="/", deadline=None,
                                               attempts=attempts))
        await frozen.started.wait()
        shard.eject(0)  # what the health monitor does to a frozen replica
        done, _ = await asyncio.wait({stuck}, timeout=30)
        assert stuck in done, "the request still waits on the frozen replica"
        reply = stuck.result()
        assert reply.header.status.code == jina_pb2.StatusProto.SUCCESS
        assert healthy.calls == 1
        assert attempts.count == 2
        (reason,) = attempts.reasons
        assert "executor 'e' replica at frozen:1 was ejected" in reason
        assert "timeout_ejected" in reason
        assert [shard.balancer.in_flight(i) for i in range(2)] == [0, 0]

    asyncio.run(run())


def test_without_a_retry_the_stuck_request_fails_naming_executor_and_replica() -> None:
    async def run() -> None:
        frozen, healthy = Frozen(), InProcessReplica(NoOp(), "healthy:1")
        deployment = Deployment("e", [frozen, healthy], balancing="round_robin", retries=0,
                                timeout_ejected=0)
        stuck = asyncio.create_task(deployment.process(_request(), endpoint="/", deadline=None))
        await frozen.started.wait()
        deployment.shards[0].eject(0)
        with pytest.raises(ReplicaLostError, match=r"executor 'e' replica at frozen:1 was "
                                                   r"ejected .* abandoned"):
            await asyncio.wait_for(stuck, 30)
        assert deployment.queue.in_flight == 0  # its fair-queue slot is given back
        assert healthy.calls == 0

    asyncio.run(run())


def test_a_passed_health_check_lifts_the_notice() -> None:
    """A replica ejected by one failed check (busy, not frozen) keeps its running calls."""

    async def run() -> None:
        frozen, healthy = Frozen(), InProcessReplica(NoOp(), "healthy:1")
        shard = ReplicaSet("e", [frozen, healthy], balancing="round_robin", timeout_ejected=0)
        attempts = Attempts()
        slow = asyncio.create_task(shard.send(_request(), endpoint="/", deadline=None,
                                              attempts=attempts))
        await frozen.started.wait()
        shard.eject(0)
        shard.readmit(0)  # its health check passes before the notice runs out
        frozen.release.set()
        await asyncio.wait_for(slow, 30)
        assert attempts.count == 1 and healthy.calls == 0

    asyncio.run(run())


def test_timeout_ejected_none_waits_for_the_replica_as_before() -> None:
    async def run() -> None:
        frozen, healthy = Frozen(), InProcessReplica(NoOp(), "healthy:1")
        shard = ReplicaSet("e", [frozen, healthy], balancing="round_robin",
                           timeout_ejected=None)
        stuck = asyncio.create_task(shard.send(_request(), endpoint="/", deadline=None))
        await frozen.started.wait()
        shard.eject(0)
        for _ in range(10):  # a few loop turns: nothing abandons it
            await asyncio.sleep(0)
        assert not stuck.done()
        frozen.release.set()
        await asyncio.wait_for(stuck, 30)
        assert healthy.calls == 0

    asyncio.run(run())


def test_cancelling_the_caller_still_cancels_a_call_under_notice() -> None:
    """The notice's cancel scope does not swallow the caller's own cancellation."""

    async def run() -> None:
        frozen, healthy = Frozen(), InProcessReplica(NoOp(), "healthy:1")
        shard = ReplicaSet("e", [frozen, healthy], balancing="round_robin",
                           timeout_ejected=3600)
        stuck = asyncio.create_task(shard.send(_request(), endpoint="/", deadline=None))
        await frozen.started.wait()
        shard.eject(0)
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
        assert healthy.calls == 0 and shard.balancer.in_flight(0) == 0

    asyncio.run(run())


def test_timeout_ejected_travels_from_the_flow_to_the_gateway_flags() -> None:
    spec = flow_from_dict({"executors": [{"name": "a", "timeout_ejected": 2},
                                         {"name": "b"}, {"name": "c", "timeout_ejected": None}]})
    a, b, c = (deployment_config(ex, ["127.0.0.1:1"]) for ex in spec.executors)
    assert (a.timeout_ejected, b.timeout_ejected, c.timeout_ejected) == (2, 5.0, None)
    assert "timeout_ejected" not in b.to_json()  # the default: the exported flags stay as they were
    for config in (a, b, c):
        assert DeploymentConfig.parse("x", config.to_json()) == config
    with pytest.raises(ValueError, match="timeout_ejected"):
        flow_from_dict({"executors": [{"name": "a", "timeout_ejected": -1}]})
