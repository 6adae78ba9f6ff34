"""Executor discovery and the worker runtime's handler semantics (no sockets)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from toy_executors import AppendText, AsyncSleep, Embed, NoOp, Raises, ReturnsDict, ReturnsNewDocs

from flowserve import Document, DocumentArray, Executor, requests
from flowserve.errors import ConfigError
from flowserve.executor import discover_endpoints
from flowserve.wire.request import DataRequest
from flowserve.worker.runtime import ExecutorRuntime


def handle(executor: Executor, docs: DocumentArray, endpoint: str = "/", **params) -> DataRequest:
    runtime = ExecutorRuntime(executor)
    try:
        request = DataRequest.new(docs, endpoint=endpoint, parameters=params or None)
        # through the wire form, as in a real worker
        wire = DataRequest(request.to_bytes())
        return DataRequest(asyncio.run(runtime.handle(wire)).to_bytes())
    finally:
        runtime.close()


def test_requests_tags_default_and_named_endpoints():
    handlers = discover_endpoints(AppendText(runtime_args={"name": "a"}))
    assert set(handlers) == {"/default", "/tag", "/label"}
    assert handlers["/tag"].fn.__name__ == "tag"


def test_uses_requests_rebinds_endpoints_as_jina_does():
    executor = AppendText(runtime_args={"name": "a"})
    handlers = discover_endpoints(executor, {"/label-only": "tag", "/go": "append"})
    # `tag` leaves /tag and /label; `append` leaves /default
    assert set(handlers) == {"/label-only", "/go"}
    assert handlers["/go"].fn.__name__ == "append"
    with pytest.raises(ConfigError, match="'/x' to 'nope', which is not a method of AppendText"):
        discover_endpoints(executor, {"/x": "nope"})


def test_subclass_overrides_base_endpoint():
    class Base(Executor):
        @requests
        def a(self, docs, **kwargs):
            return {"who": "base"}

    class Child(Base):
        @requests
        def b(self, docs, **kwargs):
            return {"who": "child"}

    assert discover_endpoints(Child())["/default"].fn.__name__ == "b"


def test_handler_receives_only_the_arguments_it_declares():
    class Narrow(Executor):
        @requests
        def only_docs(self, docs):
            docs[0].text = "seen"

    out = handle(Narrow(), DocumentArray([Document(text="x")]))
    assert out.docs[0].text == "seen"


def test_unknown_uses_with_key_names_the_executor():
    with pytest.raises(ConfigError, match=r"'enc'.*suffixx"):
        AppendText(suffixx="!", runtime_args={"name": "enc"})


def test_in_place_change_returned_docs_and_dict_results():
    out = handle(AppendText(suffix="?"), DocumentArray([Document(text="a")]))
    assert out.docs[0].text == "a?"
    out = handle(ReturnsNewDocs(), DocumentArray([Document(id="x")]))
    assert out.docs.ids == ["new-x"]
    out = handle(ReturnsDict(runtime_args={"name": "st"}), DocumentArray([Document()] * 2),
                 endpoint="/stats", x=1)
    assert out.parameters["__results__"] == {"st": {"count": 2.0, "echo": 1.0}}


def test_unknown_endpoint_goes_to_default_or_passes_through():
    # ReturnsDict only has /stats: a request for / passes through unchanged
    docs = DocumentArray([Document(text="keep")])
    out = handle(ReturnsDict(), docs, endpoint="/nope")
    assert out.docs[0].text == "keep" and "__results__" not in out.parameters
    out = handle(AppendText(suffix="!"), docs, endpoint="/nope")
    assert out.docs[0].text == "keep!"


def test_async_handler_and_vectorised_embeddings():
    out = handle(AsyncSleep(), DocumentArray([Document()]))
    assert out.docs[0].tags == {"async": True}
    out = handle(Embed(n_dim=3), DocumentArray([Document(), Document()]))
    assert out.docs.embeddings.dtype == np.float32 and out.docs.embeddings.shape == (2, 3)


def test_exception_becomes_error_status_with_details():
    out = handle(Raises(runtime_args={"name": "bad"}), DocumentArray([Document(text="boom")]))
    status = out.status
    assert out.is_error
    assert status.exception.executor == "bad"
    assert status.exception.name == "ValueError"
    assert list(status.exception.args) == ["boom", "42"]
    assert "maybe_fail" in "".join(status.exception.stacks)


def test_wrong_return_type_is_an_error_naming_executor_and_endpoint():
    class Wrong(Executor):
        @requests(on="/x")
        def bad(self, docs, **kwargs):
            return 42

    out = handle(Wrong(runtime_args={"name": "w"}), DocumentArray([Document()]), endpoint="/x")
    assert out.is_error
    assert "'w'" in out.status.description and "'/x'" in out.status.description


def test_noop_returns_docs_unchanged():
    docs = DocumentArray([Document(id="a", text="t", embedding=np.arange(3.0))])
    out = handle(NoOp(), docs)
    assert out.docs == docs


class SeesParameters(Executor):
    @requests
    def see(self, docs, parameters, **kwargs):
        return {"top_k": parameters.get("top_k")}


def test_parameters_keyed_by_executor_name_apply_to_that_executor_only():
    params = {"top_k": 10, "ranker": {"top_k": 3}, "other": {"top_k": 5}}
    ranker = handle(SeesParameters(runtime_args={"name": "ranker"}), DocumentArray([Document()]),
                    **params)
    plain = handle(SeesParameters(runtime_args={"name": "encoder"}), DocumentArray([Document()]),
                   **params)
    assert ranker.parameters["__results__"]["ranker"] == {"top_k": 3}
    assert plain.parameters["__results__"]["encoder"] == {"top_k": 10}
    # the request's own parameters are not rewritten for the executors after it
    assert ranker.parameters["top_k"] == 10 and ranker.parameters["ranker"] == {"top_k": 3}
