"""Dynamic batching (worker/batching.py and the runtime's use of it), on a manual clock and a
hand-fired timer: no sockets, no sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from clocks import ManualClock

from flowserve import Document, DocumentArray, Executor, dynamic_batching, requests
from flowserve.config.spec import load_flow
from flowserve.errors import ConfigError
from flowserve.executor import Batching, batching_from, discover_endpoints
from flowserve.wire.deadline import Deadline
from flowserve.wire.request import DataRequest
from flowserve.worker.batching import Batcher, cut_before
from flowserve.worker.runtime import ExecutorRuntime


class Timers:
    """`call_later` that only records: the test fires the latest live timer."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None], list[bool]]] = []

    def __call__(self, delay: float, callback: Callable[[], None]):
        cancelled = [False]
        self.pending.append((delay, callback, cancelled))

        class Handle:
            def cancel(self) -> None:
                cancelled[0] = True
        return Handle()

    def live(self) -> list[float]:
        return [delay for delay, _, cancelled in self.pending if not cancelled[0]]

    def fire(self) -> None:
        for _, callback, cancelled in self.pending:
            if not cancelled[0]:
                cancelled[0] = True
                callback()


class Recorder:
    """The batch handler: upper-cases texts; records each batch's texts and parameters."""

    def __init__(self, fail: bool = False, drop_one: bool = False) -> None:
        self.batches: list[tuple[list[str], dict]] = []
        self.fail = fail
        self.drop_one = drop_one

    async def __call__(self, merged: DataRequest) -> DataRequest:
        self.batches.append(([d.text for d in merged.docs], merged.parameters))
        if self.fail:
            merged.set_error("boom", name="ValueError", executor="e")
        elif self.drop_one:
            merged.docs = DocumentArray(list(merged.docs)[1:])
        else:
            merged.docs = DocumentArray([Document(id=d.id, text=d.text.upper())
                                         for d in merged.docs])
            merged.parameters = {**merged.parameters, "__results__": {"e": {"n": len(merged.docs)}}}
        return merged


def req(*texts: str, **parameters) -> DataRequest:
    return DataRequest.new(DocumentArray([Document(text=t) for t in texts]), endpoint="/",
                           parameters=parameters or None)


def batcher(run, size: int | None = 3, timeout_ms: float = 100.0, clock=None, timers=None):
    return Batcher(Batching(size, timeout_ms), run, executor="e", endpoint="/",
                   clock=clock or ManualClock(), call_later=timers or Timers())


async def settle(*tasks: asyncio.Task) -> None:
    await asyncio.gather(*tasks)


def test_a_batch_is_cut_when_it_holds_preferred_batch_size_docs_and_split_in_order():
    run = Recorder()

    timers = Timers()

    async def main():
        b = batcher(run, size=3, timers=timers)
        requests_ = [req("a"), req("b", "c"), req("d")]
        tasks = [asyncio.create_task(b.submit(r)) for r in requests_]
        await asyncio.wait(tasks[:2])
        assert run.batches == [(["a", "b", "c"], {})]  # 1 + 2 docs reach 3: cut
        assert b.waiting == 1  # "d" waits for its timer
        timers.fire()
        await settle(*tasks)
        return [t.result() for t in tasks]

    first, second, third = asyncio.run(main())
    assert run.batches == [(["a", "b", "c"], {}), (["d"], {})]
    assert [d.text for d in first.docs] == ["A"]
    assert [d.text for d in second.docs] == ["B", "C"]
    assert second.parameters["__results__"] == {"e": {"n": 3}}
    assert third.is_error is False and [d.text for d in third.docs] == ["D"]


def test_a_batch_waits_for_timeout_then_goes_with_what_it_has():
    run, timers = Recorder(), Timers()

    async def main():
        b = batcher(run, size=10, timeout_ms=250, timers=timers)
        tasks = [asyncio.create_task(b.submit(req(t))) for t in "ab"]
        await asyncio.sleep(0)  # both submitted, none cut
        assert run.batches == [] and b.waiting == 2
        assert timers.live() == [pytest.approx(0.25)]
        timers.fire()
        await settle(*tasks)

    asyncio.run(main())
    assert run.batches == [(["a", "b"], {})]


def test_requests_with_different_parameters_are_never_merged():
    run, timers = Recorder(), Timers()

    async def main():
        b = batcher(run, size=2, timers=timers)
        tasks = [asyncio.create_task(b.submit(r))
                 for r in (req("a", k=1), req("b", k=2), req("c", k=1))]
        await asyncio.sleep(0)
        timers.fire()
        await settle(*tasks)
        return [t.result() for t in tasks]

    results = asyncio.run(main())
    assert sorted(run.batches, key=str) == sorted([(["a", "c"], {"k": 1}), (["b"], {"k": 2})],
                                                  key=str)
    assert [[d.text for d in r.docs] for r in results] == [["A"], ["B"], ["C"]]
    assert [r.parameters["k"] for r in results] == [1, 2, 1]


def test_a_handler_error_fails_exactly_the_requests_of_its_batch():
    run = Recorder(fail=True)

    async def main():
        b = batcher(run, size=2)
        tasks = [asyncio.create_task(b.submit(r)) for r in (req("a"), req("b"))]
        await settle(*tasks)
        ok_run = Recorder()
        b._run = ok_run  # the next batch succeeds
        later = [asyncio.create_task(b.submit(r)) for r in (req("c"), req("d"))]
        await settle(*later)
        return [t.result() for t in tasks + later]

    a, b_, c, d = asyncio.run(main())
    assert a.is_error and b_.is_error and a.status.description == "boom"
    assert not c.is_error and not d.is_error


def test_a_handler_that_changes_the_number_of_docs_fails_its_batch():
    run = Recorder(drop_one=True)

    async def main():
        b = batcher(run, size=2)
        tasks = [asyncio.create_task(b.submit(r)) for r in (req("a"), req("b"))]
        await settle(*tasks)
        return [t.result() for t in tasks]

    for result in asyncio.run(main()):
        assert result.is_error and result.status.exception.name == "BatchSizeMismatchError"


def test_a_request_whose_deadline_comes_first_cuts_the_batch_early():
    run, timers, clock = Recorder(), Timers(), ManualClock(100.0)

    async def main():
        b = batcher(run, size=10, timeout_ms=10_000, clock=clock, timers=timers)
        t1 = asyncio.create_task(b.submit(req("a")))
        await asyncio.sleep(0)
        assert timers.live() == [pytest.approx(10.0)]
        t2 = asyncio.create_task(b.submit(req("b"), Deadline(clock() + 0.5, clock)))
        await asyncio.sleep(0)
        assert timers.live() == [pytest.approx(0.4)]  # a fifth of 0.5 s is kept back
        timers.fire()
        await settle(t1, t2)

    asyncio.run(main())
    assert run.batches == [(["a", "b"], {})]


def test_a_request_keeps_a_fifth_of_its_time_and_at_least_50_ms_for_the_handler():
    assert cut_before(10.0) == pytest.approx(8.0)
    assert cut_before(0.1) == pytest.approx(0.05)
    assert cut_before(0.01) == 0.0


def test_a_request_whose_deadline_passed_while_waiting_fails_without_the_handler():
    run, timers, clock = Recorder(), Timers(), ManualClock(0.0)

    async def main():
        b = batcher(run, size=10, clock=clock, timers=timers)
        late = asyncio.create_task(b.submit(req("late"), Deadline(1.0, clock)))
        fine = asyncio.create_task(b.submit(req("fine")))
        await asyncio.sleep(0)
        clock.now = 2.0  # the loop was busy: the timer fires after the deadline
        timers.fire()
        await settle(late, fine)
        return late.result(), fine.result()

    late, fine = asyncio.run(main())
    assert late.is_error and late.status.exception.name == "DeadlineExceededError"
    assert not fine.is_error
    assert run.batches == [(["fine"], {})]


class Counting(Executor):
    """Records the size of each call of its batched handler."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.calls: list[int] = []

    @dynamic_batching(preferred_batch_size=2, timeout=60_000)
    @requests(on="/embed")
    async def embed(self, docs: DocumentArray, **kwargs) -> None:
        self.calls.append(len(docs))
        for d in docs:
            d.text = f"{d.text}!"

    @requests(on="/plain")
    async def plain(self, docs: DocumentArray, **kwargs) -> None:
        self.calls.append(-len(docs))


def test_the_runtime_batches_a_decorated_endpoint_and_leaves_the_others_alone():
    executor = Counting(runtime_args={"name": "c"})
    runtime = ExecutorRuntime(executor, concurrency=1)

    async def main():
        embed = [runtime.handle(req(t), "/embed") for t in "ab"]
        plain = [runtime.handle(req(t), "/plain") for t in "xy"]
        return await asyncio.gather(*embed, *plain)

    try:
        a, b, *_ = asyncio.run(main())
    finally:
        runtime.close()
    assert sorted(executor.calls) == [-1, -1, 2]
    assert [d.text for d in a.docs] == ["a!"] and [d.text for d in b.docs] == ["b!"]


def test_uses_dynamic_batching_overrides_the_decorator_and_names_known_endpoints():
    executor = Counting(runtime_args={"name": "c"})
    handlers = discover_endpoints(executor, None, batching_from(
        {"/embed": {"preferred_batch_size": 8, "timeout": 5}, "/plain": {}}, "c"))
    assert handlers["/embed"].batching == Batching(8, 5)
    assert handlers["/plain"].batching == Batching(None, 10_000)
    with pytest.raises(ConfigError, match="'/nope'"):
        discover_endpoints(executor, None, {"/nope": Batching(2, 1)})
    with pytest.raises(ConfigError, match="unknown key"):
        batching_from({"/embed": {"size": 2}}, "c")
    with pytest.raises(ConfigError, match="preferred_batch_size"):
        Batching(0, 10)


def test_the_flow_yaml_takes_uses_dynamic_batching_and_rejects_unknown_keys(tmp_path):
    good = tmp_path / "flow.yml"
    good.write_text("jtype: Flow\nexecutors:\n  - name: emb\n    uses_dynamic_batching:\n"
                    "      /embed: {preferred_batch_size: 16, timeout: 20}\n")
    spec = load_flow(good)
    entry = spec.executors[0].uses_dynamic_batching["/embed"]
    assert (entry.preferred_batch_size, entry.timeout) == (16, 20)
    bad = tmp_path / "bad.yml"
    bad.write_text("jtype: Flow\nexecutors:\n  - name: emb\n    uses_dynamic_batching:\n"
                   "      /embed: {preferred_size: 16}\n")
    with pytest.raises(ConfigError, match="preferred_size"):
        load_flow(bad)


def test_the_gateway_lets_a_batch_worth_of_requests_through_per_replica(tmp_path):
    from flowserve.config.spec import flow_from_dict
    from flowserve.executor import declared_batching
    from flowserve.gateway.config import DeploymentConfig, deployment_config

    assert declared_batching(Counting) == {"/embed": Batching(2, 60_000)}
    spec = flow_from_dict({"executors": [
        {"name": "plain", "concurrency": 3},
        {"name": "decorated"},
        {"name": "overridden", "uses_dynamic_batching": {"/embed": {"preferred_batch_size": 32}}},
    ]})
    plain, decorated, overridden = (
        deployment_config(ex, ["127.0.0.1:1"], declared_batching(Counting) if i else None)
        for i, ex in enumerate(spec.executors))
    assert (plain.slots_per_replica, decorated.slots_per_replica,
            overridden.slots_per_replica) == (3, 2, 32)
    assert DeploymentConfig.parse("o", overridden.to_json()) == overridden


def test_a_due_batch_keeps_filling_while_the_handler_is_busy():
    run, timers = Recorder(), Timers()

    async def main():
        slots = asyncio.Semaphore(1)
        b = Batcher(Batching(3, 10), run, executor="e", endpoint="/", slots=slots,
                    clock=ManualClock(), call_later=timers)
        await slots.acquire()  # the handler is busy with an earlier call
        tasks = [asyncio.create_task(b.submit(req("a")))]
        await asyncio.sleep(0)
        timers.fire()  # due after its timeout, but there is no slot yet
        tasks += [asyncio.create_task(b.submit(req(t))) for t in "bcd"]
        await asyncio.sleep(0)
        assert run.batches == []
        assert timers.live() == [pytest.approx(0.01)]  # only "d"'s new batch has a timer
        slots.release()
        await asyncio.wait(tasks[:3])
        timers.fire()
        await settle(*tasks)

    asyncio.run(main())
    # a, b, c filled the waiting batch to its size; d went to the next one
    assert run.batches == [(["a", "b", "c"], {}), (["d"], {})]


def test_a_batch_cancelled_before_it_ran_fails_its_requests_instead_of_hanging():
    run, timers = Recorder(), Timers()

    async def main():
        slots = asyncio.Semaphore(0)  # no slot will ever come
        b = Batcher(Batching(8, 10), run, executor="e", endpoint="/", slots=slots,
                    clock=ManualClock(), call_later=timers)
        task = asyncio.create_task(b.submit(req("a")))
        await asyncio.sleep(0)
        timers.fire()
        await asyncio.sleep(0)
        for pending in list(b._running):
            pending.cancel()
        return await task

    result = asyncio.run(main())
    assert result.is_error and "stopped before the batch ran" in result.status.description
    assert run.batches == []
