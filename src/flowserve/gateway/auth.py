"""Bearer-token authentication at the gateway (docs/security.md#tokens).

Tokens come from a file or an environment variable, never from the Flow YAML: one
``name:token`` per line (``#`` comments and blank lines ignored; in a variable, commas also
separate entries). A request must carry ``authorization: Bearer <token>`` (gRPC metadata, or
the HTTP ``Authorization`` header, also on a WebSocket handshake); without a known token it gets
UNAUTHENTICATED / 401 (a WebSocket: 403) and no detail. Health checks stay open for probes.

The authenticated name is the client's identity: it is exposed as :data:`AUTHENTICATED_CLIENT`
(a context variable, set while the request is handled) and replaces the self-asserted client
id (gRPC metadata ``flowserve-client-id``, HTTP ``X-Flowserve-Client-Id``), so fair queuing
and client weights key on the token's name. Both adapters are wrappers (a gRPC server
interceptor, an ASGI middleware) around the unchanged services.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import grpc

from ..errors import ConfigError
from ..wire.names import CLIENT_ID_HEADER as _CLIENT_ID_HEADER
from ..wire.names import CLIENT_ID_METADATA

__all__ = ["AUTHENTICATED_CLIENT", "MIN_TOKEN_LENGTH", "GrpcTokenInterceptor", "TokenTable",
           "http_token_middleware", "load_tokens"]

AUTHENTICATED_CLIENT: ContextVar[str | None] = ContextVar("flowserve_authenticated_client",
                                                          default=None)
"""The token name of the request being handled (None with authentication off)."""
MIN_TOKEN_LENGTH = 16
REFUSE_READ_SECONDS = 1.0
OPEN_GRPC_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
OPEN_HTTP_ROUTES = frozenset({("GET", "/")})
CLIENT_ID_HEADER = _CLIENT_ID_HEADER.lower().encode()


class TokenTable:
    """Token -> name; looks a bearer credential up in constant time per known token."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = [(token.encode(), name) for token, name in tokens.items()]

    def __len__(self) -> int:
        return len(self._tokens)

    def authenticate(self, authorization: str | None) -> str | None:
        """The name of the token in an ``Authorization`` value, or None."""
        if not authorization:
            return None
        scheme, _, credential = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credential:
            return None
        given = credential.strip().encode()
        found = None
        for token, name in self._tokens:  # no early exit: time does not tell which matched
            if hmac.compare_digest(token, given):
                found = name
        return found


def _parse(text: str, where: str, separators: str) -> dict[str, str]:
    tokens: dict[str, str] = {}
    names: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        for entry in line.split(",") if "," in separators else [line]:
            entry = entry.strip()
            if not entry or entry.startswith("#"):
                continue
            name, sep, token = (part.strip() for part in entry.partition(":"))
            # messages name the line and the name, never the token
            if not sep or not name:
                raise ConfigError(f"{where} line {number}: expected name:token")
            if len(token) < MIN_TOKEN_LENGTH:
                raise ConfigError(f"{where} line {number}: the token of {name!r} is shorter "
                                  f"than {MIN_TOKEN_LENGTH} characters")
            if name in names or token in tokens:
                raise ConfigError(f"{where} line {number}: {name!r} or its token is repeated")
            names.add(name)
            tokens[token] = name
    return tokens


def load_tokens(tokens_file: str | None, tokens_env: str | None,
                environ: Mapping[str, str]) -> TokenTable | None:
    """The tokens of `tokens_file` and of the variable named `tokens_env` (None: both unset).

    Asked for tokens but finding none is an error: a gateway meant to be closed never starts
    open by accident.
    """
    if tokens_file is None and tokens_env is None:
        return None
    tokens: dict[str, str] = {}
    if tokens_file is not None:
        try:
            text = Path(tokens_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"tokens_file {tokens_file!r}: cannot read it: "
                              f"{exc.strerror or exc}") from None
        tokens.update(_parse(text, f"tokens_file {tokens_file!r}", "\n"))
    if tokens_env is not None:
        if not environ.get(tokens_env):
            raise ConfigError(f"tokens_env: the environment variable {tokens_env!r} is unset "
                              "or empty")
        tokens.update(_parse(environ[tokens_env], f"${tokens_env}", "\n,"))
    if not tokens:
        raise ConfigError("authentication is on (tokens_file/tokens_env) but no token is "
                          "defined")
    return TokenTable(tokens)


# -- gRPC --------------------------------------------------------------------------------------


class _AuthenticatedContext:
    """A servicer context whose client id metadata is the token's name."""

    def __init__(self, context: Any, name: str) -> None:
        self._context = context
        self._name = name

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        kept = [(k, v) for k, v in self._context.invocation_metadata() or ()
                if k not in (CLIENT_ID_METADATA, "authorization")]
        return (*kept, (CLIENT_ID_METADATA, self._name))

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._context, attribute)


async def _refuse(handler: grpc.RpcMethodHandler, request: Any, context: Any) -> None:
    """Fail the call with UNAUTHENTICATED and no detail. A streaming request's first message is
    read first (briefly): a stream ended while its client still writes may reach the client as
    INTERNAL instead of the status."""
    if handler.request_streaming:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(anext(aiter(request)), REFUSE_READ_SECONDS)
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "")


def _wrap(handler: Any, name: str | None) -> grpc.RpcMethodHandler:
    """`handler` refusing the call (`name` None) or running it as client `name`."""

    async def unary(request: Any, context: Any) -> Any:
        if name is None:
            await _refuse(handler, request, context)
            return None
        AUTHENTICATED_CLIENT.set(name)
        behavior = handler.unary_unary or handler.stream_unary
        return await behavior(request, _AuthenticatedContext(context, name))

    async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
        if name is None:
            await _refuse(handler, request, context)
            return
        AUTHENTICATED_CLIENT.set(name)
        behavior = handler.unary_stream or handler.stream_stream
        async for response in behavior(request, _AuthenticatedContext(context, name)):
            yield response

    serializers = {"request_deserializer": handler.request_deserializer,
                   "response_serializer": handler.response_serializer}
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary, **serializers)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary, **serializers)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(streaming, **serializers)
    return grpc.stream_stream_rpc_method_handler(streaming, **serializers)


class GrpcTokenInterceptor(grpc.aio.ServerInterceptor):
    """Requires a known bearer token on every method except the health checks."""

    def __init__(self, tokens: TokenTable) -> None:
        self.tokens = tokens

    async def intercept_service(  # type: ignore[override]
        self, continuation: Callable[[grpc.HandlerCallDetails],
                                     Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method in OPEN_GRPC_METHODS:
            return handler
        metadata = handler_call_details.invocation_metadata or ()
        authorization = next((v for k, v in metadata if k == "authorization"), None)
        if isinstance(authorization, bytes):
            authorization = authorization.decode("latin-1")
        return _wrap(handler, self.tokens.authenticate(authorization))


# -- HTTP (ASGI) -------------------------------------------------------------------------------

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[..., Any], Callable[..., Any]], Awaitable[None]]


def http_token_middleware(app: ASGIApp, tokens: TokenTable) -> ASGIApp:
    """`app` behind bearer-token authentication (``GET /``, the health check, stays open).
    A WebSocket handshake needs the token too; without it the socket is closed before it is
    accepted (the client sees HTTP 403)."""

    async def authenticated(scope: Scope, receive: Callable[..., Any],
                            send: Callable[..., Any]) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or (
                kind == "http" and (scope["method"], scope["path"]) in OPEN_HTTP_ROUTES):
            await app(scope, receive, send)
            return
        headers: Sequence[tuple[bytes, bytes]] = scope.get("headers", [])
        authorization = next((v.decode("latin-1") for k, v in headers
                              if k == b"authorization"), None)
        name = tokens.authenticate(authorization)
        if name is None:
            if kind == "websocket":
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": _POLICY_VIOLATION})
            else:
                await _unauthorized(send)
            return
        AUTHENTICATED_CLIENT.set(name)
        kept = [(k, v) for k, v in headers if k not in (CLIENT_ID_HEADER, b"authorization")]
        scope = {**scope, "headers": [*kept, (CLIENT_ID_HEADER, name.encode())]}
        await app(scope, receive, send)

    return authenticated


_POLICY_VIOLATION = 1008
"""WebSocket close code for a refused handshake (before accept: HTTP 403 to the client)."""


async def _unauthorized(send: Callable[..., Any]) -> None:
    body = b'{"detail":"Unauthorized"}'
    await send({"type": "http.response.start", "status": 401, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b"Bearer")]})
    await send({"type": "http.response.body", "body": body})
