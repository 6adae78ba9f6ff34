"""Tracing across processes: the gateway and every executor replica write their finished spans
to one JSON-lines file (FLOWSERVE_TRACES_FILE); each request is one trace whose spans link the
gateway's call to the executor's handler span across the process boundary."""

from __future__ import annotations

import json
import time
from collections import defaultdict

import pytest
from procs import free_port, running, wait_until
from toy_executors import AppendText, Raises

from flowserve import Client, Document, DocumentArray, Flow

pytestmark = pytest.mark.integration

REQUESTS = 4


def test_one_trace_per_request_across_gateway_and_executor_processes(tmp_path):
    path = tmp_path / "spans.jsonl"
    flow = (
        Flow(tracing=True, env={"FLOWSERVE_TRACES_FILE": str(path)})
        .add(name="first", uses=AppendText, replicas=2)
        .add(name="second", uses=Raises)
    )
    with running(flow):
        with Client(host=flow.addresses.gateway_url()) as client:
            client.post("/", DocumentArray(Document(text=f"t{i}") for i in range(REQUESTS)),
                        request_size=1)
            errors = []
            client.post("/", DocumentArray([Document(text="boom")]), on_error=errors.append)
        assert len(errors) == 1

        def spans() -> list[dict]:
            if not path.exists():
                return []
            return [json.loads(line) for line in path.read_text().splitlines()]

        # the executor spans are written when their handler returns, the gateway's when the
        # reply is sent: all of them once REQUESTS + 1 gateway spans are there
        assert wait_until(lambda: sum(s["name"] == "gateway /" for s in spans()) == REQUESTS + 1
                          and sum(s["name"].startswith("executor ") for s in spans())
                          == 2 * (REQUESTS + 1), 30), spans()
    traces: dict[str, list[dict]] = defaultdict(list)
    for span in spans():
        traces[span["trace_id"]].append(span)
    assert len(traces) == REQUESTS + 1
    for trace in traces.values():
        by_id = {s["span_id"]: s for s in trace}
        (root,) = [s for s in trace if s["parent_id"] is None]
        assert (root["name"], root["service"], root["kind"]) == ("gateway /", "gateway", "SERVER")
        for name in ("first", "second"):
            (server,) = [s for s in trace if s["name"] == f"executor {name} /"]
            assert server["service"] == name, "written by the executor's own process"
            call = by_id[server["parent_id"]]
            assert (call["name"], call["service"], call["kind"]) == (
                f"call {name}", "gateway", "CLIENT")
            assert call["parent_id"] == root["span_id"]
            assert call["start"] <= server["start"] <= server["end"] <= call["end"]
            (queue,) = [s for s in trace if s["name"] == f"queue {name}"]
            assert queue["parent_id"] == root["span_id"]
    failed = [t for t in traces.values() if any(s["status"] == "ERROR" for s in t)]
    assert len(failed) == 1
    assert {s["name"] for s in failed[0] if s["status"] == "ERROR"} == {
        "gateway /", "executor second /"}


def test_without_a_collector_nothing_fails_or_hangs():
    port = free_port()  # nothing listens there
    flow = Flow(tracing=True, traces_exporter_host="127.0.0.1", traces_exporter_port=port).add(
        name="first", uses=AppendText)
    with running(flow):
        started = time.monotonic()
        result = flow.post("/", DocumentArray(Document(text=f"t{i}") for i in range(20)),
                           request_size=1)
        assert len(result) == 20
        assert time.monotonic() - started < 10
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 20, "stopping waited too long for the exporter"
