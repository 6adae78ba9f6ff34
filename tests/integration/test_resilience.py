"""Replicas, balancing, retries, deadlines, shards and self-healing on real processes."""

from __future__ import annotations

import io
import os
import signal
import time
from collections import Counter

import httpx
import pytest
from procs import pid_alive, running, wait_until
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from toy_executors import NoOp, ShardMatcher, Slow, SlowOnReplicaZero, TagByReplica

from flowserve import Client, Document, DocumentArray, Flow
from flowserve.errors import DeadlineExceededError
from flowserve.local.table import print_addresses

pytestmark = pytest.mark.integration


def docs(n: int) -> DocumentArray:
    return DocumentArray(Document(id=f"d{i}", text=f"t{i}") for i in range(n))


def test_killing_a_replica_mid_stream_loses_nothing_and_it_comes_back():
    flow = Flow().add(name="marker", uses=TagByReplica, replicas=2)
    with running(flow):
        replicas = [c for c in flow._runtime.children if c.role == "executor"]
        victim = replicas[0].pid
        outcomes: list[str] = []

        def on_done(r):
            outcomes.append("done")
            if len(outcomes) == 50:
                os.kill(victim, signal.SIGKILL)

        with Client(host=flow.addresses.gateway_url("grpc")) as client:
            client.post("/", docs(300), request_size=1, prefetch=4, on_done=on_done,
                        on_error=lambda r: outcomes.append("error"), timeout=120)
        assert len(outcomes) == 300  # every request ended in on_done or on_error
        assert outcomes.count("done") >= 290, Counter(outcomes)
        # the supervisor restarts the killed replica on the same port
        assert wait_until(lambda: replicas[0].pid != victim and replicas[0].info is not None, 60)
        assert flow._runtime.supervisor.restarts.get(replicas[0].name) == 1

        def both_serve() -> bool:
            result = flow.post("/", docs(10), request_size=1)
            return {d.tags["replica"] for d in result} == {0.0, 1.0}

        assert wait_until(both_serve, 60)


@pytest.mark.parametrize("balancing", ["round_robin", "p2c_ewma"])
def test_slow_replica_share_by_policy(balancing, record_property):
    # concurrency 4: no replica is ever full here, so the policy alone decides the share
    flow = Flow().add(name="work", uses=SlowOnReplicaZero, replicas=3, balancing=balancing,
                      concurrency=4, uses_with={"slow": 0.2, "fast": 0.005})
    with running(flow):
        result = flow.post("/", docs(200), request_size=1, prefetch=2)
    share = Counter(d.tags["replica"] for d in result)[0.0] / len(result)
    record_property("slow_share", share)
    if balancing == "round_robin":
        assert share > 0.2, share
    else:
        assert share < 0.1, share


def test_deadline_expiry_names_where_it_expired():
    flow = Flow(protocol=["grpc", "http"]).add(name="sleepy", uses=Slow, uses_with={"delay": 1.0})
    with running(flow):
        with Client(host=flow.addresses.gateway_url("grpc")) as client:
            errors = []
            client.post("/", docs(1), timeout=0.3, on_error=errors.append)
            assert errors, "the request did not fail"
            status = errors[0].header.status
            assert status.exception.name == "DeadlineExceededError"
            with pytest.raises(DeadlineExceededError):
                client.post("/", docs(1), timeout=0.3)
        http = flow.addresses.gateway_url("http")
        reply = httpx.post(f"{http}/post", json={"data": [{"text": "x"}]},
                           headers={"X-Flowserve-Timeout": "0.3"}, timeout=30)
        assert reply.status_code == 504
        assert "sleepy" in reply.json()["detail"]
        # the Flow still serves within a generous deadline
        assert len(flow.post("/", docs(1), timeout=30)) == 1


@pytest.mark.parametrize("polling", ["ALL", "ANY"])
def test_shards(polling):
    flow = Flow().add(name="index", uses=ShardMatcher, shards=2, polling=polling)
    with running(flow):
        result = flow.post("/", docs(6), request_size=1)
        table = io.StringIO()  # the address table lists every replica of every shard
        print_addresses(flow.spec, flow.addresses, console=Console(file=table, width=200))
        shard_replicas = flow.addresses.executors["index"]
        assert len(shard_replicas) == 2
        assert all(address in table.getvalue() for address in shard_replicas)
    if polling == "ALL":
        for doc in result:
            assert [m.id for m in doc.matches] == [f"{doc.id}-shard1", f"{doc.id}-shard0"]
    else:
        assert all(len(doc.matches) == 1 for doc in result)
        assert {doc.tags["shard"] for doc in result} == {0.0, 1.0}


def gateway_metrics(url: str) -> dict[tuple[str, frozenset], float]:
    """(sample name, labels) -> value, from the gateway's /metrics."""
    reply = httpx.get(url, timeout=10)
    assert reply.status_code == 200
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(reply.text) for s in family.samples}


def summed(samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def test_replica_that_stops_is_ejected_and_traffic_moves_on():
    flow = Flow(monitoring=True).add(name="marker", uses=TagByReplica, replicas=2)
    with running(flow):
        supervisor = flow._runtime.supervisor
        supervisor.stop()  # no restarts: the replica stays down
        victim = next(c for c in flow._runtime.children if c.role == "executor")
        dead_port, dead_pid = victim.info["port"], victim.pid
        (dead,) = [a for a in flow.addresses.executors["marker"] if a.endswith(f":{dead_port}")]
        metrics_url = flow.addresses.metrics_url
        os.kill(dead_pid, signal.SIGKILL)
        assert wait_until(lambda: not pid_alive(dead_pid), 30)
        started = time.monotonic()
        result = flow.post("/", docs(20), request_size=1, timeout=60)
        assert len(result) == 20
        assert time.monotonic() - started < 30

        samples = gateway_metrics(metrics_url)
        # Once a send to the dead replica fails it is ejected (the health checks keep it so),
        # so it gets at most the first call and one per (doubling) ejection expiry, not a
        # share of the 20 requests.
        dead_calls = summed(samples, "flowserve_executor_requests_total",
                            executor="marker", replica=dead)
        assert dead_calls <= 3, f"{dead_calls} calls went to the dead replica"
        assert summed(samples, "flowserve_executor_requests_total", executor="marker",
                      outcome="success") == 20

        def reported_ejected() -> bool:
            g = gateway_metrics(metrics_url)
            return (summed(g, "flowserve_executor_replicas", executor="marker",
                           state="ejected"),
                    summed(g, "flowserve_executor_replicas", executor="marker",
                           state="healthy")) == (1, 1)

        assert wait_until(reported_ejected, 30), "the gateway does not report it ejected"


def test_single_request_to_a_dead_executor_reaches_on_error_not_a_raise():
    flow = Flow().add(name="only", uses=NoOp)
    with running(flow):
        flow._runtime.supervisor.stop()
        victim = next(c for c in flow._runtime.children if c.role == "executor")
        os.kill(victim.pid, signal.SIGKILL)
        assert wait_until(lambda: not pid_alive(victim.pid), 30)
        errors: list = []
        with Client(host=flow.addresses.gateway_url("grpc")) as client:
            client.post("/", docs(1), on_error=errors.append, timeout=30)
        assert [e.header.status.exception.name for e in errors] == ["UnavailableError"]
        assert "only" in errors[0].header.status.description
