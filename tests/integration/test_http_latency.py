"""Keep-alive HTTP requests are answered at once: every socket a flowserve server accepts has
TCP_NODELAY, so a response written in two parts (headers, then body) is not held back by
Nagle's algorithm until the client's delayed ACK (~40 ms on Linux)."""

from __future__ import annotations

import statistics
import time

import httpx
import pytest
from procs import running
from toy_executors import NoOp

from flowserve import Client, Document, DocumentArray, Flow

pytestmark = pytest.mark.integration

ROUNDS = 20
# Nagle + delayed ACK makes each keep-alive request after the first take ~40 ms; without it a
# request takes ~1 ms. The median keeps one slow round on a loaded machine from failing this.
MEDIAN_LIMIT = 0.020


def median_seconds(call) -> float:
    call()  # the connection is open (and the first request's costs paid) before timing
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@pytest.fixture(scope="module")
def flow():
    with running(Flow(protocol="http", monitoring=True).add(name="noop", uses=NoOp)) as f:
        yield f


def test_keep_alive_posts_with_httpx_are_not_delayed(flow):
    url = flow.addresses.gateway_url("http") + "/post"
    with httpx.Client(timeout=30) as http:
        def post() -> None:
            assert http.post(url, json={"data": [{"text": "x"}]}).status_code == 200

        assert median_seconds(post) < MEDIAN_LIMIT


def test_keep_alive_posts_with_the_client_are_not_delayed(flow):
    with Client(host=flow.addresses.gateway_url("http")) as client:
        def post() -> None:
            client.post("/", DocumentArray([Document(text="x")]))

        assert median_seconds(post) < MEDIAN_LIMIT


def test_keep_alive_metrics_scrapes_are_not_delayed(flow):
    url = flow.addresses.metrics_url
    assert url is not None
    with httpx.Client(timeout=30) as http:
        def scrape() -> None:
            assert http.get(url).status_code == 200

        assert median_seconds(scrape) < MEDIAN_LIMIT
