"""What clients may send and see (docs/security.md#no-leaks-no-bypass): the guard around the
gateway core, with a real core over in-process executors."""

from __future__ import annotations

import asyncio

import pytest
from fakes import InProcessReplica
from toy_executors import Raises, ReturnsDict

from flowserve import Document, DocumentArray
from flowserve.config.graph import graph_from_mapping
from flowserve.errors import BadRequestError
from flowserve.gateway.core import GatewayCore
from flowserve.gateway.deployment import Deployment
from flowserve.gateway.guard import GuardedCore
from flowserve.wire.request import DataRequest


def _core(name: str, executor) -> GatewayCore:
    deployments = {name: Deployment(name, [[InProcessReplica(executor)]])}
    return GatewayCore(graph_from_mapping({name: ["gateway"]}), deployments)


def _request(text: str = "x", endpoint: str = "/stats", **kwargs) -> DataRequest:
    return DataRequest.new(endpoint=endpoint, docs=DocumentArray([Document(text=text)]),
                           **kwargs)


def _process(guard: GuardedCore, request: DataRequest) -> DataRequest:
    async def go():
        try:
            return await guard.process(request)
        finally:
            await guard.close()

    return asyncio.run(go())


@pytest.mark.parametrize("detail, stacks", [("stack", True), ("message", False)])
def test_error_detail_controls_stack_traces(detail, stacks):
    response = _process(GuardedCore(_core("bad", Raises()), error_detail=detail),
                        _request("boom", "/"))
    exception = response.status.exception
    assert exception.name == "ValueError" and exception.executor  # which executor failed
    assert "boom" in response.status.description
    assert bool(exception.stacks) is stacks
    assert all(bool(r.status.exception.stacks) is stacks
               for r in response.routes if r.status.exception.name)


def test_clients_cannot_forge_executor_results():
    forged = _request(parameters={"__results__": {"guard": {"ok": True}}, "keep": 1})
    response = _process(GuardedCore(_core("dict", ReturnsDict())), forged)
    assert response.parameters["keep"] == 1
    assert "guard" not in response.parameters["__results__"]  # only what executors returned
    assert list(response.parameters["__results__"]) == ["ReturnsDict"]


def test_target_executor_is_allowed_unless_the_flow_forbids_it():
    allowed = _process(GuardedCore(_core("dict", ReturnsDict())),
                       _request(target_executor="dict"))
    assert not allowed.is_error
    guard = GuardedCore(_core("dict", ReturnsDict()), allow_target_executor=False)
    with pytest.raises(BadRequestError, match="allow_target_executor: false"):
        _process(guard, _request(target_executor="dict"))
    assert not _process(GuardedCore(_core("dict", ReturnsDict()), allow_target_executor=False),
                        _request()).is_error
