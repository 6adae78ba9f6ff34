"""The errors flowserve raises, in one hierarchy.

::

    FlowserveError
    ├── ConfigError                 bad Flow/executor configuration (names file, key, executor)
    │   └── ExecutorLoadError       a `uses` that cannot be imported/resolved
    ├── RequestError                a request that could not be served (expected, per request)
    │   ├── BadRequestError         malformed input (unknown endpoint shape, bad JSON doc, ...)
    │   ├── ExecutorError           the executor's own code raised (carried back in the status)
    │   │   └── HandlerTimeoutError a handler call ran past `timeout_handler`
    │   ├── OverloadedError         shed by admission control; retry later
    │   ├── DeadlineExceededError   the request's deadline passed (names where)
    │   └── UnavailableError        an executor (or the gateway) could not be reached
    │       └── ReplicaLostError    a replica failed while it may have been running the request
    └── FlowStartError              processes of a Flow failed to start or become ready

Expected errors live here; anything else escaping flowserve is a bug. The gRPC and HTTP status
codes of request errors are one table, :mod:`flowserve.wire.status`, read in both directions.
"""

from __future__ import annotations

__all__ = [
    "BadRequestError",
    "ConfigError",
    "DeadlineExceededError",
    "ExecutorError",
    "ExecutorLoadError",
    "FlowStartError",
    "FlowserveError",
    "HandlerTimeoutError",
    "OverloadedError",
    "ReplicaLostError",
    "RequestError",
    "UnavailableError",
]


class FlowserveError(Exception):
    """Base class of every error flowserve raises on purpose."""


class ConfigError(FlowserveError, ValueError):
    """A Flow or executor configuration is invalid; the message names file, key and executor."""


class ExecutorLoadError(ConfigError):
    """An executor's `uses` could not be imported or resolved to an Executor class."""


class FlowStartError(FlowserveError, RuntimeError):
    """A Flow's processes did not start or did not become ready in time."""


class RequestError(FlowserveError):
    """A single request failed; other requests are unaffected."""


class BadRequestError(RequestError, ValueError):
    """The request itself is malformed."""


class ExecutorError(RequestError):
    """Executor code raised while handling a request.

    `executor`, `name` (exception class name), `args_` and `stacks` mirror the wire status.
    """

    def __init__(
        self,
        message: str,
        *,
        executor: str = "",
        name: str = "",
        args: list[str] | None = None,
        stacks: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.executor = executor
        self.name = name
        self.args_ = list(args or [])
        self.stacks = list(stacks or [])


class HandlerTimeoutError(ExecutorError, TimeoutError):
    """A handler call did not return within the executor's `timeout_handler`; the replica it
    ran on restarts (docs/resilience.md#handler-timeout)."""


class OverloadedError(RequestError):
    """The request was shed by admission control; `retry_after` is a hint in seconds."""

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeadlineExceededError(RequestError, TimeoutError):
    """The request's deadline passed; the message names where it expired."""


class UnavailableError(RequestError, ConnectionError):
    """A server could not be reached; the message names the address."""


class ReplicaLostError(UnavailableError):
    """An executor replica failed (died, reset the connection, or froze: its call was abandoned
    `timeout_ejected` s after its ejection) after the request was sent: the request may have
    run, or may be what killed it, so it is retried at most once."""
