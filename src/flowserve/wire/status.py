"""flowserve's request errors, gRPC status codes and HTTP status codes: one table that every
direction reads (the gateway's gRPC and HTTP adapters, the client's transports, the gateway's
channel to executors, and the outcome labels of metrics)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError

from ..errors import (
    BadRequestError,
    DeadlineExceededError,
    OverloadedError,
    ReplicaLostError,
    RequestError,
    UnavailableError,
)

__all__ = ["ERRORS_BY_NAME", "known_error", "STATUSES", "ErrorStatus", "error_for_grpc_code",
           "error_for_http_status", "grpc_code_for", "http_status_for", "status_of"]


@dataclass(frozen=True)
class ErrorStatus:
    """How one kind of request error travels."""

    error: type[RequestError]
    grpc_code: grpc.StatusCode
    http_status: int
    outcome: str
    """The low-cardinality outcome label of metrics and traces."""


STATUSES: tuple[ErrorStatus, ...] = (
    ErrorStatus(OverloadedError, grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "overloaded"),
    ErrorStatus(DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED, 504, "deadline"),
    ErrorStatus(UnavailableError, grpc.StatusCode.UNAVAILABLE, 503, "unavailable"),
    ErrorStatus(BadRequestError, grpc.StatusCode.INVALID_ARGUMENT, 400, "bad_request"),
)
"""Any other request error is gRPC INTERNAL and HTTP 500."""

ERRORS_BY_NAME: dict[str, type[RequestError]] = {
    **{s.error.__name__: s.error for s in STATUSES},
    ReplicaLostError.__name__: ReplicaLostError,  # an UnavailableError, told apart by its name
}
"""An error's class name on the wire (a response's ``exception.name``, an HTTP error body) ->
the class; any other name is an executor's own exception."""

_BY_GRPC = {s.grpc_code: s.error for s in STATUSES}
_BY_HTTP = {s.http_status: s.error for s in STATUSES}


def status_of(exc: BaseException) -> ErrorStatus | None:
    """The table's row for `exc`, or None for any other exception."""
    for status in STATUSES:
        if isinstance(exc, status.error):
            return status
    return None


def grpc_code_for(exc: RequestError) -> grpc.StatusCode:
    """The gRPC status code a server answers `exc` with."""
    status = status_of(exc)
    return status.grpc_code if status is not None else grpc.StatusCode.INTERNAL


def http_status_for(exc: RequestError) -> int:
    """The HTTP status code a server answers `exc` with."""
    status = status_of(exc)
    return status.http_status if status is not None else 500


def error_for_grpc_code(code: grpc.StatusCode | None) -> type[RequestError] | None:
    """The error class a gRPC status code stands for, or None when the table has no row."""
    return _BY_GRPC.get(code) if code is not None else None


def error_for_http_status(code: int) -> type[RequestError] | None:
    """The error class an HTTP status code stands for, or None when the table has no row."""
    return _BY_HTTP.get(code)


def known_error(exc: Exception) -> RequestError | None:
    """The RequestError an exception that escaped the per-request error path stands for when
    its cause is known (input nested too deeply for protobuf or JSON, an undecodable message,
    text that is not Unicode); None for anything else (a bug)."""
    if isinstance(exc, RequestError):
        return exc
    if isinstance(exc, DecodeError):
        return BadRequestError(f"undecodable message (nested too deeply or corrupt): {exc}")
    if isinstance(exc, RecursionError):
        return BadRequestError("the request is nested too deeply")
    if isinstance(exc, UnicodeError):
        return BadRequestError(f"the request holds text that is not valid Unicode: {exc}")
    return None
