"""A real gateway core with in-process replicas, observed the way `flowserve gateway` wires
it: exact counts per outcome, the queue gauges and the dashboard's history (no sockets)."""

from __future__ import annotations

import asyncio
import time

import pytest
from fakes import DownReplica, InProcessReplica
from toy_executors import AppendText, Raises

from flowserve import Document, DocumentArray
from flowserve.config.graph import graph_from_mapping
from flowserve.errors import UnavailableError
from flowserve.gateway.core import GatewayCore
from flowserve.gateway.deployment import Deployment
from flowserve.observe.wiring import GatewayObservability
from flowserve.wire.request import DataRequest


def Replica(name: str, executor) -> InProcessReplica:  # noqa: N802 - reads like a class
    return InProcessReplica(executor, f"{name}:1", name=name)


def Down(name: str, executor) -> DownReplica:  # noqa: N802
    return DownReplica(f"{name}:1")


def observed_core(obs: GatewayObservability) -> GatewayCore:
    replicas = {"a": Replica("a", AppendText()), "r": Replica("r", Raises()),
                "down": Down("down", AppendText())}
    # a constant clock for "down": its 1 s ejection must not run out during the test
    deployments = {n: Deployment(n, [rep], observer=obs.observer, retries=0,
                                 clock=(lambda: 0.0) if n == "down" else time.monotonic)
                   for n, rep in replicas.items()}
    core = GatewayCore(graph_from_mapping({"a": ["gateway"], "r": ["a"], "down": ["r"]}),
                       deployments, observer=obs.observer)
    obs.attach(core)
    return core


def test_exact_counts_per_outcome_and_gauges():
    obs = GatewayObservability(name="gw", monitoring=True)
    core = observed_core(obs)

    async def go():
        outcomes = []
        for text in ["ok", "boom", "ok", "boom", "boom"]:
            request = DataRequest.new(DocumentArray([Document(text=text)]), endpoint="/x")
            try:
                reply = await core.process(request, client="c")
                outcomes.append("executor_error" if reply.is_error else "success")
            except UnavailableError:
                outcomes.append("unavailable")
        await core.close()
        return outcomes

    outcomes = asyncio.run(go())
    assert outcomes == ["unavailable", "executor_error", "unavailable", "executor_error",
                        "executor_error"]
    get = obs.registry.get_sample_value
    assert get("flowserve_gateway_requests_total",
               {"endpoint": "/x", "outcome": "executor_error"}) == 3
    assert get("flowserve_gateway_requests_total",
               {"endpoint": "/x", "outcome": "unavailable"}) == 2
    assert get("flowserve_gateway_request_duration_seconds_count",
               {"endpoint": "/x", "outcome": "unavailable"}) == 2
    call = {"endpoint": "/x", "outcome": "success"}
    assert get("flowserve_executor_requests_total",
               {"executor": "a", "replica": "a:1", **call}) == 5
    assert get("flowserve_executor_requests_total",
               {"executor": "r", "replica": "r:1", "endpoint": "/x",
                "outcome": "executor_error"}) == 3
    # the first failure ejects the only replica: the second request is refused before a call
    assert get("flowserve_executor_requests_total",
               {"executor": "down", "replica": "down:1", "endpoint": "/x",
                "outcome": "unavailable"}) == 1
    assert get("flowserve_executor_replicas", {"executor": "down", "state": "ejected"}) == 1
    assert get("flowserve_executor_queue_wait_seconds_count", {"executor": "a"}) == 5
    assert get("flowserve_executor_request_bytes_total", {"executor": "a", "replica": "a:1"}) > 0
    assert get("flowserve_executor_queue_depth", {"executor": "a"}) == 0
    assert get("flowserve_executor_admitted_total", {"executor": "a"}) == 5
    assert get("process_cpu_seconds_total") is not None  # process metrics of this process
    point = obs.dashboard.sample()
    assert point["nodes"]["r"]["success_rate"] == pytest.approx(2 / 5)
    assert point["gateway"]["success_rate"] == 0.0


def test_off_means_no_observer_no_registry():
    obs = GatewayObservability(name="gw", monitoring=False)
    assert obs.observer is None and obs.registry is None
    assert obs.interceptors(executor="a", address="h:1") == []
    assert obs.start("127.0.0.1", 0) is None


class NestedTooDeeply(InProcessReplica):
    """A replica whose call fails the way a request nested too deeply to encode does."""

    async def process(self, request, *, endpoint, timeout):
        raise RecursionError("maximum recursion depth exceeded while encoding")


def test_a_request_nested_too_deeply_is_observed_as_the_bad_request_it_is_answered_as():
    """Span and metrics see the status the client gets (400 / INVALID_ARGUMENT), not 500."""
    from flowserve.errors import BadRequestError
    from flowserve.gateway.core import unexpected_error
    from flowserve.observe._otel import outcome_attributes
    from flowserve.wire.origin import HttpOrigin

    obs = GatewayObservability(name="gw", monitoring=True)
    seen: list = []

    class Recorder:
        def __getattr__(self, name):
            return getattr(obs.observer, name)

        def request_finished(self, **kw):
            seen.append(kw)
            obs.observer.request_finished(**kw)

    deployment = Deployment("deep", [NestedTooDeeply(AppendText(), "deep:1", name="deep")],
                            observer=obs.observer, retries=0)
    core = GatewayCore(graph_from_mapping({"deep": ["gateway"]}), {"deep": deployment},
                       observer=Recorder())

    async def go():
        request = DataRequest.new(DocumentArray([Document(text="x")]), endpoint="/x")
        try:
            await core.process(request, client="c")
        except RecursionError as exc:  # the adapters map it with unexpected_error
            return unexpected_error(exc)
        finally:
            await core.close()

    answered = asyncio.run(go())
    assert isinstance(answered, BadRequestError)
    [finished] = seen
    assert finished["outcome"] == "bad_request"
    assert isinstance(finished["error"], BadRequestError)
    origin = HttpOrigin(method="POST", route="/post", path="/post", scheme="http")
    assert outcome_attributes(origin, finished["error"])["http.response.status_code"] == 400
    assert obs.registry.get_sample_value(
        "flowserve_gateway_requests_total", {"endpoint": "/x", "outcome": "bad_request"}) == 1
