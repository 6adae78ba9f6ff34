"""Faults #8: an undecodable reply gives its replica slot back; absurd timeouts and a bad
`__prefetch__` get a clear answer, not a raw ValueError, an instant 504 or UNKNOWN."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import pytest
from procs import running, wait_until

from flowserve import Client, Document, DocumentArray, Flow
from flowserve.proto import jina_pb2_grpc
from flowserve.wire.request import DataRequest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    f = Flow(protocol=["grpc", "http"], monitoring=True).add(
        name="deep", uses="fault_executors:DeepReply")
    with running(f):
        yield f


def _replica_in_flight(flow: Flow) -> list[float]:
    text = httpx.get(flow.addresses.metrics_url, timeout=30).text
    return [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("flowserve_executor_replica_in_flight{")]


def test_an_undecodable_reply_gives_the_replica_slot_back(flow):
    """Before: the replica's in-flight count stayed at 1 for good."""
    with Client(host=flow.addresses.gateway_url("grpc")) as client:
        errors: list[object] = []
        client.post("/deep", Document(text="x"), on_error=errors.append)
        assert len(errors) == 1
    assert wait_until(lambda: _replica_in_flight(flow) == [0.0], 30), _replica_in_flight(flow)


@pytest.mark.parametrize("timeout", [1e8, float("inf")])
def test_a_huge_client_timeout_means_no_deadline(flow, timeout):
    """Before: `timeout=1e8` raised protobuf's ValueError (Value out of range)."""
    with Client(host=flow.addresses.gateway_url("grpc")) as client:
        assert len(client.post("/", Document(text="x"), timeout=timeout)) == 1


@pytest.mark.parametrize(("value", "status"), [("nan", 400), ("inf", 400), ("-1", 400),
                                               ("1e10", 200), ("30", 200)])
def test_the_http_timeout_header_is_checked(flow, value, status):
    """Before: nan, inf and 1e10 gave an immediate 504."""
    r = httpx.post(flow.addresses.gateway_url("http") + "/post",
                   json={"data": [{"text": "a"}]}, headers={"X-Flowserve-Timeout": value},
                   timeout=60)
    assert r.status_code == status, r.text


def test_a_bad_prefetch_metadata_is_invalid_argument(flow):
    """Before: UNKNOWN ValueError."""
    target = flow.addresses.gateway_url("grpc").split("://", 1)[1]
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as err:
        list(jina_pb2_grpc.JinaRPCStub(channel).Call(
            iter([DataRequest.new(DocumentArray([Document()])).proto]),
            metadata=(("__prefetch__", "abc"),), timeout=60))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "__prefetch__" in err.value.details()
