"""What clients may send and see (docs/security.md#no-leaks-no-bypass): a wrapper around the
gateway core, used by both transports.

* A client's ``parameters.__results__`` is dropped before the request enters the Flow: only
  executors write their results there, and a client could otherwise forge them.
* ``target_executor`` (Jina's way to run only the executors matching a regex, and so to skip
  any other, e.g. a guard or a filter) is allowed by default, as in Jina; a Flow may forbid it
  (``allow_target_executor: false``), and such requests are refused as bad requests.
* ``error_detail: message`` strips executors' stack traces (install paths, source lines) from
  responses, keeping the exception's name, message and executor; ``stack`` (the default, as in
  Jina) keeps them. The Kubernetes and Compose exports default to ``message``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from ..errors import BadRequestError
from ..wire.deadline import Deadline
from ..wire.request import DataRequest
from ..wire.stream import StreamMessage, is_error

__all__ = ["ERROR_DETAILS", "GuardedCore", "RESULTS_KEY"]

RESULTS_KEY = "__results__"
ERROR_DETAILS = ("stack", "message")


class GuardedCore:
    """A gateway core whose `process` applies the policy above; everything else is the
    core's own."""

    def __init__(self, core: Any, *, error_detail: str = "stack",
                 allow_target_executor: bool = True) -> None:
        if error_detail not in ERROR_DETAILS:
            raise ValueError(f"error_detail {error_detail!r}: choose stack or message")
        self._core = core
        self.error_detail = error_detail
        self.allow_target_executor = allow_target_executor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._core, name)

    async def process(self, request: DataRequest, *, deadline: Deadline | None = None,
                      client: str = "", origin: object = None) -> DataRequest:
        if request.target_executor is not None and not self.allow_target_executor:
            raise BadRequestError("target_executor is not allowed by this Flow "
                                  "(allow_target_executor: false)")
        _drop_client_results(request)
        response: DataRequest = await self._core.process(request, deadline=deadline,
                                                         client=client, origin=origin)
        if self.error_detail == "message":
            _drop_stacks(response)
        return response


    async def stream(self, request: StreamMessage, *, deadline: Deadline | None = None,
                     client: str = "", origin: object = None,
                     ) -> AsyncGenerator[StreamMessage, None]:
        """`process`'s policy for a stream: target_executor, no forged results, no stacks."""
        if request.header.HasField("target_executor") and not self.allow_target_executor:
            raise BadRequestError("target_executor is not allowed by this Flow "
                                  "(allow_target_executor: false)")
        if request.HasField("parameters") and RESULTS_KEY in request.parameters.fields:
            del request.parameters.fields[RESULTS_KEY]
        replies = self._core.stream(request, deadline=deadline, client=client, origin=origin)
        try:
            async for reply in replies:
                if self.error_detail == "message" and is_error(reply):
                    del reply.header.status.exception.stacks[:]
                yield reply
        finally:
            await replies.aclose()


def _drop_client_results(request: DataRequest) -> None:
    if not request.proto.HasField("parameters"):
        return
    parameters = request.parameters
    if RESULTS_KEY in parameters:
        request.parameters = {k: v for k, v in parameters.items() if k != RESULTS_KEY}


def _drop_stacks(response: DataRequest) -> None:
    statuses = [response.status, *(r.status for r in response.routes if r.HasField("status"))]
    for status in statuses:
        if status.exception.stacks:
            del status.exception.stacks[:]
