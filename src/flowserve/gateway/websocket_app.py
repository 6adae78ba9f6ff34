"""The gateway's WebSocket adapter (``protocol: websocket``), framed as Jina 3's websocket gateway
so that ``jina.Client(protocol='websocket')`` works unchanged.

``/`` carries a stream of requests. The client picks the framing with its WebSocket subprotocol:

- ``bytes`` (what Jina's Python client asks for): each binary message is one serialized
  ``DataRequestProto``; each answer is one serialized ``DataRequestProto``; the one-byte
  message ``b"\\x00"`` (Jina's ``bytes(True)``) ends the inputs.
- ``json`` (the default, for browsers): each text message is one ``POST /post`` body
  (`wire.httpjson`), each answer one ``POST /post`` response body; ``{}`` ends the inputs.

Answers go out as they finish (the client matches them by request id), at most `prefetch`
unanswered at once; once the inputs have ended and every answer is sent, the gateway closes the
socket (code 1000). A request that fails in the gateway (overload, deadline, unreachable) is
answered in-band with an error status, as inside a gRPC ``Call`` stream; an undecodable message
closes the socket with 1003. ``/dry_run`` answers one ``StatusProto`` (bytes or JSON) and closes.
``GET /`` is the health check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from google.protobuf import json_format

from .._version import __version__
from ..errors import BadRequestError, RequestError
from ..proto import jina_pb2
from ..wire.deadline import Deadline, deadline_after
from ..wire.httpjson import load_body, request_from_post_body, response_to_json
from ..wire.origin import http_origin
from ..wire.request import DataRequest
from .core import GatewayCore, error_response
from .http_request import http_client
from .identity import TrustedProxies

__all__ = ["BYTES", "END_OF_INPUTS", "JSON", "create_websocket_app"]

BYTES = "bytes"
JSON = "json"
END_OF_INPUTS = bytes(True)  # b"\x00", what Jina's client sends after its last request
_UNSUPPORTED_DATA = 1003


class _Framing:
    """Reads requests from and writes answers to one socket, in its subprotocol."""

    def __init__(self, socket: WebSocket, subprotocol: str) -> None:
        self.socket = socket
        self.binary = subprotocol == BYTES
        self._send_lock = asyncio.Lock()  # answers finish concurrently; frames must not mix

    async def receive(self) -> DataRequest | None:
        """The next request, or None at the end of the inputs (raises WebSocketDisconnect)."""
        message = await self.socket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        data, text = message.get("bytes"), message.get("text")
        if data is not None:
            if data == END_OF_INPUTS:
                return None
            try:
                request = DataRequest(jina_pb2.DataRequestProto.FromString(data))
            except Exception as exc:  # protobuf's DecodeError, or a wrong message
                raise BadRequestError(f"not a serialized DataRequestProto: {exc}") from exc
            return request
        body = load_body(text or "", what="message")
        return None if body == {} else request_from_post_body(body)

    async def send(self, response: DataRequest) -> None:
        async with self._send_lock:
            if self.binary:
                await self.socket.send_bytes(response.to_bytes())
            else:
                await self.socket.send_text(json.dumps(response_to_json(response)))

    async def send_status(self, status: jina_pb2.StatusProto) -> None:
        if self.binary:
            await self.socket.send_bytes(status.SerializeToString())
        else:
            await self.socket.send_text(json.dumps(
                json_format.MessageToDict(status, use_integers_for_enums=True)))


async def _accept(socket: WebSocket) -> _Framing:
    requested = socket.scope.get("subprotocols") or []
    subprotocol = BYTES if BYTES in requested else JSON
    await socket.accept(subprotocol=subprotocol if subprotocol in requested else None)
    return _Framing(socket, subprotocol)


def _deadline(request: DataRequest, default: float | None) -> Deadline | None:
    header = request.header
    timeout = header.timeout / 1000 if header.HasField("timeout") and header.timeout else default
    return deadline_after(timeout)


def create_websocket_app(core: GatewayCore, *, prefetch: int = 0,
                         default_timeout: float | None = None,
                         trusted: TrustedProxies | None = None) -> FastAPI:
    """WebSocket routes ``/`` (requests) and ``/dry_run``; HTTP ``GET /`` (health). A socket's
    client is identified as an HTTP request's (`http_request.http_client`: a token's name, a
    mesh identity, the id it sends, or its address)."""
    proxies = trusted or TrustedProxies()
    app = FastAPI(title="flowserve gateway (websocket)", version=__version__,
                  docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/")
    async def health() -> dict[str, Any]:
        return {}

    @app.websocket("/")
    async def stream(socket: WebSocket) -> None:
        framing = await _accept(socket)
        client = http_client(socket.headers, socket.scope, proxies)
        slots = asyncio.Semaphore(prefetch) if prefetch > 0 else None
        tasks: set[asyncio.Task[None]] = set()
        origin = http_origin(socket.scope, "/")  # one per socket

        async def answer(request: DataRequest) -> None:
            try:
                try:
                    response = await core.process(
                        request, deadline=_deadline(request, default_timeout), client=client,
                        origin=origin)
                except RequestError as exc:
                    response = error_response(request, exc)
                # a failed send means the client left; the reading loop sees the disconnect
                with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                    await framing.send(response)
            finally:
                if slots is not None:
                    slots.release()

        try:
            while (request := await framing.receive()) is not None:
                if slots is not None:
                    await slots.acquire()
                task = asyncio.create_task(answer(request))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.wait(tasks)
            await socket.close()
        except BadRequestError as exc:
            await socket.close(code=_UNSUPPORTED_DATA, reason=str(exc)[:120])
        except WebSocketDisconnect:
            pass  # the client went away: nobody is left to answer
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)

    @app.websocket("/dry_run")
    async def dry_run(socket: WebSocket) -> None:
        framing = await _accept(socket)
        problems = await core.dry_run()
        status = jina_pb2.StatusProto(code=jina_pb2.StatusProto.SUCCESS)
        if problems:
            status.code = jina_pb2.StatusProto.ERROR
            status.description = "; ".join(problems)
        await framing.send_status(status)
        await socket.close()

    return app
