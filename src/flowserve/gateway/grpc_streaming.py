"""The gateway's gRPC adapter for streaming endpoints: Jina 3's
``/jina.JinaSingleDocumentRequestRPC/stream_doc`` over `GatewayCore.stream`.

Each reply is written as soon as the core hands it on. A failure before the first reply, or of
the transport later, ends the call with its status code (as a unary call would: the table in
`wire.status`, the ``flowserve-error`` trailer naming the error); an executor's error is the
stream's last message (ERROR status), after the documents already sent. A client that goes away
cancels this handler, and closing the core's stream cancels the executor's call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from google.protobuf.message import DecodeError

from ..errors import BadRequestError
from ..proto import jina_pb2
from ..wire.names import STREAM_DOC_METHOD
from ..wire.origin import grpc_origin

if TYPE_CHECKING:
    from .grpc_service import GatewayServicer

__all__ = ["SERVICE", "add_stream_service"]

SERVICE = "jina.JinaSingleDocumentRequestRPC"


async def stream_doc(servicer: GatewayServicer, raw: bytes,
                     context: grpc.aio.ServicerContext) -> None:
    """Serve one stream (see the module's docstring)."""
    from .grpc_service import _client_id, _deadline, _metadata_of, abort_for

    try:
        request = jina_pb2.SingleDocumentRequestProto.FromString(raw)
    except (DecodeError, RecursionError) as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                            str(BadRequestError(f"undecodable stream request: {exc}")))
        return
    client = _client_id(_metadata_of(context), context, servicer.trusted)
    replies = servicer.core.stream(
        request, deadline=_deadline(request.header, servicer.default_timeout, context),
        client=client, origin=grpc_origin(STREAM_DOC_METHOD, context.peer(), servicer.listen))
    try:
        async for reply in replies:
            await context.write(reply)
    except Exception as exc:  # noqa: BLE001 - mapped to a status code, never UNKNOWN
        await abort_for(context, exc)
    finally:
        await replies.aclose()


def add_stream_service(servicer: GatewayServicer, server: grpc.aio.Server) -> None:
    """Serve ``stream_doc`` (the request decoded here: a bad one is INVALID_ARGUMENT)."""

    async def handler(raw: bytes, context: grpc.aio.ServicerContext) -> None:
        await stream_doc(servicer, raw, context)

    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {
        "stream_doc": grpc.unary_stream_rpc_method_handler(
            handler,
            response_serializer=jina_pb2.SingleDocumentRequestProto.SerializeToString)}),))
