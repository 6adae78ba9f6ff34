"""The gateway's HTTP adapter for streaming endpoints: ``GET /{endpoint}`` answered with
server-sent events, as Jina 3's HTTP gateway serves them (so Jina's client can stream too).

The request names the endpoint in its path and carries the document as the JSON body (Jina's
client sends the document itself), or as a ``/post``-shaped body with one document in
``data`` (and ``parameters``, ``target_executor``, ``timeout``, ``request_id``), or as query
parameters holding document fields (``GET /generate?text=hello``). A failure before the first
document (unknown endpoint, not a streaming endpoint, overload, deadline) is an ordinary error
response with its status code; after it, an ``error`` event ends the stream
(`wire.sse`). A client that disconnects cancels the stream, down to the executor's generator.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from google.protobuf import json_format
from starlette.types import Receive, Scope, Send

from ..documents.document import Document
from ..documents.json_codec import document_from_dict, document_to_dict
from ..errors import BadRequestError
from ..wire.deadline import deadline_after
from ..wire.httpjson import load_body, request_from_post_body
from ..wire.origin import http_origin
from ..wire.sse import END, ERROR, EVENT_STREAM, UPDATE, encode_event
from ..wire.status import http_status_for
from ..wire.stream import StreamMessage, is_error, new_stream_request
from .core import unexpected_error
from .http_request import http_client, http_error, request_timeout
from .identity import TrustedProxies

if TYPE_CHECKING:
    from .core import GatewayCore

__all__ = ["add_streaming_route", "stream_request_from"]


def stream_request_from(endpoint: str, body: Any, query: dict[str, str]) -> StreamMessage:
    """The stream request of ``GET /{endpoint}`` (see the module's docstring)."""
    endpoint = "/" + endpoint.strip("/")
    if body is None:
        return new_stream_request(document_from_dict(query, where="query"), endpoint=endpoint)
    if isinstance(body, dict) and "data" in body:
        post = request_from_post_body(body)
        if len(post.docs) != 1:
            raise BadRequestError(f"a stream takes exactly one document in data, got "
                                  f"{len(post.docs)}")
        header = post.header
        return new_stream_request(
            post.docs[0], endpoint=endpoint, parameters=post.parameters or None,
            target_executor=post.target_executor, request_id=post.request_id,
            timeout_ms=header.timeout if header.HasField("timeout") else None)
    return new_stream_request(document_from_dict(body, where="body"), endpoint=endpoint)


def _error_data(reply: StreamMessage) -> str:
    status = reply.header.status
    return json.dumps({"error": status.exception.name or "ExecutorError",
                       "detail": status.description,
                       "status": json_format.MessageToDict(status)})


class _Pump:
    """Runs the core's stream in a task of its own, handing its replies over one at a time
    (no buffering beyond the one being written): the stream starts and ends in one task, as
    the core's observers (tracing) expect, and the route can wait for the first reply while
    watching for the client leaving."""

    def __init__(self, replies: AsyncGenerator[StreamMessage, None]) -> None:
        self._queue: asyncio.Queue[StreamMessage | Exception | None] = asyncio.Queue(1)
        self._task = asyncio.ensure_future(self._run(replies))

    async def _run(self, replies: AsyncGenerator[StreamMessage, None]) -> None:
        try:
            async for reply in replies:
                await self._queue.put(reply)
            await self._queue.put(None)
        except Exception as exc:  # noqa: BLE001 - handed to the reader, who maps it
            await self._queue.put(exc)
        finally:
            await replies.aclose()

    async def next(self) -> StreamMessage | None:
        """The next reply; None at the end; raises the stream's failure."""
        item = await self._queue.get()
        if isinstance(item, Exception):
            raise item
        return item

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def _client_gone(request: Request) -> None:
    """Returns once the client disconnects (the body has been read: nothing else comes)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _first(pump: _Pump, request: Request) -> StreamMessage | None:
    """The first reply, or ClientGone when the client leaves before it (the stream is
    cancelled then, not when the handler yields at last)."""
    reply = asyncio.ensure_future(pump.next())
    gone = asyncio.ensure_future(_client_gone(request))
    try:
        await asyncio.wait({reply, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not reply.done():
            reply.cancel()
    if reply.cancelled():
        raise _ClientGone
    return reply.result()


class _ClientGone(Exception):
    pass


async def _events(first: StreamMessage | None, pump: _Pump) -> AsyncIterator[bytes]:
    try:
        reply = first
        while reply is not None:
            if is_error(reply):
                yield encode_event(ERROR, _error_data(reply))
                return
            doc = document_to_dict(Document.from_protobuf(reply.document))
            yield encode_event(UPDATE, json.dumps(doc))
            reply = await pump.next()
        yield encode_event(END)
    except Exception as exc:  # noqa: BLE001 - the headers are sent: an error event, not a 500
        error = unexpected_error(exc)
        yield encode_event(ERROR, json.dumps({"error": type(error).__name__,
                                              "detail": str(error),
                                              "code": http_status_for(error)}))
    finally:
        await pump.close()


class EventStreamResponse(StreamingResponse):
    """Server-sent events that stop when the client disconnects, even while no event is
    due: Starlette watches for the disconnect only under ASGI spec < 2.4 (else it notices at
    the next write), and a stream may wait long between documents."""

    media_type = EVENT_STREAM

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        asgi = {**scope.get("asgi", {}), "spec_version": "2.3"}
        await super().__call__({**scope, "asgi": asgi}, receive, send)


def add_streaming_route(app: FastAPI, core: GatewayCore, *, default_timeout: float | None,
                        trusted: TrustedProxies | None = None) -> None:
    """``GET /{endpoint}``: a catch-all, so add it after every other GET route."""
    proxies = trusted or TrustedProxies()

    @app.get("/{endpoint:path}", summary="Stream a streaming endpoint (server-sent events)",
             response_class=EventStreamResponse)
    async def stream(endpoint: str, request: Request) -> Response:
        try:
            raw = await request.body()
            body = load_body(raw) if raw.strip() else None
            message = stream_request_from(endpoint, body, dict(request.query_params))
            header = message.header
            timeout = request_timeout(request.headers,
                                      header.timeout if header.HasField("timeout") else 0,
                                      default_timeout)
            replies = core.stream(message, deadline=deadline_after(timeout),
                                  client=http_client(request.headers, request.scope, proxies),
                                  origin=http_origin(request.scope, "/{endpoint}"))
        except Exception as exc:  # noqa: BLE001 - a JSON error body, never a plain-text 500
            return http_error(unexpected_error(exc))
        pump = _Pump(replies)
        try:
            first = await _first(pump, request)  # what fails before it gets a status code
        except _ClientGone:
            await pump.close()
            return Response(status_code=499)  # nobody reads it (nginx's "client closed")
        except Exception as exc:  # noqa: BLE001
            await pump.close()
            return http_error(unexpected_error(exc))
        except BaseException:
            await pump.close()
            raise
        return EventStreamResponse(_events(first, pump),
                                   headers={"Cache-Control": "no-cache",
                                            "X-Accel-Buffering": "no"})
