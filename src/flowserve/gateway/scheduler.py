"""Fair admission to one executor deployment: per-client queues, deficit round robin with a
new-flows list.

Every request that wants to reach a deployment asks its `FairQueue` for a slot. At most
`capacity` requests (replicas x per-replica concurrency) are in service at once; the rest wait in
one FIFO queue per client ("flow"), and whenever a slot frees up the next request is chosen by
deficit round robin (Shreedhar & Varghese, "Efficient fair queuing using deficit round robin",
1995) with the new-flows list of FQ-CoDel (RFC 8290, section 4.2-4.3):

- A client that has nothing queued and is in neither list becomes a *new* flow: it joins the tail
  of the new list with a deficit of max(weight, 1). New flows are served before old ones, so a
  light client waits only for the next free slot, however deep the flooders' backlogs are.
- A new flow gets that priority for its first quantum only: once its deficit is spent (or its
  queue runs empty) it moves to the tail of the *old* list. Old flows are served round robin;
  each visit with a deficit below one request adds `weight` to it and moves it to the tail.
- An old flow found empty at the head of the list is forgotten. Only then can its client become
  a new flow again, so no client can use new-flow priority twice while another waits.

Guarantees (each request costs one unit; weights w, default 1):
(a) no starvation: from the moment a request is at the head of its client's queue, each other
    client c' gets at most ceil(1/w) * ceil(w') slots before it (one round of the clients then
    active; with equal weights, at most one request of every other client);
(b) a newly active client is served at the next free slot after the new flows ahead of it;
(c) while backlogged, clients get slots in proportion to their weights;
(d) among equally light clients (new flows), first come first served.

Queues are bounded (per client and in total): a request that does not fit, or whose deadline
cannot be met by the estimated wait, is rejected at once (`OverloadedError`,
`DeadlineExceededError`) rather than queued. A request whose deadline passes while it waits is
dropped before it reaches an executor. The clock is injected, so all of this is unit tested
without real time; nothing here polls.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import DeadlineExceededError, OverloadedError

__all__ = ["MAX_AHEAD", "PIPELINE_BELOW", "ClientStats", "FairQueue", "QueueSnapshot", "Slot"]

_MAX_TRACKED_CLIENTS = 1000
PIPELINE_BELOW = 0.025
"""Seconds: while requests take less than this (EWMA of the time from send to reply, as the
gateway sees it), `MAX_AHEAD` requests per replica are sent ahead, so each replica has its next
ones waiting when it replies instead of idling for a round trip through the gateway. The time
measured includes waiting at the replica behind the requests sent ahead, so what a newly
arriving client pays for them stays below this bound."""
MAX_AHEAD = 3
"""Requests sent ahead per replica (per unit of `ahead`) while requests are fast. Little's law:
to keep a replica busy, the requests in flight to it must cover its service time plus the round
trip through the gateway (on a loaded 2-core machine 1-4 ms, with 2 ms requests: 2-3 more)."""


@dataclass
class Slot:
    """A granted place in service; give it back with `FairQueue.release`."""

    client: str
    enqueued_at: float
    started_at: float

    @property
    def queue_wait(self) -> float:
        return self.started_at - self.enqueued_at


@dataclass
class _Waiter:
    client: str
    deadline: float | None
    enqueued_at: float
    future: asyncio.Future[Slot]


@dataclass
class ClientStats:
    """Per-client counters at one deployment."""

    queued: int = 0
    in_flight: int = 0
    admitted: int = 0
    rejected: int = 0


_EPSILON = 1e-9  # weights such as 0.1 add up to 0.9999999 after ten turns


@dataclass
class _ClientQueue:
    """One client's flow: its waiting requests and its DRR deficit (in requests)."""

    client: str
    quantum: float
    deficit: float
    in_turn: bool = True  # its quantum for this visit was added (a new flow starts in one)
    idle: bool = False  # found empty at its last turn
    waiters: collections.deque[_Waiter] = field(default_factory=collections.deque)


@dataclass
class QueueSnapshot:
    """What a deployment's queue looks like right now (read by metrics and the dashboard)."""

    name: str
    capacity: int
    in_flight: int
    queued: int
    admitted: int
    rejected: int
    expired: int
    avg_service_s: float | None
    clients: dict[str, ClientStats]


class FairQueue:
    """Capacity-limited, per-client fair admission for one deployment."""

    def __init__(
        self,
        name: str,
        capacity: int,
        *,
        max_queue: int = 1000,
        max_queue_per_client: int = 100,
        weights: Mapping[str, float] | None = None,
        ahead: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.capacity = capacity
        self.ahead = ahead
        self.max_queue = max_queue
        self.max_queue_per_client = max_queue_per_client
        self.weights = dict(weights or {})
        self.clock = clock
        self.in_flight = 0
        self.queued = 0
        self.admitted = 0
        self.rejected = 0
        self.expired = 0
        self.avg_service: float | None = None
        self._queues: dict[str, _ClientQueue] = {}  # clients in the new or the old list
        self._new: collections.deque[_ClientQueue] = collections.deque()
        self._old: collections.deque[_ClientQueue] = collections.deque()
        self._stats: dict[str, ClientStats] = collections.defaultdict(ClientStats)

    # -- asking for a slot ------------------------------------------------------------------
    def submit(self, client: str, *, deadline: float | None = None) -> asyncio.Future[Slot]:
        """A future that resolves to a Slot once this request may be served.

        Raises at once, without queuing: `OverloadedError` when the client's or the
        deployment's queue is full, `DeadlineExceededError` when `deadline` (same clock) has
        passed or cannot be met by the estimated wait.
        """
        future: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        slot = self._start_now(client, deadline)
        if slot is not None:
            future.set_result(slot)
            return future
        self._enqueue(client, deadline, future)
        return future

    def _start_now(self, client: str, deadline: float | None) -> Slot | None:
        """A slot at once when one is free and nobody waits; raises if `deadline` passed."""
        now = self.clock()
        if deadline is not None and deadline <= now:
            self._reject(self._stats[client])
            raise DeadlineExceededError(
                f"deadline expired before reaching executor {self.name!r}")
        if self.in_flight < self.limit() and not self.queued:
            return self._start(client, now, now)
        return None

    def limit(self) -> int:
        """Requests allowed in service now: `capacity`, plus `ahead` (one per replica) x
        `MAX_AHEAD` while requests are fast (see `PIPELINE_BELOW`)."""
        if self.ahead and self.avg_service is not None and self.avg_service < PIPELINE_BELOW:
            return self.capacity + self.ahead * MAX_AHEAD
        return self.capacity

    def _enqueue(self, client: str, deadline: float | None,
                 future: asyncio.Future[Slot]) -> None:
        """Queue a waiter for `future`, or raise when the queues are full or the deadline
        cannot be met."""
        now = self.clock()
        stats = self._stats[client]
        queue = self._queues.get(client)
        if queue is not None and len(queue.waiters) >= self.max_queue_per_client:
            self._reject(stats)
            raise OverloadedError(
                f"executor {self.name!r}: client {client!r} already has "
                f"{len(queue.waiters)} requests queued (max_queue_per_client)",
                retry_after=self._retry_after())
        if self.queued >= self.max_queue:
            self._reject(stats)
            raise OverloadedError(
                f"executor {self.name!r}: {self.queued} requests queued (max_queue)",
                retry_after=self._retry_after())
        if deadline is not None:
            wait = self.estimated_wait(client)
            if wait is not None and now + wait > deadline:
                self._reject(stats)
                raise DeadlineExceededError(
                    f"deadline cannot be met at executor {self.name!r}: estimated wait "
                    f"{wait:.3g} s, {deadline - now:.3g} s left")
        if queue is None:
            # Neither new nor old: a new flow, served after the new flows ahead of it and
            # before every old one (RFC 8290 4.2: FIFO among the new, so equally light
            # clients are served first come first served).
            quantum = self.weights.get(client, 1.0)
            queue = self._queues[client] = _ClientQueue(client, quantum, max(quantum, 1.0))
            self._new.append(queue)
        queue.idle = False
        queue.waiters.append(_Waiter(client, deadline, now, future))
        self.queued += 1
        stats.queued += 1

    async def acquire(self, client: str, *, deadline: float | None = None,
                      timeout: float | None = None) -> Slot:
        """`submit` and wait; `timeout` (seconds, real time) bounds the wait in the queue."""
        slot = self._start_now(client, deadline)
        if slot is not None:  # the common, uncontended case: no future to wait on
            return slot
        future: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        self._enqueue(client, deadline, future)
        try:
            if timeout is None:
                return await future
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            self._abandon(client, future)
            self.expired += 1
            self._reject(self._stats[client])
            raise DeadlineExceededError(
                f"deadline expired while queued at executor {self.name!r}") from None
        except asyncio.CancelledError:
            self._abandon(client, future)
            raise

    def _abandon(self, client: str, future: asyncio.Future[Slot]) -> None:
        """The waiter gave up: give back its slot if it got one, else leave the queue."""
        if future.done() and not future.cancelled():
            if future.exception() is None:
                self.release(future.result())
            return
        future.cancel()
        queue = self._queues.get(client)
        if queue is None:
            return
        for waiter in queue.waiters:
            if waiter.future is future:
                queue.waiters.remove(waiter)
                self.queued -= 1
                self._stats[client].queued -= 1
                break
        # An emptied flow stays listed (it is dropped when its turn comes), so leaving the
        # queue cannot be used to regain new-flow priority.
        self._forget_flows_if_idle()

    # -- giving it back -----------------------------------------------------------------------
    def release(self, slot: Slot, *, service_time: float | None = None) -> None:
        """Return a slot; `service_time` (seconds) feeds the wait estimate."""
        self.in_flight -= 1
        self._stats[slot.client].in_flight -= 1
        if service_time is not None:
            self.avg_service = (service_time if self.avg_service is None
                                else 0.8 * self.avg_service + 0.2 * service_time)
        self._dispatch()

    def set_capacity(self, capacity: int, ahead: int | None = None) -> None:
        """Change how many requests may be in service (replicas ejected or re-admitted)."""
        self.capacity = capacity
        if ahead is not None:
            self.ahead = ahead
        self._dispatch()

    def _dispatch(self) -> None:
        while self.in_flight < self.limit():
            waiter = self._next_waiter()
            if waiter is None:
                return
            if waiter.future.cancelled():
                continue
            now = self.clock()
            if waiter.deadline is not None and waiter.deadline <= now:
                self.expired += 1
                self._reject(self._stats[waiter.client])
                waiter.future.set_exception(DeadlineExceededError(
                    f"deadline expired while queued at executor {self.name!r}"))
                continue
            waiter.future.set_result(self._start(waiter.client, waiter.enqueued_at, now))

    def _next_waiter(self) -> _Waiter | None:
        """The next request by deficit round robin, new flows first (RFC 8290 4.3).

        A flow's turn lasts while its deficit covers a request; then it goes to the tail of
        the old list, and its next turn adds its quantum (its weight) again. A flow whose turn
        ends with nothing queued stays listed for one more round and is forgotten only if
        still empty then: a client served a moment ago cannot come back as a new flow ahead
        of clients waiting for their turn, which bounds everybody's wait by one round.
        """
        idle_turns = 0  # turns in a row that served nothing
        while True:
            flows = self._new or self._old
            if not flows:
                return None
            flow = flows[0]
            if not flow.waiters and flow.idle:
                flows.popleft()  # empty for a whole round: forgotten (new when it returns)
                del self._queues[flow.client]
                continue
            if flow.waiters:
                if not flow.in_turn:
                    flow.deficit += flow.quantum
                    flow.in_turn = True
                if flow.deficit >= 1.0 - _EPSILON:
                    flow.deficit -= 1.0
                    waiter = flow.waiters.popleft()
                    self.queued -= 1
                    self._stats[waiter.client].queued -= 1
                    if not flow.waiters or flow.deficit < 1.0 - _EPSILON:
                        self._end_turn(flows)
                    self._forget_flows_if_idle()
                    return waiter
            self._end_turn(flows)
            idle_turns += 1
            if not self._new and idle_turns >= len(self._old):
                self._skip_idle_rounds()
                idle_turns = 0

    def _end_turn(self, flows: collections.deque[_ClientQueue]) -> None:
        """The head flow's turn is over: to the tail of the old list."""
        flow = flows.popleft()
        flow.in_turn = False
        if not flow.waiters:
            flow.idle = True
            flow.deficit = 0.0  # an idle flow banks no turns (DRR resets it when empty)
        self._old.append(flow)

    def _skip_idle_rounds(self) -> None:
        """Every old flow was topped up once without reaching a whole request (weights < 1):
        give them the rounds that would pass before the first one does, at once."""
        backlogged = [f for f in self._old if f.waiters]
        if not backlogged:
            return
        rounds = min(math.ceil((1.0 - _EPSILON - f.deficit) / f.quantum) for f in backlogged)
        if rounds > 1:
            for flow in backlogged:
                flow.deficit += (rounds - 1) * flow.quantum

    def _forget_flows_if_idle(self) -> None:
        """With nothing queued nobody can be overtaken: drop the lists (empty flows)."""
        if not self.queued:
            self._queues.clear()
            self._new.clear()
            self._old.clear()

    # -- bookkeeping ------------------------------------------------------------------------
    def _forget_idle_clients(self) -> None:
        """Keep per-client counters bounded: drop idle clients, oldest first."""
        if len(self._stats) <= _MAX_TRACKED_CLIENTS:
            return
        idle = [c for c, s in self._stats.items() if not s.queued and not s.in_flight]
        for client in idle[: len(self._stats) - _MAX_TRACKED_CLIENTS]:
            del self._stats[client]

    def _start(self, client: str, enqueued_at: float, now: float) -> Slot:
        self.in_flight += 1
        self.admitted += 1
        stats = self._stats[client]
        stats.in_flight += 1
        stats.admitted += 1
        self._forget_idle_clients()
        return Slot(client, enqueued_at, now)

    def _reject(self, stats: ClientStats) -> None:
        self.rejected += 1
        stats.rejected += 1

    def _retry_after(self) -> float:
        return max(1.0, self.avg_service or 1.0)

    def estimated_wait(self, client: str) -> float | None:
        """Seconds a new request of `client` would wait, or None before any service time is
        known. A new flow waits for the new flows ahead of it; a listed client for its own
        queued requests and, from every other client, at most one more request per round
        than its own client has."""
        limit = self.limit()
        if self.avg_service is None or self.in_flight < limit:
            return None if self.avg_service is None else 0.0
        flow = self._queues.get(client)
        if flow is None:
            ahead = sum(min(len(f.waiters), math.floor(f.deficit + _EPSILON))
                        for f in self._new)
        else:
            own = len(flow.waiters)
            ahead = own + sum(min(len(f.waiters), own + 1)
                              for c, f in self._queues.items() if c != client)
        return (ahead + 1) / max(1, limit) * self.avg_service

    def snapshot(self) -> QueueSnapshot:
        clients = {c: ClientStats(s.queued, s.in_flight, s.admitted, s.rejected)
                   for c, s in self._stats.items()}
        return QueueSnapshot(self.name, self.capacity, self.in_flight, self.queued,
                             self.admitted, self.rejected, self.expired, self.avg_service,
                             clients)
