"""gRPC status codes and trailers -> flowserve errors, for the client's gRPC transports."""

from __future__ import annotations

import contextlib
from typing import Any

import grpc

from ..errors import (
    BadRequestError,
    DeadlineExceededError,
    OverloadedError,
    RequestError,
    UnavailableError,
)
from ..wire.names import ERROR_TRAILER, RETRY_AFTER
from ..wire.status import ERRORS_BY_NAME, error_for_grpc_code
from ._address import Address
from ._tls import plaintext_hint

__all__ = ["RequestFailed", "error_from_rpc", "unary_failure"]


def _trailer(exc: grpc.RpcError, name: str) -> str | None:
    trailing = getattr(exc, "trailing_metadata", None)
    for key, value in (trailing() if callable(trailing) else None) or ():
        if key.lower() == name:
            return str(value)
    return None


def _retry_after(exc: grpc.RpcError) -> float:
    with contextlib.suppress(TypeError, ValueError):
        return float(_trailer(exc, RETRY_AFTER))  # type: ignore[arg-type]
    return 1.0


def _join(prefix: str, details: str) -> str:
    return f"{prefix}: {details}" if details else prefix


def error_from_rpc(exc: grpc.RpcError, address: Address | str) -> RequestError:
    """The one place gRPC status codes become flowserve errors.

    The message is the server's own (``details``); UNAVAILABLE always names `address`, and
    says "cannot reach the gateway" only when the gateway did not answer (no ``flowserve-error``
    trailer; with one, an executor behind it is unavailable: the trailer's class, e.g.
    ReplicaLostError).
    A ``retry-after`` trailing metadata value (seconds) fills OverloadedError.retry_after.
    """
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    details = (exc.details() if callable(getattr(exc, "details", None)) else "") or ""
    cls = error_for_grpc_code(code)
    if cls is OverloadedError:
        if "message larger than max" in details:  # gRPC's own words: not worth a retry
            return BadRequestError(f"{details} at {address}: the limit is the gateway's "
                                   "max_message_bytes (Flow with: max_message_bytes, or "
                                   "--max-message-bytes); send smaller requests or raise it")
        if "Concurrent RPC limit exceeded" in details:
            details = (f"{details}: the gateway's max_concurrent_rpcs (Flow with: "
                       "max_concurrent_rpcs, or --max-concurrent-rpcs)")
        return OverloadedError(details or f"{address} is overloaded", retry_after=_retry_after(exc))
    if cls is DeadlineExceededError:
        if not details or details == "Deadline Exceeded":  # gRPC's own words: our deadline
            return DeadlineExceededError(f"deadline exceeded waiting for {address}")
        return DeadlineExceededError(details)
    if cls is UnavailableError:
        named = _trailer(exc, ERROR_TRAILER)
        if named is not None:  # the gateway answered: an executor is unavailable
            named_cls = ERRORS_BY_NAME.get(named)
            unavailable = (named_cls if named_cls is not None
                           and issubclass(named_cls, UnavailableError) else UnavailableError)
            return unavailable(details if str(address) in details
                               else _join(f"{address}", details))
        tls = address.tls if isinstance(address, Address) else False
        return UnavailableError(_join(f"cannot reach the gateway at {address}", details)
                                + plaintext_hint(tls, "grpc", details))
    if cls is BadRequestError:
        return BadRequestError(details or f"{address} rejected the request as invalid")
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return UnavailableError(_join(f"{address} does not serve this method", details))
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return RequestError(f"{address} refused the request: UNAUTHENTICATED "
                            "(give the Client a valid token=...)")
    name = code.name if code is not None else "UNKNOWN"
    return RequestError(_join(f"{address} failed the request with {name}", details))


class RequestFailed(Exception):
    """The gateway answered a unary request with an error for that request alone."""

    def __init__(self, error: RequestError) -> None:
        super().__init__(str(error))
        self.error = error


def unary_failure(exc: grpc.RpcError, address: Address) -> RequestFailed | RequestError | None:
    """What a failed unary ``process_single_data`` call means: None if the gateway does not
    serve the method (use a stream), `RequestFailed` if this request alone failed (its
    deadline, overload, or a failure the gateway names in the ``flowserve-error`` trailer),
    else the error that the gateway could not be reached or failed as a whole."""
    if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
        return None
    error = error_from_rpc(exc, address)
    trailers: Any = exc.trailing_metadata() or ()
    per_request = exc.code() in (grpc.StatusCode.DEADLINE_EXCEEDED,
                                 grpc.StatusCode.RESOURCE_EXHAUSTED)
    if per_request or any(key == ERROR_TRAILER for key, _ in trailers):
        return RequestFailed(error)
    return error
