"""Faults #5: one bad request fails alone, in-band on a stream, with a clear error; never
the whole `Call` stream, never an UNKNOWN status or a plain-text 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from procs import running

from flowserve import Document, DocumentArray, Flow
from flowserve.proto import jina_pb2_grpc
from flowserve.wire.request import DataRequest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    f = Flow(protocol=["grpc", "http"]).add(name="deep", uses="fault_executors:DeepReply")
    with running(f):
        yield f


def _request(text: str, **kwargs: Any) -> DataRequest:
    return DataRequest.new(DocumentArray([Document(text=text)]), **kwargs)


def _grpc_target(flow: Flow) -> str:
    return flow.addresses.gateway_url("grpc").split("://", 1)[1]


def test_bad_requests_on_a_stream_fail_alone_and_in_band(flow):
    """Before: the stream ended with UNKNOWN re.error and the good requests were lost."""
    requests = [_request("ok1", endpoint="/"),
                _request("regex", endpoint="/", target_executor="("),
                _request("deep", endpoint="/deep"),
                _request("ok2", endpoint="/")]
    with grpc.insecure_channel(_grpc_target(flow)) as channel:
        replies = [DataRequest(r) for r in jina_pb2_grpc.JinaRPCStub(channel).Call(
            iter([r.proto for r in requests]), timeout=60)]
    by_id = {r.header.request_id: r for r in replies}
    assert len(by_id) == 4
    ok1, regex, deep, ok2 = (by_id[r.header.request_id] for r in requests)
    assert not ok1.is_error and not ok2.is_error
    assert "invalid target_executor regex '('" in regex.status.description
    assert "reply of executor 'deep'" in deep.status.description
    assert "cannot be decoded" in deep.status.description


def test_bad_unary_requests_get_a_clear_status_code(flow):
    with grpc.insecure_channel(_grpc_target(flow)) as channel:
        stub = jina_pb2_grpc.JinaSingleDataRequestRPCStub(channel)
        with pytest.raises(grpc.RpcError) as regex:
            stub.process_single_data(_request("x", target_executor="(").proto, timeout=60)
        assert regex.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "invalid target_executor regex" in regex.value.details()
        with pytest.raises(grpc.RpcError) as deep:
            stub.process_single_data(_request("x", endpoint="/deep").proto, timeout=60)
        assert deep.value.code() == grpc.StatusCode.INTERNAL
        assert "cannot be decoded" in deep.value.details()
        # the replica's slot was given back: later requests still go through
        for _ in range(3):
            assert not DataRequest(stub.process_single_data(_request("y").proto,
                                                            timeout=60)).is_error


@pytest.mark.parametrize(("body", "status", "detail"), [
    (json.dumps({"data": [{"text": "a"}], "target_executor": "("}).encode(), 400,
     "invalid target_executor regex"),
    (b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "nested too deeply"),
    (b'{"data": [{"text": "\\ud800"}]}', 400, "not valid Unicode"),
    (b'{"data": [{"text": "a", "tags": {"x": NaN}}]}', 400, "NaN is not a JSON number"),
    (json.dumps({"data": [{"text": "a"}], "execEndpoint": "/deep"}).encode(), 500,
     "cannot be decoded"),
])
def test_bad_http_requests_get_a_json_error(flow, body, status, detail):
    """Before: 500 "Internal Server Error" in plain text for each of these."""
    r = httpx.post(flow.addresses.gateway_url("http") + "/post", content=body,
                   headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]


def _deep_doc(levels: int = 120) -> Document:
    root = current = Document(text="root")
    for i in range(levels):
        child = Document(text=str(i))
        current.chunks.append(child)
        current = child
    return root


def test_a_request_the_gateway_cannot_decode_fails_alone(flow):
    """Before: the stream ended with UNKNOWN "Unexpected DecodeError" (every other request on
    it lost); the unary call was UNKNOWN too."""
    requests = [_request("ok1", endpoint="/"),
                DataRequest.new(DocumentArray([_deep_doc()]), endpoint="/"),
                _request("ok2", endpoint="/")]
    with grpc.insecure_channel(_grpc_target(flow)) as channel:
        replies = [DataRequest(r) for r in jina_pb2_grpc.JinaRPCStub(channel).Call(
            iter([r.proto for r in requests]), timeout=60)]
        by_id = {r.header.request_id: r for r in replies}
        ok1, deep, ok2 = (by_id[r.header.request_id] for r in requests)
        assert not ok1.is_error and not ok2.is_error
        assert "undecodable request (nested deeper than protobuf's limit" in \
            deep.status.description
        with pytest.raises(grpc.RpcError) as unary:
            jina_pb2_grpc.JinaSingleDataRequestRPCStub(channel).process_single_data(
                requests[1].proto, timeout=60)
        assert unary.value.code() == grpc.StatusCode.INVALID_ARGUMENT
