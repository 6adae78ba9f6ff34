"""Resource limits of the gateway's servers (docs/security.md#limits), with bounded defaults.

* gRPC: the largest message received or sent (gateway and executors), RPCs at once, and how
  long a new connection may take to start HTTP/2.
* HTTP: the largest request body (413 naming the limit), open connections (more are closed at
  once, before anything is read), how long a connection may take to send its first request's
  headers, and how long an idle keep-alive connection stays open.
* The log: repeated accept errors (a process out of file descriptors) are logged at most once
  per interval, with a count of those left out.

The defaults protect a 2-core machine, yet carry the seed's bulky requests (100 documents of
512 float32 dimensions, about 0.2 MB) more than a hundred times over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..config.ratelog import RateLimitedLog
from ..transport.grpc_common import DEFAULT_MAX_MESSAGE_BYTES, message_options

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "LIMIT_NAMES", "Limits", "body_limit_middleware",
           "executor_limit_args", "executor_tls_args", "grpc_server_options",
           "quiet_accept_errors"]

log = logging.getLogger(__name__)

MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Every limit, at its default; each is a Flow key of ``with:`` and a gateway flag."""

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """gRPC messages received or sent (gateway and executors)."""
    max_body_bytes: int = 32 * MIB
    """HTTP request bodies."""
    max_connections: int = 512
    """Open HTTP connections; more are closed as soon as they are accepted."""
    max_concurrent_rpcs: int = 512
    """gRPC calls (streams) at once on the gateway; more get RESOURCE_EXHAUSTED."""
    header_timeout: float = 10.0
    """Seconds a new HTTP connection (or gRPC handshake) may take before its first request."""
    keep_alive_timeout: float = 5.0
    """Seconds an idle HTTP keep-alive connection stays open."""


LIMIT_NAMES = tuple(Limits.__dataclass_fields__)
"""The Flow keys (and, with ``-`` for ``_``, the gateway flags) of the limits."""


def executor_limit_args(max_message_bytes: int | None) -> list[str]:
    """``flowserve executor`` flags passing the Flow's message limit on (none by default)."""
    return [] if max_message_bytes is None else ["--max-message-bytes", str(max_message_bytes)]


def executor_tls_args(certfile: str | None, keyfile: str | None) -> list[str]:
    """``flowserve executor`` flags serving TLS (none without a certificate)."""
    return ["--ssl-certfile", certfile, "--ssl-keyfile", keyfile] if certfile and keyfile else []


def grpc_server_options(limits: Limits) -> list[tuple[str, int]]:
    """Channel arguments of a gRPC server under `limits`."""
    return [*message_options(limits.max_message_bytes),
            ("grpc.server_handshake_timeout_ms", int(limits.header_timeout * 1000))]


def quiet_accept_errors(limiter: RateLimitedLog) -> Callable[
        [asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """An event loop exception handler: errors accepting connections (out of descriptors) go
    through `limiter`, one line per window; others are handled as usual."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if "accept" in str(context.get("message", "")):
            limiter.log("accept", "%s: %s", context["message"], context.get("exception"))
            return
        loop.default_exception_handler(context)

    return handler


# -- the HTTP body limit (ASGI) --------------------------------------------------------------

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[..., Any], Callable[..., Any]], Awaitable[None]]


def body_limit_middleware(app: ASGIApp, max_bytes: int) -> ASGIApp:
    """`app` answering 413 to bodies over `max_bytes`, declared or streamed. The body is read
    here (never more than `max_bytes` of it) and handed on whole: the app reads it whole
    anyway."""
    body = (b'{"error":"BadRequestError","detail":"request body larger than max_body_bytes (%d '
            b'bytes); raise it with max_body_bytes in the Flow\'s with: block or the gateway\'s '
            b'--max-body-bytes flag"}' % max_bytes)

    async def too_large(send: Callable[..., Any]) -> None:
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def limited(scope: Scope, receive: Callable[..., Any],
                      send: Callable[..., Any]) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await too_large(send)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > max_bytes:
                await too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()  # type: ignore[no-any-return]
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await app(scope, replay, send)

    return limited
