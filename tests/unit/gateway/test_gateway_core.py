"""The gateway core over in-process fake replicas: DAG walking, merging, routes, errors."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from clocks import ManualClock
from fakes import DownReplica, InProcessReplica
from toy_executors import AppendText, Embed, NoOp, Raises, ReturnsDict

from flowserve import Document, DocumentArray, Executor, requests
from flowserve.config.graph import graph_from_mapping
from flowserve.errors import DeadlineExceededError, UnavailableError
from flowserve.gateway.core import GatewayCore
from flowserve.gateway.deployment import Deployment
from flowserve.proto import jina_pb2
from flowserve.wire.deadline import Deadline
from flowserve.wire.request import DataRequest


class FakeClock:
    def __init__(self, step: float = 0.001) -> None:
        self._ticks = itertools.count()
        self.step = step

    def __call__(self) -> float:
        return 1000.0 + next(self._ticks) * self.step


def make_core(needs: dict, executors: dict, clock=None, **deployment_options) -> GatewayCore:
    deployments = {}
    for name, ex in executors.items():
        replicas = ex if isinstance(ex, list) else [ex]
        for r in replicas:
            if isinstance(r, Executor):
                r.runtime_args.name = name
        deployments[name] = Deployment(name, [
            r if isinstance(r, DownReplica) else InProcessReplica(r) for r in replicas
        ], **deployment_options)
    return GatewayCore(graph_from_mapping(needs), deployments, clock=clock or FakeClock())


def run(core: GatewayCore, docs: DocumentArray, **kwargs) -> DataRequest:
    async def go():
        try:
            return await core.process(DataRequest.new(docs, **kwargs))
        finally:
            await core.close()

    return asyncio.run(go())


def docs(n: int) -> DocumentArray:
    return DocumentArray(Document(id=f"d{i}", text=f"t{i}") for i in range(n))


def test_chain_runs_in_order_and_records_routes():
    core = make_core({"a": ["gateway"], "b": ["a"]},
                     {"a": AppendText(suffix="A"), "b": AppendText(suffix="B")})
    out = run(core, docs(2), endpoint="/")
    assert out.docs.texts == ["t0AB", "t1AB"]
    assert [r.executor for r in out.routes] == ["gateway", "a", "b"]
    gateway_route = out.routes[0]
    assert gateway_route.start_time.ToNanoseconds() < gateway_route.end_time.ToNanoseconds()


def test_fan_in_merges_what_each_branch_changed():
    core = make_core(
        {"start": ["gateway"], "left": ["start"], "right": ["start"], "join": ["left", "right"]},
        {"start": AppendText(suffix="S"), "left": AppendText(suffix="L"),
         "right": Embed(n_dim=2), "join": NoOp()},
    )
    out = run(core, docs(3))
    assert out.docs.ids == ["d0", "d1", "d2"]
    assert out.docs.texts == ["t0SL", "t1SL", "t2SL"]  # right left text alone: left's wins
    assert out.docs.embeddings.shape == (3, 2)
    assert {r.executor for r in out.routes} == {"gateway", "start", "left", "right", "join"}


def test_sinks_are_merged_into_the_response_and_results_united():
    stats_a, stats_b = ReturnsDict(), ReturnsDict()
    core = make_core({"a": ["gateway"], "b": ["gateway"]}, {"a": stats_a, "b": stats_b})
    out = run(core, docs(2), endpoint="/stats")
    assert set(out.parameters["__results__"]) == {"a", "b"}


def test_executor_error_stops_the_walk_and_keeps_routes():
    core = make_core({"a": ["gateway"], "bad": ["a"], "after": ["bad"]},
                     {"a": NoOp(), "bad": Raises(), "after": AppendText()})
    out = run(core, DocumentArray([Document(text="boom")]))
    assert out.is_error
    assert out.status.exception.executor == "bad"
    assert [r.executor for r in out.routes] == ["gateway", "a", "bad"]
    assert out.routes[-1].status.code == jina_pb2.StatusProto.ERROR


def test_target_executor_regex_skips_others():
    core = make_core({"enc1": ["gateway"], "idx": ["enc1"]},
                     {"enc1": AppendText(suffix="E"), "idx": AppendText(suffix="I")})
    out = run(core, docs(1), target_executor="enc.*")
    assert out.docs.texts == ["t0E"]
    assert [r.executor for r in out.routes] == ["gateway", "enc1"]


def test_round_robin_over_replicas():
    replicas = [NoOp(), NoOp()]
    core = make_core({"a": ["gateway"]}, {"a": replicas}, balancing="round_robin")

    async def go():
        for _ in range(4):
            await core.process(DataRequest.new(docs(1)))
        return [r.calls for r in core.deployments["a"].replicas]

    assert asyncio.run(go()) == [2, 2]


def test_unreachable_executor_raises_for_the_adapter_to_map():
    core = make_core({"x": ["gateway"]}, {"x": DownReplica()})
    with pytest.raises(UnavailableError, match="down:1"):
        run(core, docs(1))


def test_expired_deadline_names_the_executor_it_did_not_reach():
    clock = ManualClock(1000.0)  # the gateway's and the deadline's clock, moved by executor a

    class TakesTwoSeconds(Executor):
        @requests
        def work(self, **kwargs):
            clock.now += 2.0

    deployments = {
        "a": Deployment("a", [InProcessReplica(TakesTwoSeconds(), name="a")], clock=clock),
        "b": Deployment("b", [InProcessReplica(NoOp(), name="b")], clock=clock),
    }
    core = GatewayCore(graph_from_mapping({"a": ["gateway"], "b": ["a"]}), deployments,
                       clock=clock)

    async def go():
        return await core.process(DataRequest.new(docs(1)),
                                  deadline=Deadline.from_timeout(1.5, clock))

    with pytest.raises(DeadlineExceededError, match="'b'"):
        asyncio.run(go())


def test_empty_flow_echoes_and_dry_run_reports_problems():
    core = make_core({}, {})
    out = run(core, docs(2))
    assert out.docs.texts == ["t0", "t1"]
    down = make_core({"x": ["gateway"]}, {"x": DownReplica()})
    problems = asyncio.run(down.dry_run())
    assert problems and "down:1" in problems[0]


class YieldingDownReplica(DownReplica):
    async def process(self, request, *, endpoint, timeout):
        await asyncio.sleep(0)  # let the other request reach the healthy replica first
        return await super().process(request, endpoint=endpoint, timeout=timeout)


def test_retry_goes_to_a_busy_healthy_replica_rather_than_failing():
    core = make_core({"a": ["gateway"]}, {"a": [YieldingDownReplica(), NoOp()]},
                     balancing="round_robin")

    async def go():
        replies = await asyncio.gather(*(core.process(DataRequest.new(docs(1)))
                                         for _ in range(2)))
        await core.close()
        return replies

    replies = asyncio.run(go())
    assert [r.is_error for r in replies] == [False, False]


def test_a_request_finding_every_replica_ejected_probes_them_before_failing():
    core = make_core({"a": ["gateway"]}, {"a": NoOp()})
    shard = core.deployments["a"].shards[0]
    shard.eject(0)  # e.g. ejected while it was still starting; it is ready now
    out = run(core, docs(1))
    assert not out.is_error and not shard.ejected()


def test_a_slot_granted_before_an_ejection_still_finds_the_busy_healthy_replica():
    """The fair queue granted two slots while both replicas looked healthy; one replica is
    ejected before the second request is sent, and the other is busy. The request waits at
    the busy replica instead of failing with 'no healthy replica'."""
    core = make_core({"a": ["gateway"]}, {"a": [NoOp(), NoOp()]}, balancing="round_robin")
    deployment = core.deployments["a"]
    shard = deployment.shards[0]

    async def go():
        busy = shard.balancer.start(0)  # replica 0 is working on another request
        slot = await deployment.queue.acquire("c")  # granted: capacity is still 2
        shard.balancer.eject(1, until=shard.clock() + 60)  # ejected, queue not told yet
        try:
            reply = await shard.send(DataRequest.new(docs(1)).proto, endpoint="/",
                                     deadline=None)
        finally:
            busy.done()
            deployment.queue.release(slot)
            await core.close()
        return reply

    reply = asyncio.run(go())
    assert reply.header.status.code != jina_pb2.StatusProto.ERROR
    assert shard.balancer.snapshot()[0]["requests"] == 2


def test_requests_sent_ahead_queue_at_the_replica_with_fewest_in_flight():
    """Beyond each replica's concurrency (requests sent ahead), a request joins the shortest
    queue: peak-EWMA latency x load would keep sending to a replica whose estimate is low
    although its queue is longer, leaving the other one idle."""
    core = make_core({"a": ["gateway"]}, {"a": [NoOp(), NoOp()]})
    shard = core.deployments["a"].shards[0]
    calls = [shard.balancer.start(0), shard.balancer.start(0), shard.balancer.start(0),
             shard.balancer.start(1)]  # replica 0 has 3 in flight, replica 1 has 1
    shard.balancer._replicas[0].ewma.observe(1.0, shard.clock())  # replica 0 looks fast
    shard.balancer._replicas[1].ewma.observe(50.0, shard.clock())

    async def go():
        try:
            return await shard.send(DataRequest.new(docs(1)).proto, endpoint="/",
                                    deadline=None)
        finally:
            for call in calls:
                call.done()
            await core.close()

    reply = asyncio.run(go())
    assert reply.header.status.code != jina_pb2.StatusProto.ERROR
    assert [row["requests"] for row in shard.balancer.snapshot()] == [3, 2]


class _Rendezvous(Executor):
    """Two of these, on parallel branches, each wait for the other: they finish only if both
    branches run at the same time."""

    def __init__(self, arrived: asyncio.Event, partner: asyncio.Event, **kwargs):
        super().__init__(**kwargs)
        self.arrived, self.partner = arrived, partner

    @requests
    async def meet(self, docs, **kwargs):
        self.arrived.set()
        await self.partner.wait()


@pytest.mark.parametrize("join", [False, True], ids=["parallel-sinks", "fan-in"])
def test_parallel_branches_run_at_the_same_time(join):
    async def go():
        a_here, b_here = asyncio.Event(), asyncio.Event()
        executors = {"a": _Rendezvous(a_here, b_here), "b": _Rendezvous(b_here, a_here)}
        needs = {"a": ["gateway"], "b": ["gateway"]}
        if join:
            executors["merge"] = NoOp()
            needs["merge"] = ["a", "b"]
        core = make_core(needs, executors)
        try:
            return await asyncio.wait_for(core.process(DataRequest.new(docs(2))), 10)
        finally:
            await core.close()

    reply = asyncio.run(go())
    assert not reply.is_error
