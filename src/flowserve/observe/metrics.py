"""Prometheus metrics of a gateway and of an executor process (golden metrics, bounded labels).

Every metric is registered in the `CollectorRegistry` passed in, made by the process that
serves it: nothing touches prometheus-client's global registry, so two gateways in one test
process never share counters. Label values are bounded: executors and replicas come from the
Flow, outcomes from `gateway.observer.outcome_of`, endpoints are capped (`LabelCap`) because
clients choose them, and clients appear only as the top `TOP_CLIENTS` by queued requests plus
``other``. The full list, with labels, is in docs/observability.md.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..gateway.scheduler import ClientStats, QueueSnapshot

__all__ = [
    "LATENCY_BUCKETS",
    "OTHER",
    "TOP_CLIENTS",
    "GatewayMetrics",
    "new_registry",
    "HandlerMetrics",
    "LabelCap",
    "QueueCollector",
    "top_queued",
]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0, 120.0, float("inf"))
"""Seconds: from a fast in-memory executor to minute-long queues."""
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, float("inf"))
TOP_CLIENTS = 10
"""Clients named in per-client labels; the rest are summed as ``other``."""
OTHER = "other"
MAX_ENDPOINTS = 32


def new_registry(component: str) -> CollectorRegistry:
    """A process's own registry with the standard ``process_*`` metrics and
    ``flowserve_build_info`` (constant 1; labels: version, python, component)."""
    from .._version import __version__

    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    Gauge("flowserve_build_info", "flowserve's version and Python's, as labels (always 1).",
          ["version", "python", "component"], registry=registry,
          ).labels(__version__, platform.python_version(), component).set(1)
    return registry


class LabelCap:
    """Keeps the first `limit` distinct values of a label; later new ones become ``other``.

    Endpoints are chosen by clients, so without a cap one client could create any number of
    time series."""

    def __init__(self, limit: int = MAX_ENDPOINTS) -> None:
        self.limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) < self.limit:
            self._seen.add(value)
            return value
        return OTHER


class GatewayMetrics:
    """The gateway core's `Observer` as Prometheus counters and histograms."""

    wants_sizes = True

    def __init__(self, registry: CollectorRegistry, *, endpoints: LabelCap | None = None) -> None:
        self.endpoint = endpoints or LabelCap()
        r = registry
        self.requests = Counter(
            "flowserve_gateway_requests", "Client requests answered by the gateway.",
            ["endpoint", "outcome"], registry=r)
        self.duration = Histogram(
            "flowserve_gateway_request_duration_seconds",
            "End-to-end time of a client request in the gateway.",
            ["endpoint", "outcome"], buckets=LATENCY_BUCKETS, registry=r)
        self.calls = Counter(
            "flowserve_executor_requests", "Calls from the gateway to executor replicas.",
            ["executor", "replica", "endpoint", "outcome"], registry=r)
        self.processing = Histogram(
            "flowserve_executor_processing_seconds",
            "Time of one call to an executor replica (network + handler), after the queue.",
            ["executor", "replica", "endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.queue_wait_s = Histogram(
            "flowserve_executor_queue_wait_seconds",
            "Time a request waited in an executor deployment's fair queue at the gateway.",
            ["executor"], buckets=LATENCY_BUCKETS, registry=r)
        self.request_bytes = Counter(
            "flowserve_executor_request_bytes", "Bytes of requests sent to executor replicas.",
            ["executor", "replica"], registry=r)
        self.response_bytes = Counter(
            "flowserve_executor_response_bytes",
            "Bytes of responses received from executor replicas.",
            ["executor", "replica"], registry=r)
        self.docs = Counter(
            "flowserve_executor_docs", "Documents in the responses of executor replicas.",
            ["executor", "replica"], registry=r)

    def request_started(self, *, endpoint: str, client: str, request_id: str,
                        origin: object = None) -> None:
        pass

    def request_finished(self, *, endpoint: str, outcome: str, seconds: float,
                         error: BaseException | None = None) -> None:
        endpoint = self.endpoint(endpoint)
        self.requests.labels(endpoint, outcome).inc()
        self.duration.labels(endpoint, outcome).observe(seconds)

    def queue_wait(self, *, executor: str, seconds: float) -> None:
        self.queue_wait_s.labels(executor).observe(seconds)

    def executor_call(self, *, executor: str, replica: str, endpoint: str, outcome: str,
                      seconds: float, request_bytes: int, response_bytes: int,
                      docs: int) -> None:
        endpoint = self.endpoint(endpoint)
        self.calls.labels(executor, replica, endpoint, outcome).inc()
        self.processing.labels(executor, replica, endpoint).observe(seconds)
        self.request_bytes.labels(executor, replica).inc(request_bytes)
        self.response_bytes.labels(executor, replica).inc(response_bytes)
        self.docs.labels(executor, replica).inc(docs)


class HandlerMetrics:
    """The executor runtime's `HandlerObserver` as Prometheus metrics (executor process)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "flowserve_handler_requests", "Requests handled by this executor replica.",
            ["executor", "endpoint", "outcome"], registry=registry)
        self.seconds = Histogram(
            "flowserve_handler_duration_seconds",
            "Time in the executor's handler (decode to encode).",
            ["executor", "endpoint", "outcome"], buckets=LATENCY_BUCKETS, registry=registry)
        self.docs = Counter(
            "flowserve_handler_docs", "Documents handled by this executor replica.",
            ["executor", "endpoint"], registry=registry)
        self.batch_docs = Histogram(
            "flowserve_batch_size_docs", "Documents per batch of a dynamic-batching endpoint.",
            ["executor", "endpoint"], buckets=BATCH_SIZE_BUCKETS, registry=registry)
        self.batch_requests = Histogram(
            "flowserve_batch_size_requests", "Requests merged per batch.",
            ["executor", "endpoint"], buckets=BATCH_SIZE_BUCKETS, registry=registry)
        self.batch_wait = Histogram(
            "flowserve_batch_wait_seconds",
            "Time from a batch's first request to its hand-over to the handler.",
            ["executor", "endpoint"], buckets=LATENCY_BUCKETS, registry=registry)

        self.streams_open = Gauge(
            "flowserve_streams_open", "Streams of a streaming endpoint being served now.",
            ["executor", "endpoint"], registry=registry)
        self.streamed_docs = Counter(
            "flowserve_stream_docs", "Documents yielded by streaming handlers.",
            ["executor", "endpoint"], registry=registry)
        self.first_doc = Histogram(
            "flowserve_stream_first_doc_seconds",
            "Time from a streaming handler's call to its first document.",
            ["executor", "endpoint"], buckets=LATENCY_BUCKETS, registry=registry)
        self.streams = Counter(
            "flowserve_streams", "Streams ended, by outcome (success, executor_error, "
            "cancelled: the reader went away).",
            ["executor", "endpoint", "outcome"], registry=registry)

    def stream_started(self, *, executor: str, endpoint: str) -> None:
        self.streams_open.labels(executor, endpoint).inc()

    def stream_doc(self, *, executor: str, endpoint: str, seconds: float, first: bool) -> None:
        self.streamed_docs.labels(executor, endpoint).inc()
        if first:
            self.first_doc.labels(executor, endpoint).observe(seconds)

    def stream_ended(self, *, executor: str, endpoint: str, outcome: str,
                     seconds: float) -> None:
        self.streams_open.labels(executor, endpoint).dec()
        self.streams.labels(executor, endpoint, outcome).inc()

    def batched(self, *, executor: str, endpoint: str, docs: int, requests: int,
                wait_s: float) -> None:
        self.batch_docs.labels(executor, endpoint).observe(docs)
        self.batch_requests.labels(executor, endpoint).observe(requests)
        self.batch_wait.labels(executor, endpoint).observe(wait_s)

    def handled(self, *, executor: str, endpoint: str, outcome: str, seconds: float,
                docs: int) -> None:
        self.requests.labels(executor, endpoint, outcome).inc()
        self.seconds.labels(executor, endpoint, outcome).observe(seconds)
        self.docs.labels(executor, endpoint).inc(docs)


def top_queued(clients: Mapping[str, ClientStats], n: int = TOP_CLIENTS,
               ) -> tuple[list[tuple[str, ClientStats]], ClientStats]:
    """The `n` clients with most requests queued (then in flight; ties by name), and the sum
    of all others' stats. Clients with nothing queued or in flight are left out."""
    busy = [(c, s) for c, s in clients.items() if s.queued or s.in_flight]
    busy.sort(key=lambda item: (-item[1].queued, -item[1].in_flight, item[0]))
    rest = ClientStats()
    for _, s in busy[n:]:
        rest.queued += s.queued
        rest.in_flight += s.in_flight
        rest.admitted += s.admitted
        rest.rejected += s.rejected
    return busy[:n], rest


class QueueSource(Protocol):
    """What `QueueCollector` reads: a `GatewayCore`, or a fake in tests."""

    @property
    def deployments(self) -> Mapping[str, Any]: ...

    def snapshot(self) -> dict[str, Any]: ...


class QueueCollector(Collector):
    """Gauges read from the gateway's queues at scrape time (nothing to keep up to date)."""

    def __init__(self, core: QueueSource, *, top_clients: int = TOP_CLIENTS) -> None:
        self.core = core
        self.top_clients = top_clients

    def describe(self) -> list[Metric]:
        # Described up front (empty) so registering never calls collect(): no core access then.
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        families = self._families()
        in_flight, depth, capacity, queued, replicas, replica_in_flight, admitted, rejected, \
            expired = families
        snap: Mapping[str, QueueSnapshot] = self.core.snapshot()["deployments"]
        for name, q in snap.items():
            in_flight.add_metric([name], q.in_flight)
            depth.add_metric([name], q.queued)
            capacity.add_metric([name], q.capacity)
            admitted.add_metric([name], q.admitted)
            rejected.add_metric([name], q.rejected)
            expired.add_metric([name], q.expired)
            top, rest = top_queued(q.clients, self.top_clients)
            for client, stats in top:
                queued.add_metric([name, client], stats.queued)
            if rest.queued or rest.in_flight:
                queued.add_metric([name, OTHER], rest.queued)
            rows = self.core.deployments[name].replica_snapshot()
            ejected = sum(1 for row in rows if row.get("ejected"))
            replicas.add_metric([name, "healthy"], len(rows) - ejected)
            replicas.add_metric([name, "ejected"], ejected)
            for row in rows:
                replica_in_flight.add_metric([name, str(row["address"])], row["in_flight"])
        yield from families

    @staticmethod
    def _families() -> list[GaugeMetricFamily | CounterMetricFamily]:
        return [
            GaugeMetricFamily("flowserve_executor_in_flight",
                              "Requests being served by an executor deployment now.",
                              labels=["executor"]),
            GaugeMetricFamily("flowserve_executor_queue_depth",
                              "Requests waiting in an executor deployment's queue now.",
                              labels=["executor"]),
            GaugeMetricFamily("flowserve_executor_capacity",
                              "Requests an executor deployment serves at once "
                              "(healthy replicas x concurrency).", labels=["executor"]),
            GaugeMetricFamily("flowserve_executor_queued_requests",
                              f"Requests waiting per client (top {TOP_CLIENTS} by queued, "
                              f"the rest as client=\"{OTHER}\").",
                              labels=["executor", "client"]),
            GaugeMetricFamily("flowserve_executor_replicas",
                              "Replicas of an executor by state (healthy or ejected).",
                              labels=["executor", "state"]),
            GaugeMetricFamily("flowserve_executor_replica_in_flight",
                              "Requests in flight at one executor replica.",
                              labels=["executor", "replica"]),
            CounterMetricFamily("flowserve_executor_admitted",
                                "Requests admitted to an executor deployment's queue.",
                                labels=["executor"]),
            CounterMetricFamily("flowserve_executor_rejected",
                                "Requests refused by an executor deployment's queue "
                                "(full, or the deadline could not be met), including "
                                "those counted in flowserve_executor_expired.",
                                labels=["executor"]),
            CounterMetricFamily("flowserve_executor_expired",
                                "Requests whose deadline passed while they waited in the queue.",
                                labels=["executor"]),
        ]
