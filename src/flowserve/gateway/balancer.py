"""Load-balancing policies over the N replica slots (0..N-1) of one deployment.

Pure and deterministic: no I/O, the clock (seconds) and the randomness are injected, so the
policies are unit tested by simulation. Policies, by name (see `make_balancer`):

- ``round_robin``: the next eligible replica in turn.
- ``least_loaded``: fewest requests in flight; ties broken round robin.
- ``p2c_ewma`` (Finagle's and Linkerd's approach): draw two distinct eligible replicas at random
  and take the one with the lower cost = peak-EWMA latency x (in flight + 1).

Every request is accounted for with a handle: ``with balancer.start(i) as call: ...`` (or
``call.done(ok)``) ends it exactly once, feeding its latency into the replica's estimate.
Replicas can be ejected until a time on the clock; they are re-admitted when it passes.
"""

from __future__ import annotations

import math
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from types import TracebackType
from typing import Any, ClassVar, Self

__all__ = [
    "BALANCERS", "Balancer", "Call", "LeastLoaded", "NoReplicaError", "PeakEwmaP2C",
    "RoundRobin", "make_balancer",
]

Clock = Callable[[], float]
# Cost of a replica with no latency sample yet and a request already in flight: it is tried as
# soon as it is idle, but gets no second request before the first one has answered (Finagle).
_UNPROBED_BUSY_COST = 1e12
# Costs never reach zero, so in-flight requests always count.
_MIN_COST_MS = 1e-3


class NoReplicaError(LookupError):
    """Every replica is excluded (already tried for this request) or ejected."""


class _PeakEwma:
    """Peak-EWMA latency estimate in milliseconds.

    A sample above the current estimate replaces it (react to slowness at once). Otherwise the
    estimate moves toward the sample with weight ``1 - exp(-dt/tau)``, dt = time since the last
    update. Read without updates, it decays toward zero (``exp(-dt/tau)``): a replica that gets
    no traffic, hence no samples, becomes cheap again and is probed. A request starting folds the
    decay in (`touch`), as Finagle's reads do, so the probe's sample is weighed against the
    decayed estimate rather than the stale one.
    """

    __slots__ = ("stamp", "tau", "value")

    def __init__(self, tau: float) -> None:
        self.tau = tau
        self.value: float | None = None
        self.stamp = 0.0

    def read(self, now: float) -> float | None:
        if self.value is None:
            return None
        return self.value * math.exp(-max(0.0, now - self.stamp) / self.tau)

    def touch(self, now: float) -> None:
        self.value = self.read(now)
        self.stamp = now

    def observe(self, sample_ms: float, now: float) -> None:
        if self.value is None:
            self.value = sample_ms
        else:
            w = math.exp(-max(0.0, now - self.stamp) / self.tau)
            decayed = self.value * w
            self.value = sample_ms if sample_ms > decayed else decayed + sample_ms * (1.0 - w)
        self.stamp = now


class _Replica:
    __slots__ = ("ejected_until", "ewma", "failures", "in_flight", "requests")

    def __init__(self, tau: float) -> None:
        self.in_flight = 0
        self.requests = 0
        self.failures = 0
        self.ejected_until: float | None = None
        self.ewma = _PeakEwma(tau)


class Call:
    """One request in flight on one replica; ends exactly once (later `done` calls are ignored).

    As a context manager it ends with ``ok = no exception`` unless `done` was called inside.
    """

    __slots__ = ("_balancer", "_done", "replica", "started")

    def __init__(self, balancer: Balancer, replica: int, started: float) -> None:
        self._balancer = balancer
        self._done = False
        self.replica = replica
        self.started = started

    def done(self, ok: bool = True) -> None:
        """End the request: decrement in-flight and record its latency (and failure)."""
        if not self._done:
            self._done = True
            self._balancer._finish(self, ok)

    def abandon(self) -> None:
        """End the request without a verdict on the replica (the caller gave up on it, e.g.
        cancelled): in-flight goes down, the latency estimate and failures stay as they are."""
        if not self._done:
            self._done = True
            self._balancer._replicas[self.replica].in_flight -= 1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.done(ok=exc_type is None)


class Balancer(ABC):
    """Chooses among N replica slots and keeps their in-flight counts and latency estimates.

    `failure_ms`: a failed request counts as a latency sample of at least this much, so a
    replica that fails fast (connection refused) does not look like the fastest one.
    """

    name: ClassVar[str]

    def __init__(
        self, n: int, *, clock: Clock = time.monotonic, rng: random.Random | None = None,
        tau: float = 10.0, failure_ms: float = 1000.0,
    ) -> None:
        if n < 1:
            raise ValueError(f"a balancer needs at least one replica, got {n}")
        if tau <= 0:
            raise ValueError(f"tau must be > 0 seconds, got {tau}")
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._failure_ms = failure_ms
        self._replicas = [_Replica(tau) for _ in range(n)]

    @property
    def n(self) -> int:
        """The number of replica slots."""
        return len(self._replicas)

    # -- choosing
    def eligible(self, exclude: Collection[int] = ()) -> list[int]:
        """Replicas neither in `exclude` nor ejected, in index order."""
        return [i for i in range(self.n) if i not in exclude and not self.is_ejected(i)]

    def pick(self, exclude: Collection[int] = ()) -> int:
        """The replica for the next request; raises NoReplicaError if none is eligible."""
        candidates = self.eligible(exclude)
        if not candidates:
            ejected = [i for i in range(self.n) if self.is_ejected(i)]
            raise NoReplicaError(
                f"no replica left of {self.n}: excluded {sorted(set(exclude))}, ejected {ejected}"
            )
        return self._choose(candidates)

    @abstractmethod
    def _choose(self, candidates: list[int]) -> int:
        """Choose among `candidates` (non-empty, ascending)."""

    # -- accounting
    def start(self, i: int) -> Call:
        """Count a request as in flight on replica `i` until the returned call is done."""
        replica = self._replicas[i]
        now = self._clock()
        replica.in_flight += 1
        replica.requests += 1
        replica.ewma.touch(now)
        return Call(self, i, now)

    def acquire(self, exclude: Collection[int] = ()) -> Call:
        """`pick` then `start`: the usual way to send one attempt."""
        return self.start(self.pick(exclude))

    def _finish(self, call: Call, ok: bool) -> None:
        replica = self._replicas[call.replica]
        now = self._clock()
        replica.in_flight -= 1
        latency_ms = max(0.0, now - call.started) * 1000.0
        if not ok:
            replica.failures += 1
            latency_ms = max(latency_ms, self._failure_ms)
        replica.ewma.observe(latency_ms, now)

    def in_flight(self, i: int) -> int:
        """Requests started on replica `i` and not done yet."""
        return self._replicas[i].in_flight

    def ewma_ms(self, i: int) -> float | None:
        """Replica `i`'s latency estimate now (decayed), or None before its first sample."""
        return self._replicas[i].ewma.read(self._clock())

    def cost(self, i: int) -> float:
        """Peak-EWMA latency x (in flight + 1); an unprobed replica is free only while idle."""
        replica = self._replicas[i]
        estimate = replica.ewma.read(self._clock())
        if estimate is None:
            return 0.0 if replica.in_flight == 0 else _UNPROBED_BUSY_COST
        return max(estimate, _MIN_COST_MS) * (replica.in_flight + 1)

    # -- ejection
    def eject(self, i: int, until: float) -> None:
        """Take replica `i` out of rotation until the clock reaches `until`."""
        self._replicas[i].ejected_until = until

    def is_ejected(self, i: int) -> bool:
        """Whether replica `i` is ejected now; re-admits it once its time has passed."""
        replica = self._replicas[i]
        if replica.ejected_until is None:
            return False
        if self._clock() >= replica.ejected_until:
            self.readmit(i)
            return False
        return True

    def readmit(self, i: int) -> None:
        """Put replica `i` back in rotation now, as if new: its old latency estimate is
        forgotten, so it is probed with one request before it gets more."""
        replica = self._replicas[i]
        if replica.ejected_until is not None:
            replica.ejected_until = None
            replica.ewma = _PeakEwma(replica.ewma.tau)

    def snapshot(self) -> list[dict[str, Any]]:
        """Per replica: index, in_flight, requests, failures, ejected(_until), ewma_ms, cost."""
        return [
            {"replica": i, "in_flight": r.in_flight, "requests": r.requests,
             "failures": r.failures, "ejected": self.is_ejected(i),
             "ejected_until": r.ejected_until, "ewma_ms": self.ewma_ms(i), "cost": self.cost(i)}
            for i, r in enumerate(self._replicas)
        ]


class RoundRobin(Balancer):
    """Each eligible replica in turn, skipping excluded and ejected ones."""

    name = "round_robin"

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(n, **kwargs)
        self._next = 0

    def _choose(self, candidates: list[int]) -> int:
        # The first candidate at or after the cursor, wrapping around.
        chosen = next((i for i in candidates if i >= self._next), candidates[0])
        self._next = (chosen + 1) % self.n
        return chosen


class LeastLoaded(RoundRobin):
    """Fewest requests in flight; ties broken round robin."""

    name = "least_loaded"

    def _choose(self, candidates: list[int]) -> int:
        fewest = min(self.in_flight(i) for i in candidates)
        return super()._choose([i for i in candidates if self.in_flight(i) == fewest])


class PeakEwmaP2C(Balancer):
    """Power of two choices over peak-EWMA latency x (in flight + 1) (see `Balancer.cost`)."""

    name = "p2c_ewma"

    def _choose(self, candidates: list[int]) -> int:
        if len(candidates) == 1:
            return candidates[0]
        a, b = self._rng.sample(candidates, 2)
        return b if self.cost(b) < self.cost(a) else a


BALANCERS: dict[str, type[Balancer]] = {c.name: c for c in (RoundRobin, LeastLoaded, PeakEwmaP2C)}


def make_balancer(
    name: str, n: int, *, clock: Clock = time.monotonic, rng: random.Random | None = None,
    tau: float = 10.0, failure_ms: float = 1000.0,
) -> Balancer:
    """The balancer called `name` (``round_robin``, ``least_loaded``, ``p2c_ewma``) over `n`
    replicas. `tau` (seconds) is the latency estimate's decay time constant."""
    try:
        cls = BALANCERS[name]
    except KeyError:
        raise ValueError(
            f"unknown balancing policy {name!r}: expected one of {', '.join(BALANCERS)}"
        ) from None
    return cls(n, clock=clock, rng=rng, tau=tau, failure_ms=failure_ms)
