"""flowserve's request errors, gRPC status codes and HTTP status codes: one table that every
direction reads (the gateway's gRPC and HTTP adapters, the client's transports, the gateway's
channel to executors, and the outcome labels of metrics)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from ..errors import (
    BadRequestError,
    DeadlineExceededError,
    OverloadedError,
    ReplicaLostError,
    RequestError,
    UnavailableError,
)

__all__ = ["ERRORS_BY_NAME", "STATUSES", "ErrorStatus", "error_for_grpc_code",
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
