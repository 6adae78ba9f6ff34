"""The gateway's HTTP adapter: a FastAPI app over a GatewayCore, with ``POST /post``
answered in front of it (`http_post`)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from .._version import __version__
from ..errors import BadRequestError
from ..wire.http_models import PostError, PostRequest, PostResponse, schemas_of, validation_message
from .core import GatewayCore
from .http_post import ASGIApp, PostFirst, PostRoute
from .http_request import http_error
from .http_streaming import add_streaming_route
from .identity import TrustedProxies
from .swagger import add_local_docs

__all__ = ["create_app"]


class _OwnBodyRoute(APIRoute):
    """A route whose endpoint takes the Request and returns the Response itself: FastAPI neither
    reads, validates nor serializes anything for it (FastAPI's documented way to customise a
    route's handling). `/post` is answered before FastAPI (`http_post`); its route is here
    for the OpenAPI description, and answers the same way."""

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


def create_app(core: GatewayCore, *, default_timeout: float | None = None,
               trusted: TrustedProxies | None = None, cors: bool = False) -> ASGIApp:
    """HTTP routes: `POST /post`, `GET /` (health), `GET /status`, `GET /dry_run`, `/docs`.
    `cors` allows every origin, method and header (as Jina's gateway with ``cors: true``)."""
    app = FastAPI(title="flowserve gateway", version=__version__, docs_url=None, redoc_url=None)
    proxies = trusted or TrustedProxies()
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

    post = PostRoute(core, default_timeout=default_timeout, trusted=proxies)

    async def post_route(request: Request) -> Response:  # for OpenAPI; `post` answers first
        return await post.answer(await request.body(), request.headers, request.scope)

    app.router.add_api_route(
        "/post", post_route, methods=["POST"], summary="Send documents through the Flow",
        openapi_extra={"requestBody": _POST_BODY},
        responses={200: {"model": PostResponse}, **_POST_ERRORS},
        route_class_override=_OwnBodyRoute)
    # keep last: a catch-all GET /{endpoint} for streaming endpoints (http_streaming.py)
    add_streaming_route(app, core, default_timeout=default_timeout, trusted=proxies)
    routed = PostFirst(app, post)
    if cors:  # around both, so that /post answers carry the CORS headers too
        return CORSMiddleware(routed, allow_origins=["*"], allow_credentials=True,
                              allow_methods=["*"], allow_headers=["*"])
    return routed
