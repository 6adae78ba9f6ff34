"""The gateway's ``POST /post``, answered as a plain ASGI app in front of FastAPI.

`/post` is the hot path of the HTTP protocol: Starlette's middleware stack, routing and
Request object cost the gateway more CPU per request than decoding the body and encoding the
answer. `PostFirst` sends ``POST /post`` straight to `PostRoute` and everything else
(health, status, docs, streaming endpoints) to the FastAPI app, which keeps `/post` in its
OpenAPI description and answers it the same way (`PostRoute.answer`) if it is ever reached.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..wire.deadline import deadline_after
from ..wire.httpjson import parse_post_body, response_to_json
from ..wire.origin import http_origin
from ..wire.request import DataRequest
from ..wire.retried import retried_header
from .core import unexpected_error
from .http_request import http_client, http_error, request_timeout
from .identity import TrustedProxies

if TYPE_CHECKING:
    from .core import GatewayCore

__all__ = ["ASGIApp", "PostFirst", "PostRoute"]


async def _body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class PostRoute:
    """``POST /post``: the body parsed once (`wire.httpjson.parse_post_body`), the request
    run through the core, the answer as JSON; any failure is a JSON error response with its
    status (`http_error`), never a plain-text 500."""

    def __init__(self, core: GatewayCore, *, default_timeout: float | None,
                 trusted: TrustedProxies) -> None:
        self._core = core
        self._default_timeout = default_timeout
        self._trusted = trusted

    async def answer(self, body: bytes, headers: Mapping[str, str],
                     scope: Mapping[str, Any]) -> Response:
        try:
            pb = parse_post_body(body).proto  # its docs encoded once, here
            pb.SerializeToString()  # lone surrogates etc. fail here, not later
            request = DataRequest(pb)  # a view that passes the encoded docs on untouched
            timeout = request_timeout(headers, request.header.timeout, self._default_timeout)
            response = await self._core.process(
                request, deadline=deadline_after(timeout),
                client=http_client(headers, scope, self._trusted),
                origin=http_origin(scope, "/post"))
            return JSONResponse(response_to_json(response),
                                headers=retried_header(response.routes))
        except Exception as exc:  # noqa: BLE001 - a JSON error body, never a plain-text 500
            return http_error(unexpected_error(exc))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _body(receive)
        if body is None:
            return  # nobody to answer
        response = await self.answer(body, Headers(scope=scope), scope)
        await response(scope, receive, send)


class PostFirst:
    """An ASGI app answering ``POST /post`` with `post` and everything else with `app`."""

    def __init__(self, app: ASGIApp, post: PostRoute) -> None:
        self.app = app
        self.post = post

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/post" and scope["method"] == "POST":
            await self.post(scope, receive, send)
        else:
            await self.app(scope, receive, send)
