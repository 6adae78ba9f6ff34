"""Streaming endpoints on the client's side: the gRPC ``stream_doc`` call and the HTTP
server-sent events of ``GET /{endpoint}``, both as an async generator of Documents that raises
the stream's error after the documents sent before it (docs/streaming.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import json_format

from ..documents.document import Document
from ..documents.json_codec import document_from_dict, document_to_dict
from ..errors import RequestError, UnavailableError
from ..proto import jina_pb2, jina_pb2_grpc
from ..wire.names import TIMEOUT_HEADER
from ..wire.request import DataRequest
from ..wire.sse import END, ERROR, EVENT_STREAM, UPDATE, read_events
from ..wire.status import ERRORS_BY_NAME, error_for_http_status
from ..wire.stream import StreamMessage, is_error, parameters_of
from ._address import Address
from ._callbacks import error_from_status
from ._grpc_errors import error_from_rpc

if TYPE_CHECKING:  # only HTTP streams use it (a gRPC client never imports httpx)
    import httpx

__all__ = ["grpc_stream_doc", "http_stream_doc"]


def _error_of(status: jina_pb2.StatusProto) -> RequestError:
    response = DataRequest()
    response.header.status.CopyFrom(status)
    return error_from_status(response)


async def grpc_stream_doc(channel: grpc.aio.Channel, request: StreamMessage,
                          metadata: Sequence[tuple[str, str]], timeout: float | None,
                          address: Address) -> AsyncGenerator[Document, None]:
    """``/jina.JinaSingleDocumentRequestRPC/stream_doc``; closing it cancels the call."""
    call = jina_pb2_grpc.JinaSingleDocumentRequestRPCStub(channel).stream_doc(
        request, metadata=tuple(metadata) or None, timeout=timeout)
    try:
        async for reply in call:
            if is_error(reply):
                raise _error_of(reply.header.status)
            yield Document.from_protobuf(reply.document)
    except grpc.aio.AioRpcError as exc:
        raise error_from_rpc(exc, address) from exc
    finally:
        call.cancel()


def _body(request: StreamMessage) -> dict[str, Any]:
    body: dict[str, Any] = {"data": [document_to_dict(Document.from_protobuf(request.document))]}
    parameters = parameters_of(request)
    if parameters:
        body["parameters"] = parameters
    header = request.header
    if header.HasField("target_executor"):
        body["target_executor"] = header.target_executor
    if header.request_id:
        body["request_id"] = header.request_id
    return body


def _error_event(data: str, address: Address) -> RequestError:
    try:
        fields = json.loads(data)
    except ValueError:
        return RequestError(f"{address} ended the stream with an unreadable error: {data!r}")
    status = fields.get("status") if isinstance(fields, dict) else None
    if isinstance(status, dict):
        return _error_of(json_format.ParseDict(status, jina_pb2.StatusProto(),
                                               ignore_unknown_fields=True))
    if not isinstance(fields, dict):
        return RequestError(f"{address} ended the stream with an error: {data}")
    detail = str(fields.get("detail", data))
    cls = ERRORS_BY_NAME.get(str(fields.get("error", "")))
    code = fields.get("code")
    if cls is None and isinstance(code, int):  # a subclass (ReplicaLostError): by its status
        cls = error_for_http_status(code)
    return (cls or RequestError)(detail)


async def http_stream_doc(client: httpx.AsyncClient, request: StreamMessage,
                          headers: dict[str, str], timeout: float | None,
                          address: Address) -> AsyncGenerator[Document, None]:
    """``GET /{endpoint}`` read as server-sent events; closing it closes the connection."""
    import httpx

    from ._http import error_from_http, transport_error  # (_http imports this module)

    endpoint = "/" + request.header.exec_endpoint.strip("/")
    if timeout is not None:
        headers = {**headers, TIMEOUT_HEADER: repr(timeout)}
    try:
        async with client.stream("GET", endpoint, json=_body(request),
                                 headers={"Accept": EVENT_STREAM, **headers},
                                 timeout=httpx.Timeout(timeout, connect=min(timeout or 10, 10),
                                                       pool=None)) as response:
            if response.status_code != 200:
                await response.aread()
                raise error_from_http(response, address)
            async for event in read_events(response.aiter_lines()):
                if event.name == UPDATE:
                    yield document_from_dict(json.loads(event.data), where="update")
                elif event.name == ERROR:
                    raise _error_event(event.data, address)
                elif event.name == END:
                    return
            raise UnavailableError(f"{address} closed the stream before its end event")
    except httpx.TransportError as exc:
        raise transport_error(exc, address, timeout) from exc
