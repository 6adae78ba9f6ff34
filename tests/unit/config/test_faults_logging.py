"""Faults #8: handler exceptions are logged by the executor, one line each, rate limited."""

from __future__ import annotations

import asyncio
import logging

import pytest
from fault_executors import Fails

from flowserve import Document, DocumentArray
from flowserve.config.ratelog import RateLimitedLog
from flowserve.wire.request import DataRequest
from flowserve.worker.runtime import ExecutorRuntime


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_per_window_then_one_line_for_what_was_left_out(caplog) -> None:
    clock = FakeClock()
    limiter = RateLimitedLog(logging.getLogger("t"), burst=2, window=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="t"):
        for i in range(5):
            limiter.log("k", "failure %d", i)
        limiter.log("other", "another key")
        clock.now = 10.0
        limiter.log("k", "failure %d", 5)
    assert [r.getMessage() for r in caplog.records] == [
        "failure 0", "failure 1", "another key", "(3 similar lines left out in 10 s: k)",
        "failure 5"]


def test_a_failing_handler_is_logged_once_per_failure_with_its_endpoint(caplog) -> None:
    """Before: nothing was logged (only at DEBUG, with a traceback)."""
    runtime = ExecutorRuntime(Fails(runtime_args={"name": "fails"}))

    async def post(n: int) -> list[DataRequest]:
        return [await runtime.handle(DataRequest.new(DocumentArray([Document()]),
                                                     endpoint="/fail")) for _ in range(n)]

    with caplog.at_level(logging.DEBUG, logger="flowserve.worker.runtime"):
        replies = asyncio.run(post(20))
    runtime.close()
    assert all(r.is_error for r in replies)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 5  # the rest of the burst is left out
    assert warnings[0].getMessage() == (
        "executor fails endpoint /fail failed: RuntimeError: failing on purpose")
    assert warnings[0].exc_info is None  # the traceback goes to DEBUG
    assert sum(r.levelno == logging.DEBUG and r.exc_info is not None
               for r in caplog.records) == 5


@pytest.mark.parametrize("burst", [1, 3])
def test_allow_counts_per_key(burst: int) -> None:
    limiter = RateLimitedLog(logging.getLogger("t"), burst=burst, clock=FakeClock())
    assert [limiter.allow("a") for _ in range(burst + 1)] == [True] * burst + [False]
    assert limiter.allow("b")


def test_grpcs_traceback_per_bad_message_becomes_a_few_lines() -> None:
    """grpc logs "Exception deserializing message!" with a full traceback for each one."""
    from flowserve.config.ratelog import RateLimitFilter

    logger = logging.getLogger("t.grpc")
    logger.setLevel(logging.INFO)
    limiter = RateLimitFilter(RateLimitedLog(logger, burst=2, clock=FakeClock()))
    try:
        raise ValueError("bad message")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    records = [logger.makeRecord("t.grpc", logging.ERROR, __file__, 1,
                                 "Exception deserializing message!", (), exc_info)
               for _ in range(10)]
    kept = [r for r in records if limiter.filter(r)]
    assert len(kept) == 2
    assert all(r.exc_info is None for r in kept)  # no traceback unless DEBUG is on
