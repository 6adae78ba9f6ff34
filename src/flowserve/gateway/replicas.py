"""The replicas of one executor shard: balancing, retries under a budget, ejection.

A send goes to the replica the balancing policy picks among those with a free slot. If the send
fails in transport (replica unreachable, connection refused: `UnavailableError`), that replica
is ejected for a while (doubling on consecutive failures) and the send is retried on another
replica, at most `retries` times and only while the shared `RetryBudget` allows, so retries
cannot amplify an outage. Errors raised by executor code come back as replies and are never
retried; neither are deadline expiries.

A call still running on a replica when it is ejected (it failed its health check: frozen,
partitioned) gets `timeout_ejected` more seconds; if the replica has not passed a health check
again by then, the call is abandoned as a `ReplicaLostError` naming executor and replica, and
retried like any replica lost while running the request (once, within the budget). So no
request waits on a frozen replica for good, deadline or not.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..config.options import EXECUTOR_DEFAULTS
from ..errors import DeadlineExceededError, ReplicaLostError, UnavailableError
from ..proto import jina_pb2
from ..wire.deadline import Deadline
from .attempts import Attempts
from .balancer import Call, NoReplicaError, make_balancer
from .deployment_types import ReplicaClient
from .observer import NullObserver, Observer, outcome_of
from .retry_budget import RetryBudget

__all__ = ["ReplicaSet"]

_ABANDONED = object()
"""A call's notice ran out: its task was cancelled to end it."""


class ReplicaSet:
    """Replicas of one shard of an executor deployment."""

    def __init__(
        self,
        name: str,
        replicas: Sequence[ReplicaClient],
        *,
        concurrency: int = EXECUTOR_DEFAULTS.concurrency,
        balancing: str = EXECUTOR_DEFAULTS.balancing,
        retries: int = EXECUTOR_DEFAULTS.retries,
        budget: RetryBudget | None = None,
        timeout_send: float | None = EXECUTOR_DEFAULTS.timeout_send,
        timeout_ejected: float | None = EXECUTOR_DEFAULTS.timeout_ejected,
        eject_base: float = 1.0,
        eject_max: float = 30.0,
        on_capacity_change: Callable[[], None] = lambda: None,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not replicas:
            raise ValueError(f"executor {name!r} has no replicas")
        self.name = name
        self.replicas = list(replicas)
        self.concurrency = concurrency
        self.retries = retries
        self.budget = budget
        self.timeout_send = timeout_send
        self.timeout_ejected = timeout_ejected
        self.eject_base = eject_base
        self.eject_max = eject_max
        self.clock = clock
        self.balancer = make_balancer(balancing, len(self.replicas), clock=clock, rng=rng)
        self._failures = [0] * len(self.replicas)
        self._on_capacity_change = on_capacity_change
        self.observer: Observer = observer or NullObserver()
        self._observing = not isinstance(self.observer, NullObserver)
        self._sizes = self.observer.wants_sizes
        # per replica: the tasks of the calls running on it, each with its notice (None, the
        # timer an ejection started, or _ABANDONED once it ran out); see `_call`
        self._calls: list[dict[asyncio.Task[Any], asyncio.TimerHandle | object | None]] = [
            {} for _ in self.replicas]

    @property
    def healthy(self) -> int:
        """Replicas not ejected."""
        return sum(not self.balancer.is_ejected(i) for i in range(len(self.replicas)))

    @property
    def capacity(self) -> int:
        """Requests this shard can serve at once: healthy replicas x concurrency, plus the
        requests still stuck on ejected replicas (a frozen replica's call lasts until
        `timeout_ejected` after the ejection): they count as in flight at the fair queue, and
        must not take the healthy replicas' slots."""
        healthy = self.healthy
        if not healthy:
            return 0
        stranded = sum(self.balancer.in_flight(i) for i in range(len(self.replicas))
                       if self.balancer.is_ejected(i))
        return healthy * self.concurrency + stranded

    def free_slots(self) -> int:
        return sum(max(0, self.concurrency - self.balancer.in_flight(i))
                   for i in range(len(self.replicas)) if not self.balancer.is_ejected(i))

    async def send(
        self, request: jina_pb2.DataRequestProto, *, endpoint: str, deadline: Deadline | None,
        attempts: Attempts | None = None,
    ) -> jina_pb2.DataRequestProto:
        """Call one replica, retrying transport failures on others within the budget and
        `deadline`; each retry is counted in `attempts`."""
        if self.budget is not None:
            self.budget.record_request()
        tried: set[int] = set()
        last_error: UnavailableError | None = None
        lost = 0  # replicas that failed while the request may have been running on them
        while True:
            try:
                call = self.pick(tried)
            except NoReplicaError:
                if last_error is not None:
                    raise last_error from None
                raise UnavailableError(
                    f"executor {self.name!r}: no healthy replica left to try "
                    f"({len(tried)} tried, {len(self.replicas)} in all)") from None
            i = call.replica
            remaining = None if deadline is None else deadline.time_remaining()
            if remaining is not None and remaining <= 0:
                call.done(ok=True)
                raise DeadlineExceededError(
                    f"deadline exceeded before sending to executor {self.name!r}")
            if self.timeout_send is not None:
                remaining = self.timeout_send if remaining is None else min(
                    remaining, self.timeout_send)
            started = self.clock()
            try:
                try:
                    reply = await self._call(i, request, endpoint, remaining)
                except BaseException as exc:
                    self._observe(i, endpoint, outcome_of(exc), started, request, None)
                    if isinstance(exc, asyncio.CancelledError):
                        call.abandon()  # the caller gave up: says nothing about the replica
                        raise
                    if isinstance(exc, DeadlineExceededError):
                        call.done(ok=True)  # slow, not broken: the time it took is its latency
                        raise
                    call.done(ok=False)
                    if not isinstance(exc, UnavailableError):
                        raise
                    self.eject(i)
                    tried.add(i)
                    last_error = exc
                    if isinstance(exc, ReplicaLostError):
                        lost += 1
                        if lost > 1:  # a poison request must not take down every replica
                            raise ReplicaLostError(
                                f"{exc} (the request was retried once after a replica failed "
                                "while running it, and failed again: not retried further)"
                            ) from exc
                    if len(tried) > self.retries or (
                            self.budget is not None and not self.budget.try_retry()):
                        raise
                    if attempts is not None:
                        attempts.retrying(exc)
                    continue
                error = reply.header.status.code == jina_pb2.StatusProto.ERROR
                self._observe(i, endpoint, outcome_of(None, executor_error=error), started,
                              request, reply)
                call.done(ok=True)
                self._failures[i] = 0
                return reply
            finally:
                if self.balancer.is_ejected(i):  # a stranded call ended: capacity shrinks
                    self._on_capacity_change()

    async def _call(self, i: int, request: jina_pb2.DataRequestProto, endpoint: str,
                    timeout: float | None) -> jina_pb2.DataRequestProto:
        """`process` on replica `i`, abandoned `timeout_ejected` s after the replica is ejected
        unless it passes a health check again meanwhile (`_give_notice`, `readmit`).

        What `asyncio.timeout` does, by hand: it costs ~8 us per call on this hot path, this
        ~1 us. The notice cancels the task; the call takes that cancellation back (`uncancel`)
        and fails as a lost replica, unless someone else cancelled the task too."""
        replica = self.replicas[i]
        if self.timeout_ejected is None:
            return await replica.process(request, endpoint=endpoint, timeout=timeout)
        task = asyncio.current_task()
        assert task is not None
        calls = self._calls[i]
        calls[task] = None
        cancelling = task.cancelling()
        taken_back = False
        try:
            return await replica.process(request, endpoint=endpoint, timeout=timeout)
        except BaseException:
            if calls.get(task) is _ABANDONED:
                taken_back = True
                if task.uncancel() <= cancelling:
                    raise ReplicaLostError(
                        f"executor {self.name!r} replica at {replica.address} was ejected (it "
                        f"failed its health check) while running the request and did not "
                        f"answer within {self.timeout_ejected:g} s after (timeout_ejected): "
                        "abandoned") from None
            raise
        finally:
            notice = calls.pop(task, None)
            if isinstance(notice, asyncio.TimerHandle):
                notice.cancel()
            elif notice is _ABANDONED and not taken_back:
                task.uncancel()  # the call ended without seeing the cancellation

    def _give_notice(self, i: int) -> None:
        """Calls running on replica `i` (just ejected) get `timeout_ejected` s to end."""
        calls = self._calls[i]
        if not calls:
            return
        assert self.timeout_ejected is not None
        loop = asyncio.get_running_loop()
        until = loop.time() + self.timeout_ejected
        for task, notice in calls.items():
            if notice is None:
                calls[task] = loop.call_at(until, self._abandon, i, task)

    def _abandon(self, i: int, task: asyncio.Task[Any]) -> None:
        calls = self._calls[i]
        if isinstance(calls.get(task), asyncio.TimerHandle):
            calls[task] = _ABANDONED
            task.cancel()

    def _lift_notice(self, i: int) -> None:
        calls = self._calls[i]
        for task, notice in calls.items():
            if isinstance(notice, asyncio.TimerHandle):
                notice.cancel()
                calls[task] = None
    def pick(self, tried: set[int]) -> Call:
        """A replica for a request (or stream) holding its fair-queue slot: one with room, not
        yet `tried`; if every such replica is busy or ejected (a retry, or capacity that fell
        after the slot was granted), queue at the least busy healthy one rather than fail while
        one remains. Raises NoReplicaError when none is left."""
        full = {i for i in range(len(self.replicas))
                if self.balancer.in_flight(i) >= self.concurrency}
        try:
            return self.balancer.acquire(tried | full)
        except NoReplicaError:
            return self._queue_at_least_busy(tried)

    def _queue_at_least_busy(self, exclude: set[int]) -> Call:
        """Every replica is busy: queue at the one with the fewest requests in flight (join the
        shortest queue), the balancer's choice among equals."""
        eligible = self.balancer.eligible(exclude)
        if not eligible:
            return self.balancer.acquire(exclude)  # raises NoReplicaError
        fewest = min(self.balancer.in_flight(i) for i in eligible)
        busier = {i for i in range(len(self.replicas)) if self.balancer.in_flight(i) > fewest}
        return self.balancer.acquire(exclude | busier)

    def _observe(self, i: int, endpoint: str, outcome: str, started: float,
                 request: jina_pb2.DataRequestProto,
                 reply: jina_pb2.DataRequestProto | None) -> None:
        if not self._observing:
            return
        sizes = self._sizes
        self.observer.executor_call(
            executor=self.name, replica=self.replicas[i].address, endpoint=endpoint,
            outcome=outcome, seconds=self.clock() - started,
            request_bytes=request.ByteSize() if sizes else 0,
            response_bytes=reply.ByteSize() if sizes and reply is not None else 0,
            docs=len(reply.data.docs.docs) if reply is not None else 0,
        )

    def eject(self, i: int) -> None:
        """Stop sending to replica `i` for a while: 1 s, doubling per consecutive failure."""
        self._failures[i] += 1
        pause = min(self.eject_max, self.eject_base * 2 ** (self._failures[i] - 1))
        self.balancer.eject(i, self.clock() + pause)
        self._give_notice(i)
        self._on_capacity_change()

    def readmit(self, i: int) -> None:
        """Send to replica `i` again (its health check passed); the calls running on it need
        not end within `timeout_ejected` any more."""
        self._lift_notice(i)
        if self.balancer.is_ejected(i):
            self.balancer.readmit(i)
            self._on_capacity_change()

    def ejected(self) -> list[int]:
        return [i for i in range(len(self.replicas)) if self.balancer.is_ejected(i)]

    def snapshot(self) -> list[dict[str, Any]]:
        rows = self.balancer.snapshot()
        for row, replica in zip(rows, self.replicas, strict=True):
            row["address"] = replica.address
        return rows

    async def close(self) -> None:
        for replica in self.replicas:
            await replica.close()
