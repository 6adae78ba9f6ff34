"""The messages of streaming endpoints: Jina 3's ``jina.SingleDocumentRequestProto``.

A stream starts with one request carrying one document (``document``), the endpoint
(``header.exec_endpoint``), ``parameters`` and optionally ``header.timeout`` (ms); each reply
carries one document the handler yielded. An error ends the stream with a last reply whose
``header.status`` is ERROR (as `DataRequest.set_exception` writes it for posts), after the
documents already sent. The executor, the gateway and the client read and write these
messages through the functions here.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from ..documents.document import Document
from ..documents.proto_codec import document_into_proto
from ..proto import jina_pb2
from .request import fill_header, set_status_error, set_status_exception

__all__ = ["StreamMessage", "doc_reply", "error_reply", "is_error", "new_stream_request",
           "parameters_of", "set_status_error", "set_status_exception"]

StreamMessage = jina_pb2.SingleDocumentRequestProto
ERROR = jina_pb2.StatusProto.ERROR


def new_stream_request(doc: Document, *, endpoint: str,
                       parameters: dict[str, Any] | None = None,
                       target_executor: str | None = None, request_id: str | None = None,
                       timeout_ms: int | None = None) -> StreamMessage:
    """The request that opens a stream: `doc` for `endpoint`."""
    message = StreamMessage()
    fill_header(message.header, request_id=request_id, endpoint=endpoint,
                target_executor=target_executor, timeout_ms=timeout_ms)
    if parameters:
        message.parameters.update(parameters)
    document_into_proto(doc, message.document)
    return message


def parameters_of(message: StreamMessage) -> dict[str, Any]:
    """The request's ``parameters`` as a plain dict (empty when it has none)."""
    if not message.HasField("parameters"):
        return {}
    return json_format.MessageToDict(message.parameters)


def doc_reply(request_id: str, doc: Document) -> StreamMessage:
    """One streamed document."""
    message = StreamMessage()
    message.header.request_id = request_id
    document_into_proto(doc, message.document)
    return message


def is_error(message: StreamMessage) -> bool:
    """Whether this reply ends the stream with an error."""
    return bool(message.header.status.code == ERROR)


def error_reply(request_id: str, description: str, *, name: str,
                executor: str = "") -> StreamMessage:
    """The last reply of a stream that failed for `description`."""
    message = StreamMessage()
    message.header.request_id = request_id
    set_status_error(message.header.status, description, name=name, executor=executor)
    return message
