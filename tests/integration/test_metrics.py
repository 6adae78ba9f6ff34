"""Prometheus metrics of a running Flow: known traffic in, exact counts out of /metrics."""

from __future__ import annotations

import httpx
import pytest
from procs import running
from prometheus_client.parser import text_string_to_metric_families
from toy_executors import AppendText, Raises

from flowserve import Client, Document, DocumentArray, Flow

pytestmark = pytest.mark.integration

OK, BOOM, HTTP_TAGS = 7, 3, 2


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    """(sample name, labels) -> value of every sample at `url`."""
    reply = httpx.get(url, timeout=10)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(reply.text) for s in family.samples}


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def total(samples, name: str, **labels: str) -> float:
    """Sum over the label values not given (e.g. over replicas)."""
    return sum(v for (n, ls), v in samples.items()
               if n == name and set(labels.items()) <= set(ls))


@pytest.fixture(scope="module")
def traffic():
    flow = (
        Flow(protocol=["grpc", "http"], monitoring=True)
        .add(name="front", uses=AppendText, uses_with={"suffix": "!"})
        .add(name="picky", uses=Raises, replicas=2)
    )
    with running(flow):
        addresses = flow.addresses
        done, failed = [], []
        inputs = DocumentArray([Document(text=f"ok-{i}") for i in range(OK)]
                               + [Document(text=f"boom-{i}") for i in range(BOOM)])
        with Client(host=addresses.gateway_url("grpc")) as client:
            client.post("/", inputs, request_size=1, on_done=done.append,
                        on_error=failed.append)
        http = addresses.gateway_url("http")
        for i in range(HTTP_TAGS):
            reply = httpx.post(f"{http}/post", json={"data": [{"text": f"tag-{i}"}],
                                                     "execEndpoint": "/tag"}, timeout=30)
            assert reply.status_code == 200, reply.text
        assert (len(done), len(failed)) == (OK, BOOM)
        yield {
            "gateway": scrape(addresses.metrics_url),
            "executors": {name: [scrape(f"http://{a}/metrics") for a in replicas]
                          for name, replicas in addresses.executor_monitoring.items()},
            "addresses": addresses,
        }


def test_gateway_counts_requests_by_endpoint_and_outcome_exactly(traffic):
    g = traffic["gateway"]
    name = "flowserve_gateway_requests_total"
    assert value(g, name, endpoint="/", outcome="success") == OK
    assert value(g, name, endpoint="/", outcome="executor_error") == BOOM
    assert value(g, name, endpoint="/tag", outcome="success") == HTTP_TAGS
    assert total(g, name) == OK + BOOM + HTTP_TAGS


def test_executor_calls_per_executor_replica_and_outcome(traffic):
    g = traffic["gateway"]
    calls = "flowserve_executor_requests_total"
    assert total(g, calls, executor="front", outcome="success") == OK + BOOM + HTTP_TAGS
    assert total(g, calls, executor="picky", outcome="success") == OK + HTTP_TAGS
    assert total(g, calls, executor="picky", outcome="executor_error") == BOOM
    replicas = {dict(ls)["replica"] for (n, ls) in g if n == calls and ("executor", "picky") in ls}
    assert replicas == set(traffic["addresses"].executors["picky"])  # one series per replica
    assert total(g, "flowserve_executor_queue_wait_seconds_count", executor="front") == 12
    assert total(g, "flowserve_executor_docs_total", executor="front") == 12
    assert total(g, "flowserve_executor_request_bytes_total", executor="front") > 0
    assert total(g, "flowserve_executor_response_bytes_total", executor="front") > 0


def test_queue_gauges_after_the_traffic(traffic):
    g = traffic["gateway"]
    assert value(g, "flowserve_executor_queue_depth", executor="picky") == 0
    assert value(g, "flowserve_executor_in_flight", executor="picky") == 0
    assert value(g, "flowserve_executor_capacity", executor="picky") == 2
    assert value(g, "flowserve_executor_replicas", executor="picky", state="healthy") == 2
    assert value(g, "flowserve_executor_admitted_total", executor="front") == 12
    assert value(g, "flowserve_executor_rejected_total", executor="front") == 0


def check_histogram(samples, name: str, count: int, max_seconds: float, **labels: str) -> None:
    buckets = sorted(
        ((float(dict(ls)["le"]), v) for (n, ls), v in samples.items()
         if n == f"{name}_bucket" and set(labels.items()) <= set(ls)), key=lambda b: b[0])
    assert [le for le, _ in buckets][:3] == [0.001, 0.0025, 0.005]
    assert buckets[-1] == (float("inf"), count)
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "buckets are cumulative"
    assert value(samples, f"{name}_count", **labels) == count
    seconds = value(samples, f"{name}_sum", **labels)
    assert 0 < seconds < count * max_seconds, "plausible durations"
    assert dict(buckets)[max_seconds] == count, f"every observation under {max_seconds} s"


def test_latency_histograms_have_plausible_buckets(traffic):
    g = traffic["gateway"]
    check_histogram(g, "flowserve_gateway_request_duration_seconds", OK, 5.0,
                    endpoint="/", outcome="success")
    check_histogram(g, "flowserve_gateway_request_duration_seconds", BOOM, 5.0,
                    endpoint="/", outcome="executor_error")
    replica = traffic["addresses"].executors["front"][0]
    check_histogram(g, "flowserve_executor_processing_seconds", OK + BOOM, 5.0,
                    executor="front", replica=replica, endpoint="/")
    check_histogram(g, "flowserve_executor_queue_wait_seconds", 12, 5.0, executor="front")


def test_executor_processes_count_their_handlers(traffic):
    (front,) = traffic["executors"]["front"]
    assert value(front, "flowserve_handler_requests_total", executor="front",
                 endpoint="/default", outcome="success") == OK + BOOM
    assert value(front, "flowserve_handler_requests_total", executor="front", endpoint="/tag",
                 outcome="success") == HTTP_TAGS
    assert value(front, "flowserve_handler_docs_total", executor="front",
                 endpoint="/default") == OK + BOOM
    picky = traffic["executors"]["picky"]
    assert len(picky) == 2
    ok = sum(total(s, "flowserve_handler_requests_total", outcome="success") for s in picky)
    errors = sum(total(s, "flowserve_handler_requests_total", outcome="executor_error")
                 for s in picky)
    assert (ok, errors) == (OK + HTTP_TAGS, BOOM)
    for samples in picky:
        assert total(samples, "flowserve_handler_duration_seconds_count") == total(
            samples, "flowserve_handler_requests_total")
        assert total(samples, "process_cpu_seconds_total") > 0
