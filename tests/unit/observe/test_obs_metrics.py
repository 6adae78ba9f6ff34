"""Prometheus metrics from observer events, each test with its own registry (no sockets)."""

from __future__ import annotations

import prometheus_client
from observe_fakes import FakeCore, queue
from prometheus_client import CollectorRegistry, generate_latest

from flowserve.gateway.scheduler import ClientStats
from flowserve.observe.fanout import fanout
from flowserve.observe.metrics import (
    OTHER,
    GatewayMetrics,
    HandlerMetrics,
    LabelCap,
    QueueCollector,
    top_queued,
)


def test_gateway_observer_counts_requests_calls_bytes_and_docs():
    registry = CollectorRegistry()
    m = GatewayMetrics(registry)
    for _ in range(3):
        m.request_finished(endpoint="/", outcome="success", seconds=0.2)
    m.request_finished(endpoint="/", outcome="executor_error", seconds=0.01)
    m.queue_wait(executor="slow", seconds=4.0)
    m.executor_call(executor="slow", replica="127.0.0.1:1", endpoint="/", outcome="success",
                    seconds=1.0, request_bytes=100, response_bytes=300, docs=5)
    m.executor_call(executor="slow", replica="127.0.0.1:1", endpoint="/", outcome="success",
                    seconds=1.0, request_bytes=50, response_bytes=70, docs=2)
    get = registry.get_sample_value
    assert get("flowserve_gateway_requests_total", {"endpoint": "/", "outcome": "success"}) == 3
    assert get("flowserve_gateway_requests_total",
               {"endpoint": "/", "outcome": "executor_error"}) == 1
    assert get("flowserve_gateway_request_duration_seconds_bucket",
               {"endpoint": "/", "outcome": "success", "le": "0.25"}) == 3
    assert get("flowserve_gateway_request_duration_seconds_bucket",
               {"endpoint": "/", "outcome": "success", "le": "0.1"}) == 0
    labels = {"executor": "slow", "replica": "127.0.0.1:1"}
    assert get("flowserve_executor_requests_total",
               {**labels, "endpoint": "/", "outcome": "success"}) == 2
    assert get("flowserve_executor_processing_seconds_count", {**labels, "endpoint": "/"}) == 2
    assert get("flowserve_executor_queue_wait_seconds_bucket",
               {"executor": "slow", "le": "5.0"}) == 1
    assert get("flowserve_executor_queue_wait_seconds_bucket",
               {"executor": "slow", "le": "2.5"}) == 0
    assert get("flowserve_executor_request_bytes_total", labels) == 150
    assert get("flowserve_executor_response_bytes_total", labels) == 370
    assert get("flowserve_executor_docs_total", labels) == 7


def test_metrics_never_touch_the_global_registry():
    before = {m.name for m in prometheus_client.REGISTRY.collect()}
    GatewayMetrics(CollectorRegistry())
    HandlerMetrics(CollectorRegistry())
    after = {m.name for m in prometheus_client.REGISTRY.collect()}
    assert after == before
    assert not any(name.startswith("flowserve") for name in after)


def test_two_gateways_in_one_process_do_not_share_counters():
    a, b = CollectorRegistry(), CollectorRegistry()
    GatewayMetrics(a).request_finished(endpoint="/", outcome="success", seconds=0.1)
    GatewayMetrics(b)
    key = {"endpoint": "/", "outcome": "success"}
    assert a.get_sample_value("flowserve_gateway_requests_total", key) == 1
    assert b.get_sample_value("flowserve_gateway_requests_total", key) is None


def test_handler_metrics_of_an_executor_process():
    registry = CollectorRegistry()
    m = HandlerMetrics(registry)
    m.handled(executor="enc", endpoint="/index", outcome="success", seconds=0.003, docs=10)
    m.handled(executor="enc", endpoint="/index", outcome="executor_error", seconds=0.5, docs=1)
    get = registry.get_sample_value
    assert get("flowserve_handler_requests_total",
               {"executor": "enc", "endpoint": "/index", "outcome": "success"}) == 1
    assert get("flowserve_handler_duration_seconds_count",
               {"executor": "enc", "endpoint": "/index", "outcome": "executor_error"}) == 1
    assert get("flowserve_handler_docs_total", {"executor": "enc", "endpoint": "/index"}) == 11


def test_client_chosen_endpoints_are_capped():
    cap = LabelCap(limit=3)
    assert [cap(e) for e in ["/a", "/b", "/a", "/c", "/d", "/e", "/b"]] == [
        "/a", "/b", "/a", "/c", OTHER, OTHER, "/b"]
    registry = CollectorRegistry()
    m = GatewayMetrics(registry, endpoints=LabelCap(limit=2))
    for i in range(50):
        m.request_finished(endpoint=f"/random-{i}", outcome="success", seconds=0.1)
    series = {s.labels["endpoint"] for metric in registry.collect() for s in metric.samples
              if s.name == "flowserve_gateway_requests_total"}
    assert series == {"/random-0", "/random-1", OTHER}


def test_top_queued_orders_by_queued_then_in_flight_and_sums_the_rest():
    clients = {f"c{i}": ClientStats(queued=i, in_flight=1) for i in range(15)}
    clients["idle"] = ClientStats()
    top, rest = top_queued(clients, 10)
    assert [c for c, _ in top] == [f"c{i}" for i in range(14, 4, -1)]
    assert rest.queued == 0 + 1 + 2 + 3 + 4
    assert rest.in_flight == 5  # c0..c4; the idle client is left out


def test_queue_collector_reads_queues_at_scrape_time_with_bounded_clients():
    core = FakeCore(
        {"slow": ["gateway"], "bulky": ["slow"]},
        {"slow": queue("slow", capacity=2, in_flight=2, admitted=40, rejected=3,
                       clients={f"client-{i}": i + 1 for i in range(25)}),
         "bulky": queue("bulky", capacity=1)},
        {"slow": 2, "bulky": 1},
    )
    core.deployments["slow"].rows[1]["ejected"] = True
    core.deployments["slow"].rows[0]["in_flight"] = 2
    registry = CollectorRegistry()
    registry.register(QueueCollector(core))
    get = registry.get_sample_value
    assert get("flowserve_executor_queue_depth", {"executor": "slow"}) == sum(range(1, 26))
    assert get("flowserve_executor_in_flight", {"executor": "slow"}) == 2
    assert get("flowserve_executor_capacity", {"executor": "bulky"}) == 1
    assert get("flowserve_executor_rejected_total", {"executor": "slow"}) == 3
    assert get("flowserve_executor_admitted_total", {"executor": "slow"}) == 40
    assert get("flowserve_executor_replicas", {"executor": "slow", "state": "healthy"}) == 1
    assert get("flowserve_executor_replicas", {"executor": "slow", "state": "ejected"}) == 1
    assert get("flowserve_executor_replica_in_flight",
               {"executor": "slow", "replica": "slow:0"}) == 2
    queued = {s.labels["client"]: s.value for m in registry.collect() for s in m.samples
              if s.name == "flowserve_executor_queued_requests"}
    assert len(queued) == 11  # top 10 + other: 25 clients never make 25 series
    assert queued["client-24"] == 25
    assert queued[OTHER] == sum(range(1, 16))
    # the queues change: the next scrape sees it
    core.queues["slow"] = queue("slow", capacity=2, clients={"late": 4})
    assert registry.get_sample_value("flowserve_executor_queued_requests",
                                     {"executor": "slow", "client": "late"}) == 4
    assert b"flowserve_executor_queue_depth" in generate_latest(registry)


def test_fanout_calls_every_observer_and_drops_none():
    a, b = CollectorRegistry(), CollectorRegistry()
    ma, mb = GatewayMetrics(a), GatewayMetrics(b)
    assert fanout(None, ma) is ma
    assert fanout(None, None) is None
    both = fanout(ma, mb)
    assert both.wants_sizes
    both.request_finished(endpoint="/", outcome="success", seconds=0.1)
    key = {"endpoint": "/", "outcome": "success"}
    assert a.get_sample_value("flowserve_gateway_requests_total", key) == 1
    assert b.get_sample_value("flowserve_gateway_requests_total", key) == 1
