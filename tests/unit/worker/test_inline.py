"""Where sync handlers run: InlinePolicy (pure) and the runtime that applies it (no sockets)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from flowserve import Document, DocumentArray, Executor, requests
from flowserve.wire.request import DataRequest
from flowserve.worker.inline import MAX_STREAK, InlinePolicy
from flowserve.worker.runtime import ExecutorRuntime

FAST, SLOW = 0.0001, 0.5


def test_policy_inlines_after_a_streak_of_fast_calls() -> None:
    policy = InlinePolicy(budget=0.001, streak=3)
    for _ in range(3):
        assert not policy.inline(1)
        policy.record(FAST, 1, inline=False)
    assert policy.inline(1)
    assert policy.inline(0)
    assert not policy.inline(2)  # bigger than any call seen fast: back to the thread
    policy.record(FAST, 2, inline=False)
    assert policy.inline(2)


def test_policy_slow_call_sends_handler_back_and_doubles_the_streak_if_inline() -> None:
    policy = InlinePolicy(budget=0.001, streak=2)
    policy.record(FAST, 1, inline=False)
    policy.record(SLOW, 1, inline=False)  # slow on the thread: start over, same streak
    assert policy.needed == 2
    policy.record(FAST, 1, inline=False)
    assert not policy.inline(1)
    policy.record(FAST, 1, inline=False)
    assert policy.inline(1)
    policy.record(SLOW, 1, inline=True)  # held the loop: needs twice as long a streak
    assert policy.needed == 4 and not policy.inline(1)
    for _ in range(3):
        policy.record(FAST, 1, inline=False)
    assert not policy.inline(1)
    policy.record(FAST, 1, inline=False)
    assert policy.inline(1)


def test_policy_streak_is_capped_and_disable_is_final() -> None:
    policy = InlinePolicy(budget=0.001, streak=MAX_STREAK)
    policy.record(SLOW, 1, inline=True)
    assert policy.needed == MAX_STREAK
    fast = InlinePolicy(budget=0.001, streak=1)
    fast.record(FAST, 1, inline=False)
    assert fast.inline(1)
    fast.disable()
    assert not fast.inline(1)
    with pytest.raises(ValueError, match="budget"):
        InlinePolicy(budget=0)


class WhereAmI(Executor):
    """Records the thread each call ran on."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threads: list[str] = []

    @requests
    def where(self, docs: DocumentArray, **kwargs: Any) -> None:
        self.threads.append(threading.current_thread().name)


class RunsItsOwnLoop(Executor):
    """A sync handler that drives asyncio itself (fine on a thread, not on the loop's)."""

    @requests
    def run(self, docs: DocumentArray, **kwargs: Any) -> None:
        async def work() -> str:
            return "ran"

        for doc in docs:
            doc.text = asyncio.run(work())


def _serve(runtime: ExecutorRuntime, n: int, docs: int = 1) -> list[DataRequest]:
    async def main() -> list[DataRequest]:
        loop_thread = threading.current_thread().name
        out = []
        for _ in range(n):
            request = DataRequest.new(DocumentArray(Document() for _ in range(docs)),
                                      endpoint="/")
            out.append(await runtime.handle(DataRequest(request.to_bytes())))
        out.append(loop_thread)  # type: ignore[arg-type]
        return out

    return asyncio.run(main())


def test_fast_sync_handler_moves_from_the_thread_onto_the_loop() -> None:
    executor = WhereAmI(runtime_args={"name": "where"})
    runtime = ExecutorRuntime(executor)
    runtime.inline_policies["/default"] = InlinePolicy(budget=60.0, streak=4)  # where, not speed
    try:
        *_, loop_thread = _serve(runtime, 6)
    finally:
        runtime.close()
    assert executor.threads[:4] == ["where_0"] * 4  # learning on the handler thread
    assert executor.threads[4:] == [loop_thread] * 2


def test_slow_or_thread_mode_handlers_stay_on_the_thread() -> None:
    executor = WhereAmI(runtime_args={"name": "slow"})
    runtime = ExecutorRuntime(executor)
    runtime.inline_policies["/default"] = InlinePolicy(budget=1e-12, streak=1)  # all "slow"
    try:
        _serve(runtime, 5)
    finally:
        runtime.close()
    assert set(executor.threads) == {"slow_0"}

    executor = WhereAmI(runtime_args={"name": "pinned"})
    runtime = ExecutorRuntime(executor, sync_handlers="thread")
    try:
        _serve(runtime, 40)
    finally:
        runtime.close()
    assert set(executor.threads) == {"pinned_0"}
    with pytest.raises(ValueError, match="sync_handlers"):
        ExecutorRuntime(WhereAmI(runtime_args={"name": "x"}), sync_handlers="loop")


# asyncio.run refuses the coroutine on the loop thread, which Python then reports unawaited
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning",
                            "ignore::pytest.PytestUnraisableExceptionWarning")
def test_handler_running_its_own_event_loop_falls_back_to_the_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = ExecutorRuntime(RunsItsOwnLoop(runtime_args={"name": "own"}))
    policy = runtime.inline_policies["/default"] = InlinePolicy(budget=60.0, streak=1)
    try:
        *replies, _ = _serve(runtime, 3)
    finally:
        runtime.close()
    assert all(not r.is_error and r.docs[0].text == "ran" for r in replies)
    assert not policy.enabled
    assert "runs its own event loop" in caplog.text
