"""DataRequest: the unit that travels client -> gateway -> executors and back.

A thin Python view over the wire message (``jina.DataRequestProto``). Docs and parameters are
decoded lazily and re-encoded only when they were touched, so a gateway that merely forwards a
request never decodes its documents.
"""

from __future__ import annotations

import traceback
from typing import Any

from google.protobuf import json_format

from ..documents.array import DocumentArray
from ..documents.ids import new_id
from ..documents.proto_codec import docarray_into_proto
from ..proto import docarray_pb2, jina_pb2
from .retried import Retried, retried_in

__all__ = ["DataRequest", "ERROR", "SUCCESS", "fill_header", "set_status_error",
           "set_status_exception"]

SUCCESS = jina_pb2.StatusProto.SUCCESS
ERROR = jina_pb2.StatusProto.ERROR



def fill_header(header: jina_pb2.HeaderProto, *, request_id: str | None, endpoint: str | None,
                target_executor: str | None, timeout_ms: int | None) -> None:
    """A new request's header (posts and streams): a fresh id unless given, and the fields
    given."""
    header.request_id = request_id or new_id()
    if endpoint is not None:
        header.exec_endpoint = endpoint
    if target_executor is not None:
        header.target_executor = target_executor
    if timeout_ms is not None:
        header.timeout = timeout_ms


def set_status_exception(status: jina_pb2.StatusProto, exc: BaseException, *,
                         executor: str) -> None:
    """Mark `status` failed by `exc` raised in `executor` (name, args, traceback)."""
    status.code = ERROR
    status.description = f"{type(exc).__name__}: {exc}"
    status.exception.name = type(exc).__name__
    del status.exception.args[:]
    status.exception.args.extend(str(a) for a in exc.args)
    del status.exception.stacks[:]
    status.exception.stacks.extend(traceback.format_exception(exc))
    status.exception.executor = executor


def set_status_error(status: jina_pb2.StatusProto, description: str, *, name: str,
                     executor: str = "") -> None:
    """Mark `status` failed for a reason that is not a Python exception object."""
    status.code = ERROR
    status.description = description
    status.exception.name = name
    del status.exception.args[:]
    status.exception.args.append(description)
    status.exception.executor = executor

class DataRequest:
    """A request or response: ``header``, ``parameters``, ``routes`` and ``docs``."""

    __slots__ = ("_pb", "_docs", "_parameters")

    def __init__(self, proto: jina_pb2.DataRequestProto | bytes | None = None) -> None:
        if isinstance(proto, bytes):
            proto = jina_pb2.DataRequestProto.FromString(proto)
        self._pb = proto if proto is not None else jina_pb2.DataRequestProto()
        self._docs: DocumentArray | None = None
        self._parameters: dict[str, Any] | None = None

    @classmethod
    def new(
        cls,
        docs: DocumentArray | None = None,
        *,
        endpoint: str | None = None,
        parameters: dict[str, Any] | None = None,
        target_executor: str | None = None,
        request_id: str | None = None,
        timeout_ms: int | None = None,
    ) -> DataRequest:
        """Build a fresh request carrying `docs` for `endpoint`."""
        req = cls()
        fill_header(req._pb.header, request_id=request_id, endpoint=endpoint,
                    target_executor=target_executor, timeout_ms=timeout_ms)
        if parameters:
            req.parameters = parameters
        if docs is not None:
            req.docs = docs
        return req

    # -- wire form -------------------------------------------------------------------------
    @property
    def proto(self) -> jina_pb2.DataRequestProto:
        """The wire message, with any decoded-and-touched docs/parameters written back."""
        docs = self._docs
        if docs is not None:
            target = self._pb.data.docs
            if not docs.is_decoded:  # untouched since read from the wire: nothing to encode
                if docs._source is not target:
                    target.CopyFrom(docs.to_protobuf())
            else:
                target.Clear()
                docarray_into_proto(docs, target)
        params = self._parameters
        if params is not None and (params or self._pb.HasField("parameters")):
            self._pb.parameters.Clear()
            self._pb.parameters.update(params)
        return self._pb

    def to_bytes(self) -> bytes:
        return self.proto.SerializeToString()

    # -- header ----------------------------------------------------------------------------
    @property
    def header(self) -> jina_pb2.HeaderProto:
        return self._pb.header

    @property
    def request_id(self) -> str:
        return self._pb.header.request_id

    @property
    def endpoint(self) -> str | None:
        h = self._pb.header
        return h.exec_endpoint if h.HasField("exec_endpoint") else None

    @property
    def target_executor(self) -> str | None:
        h = self._pb.header
        return h.target_executor if h.HasField("target_executor") else None

    @property
    def status(self) -> jina_pb2.StatusProto:
        return self._pb.header.status

    @property
    def is_error(self) -> bool:
        return self._pb.header.status.code == ERROR

    @property
    def routes(self) -> Any:
        """The repeated RouteProto: the gateway first, then each executor visited."""
        return self._pb.routes

    @property
    def retried(self) -> tuple[Retried, ...]:
        """The executors that answered this response only after the gateway retried the
        request on another replica (``executor``, ``attempts``, ``reasons``); empty when
        nothing was retried. A retried request may have run twice (docs/resilience.md)."""
        return retried_in(self._pb.routes)

    def set_exception(self, exc: BaseException, *, executor: str) -> None:
        """Mark this request failed by `exc` raised in `executor` (name, args, traceback)."""
        set_status_exception(self._pb.header.status, exc, executor=executor)

    def set_error(self, description: str, *, name: str, executor: str = "") -> None:
        """Mark this request failed for a reason that is not a Python exception object."""
        set_status_error(self._pb.header.status, description, name=name, executor=executor)

    # -- payload ---------------------------------------------------------------------------
    @property
    def docs(self) -> DocumentArray:
        """The documents, decoded on first access (from `docs` or `docs_bytes`)."""
        if self._docs is None:
            data = self._pb.data
            which = data.WhichOneof("documents")
            if which == "docs":
                self._docs = DocumentArray.from_protobuf(data.docs)
            elif which == "docs_bytes":
                self._docs = DocumentArray.from_bytes(data.docs_bytes)
            else:
                self._docs = DocumentArray()
        return self._docs

    @docs.setter
    def docs(self, value: DocumentArray) -> None:
        self._docs = value if isinstance(value, DocumentArray) else DocumentArray(value)

    @property
    def docs_proto(self) -> Any:
        """The documents as a wire message, without decoding them into Python objects."""
        if self._docs is not None:
            return self._docs.to_protobuf()
        data = self._pb.data
        if data.WhichOneof("documents") == "docs_bytes":
            return docarray_pb2.DocumentArrayProto.FromString(data.docs_bytes)
        return data.docs

    @property
    def parameters(self) -> dict[str, Any]:
        """Request parameters as a plain dict (decoded on first access)."""
        if self._parameters is None:
            self._parameters = (
                json_format.MessageToDict(self._pb.parameters)
                if self._pb.HasField("parameters")
                else {}
            )
        return self._parameters

    @parameters.setter
    def parameters(self, value: dict[str, Any]) -> None:
        self._parameters = dict(value)

    def __repr__(self) -> str:
        fields = tuple(f.name for f, _ in self._pb.ListFields())
        return f"<flowserve.DataRequest {fields} at {id(self)}>"
