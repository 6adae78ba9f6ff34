"""Faults #1 and #6 on real processes: a request stuck on a frozen (SIGSTOP) replica is
answered within `timeout_ejected` after the replica's ejection, not when (if ever) it resumes;
a request that succeeded after a retry says so in its response (gRPC and HTTP)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from procs import running, wait_until

from flowserve import Client, Document, DocumentArray, Flow
from flowserve.wire.httpjson import response_from_json
from flowserve.wire.names import RETRIED_HEADER

pytestmark = pytest.mark.integration


def _holder(path: Path, replicas: int, **options: Any) -> Flow:
    return Flow(protocol=["grpc", "http"], grace=2).add(
        name="holder", uses="fault_executors:HoldsFirstAttempt", replicas=replicas,
        uses_with={"marker_dir": str(path), "hold": 60.0}, **options)


def _running_on(path: Path, doc_id: str) -> int | None:
    """The pid of the replica running the first attempt at `doc_id`, once it has started."""
    try:
        text = (path / doc_id).read_text()
    except FileNotFoundError:
        return None
    return int(text) if text else None


def _in_background(target: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = target()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_a_request_stuck_on_a_frozen_replica_is_retried_within_the_bound(tmp_path):
    """Before: without a deadline it waited until the replica resumed (here: never)."""
    flow = _holder(tmp_path, replicas=2, timeout_ejected=2)
    with running(flow):
        grpc_url = flow.addresses.gateway_url("grpc")
        with Client(host=grpc_url) as client:  # no timeout: the request has no deadline
            stuck, out = _in_background(lambda: client.post(
                "/hold", DocumentArray([Document(id="stuck", text="x")]),
                return_responses=True))
            assert wait_until(lambda: _running_on(tmp_path, "stuck") is not None, 60)
            frozen = _running_on(tmp_path, "stuck")
            assert frozen is not None
            os.kill(frozen, signal.SIGSTOP)
            try:
                frozen_at = time.monotonic()
                # traffic keeps flowing to the healthy replica meanwhile
                with Client(host=grpc_url) as other:
                    for i in range(3):
                        (doc,) = other.post("/", DocumentArray([Document(text=f"o{i}")]),
                                            timeout=60)
                        assert doc.tags["pid"] != frozen
                # documented bound: ejection (~1.5 s) + timeout_ejected (2 s); generous here
                stuck.join(60)
                waited = time.monotonic() - frozen_at
                assert not stuck.is_alive(), "the request still waits on the frozen replica"
            finally:
                os.kill(frozen, signal.SIGCONT)
        assert "error" not in out, out.get("error")
        (response,) = out["result"]
        assert response.docs[0].tags["pid"] != frozen  # answered by the healthy replica
        (retried,) = response.retried
        assert (retried.executor, retried.attempts) == ("holder", 2)
        assert "was ejected (it failed its health check)" in retried.reasons
        assert waited < 30, waited  # measured 3.5 s; waiting for the replica would be 60+


def test_a_request_retried_after_its_replica_died_says_so(tmp_path):
    """Before: the response of a retried request looked like any other."""
    flow = _holder(tmp_path, replicas=2)
    with running(flow):
        grpc_url = flow.addresses.gateway_url("grpc")

        def killed_mid_request(doc_id: str, post: Any) -> Any:
            thread, out = _in_background(post)
            assert wait_until(lambda: _running_on(tmp_path, doc_id) is not None, 60)
            victim = _running_on(tmp_path, doc_id)
            assert victim is not None
            os.kill(victim, signal.SIGKILL)
            thread.join(120)
            assert not thread.is_alive()
            assert "error" not in out, out.get("error")
            return out["result"], victim

        with Client(host=grpc_url) as client:
            (response,), victim = killed_mid_request("g", lambda: client.post(
                "/hold", DocumentArray([Document(id="g")]), return_responses=True,
                timeout=120))
            assert response.docs[0].tags["pid"] != victim
            (retried,) = response.retried
            assert (retried.executor, retried.attempts) == ("holder", 2)
            assert "holder" in retried.reasons

            # the killed replica is restarted; once both serve again, the same over HTTP
            # (so that the retry has exactly one other replica to go to)
            answered: set[float] = set()

            def both_serve() -> bool:
                docs = client.post("/", DocumentArray([Document()]), timeout=60)
                answered.add(docs[0].tags["pid"])
                return len(answered - {float(victim)}) == 2

            assert wait_until(both_serve, 90)

        url = flow.addresses.gateway_url("http") + "/post"
        reply, victim = killed_mid_request("h", lambda: httpx.post(
            url, json={"data": [{"id": "h"}], "execEndpoint": "/hold"}, timeout=120))
        assert reply.status_code == 200, reply.text
        assert reply.headers[RETRIED_HEADER] == "holder=2"
        response = response_from_json(reply.json())  # what the Client's HTTP transport reads
        assert [(r.executor, r.attempts) for r in response.retried] == [("holder", 2)]
        assert response.docs[0].tags["pid"] != victim
