"""Handler slots with a look-ahead for the handler threads: the accounting (no threads), and
the runtime handing a thread its next call while it works (threads, no sockets)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flowserve import Document, DocumentArray, Executor, requests
from flowserve.wire.deadline import Deadline
from flowserve.wire.request import DataRequest
from flowserve.worker.runtime import ExecutorRuntime
from flowserve.worker.slots import HandlerSlots


def test_a_thread_call_is_queued_ahead_only_while_every_slot_is_a_thread_call():
    async def go() -> None:
        slots = HandlerSlots(1)
        started: list[str] = []
        assert await slots.for_thread(lambda: started.append("first")) is None  # has the slot
        second = await slots.for_thread(lambda: started.append("second"))
        assert second is not None and slots.ahead == 1  # queued ahead, no slot of its own
        third = asyncio.ensure_future(slots.for_thread(lambda: started.append("third")))
        other = asyncio.ensure_future(slots.acquire())  # e.g. an async handler's call
        await asyncio.sleep(0)
        assert not third.done() and not other.done()  # one ahead per thread at most
        slots.thread_done(None)  # the first returned: its slot passes to the second
        assert started == ["second"] and slots.ahead == 0 and slots.threads == 1
        await asyncio.sleep(0)
        assert not third.done()  # `other` waits: no thread call goes ahead of it
        slots.thread_done(second)  # nothing queued ahead: the slot goes to `other` first
        assert await other is True and not third.done()
        slots.release()  # `other` is done: the slot passes to the waiting thread call
        assert await third is None and slots.threads == 1
        slots.thread_done(None)
        assert slots.threads == 0 and slots.ahead == 0 and not slots.locked()

    asyncio.run(go())


def test_a_waiting_thread_call_is_queued_ahead_as_soon_as_there_is_room():
    """Thread calls arriving faster than the thread works wait in line; each is queued ahead
    the moment the one ahead of it starts, so the thread never waits for the event loop."""
    async def go() -> None:
        slots = HandlerSlots(1)
        started: list[str] = []
        assert await slots.for_thread(lambda: started.append("first")) is None
        second = await slots.for_thread(lambda: started.append("second"))
        third = asyncio.ensure_future(slots.for_thread(lambda: started.append("third")))
        await asyncio.sleep(0)
        assert not third.done()
        slots.thread_done(None)  # the second starts; the third goes ahead at once
        assert slots.ahead == 1 and started == ["second"]
        assert await third is not None
        slots.thread_done(second)
        assert started == ["second", "third"]
        slots.thread_done(third.result())
        assert slots.threads == 0 and slots.ahead == 0 and not slots.locked()

    asyncio.run(go())


def test_nobody_waiting_for_a_slot_is_overtaken_by_a_look_ahead():
    async def go() -> None:
        slots = HandlerSlots(1)
        assert await slots.for_thread(lambda: None) is None
        waiting = asyncio.ensure_future(slots.acquire())  # a batch or an async call
        await asyncio.sleep(0)
        late = asyncio.ensure_future(slots.for_thread(lambda: None))
        await asyncio.sleep(0)
        assert not late.done() and slots.ahead == 0  # waits its turn instead
        slots.thread_done(None)
        assert await waiting is True and not late.done()
        slots.release()
        assert await late is None

    asyncio.run(go())


def test_a_look_ahead_cancelled_before_it_ran_gives_nothing_back():
    async def go() -> None:
        slots = HandlerSlots(1)
        called: list[str] = []
        assert await slots.for_thread(lambda: called.append("first")) is None
        token = await slots.for_thread(lambda: called.append("ahead"))
        slots.thread_done(token)  # cancelled while queued in the pool
        assert slots.ahead == 0 and slots.threads == 1 and not called
        slots.thread_done(None)
        assert slots.threads == 0 and not slots.locked()

    asyncio.run(go())


class Gated(Executor):
    """Each call waits until the test opens its gate (`gates[i]` for the i-th call) and
    records when it started."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gates = [threading.Event() for _ in range(3)]
        self.started = [threading.Event() for _ in range(3)]
        self.calls = 0
        self.waits = [10.0, 10.0, 10.0]  # how long each call waits for its gate at most

    @requests
    def work(self, docs: DocumentArray, **kwargs: Any) -> None:
        i = self.calls
        self.calls += 1
        self.started[i].set()
        self.gates[i].wait(self.waits[i])


def _request() -> DataRequest:
    return DataRequest(DataRequest.new(DocumentArray([Document(text="x")])).to_bytes())


def test_the_handler_thread_starts_its_next_call_without_the_event_loop():
    """While the thread works on call 1, call 2 is handed to it already: when call 1 returns,
    call 2 starts even though the event loop is busy (before: it waited for the loop to
    resume call 1, free its slot and resume call 2)."""
    executor = Gated(runtime_args={"name": "gated"})
    runtime = ExecutorRuntime(executor, sync_handlers="thread")

    async def go() -> bool:
        first = asyncio.ensure_future(runtime.handle(_request()))
        second = asyncio.ensure_future(runtime.handle(_request()))
        assert await asyncio.to_thread(executor.started[0].wait, 10)
        executor.gates[0].set()
        # block the event loop: call 2 may only start if it was handed over already
        started_without_loop = executor.started[1].wait(5)
        executor.gates[1].set()
        replies = await asyncio.gather(first, second)
        assert [r.is_error for r in replies] == [False, False]
        return started_without_loop

    try:
        assert asyncio.run(go())
    finally:
        runtime.close()


def test_a_call_queued_ahead_is_dropped_if_its_deadline_passes_before_it_starts():
    executor = Gated(runtime_args={"name": "gated"})
    runtime = ExecutorRuntime(executor, sync_handlers="thread")

    async def go() -> DataRequest:
        first = asyncio.ensure_future(runtime.handle(_request()))
        assert await asyncio.to_thread(executor.started[0].wait, 10)
        soon = Deadline.from_timeout(0.05)
        second = asyncio.ensure_future(runtime.handle(_request(), deadline=soon))
        await asyncio.sleep(0)  # call 2 is queued ahead, with its deadline
        await asyncio.to_thread(threading.Event().wait, 0.1)  # the deadline passes
        executor.gates[0].set()
        await first
        return await second

    try:
        reply = asyncio.run(go())
    finally:
        runtime.close()
    assert reply.is_error and "before its handler started" in reply.header.status.description
    assert executor.calls == 1


def test_handler_timeout_counts_from_when_a_queued_call_starts():
    """Call 1 takes 1.6 s, call 2 (queued ahead meanwhile) 0.6 s, timeout 2 s: call 2 must
    not be failed for the time it waited for call 1 (a false timeout restarts the replica)."""
    executor = Gated(runtime_args={"name": "gated"})
    executor.waits = [1.6, 0.6, 0.6]  # no gate is opened: each call takes this long
    wedged: list[bool] = []
    runtime = ExecutorRuntime(executor, sync_handlers="thread", handler_timeout=2.0,
                              on_wedged=lambda: wedged.append(True))

    async def go() -> list[DataRequest]:
        return await asyncio.gather(runtime.handle(_request()), runtime.handle(_request()))

    try:
        replies = asyncio.run(go())
    finally:
        runtime.close()
    assert [r.is_error for r in replies] == [False, False] and not wedged


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 3),
       actions=st.lists(st.sampled_from(["thread", "other", "end thread", "end other"]),
                        max_size=60))
def test_never_more_calls_running_than_slots_and_everything_ends(size, actions):
    """A model of the runtime: thread calls go to a FIFO pool of `size` threads (which starts
    the next queued call the moment one returns, before the event loop hears of it), other
    calls (async handlers, batches) hold a slot while they run. Whatever the order of
    arrivals and ends: never more than `size` calls run at once, and all of them end."""
    async def go() -> None:
        slots = HandlerSlots(size)
        loop = asyncio.get_running_loop()
        running: list[asyncio.Future[None]] = []  # on the pool's threads
        pool_queue: list[asyncio.Future[None]] = []
        others: list[asyncio.Future[None]] = []
        tasks: list[asyncio.Task[None]] = []

        async def thread_call() -> None:
            token = await slots.for_thread(lambda: None)
            done: asyncio.Future[None] = loop.create_future()
            (running if len(running) < size else pool_queue).append(done)
            await done
            slots.thread_done(token)

        async def other_call() -> None:
            async with slots:
                done: asyncio.Future[None] = loop.create_future()
                others.append(done)
                await done

        async def settle() -> None:
            for _ in range(10):
                await asyncio.sleep(0)
            assert len(running) + len(others) <= size

        def end_thread() -> None:
            done = running.pop(0)
            if pool_queue:  # the freed thread takes the next queued call at once
                running.append(pool_queue.pop(0))
            done.set_result(None)

        for action in actions:
            if action == "thread":
                tasks.append(asyncio.ensure_future(thread_call()))
            elif action == "other":
                tasks.append(asyncio.ensure_future(other_call()))
            elif action == "end thread" and running:
                end_thread()
            elif action == "end other" and others:
                others.pop(0).set_result(None)
            await settle()
        for _ in range(4 * len(tasks) + 1):  # end everything still running
            if running:
                end_thread()
            elif others:
                others.pop(0).set_result(None)
            await settle()
        assert all(task.done() for task in tasks) and not pool_queue
        await asyncio.gather(*tasks)
        assert slots.threads == 0 and slots.ahead == 0 and not slots.locked()

    asyncio.run(go())
