"""Faults #6: a response says which executor answered only after a retry, and after how many
attempts, in fields Jina's protocol already has (a route's status); the core writes it, the
client and the HTTP adapter read it back."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fakes import InProcessReplica
from toy_executors import NoOp

from flowserve import Document, DocumentArray
from flowserve.config.graph import graph_from_mapping
from flowserve.errors import ReplicaLostError
from flowserve.gateway.core import GatewayCore
from flowserve.gateway.deployment import Deployment
from flowserve.gateway.http_app import create_app
from flowserve.proto import jina_pb2
from flowserve.wire.httpjson import response_from_json, response_to_json
from flowserve.wire.names import RETRIED_HEADER
from flowserve.wire.request import DataRequest
from flowserve.wire.retried import Retried, retried_header, retried_in, retried_status


class DiesOnce:
    """A replica that fails its first call as if it died running it, then serves."""

    def __init__(self, executor: Any, address: str) -> None:
        self.replica = InProcessReplica(executor, address)
        self.address = address
        self.died = False

    async def process(self, request, *, endpoint, timeout):
        if not self.died:
            self.died = True
            raise ReplicaLostError(f"executor 'enc' at {self.address} failed: UNAVAILABLE "
                                   "Socket closed")
        return await self.replica.process(request, endpoint=endpoint, timeout=timeout)

    async def is_ready(self, timeout):
        return True

    async def endpoints(self, timeout):
        return []

    async def close(self):
        pass


def _core(first: Any, second: Any) -> GatewayCore:
    deployment = Deployment("enc", [first, second], balancing="round_robin")
    return GatewayCore(graph_from_mapping({"enc": ["gateway"], "after": ["enc"]}),
                       {"enc": deployment,
                        "after": Deployment("after", [InProcessReplica(NoOp(), "after:1")])})


def _process(core: GatewayCore) -> DataRequest:
    async def go() -> DataRequest:
        try:
            return await core.process(DataRequest.new(DocumentArray([Document(text="x")])))
        finally:
            await core.close()

    return asyncio.run(go())


def test_a_reply_after_a_retry_marks_its_executor_route():
    """Before: the response of a retried request looked like any other."""
    response = _process(_core(DiesOnce(NoOp(), "r:1"), InProcessReplica(NoOp(), "r:2")))
    assert not response.is_error
    (retried,) = response.retried
    assert (retried.executor, retried.attempts) == ("enc", 2)
    assert "executor 'enc' at r:1 failed: UNAVAILABLE Socket closed" in retried.reasons
    routes = {r.executor: r.status for r in response.routes}
    assert routes["enc"].code == jina_pb2.StatusProto.SUCCESS  # Jina shows it as succeeded
    assert routes["enc"].description.startswith("retried: 2 attempts; ")
    assert not routes["after"].description and not routes["gateway"].description


def test_an_executor_error_after_a_retry_keeps_the_error_and_says_it_was_a_retry():
    """Before: the error alone; nothing said the failing attempt was the second one."""
    from flowserve import Executor, requests

    class Fails(Executor):
        @requests
        def fail(self, docs, **kwargs):
            raise ValueError("boom")

    named = {"runtime_args": {"name": "enc"}}
    response = _process(_core(DiesOnce(Fails(**named), "r:1"),
                              InProcessReplica(Fails(**named), "r:2")))
    assert response.is_error  # the executor's own error, as before
    assert response.status.exception.executor == "enc"
    assert "retried" not in response.status.description  # the error message is untouched
    (retried,) = response.retried
    assert (retried.executor, retried.attempts) == ("enc", 2)
    assert "executor 'enc' at r:1 failed: UNAVAILABLE Socket closed" in retried.reasons
    enc = next(r.status for r in response.routes if r.executor == "enc")
    assert enc.code == jina_pb2.StatusProto.ERROR and enc.exception.executor == "enc"
    assert enc.description.startswith(response.status.description + "; retried: 2 attempts; ")
    back = response_from_json(response_to_json(response))  # and over HTTP's JSON
    assert back.retried == response.retried
    assert retried_header(back.routes) == {RETRIED_HEADER: "enc=2"}


def test_an_error_route_without_the_words_is_not_retried():
    response = DataRequest.new(DocumentArray())
    route = response.routes.add(executor="enc")
    route.status.code = jina_pb2.StatusProto.ERROR
    route.status.description = "ValueError: retried: 3 attempts happened in my own code"
    assert response.retried == ()


def test_a_reply_without_a_retry_says_nothing():
    response = _process(_core(InProcessReplica(NoOp(), "r:1"), InProcessReplica(NoOp(), "r:2")))
    assert response.retried == ()
    assert all(not r.HasField("status") for r in response.routes)


def test_the_marker_reads_back_and_survives_json_and_the_wire():
    response = DataRequest.new(DocumentArray())
    response.routes.add(executor="gateway")
    response.routes.add(executor="a").status.CopyFrom(retried_status(3, ["x failed", "y failed"]))
    failed = response.routes.add(executor="b").status  # an error route is not a retry
    failed.code = jina_pb2.StatusProto.ERROR
    failed.description = "retried: 2 attempts; but failed"
    response.routes.add(executor="c").status.description = "something else"
    expected = (Retried("a", 3, "x failed; y failed"),)
    assert response.retried == expected
    assert retried_in(DataRequest(response.to_bytes()).routes) == expected
    assert response_from_json(response_to_json(response)).retried == expected
    assert retried_header(response.routes) == {RETRIED_HEADER: "a=3"}
    assert retried_header(DataRequest.new().routes) == {}


class RetriedCore:
    """A core whose responses say executors 'a' and 'b' were retried."""

    def info(self) -> dict[str, Any]:
        return {}

    async def process(self, request: DataRequest, *, deadline: Any, client: str,
                      origin: object = None) -> DataRequest:
        request.routes.add(executor="a").status.CopyFrom(retried_status(2, ["lost"]))
        request.routes.add(executor="b").status.CopyFrom(retried_status(3, ["lost", "lost"]))
        return request


def test_http_responses_carry_it_in_a_header_and_the_routes():
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(RetriedCore()))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            return await http.post("/post", json={"data": [{"text": "x"}]})

    reply = asyncio.run(go())
    assert reply.status_code == 200, reply.text
    assert reply.headers[RETRIED_HEADER] == "a=2, b=3"
    routes = reply.json()["routes"]
    assert routes[0]["status"]["description"] == "retried: 2 attempts; lost"
