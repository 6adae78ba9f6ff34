"""The one hook interface through which the gateway core reports what happens: metrics, the
dashboard's history and tracing each implement `Observer`.

The core calls an `Observer` at a request's start and finish, after each wait in a fair queue
and after each call to an executor replica; it knows nothing about Prometheus or
OpenTelemetry. The default `NullObserver` does nothing, so an unobserved gateway pays one no-op
call per event.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from ..wire.status import known_error, status_of

__all__ = ["NullObserver", "Observer", "failure_of", "outcome_of"]


class Observer(Protocol):
    """Receives gateway events. Implementations must be cheap and must not raise."""

    wants_sizes: bool
    """Whether `executor_call` needs the request and response sizes (measured only then)."""

    def request_started(self, *, endpoint: str, client: str, request_id: str,
                        origin: object = None) -> None:
        """A client request enters the core, in the task that walks it: the queue waits and
        executor calls of the walk happen in tasks started after this call (they inherit the
        context it sets). `origin` is what the transport adapter knows of the request
        (`flowserve.wire.origin`), passed through the core unread; None when not given."""

    def request_finished(self, *, endpoint: str, outcome: str, seconds: float,
                         error: BaseException | None = None) -> None:
        """A client request was answered (end to end through the gateway); `error` is the
        exception it failed with, if any. Called in the task `request_started` was."""

    def queue_wait(self, *, executor: str, seconds: float) -> None:
        """A request waited `seconds` in an executor deployment's fair queue."""

    def executor_call(self, *, executor: str, replica: str, endpoint: str, outcome: str,
                      seconds: float, request_bytes: int, response_bytes: int,
                      docs: int) -> None:
        """One call to an executor replica finished (processing time, sizes)."""


class NullObserver:
    """Observes nothing."""

    wants_sizes = False

    def request_started(self, *, endpoint: str, client: str, request_id: str,
                        origin: object = None) -> None:
        pass

    def request_finished(self, *, endpoint: str, outcome: str, seconds: float,
                         error: BaseException | None = None) -> None:
        pass

    def queue_wait(self, *, executor: str, seconds: float) -> None:
        pass

    def executor_call(self, *, executor: str, replica: str, endpoint: str, outcome: str,
                      seconds: float, request_bytes: int, response_bytes: int,
                      docs: int) -> None:
        pass


def outcome_of(exc: BaseException | None, *, executor_error: bool = False) -> str:
    """A low-cardinality outcome label: success, executor_error, overloaded, deadline,
    unavailable, bad_request, cancelled or error."""
    if exc is None:
        return "executor_error" if executor_error else "success"
    status = status_of(exc)
    if status is not None:
        return status.outcome
    return "cancelled" if isinstance(exc, asyncio.CancelledError) else "error"


def failure_of(exc: BaseException) -> tuple[str, BaseException]:
    """The outcome and the error a request that raised `exc` is observed with: the error the
    adapters will answer it as, so a request nested too deeply to encode is a bad request (400 /
    INVALID_ARGUMENT) on its span and in the metrics, not an internal error."""
    error = (known_error(exc) or exc) if isinstance(exc, Exception) else exc
    return outcome_of(error), error
