"""Faults #6: a request an executor cannot decode is the client's error (never retried, no
replica ejected); a request that kills its replica is retried at most once."""

from __future__ import annotations

import httpx
import pytest
from procs import pid_alive, running, wait_until

from flowserve import Flow

pytestmark = pytest.mark.integration


def _executor_pids(flow: Flow) -> list[int]:
    return [c.pid for c in flow._runtime.children if c.role == "executor"]


def test_a_body_executors_cannot_decode_is_a_400_and_ejects_nothing():
    """Before: 503, retried on the other replica, both ejected."""
    flow = Flow(protocol="http").add(name="p", uses="fault_executors:ExitsOnPoison", replicas=2)
    with running(flow):
        url = flow.addresses.gateway_url("http") + "/post"
        deep = b'{"data": [{"text": "a", "tags": ' + b'{"a":' * 60 + b"1" + b"}" * 60 + b"}]}"
        r = httpx.post(url, content=deep, headers={"content-type": "application/json"},
                       timeout=60)
        assert r.status_code == 400, r.text
        assert "cannot decode the request" in r.json()["detail"]
        for _ in range(4):  # both replicas still take traffic at once
            ok = httpx.post(url, json={"data": [{"text": "b"}]}, timeout=60)
            assert ok.status_code == 200, ok.text


def test_a_request_that_kills_its_replica_runs_on_two_replicas_at_most():
    """Before: it was retried on every replica (retries: 2) and took all three down."""
    flow = Flow(protocol="http").add(name="p", uses="fault_executors:ExitsOnPoison", replicas=3,
                                     retries=2)
    with running(flow):
        url = flow.addresses.gateway_url("http") + "/post"
        pids = _executor_pids(flow)
        r = httpx.post(url, json={"data": [{"text": "a"}], "execEndpoint": "/poison"},
                       timeout=60)
        assert r.status_code == 503, r.text
        assert "retried once after a replica failed while running it" in r.json()["detail"]
        assert wait_until(lambda: sum(not pid_alive(p) for p in pids) == 2, 30)
        ok = httpx.post(url, json={"data": [{"text": "b"}]}, timeout=60)
        assert ok.status_code == 200, ok.text  # the survivor serves
