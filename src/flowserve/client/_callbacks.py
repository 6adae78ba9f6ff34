"""What happens to each outcome of a post: callbacks, error policy, collected results."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from ..documents.array import DocumentArray
from ..errors import (
    ExecutorError,
    HandlerTimeoutError,
    RequestError,
)
from ..wire.request import DataRequest
from ..wire.status import ERRORS_BY_NAME
from ._reporter import ProgressReporter

__all__ = ["Callback", "ResultSink", "error_from_status", "mark_failed"]

logger = logging.getLogger("flowserve.client")

Callback = Callable[[DataRequest], Any]

_EXECUTOR_ERRORS: dict[str, type[ExecutorError]] = {
    HandlerTimeoutError.__name__: HandlerTimeoutError,
}
"""Executor failures flowserve itself names (the worker sets them), by their name on the wire;
any other name is the executor's own exception, an `ExecutorError`."""


def error_from_status(response: DataRequest) -> RequestError:
    """The flowserve error a response with status ERROR stands for."""
    status = response.status
    exc = status.exception
    description = status.description or exc.name or "request failed"
    cls = ERRORS_BY_NAME.get(exc.name)
    if cls is not None:
        return cls(description)
    where = f"executor {exc.executor!r} failed: " if exc.executor else ""
    return _EXECUTOR_ERRORS.get(exc.name, ExecutorError)(
        where + description,
        executor=exc.executor,
        name=exc.name,
        args=list(exc.args),
        stacks=list(exc.stacks),
    )


def mark_failed(request: DataRequest, exc: RequestError) -> DataRequest:
    """Turn the request that failed in transport into its error response (in place)."""
    request.set_error(str(exc), name=type(exc).__name__)
    return request


class ResultSink:
    """Applies callbacks and the error policy to outcomes, and collects results if asked.

    Order per outcome: ``on_done`` then ``on_always`` for a success; ``on_error`` then
    ``on_always`` for an error. An error with no ``on_error`` raises (after ``on_always``)
    unless ``continue_on_error``, in which case it is logged. Without any callback the
    response docs (or, with ``return_responses``, the responses) are collected.
    """

    def __init__(
        self,
        *,
        on_done: Callback | None = None,
        on_error: Callback | None = None,
        on_always: Callback | None = None,
        continue_on_error: bool = False,
        return_responses: bool = False,
        progress: ProgressReporter | None = None,
    ) -> None:
        self._on_done = on_done
        self._on_error = on_error
        self._on_always = on_always
        self._continue = continue_on_error
        self._collect = on_done is None and on_error is None and on_always is None
        self._responses: list[DataRequest] | None = (
            [] if self._collect and return_responses else None
        )
        self._docs: DocumentArray | None = (
            DocumentArray() if self._collect and not return_responses else None
        )
        self._progress = progress

    async def deliver(self, response: DataRequest, exc: RequestError | None = None) -> None:
        """Hand one outcome on; `exc` is set when the request failed in transport."""
        if exc is not None and not response.is_error:
            mark_failed(response, exc)
        if self._progress is not None:
            self._progress.advance(response)
        if not response.is_error:
            if self._on_done is not None:
                await _call(self._on_done, response)
            if self._on_always is not None:
                await _call(self._on_always, response)
            if self._docs is not None:
                self._docs.extend(response.docs)
            elif self._responses is not None:
                self._responses.append(response)
            return

        if self._on_error is not None:
            await _call(self._on_error, response)
        if self._on_always is not None:
            await _call(self._on_always, response)
        if self._responses is not None:
            self._responses.append(response)
        if self._on_error is None:
            error = exc if exc is not None else error_from_status(response)
            if not self._continue:
                raise error
            logger.error(
                "request %s failed (%s): %s", response.request_id, type(error).__name__, error
            )

    def result(self) -> DocumentArray | list[DataRequest] | None:
        """What `post` returns: the docs, the responses, or None when callbacks were given."""
        if self._docs is not None:
            return self._docs
        return self._responses


async def _call(callback: Callback, response: DataRequest) -> None:
    result = callback(response)
    if inspect.isawaitable(result):
        await result
