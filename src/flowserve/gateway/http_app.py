"""The gateway's HTTP adapter: a FastAPI app over a GatewayCore."""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from .._version import __version__
from ..errors import BadRequestError, OverloadedError, RequestError
from ..wire.deadline import deadline_after
from ..wire.http_models import PostError, PostRequest, PostResponse, schemas_of, validation_message
from ..wire.httpjson import parse_post_body, response_to_json
from ..wire.names import CLIENT_ID_HEADER, RETRY_AFTER, TIMEOUT_HEADER
from ..wire.origin import http_origin
from ..wire.request import DataRequest
from ..wire.retried import retried_header
from ..wire.status import http_status_for
from .auth import AUTHENTICATED_CLIENT
from .core import GatewayCore, unexpected_error
from .http_streaming import add_streaming_route
from .identity import TrustedProxies, client_identity
from .swagger import add_local_docs

__all__ = ["create_app", "http_error"]

MAX_TIMEOUT = (2**32 - 1) / 1000
"""The longest deadline the wire carries (`header.timeout`, uint32 ms: 49.7 days); a header
asking for that or more means no deadline."""


def _timeout(header_value: str | None, body_ms: int, default: float | None) -> float | None:
    if header_value:
        try:
            seconds = float(header_value)
        except ValueError:
            raise BadRequestError(
                f"header {TIMEOUT_HEADER}: expected seconds, got {header_value!r}") from None
        if not math.isfinite(seconds) or seconds <= 0:  # nan compared false: an instant 504
            raise BadRequestError(
                f"header {TIMEOUT_HEADER}: must be a finite number of seconds > 0, "
                f"got {header_value!r}")
        return None if seconds >= MAX_TIMEOUT else seconds
    return body_ms / 1000 if body_ms else default


class _OwnBodyRoute(APIRoute):
    """A route whose endpoint takes the Request and returns the Response itself: FastAPI neither
    reads, validates nor serializes anything for it (FastAPI's documented way to customise a
    route's handling). `/post` parses its body once, with `parse_post_body`; FastAPI's request
    handling cost more CPU per request than that."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint  # type: ignore[return-value]


# FastAPI documents what it does not parse only when told: the body's schema, and the errors
# `/post` really answers (never FastAPI's 422).
_POST_BODY = {"required": False, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/PostRequest"}}}}
_POST_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": PostError, "description": description} for code, description in (
        (400, "Bad request: not JSON, an unknown key, a bad document or regex"),
        (413, "Body larger than the gateway's max_body_bytes"),
        (429, "Overloaded: retry after Retry-After seconds"),
        (500, "Internal error in the gateway"),
        (503, "An executor is unavailable"),
        (504, "Deadline exceeded"),
    )}


def _with_schemas(openapi: Callable[[], dict[str, Any]],
                  schemas: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    def with_schemas() -> dict[str, Any]:
        spec = openapi()
        spec.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        return spec
    return with_schemas


def http_error(exc: RequestError) -> JSONResponse:
    """The error response for `exc`: its status from `wire.status`, its class name in the body."""
    headers: dict[str, str] = {}
    if isinstance(exc, OverloadedError):
        headers[RETRY_AFTER] = str(max(1, round(exc.retry_after)))
    status = http_status_for(exc)
    body = {"detail": str(exc), "error": type(exc).__name__}
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(core: GatewayCore, *, default_timeout: float | None = None,
               trusted: TrustedProxies | None = None, cors: bool = False) -> FastAPI:
    """HTTP routes: `POST /post`, `GET /` (health), `GET /status`, `GET /dry_run`, `/docs`.
    `cors` allows every origin, method and header (as Jina's gateway with ``cors: true``)."""
    app = FastAPI(title="flowserve gateway", version=__version__, docs_url=None, redoc_url=None)
    proxies = trusted or TrustedProxies()
    client_id_key = CLIENT_ID_HEADER.lower()
    if cors:
        app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True,
                           allow_methods=["*"], allow_headers=["*"])
    add_local_docs(app)
    app.openapi = _with_schemas(app.openapi, schemas_of(PostRequest))  # type: ignore[method-assign]

    @app.exception_handler(RequestValidationError)
    async def bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        return http_error(BadRequestError(validation_message(list(exc.errors()))))

    @app.get("/", summary="Health check")
    async def health() -> dict[str, Any]:
        return {}

    @app.get("/status", summary="Gateway information")
    async def status() -> dict[str, Any]:
        return {"jina": core.info(), "envs": {}}

    @app.get("/dry_run", summary="Check that every executor is reachable")
    async def dry_run() -> dict[str, Any]:
        problems = await core.dry_run()
        code = 0 if not problems else 1
        return {"code": code, "description": "; ".join(problems)}

    async def post(request: Request) -> Response:
        try:
            pb = parse_post_body(await request.body()).proto  # its docs encoded once, here
            pb.SerializeToString()  # lone surrogates etc. fail here, not later
            data_request = DataRequest(pb)  # a view that passes the encoded docs on untouched
            timeout = _timeout(request.headers.get(TIMEOUT_HEADER), data_request.header.timeout,
                               default_timeout)
            peer_ip = request.client.host if request.client else None
            client = client_identity(request.headers, peer=peer_ip or "unknown",
                                     peer_ip=peer_ip, client_id_key=client_id_key,
                                     trusted=proxies, authenticated=AUTHENTICATED_CLIENT.get())
            response = await core.process(data_request, deadline=deadline_after(timeout),
                                          client=client, origin=http_origin(request.scope, "/post"))
            return JSONResponse(response_to_json(response),
                                headers=retried_header(response.routes))
        except Exception as exc:  # noqa: BLE001 - a JSON error body, never a plain-text 500
            return http_error(unexpected_error(exc))

    app.router.add_api_route(
        "/post", post, methods=["POST"], summary="Send documents through the Flow",
        openapi_extra={"requestBody": _POST_BODY},
        responses={200: {"model": PostResponse}, **_POST_ERRORS},
        route_class_override=_OwnBodyRoute)
    # keep last: a catch-all GET /{endpoint} for streaming endpoints (http_streaming.py)
    add_streaming_route(app, core, default_timeout=default_timeout, trusted=proxies)
    return app
