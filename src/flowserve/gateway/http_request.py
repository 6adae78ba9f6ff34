"""What every HTTP route of the gateway reads from a request, and how it answers a failure:
the request's deadline (`request_timeout`), its client's identity (`http_client`) and the
JSON error response for a flowserve error (`http_error`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

from ..errors import BadRequestError, OverloadedError, RequestError
from ..wire.deadline import MAX_TIMEOUT
from ..wire.names import CLIENT_ID_HEADER, RETRY_AFTER, TIMEOUT_HEADER
from ..wire.status import http_status_for
from .auth import AUTHENTICATED_CLIENT
from .identity import TrustedProxies, client_identity

__all__ = ["http_client", "http_error", "request_timeout"]

_CLIENT_ID_KEY = CLIENT_ID_HEADER.lower()


def request_timeout(headers: Mapping[str, str], body_ms: int,
                    default: float | None) -> float | None:
    """The request's deadline in seconds: the timeout header, else the body's timeout (ms),
    else `default`; None for no deadline. Raises BadRequestError for a bad header."""
    header_value = headers.get(TIMEOUT_HEADER)
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


def http_client(headers: Mapping[str, str], scope: Mapping[str, Any],
                trusted: TrustedProxies) -> str:
    """The identity of the client that sent the request of ASGI `scope` (`identity`)."""
    peer = scope.get("client")
    peer_ip = peer[0] if peer else None
    return client_identity(headers, peer=peer_ip or "unknown", peer_ip=peer_ip,
                           client_id_key=_CLIENT_ID_KEY, trusted=trusted,
                           authenticated=AUTHENTICATED_CLIENT.get())


def http_error(exc: RequestError) -> JSONResponse:
    """The error response for `exc`: its status from `wire.status`, its class name in the body."""
    headers: dict[str, str] = {}
    if isinstance(exc, OverloadedError):
        headers[RETRY_AFTER] = str(max(1, round(exc.retry_after)))
    status = http_status_for(exc)
    body = {"detail": str(exc), "error": type(exc).__name__}
    return JSONResponse(body, status_code=status, headers=headers)
