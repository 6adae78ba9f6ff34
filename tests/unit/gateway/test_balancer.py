"""Balancing policies, simulated with an injected clock and seeded randomness (no sleeps)."""

from __future__ import annotations

import heapq
import itertools
import math
import random

import pytest
from clocks import ManualClock

from flowserve.gateway.balancer import (
    BALANCERS,
    Balancer,
    Call,
    NoReplicaError,
    make_balancer,
)

FAST, SLOW = 0.010, 0.200  # seconds
TAU = 10.0


def new(name: str, n: int = 3, seed: int = 7) -> tuple[Balancer, ManualClock]:
    clock = ManualClock()
    return make_balancer(name, n, clock=clock, rng=random.Random(seed), tau=TAU), clock


class Sim:
    """Closed loop: `concurrency` clients, each sending its next request when answered.

    A request to replica i takes `speed[i]` seconds (the speed when it starts); the clock jumps
    from one completion to the next.
    """

    def __init__(self, balancer: Balancer, clock: ManualClock, speed: list[float],
                 concurrency: int = 4) -> None:
        self.b, self.clock, self.speed, self.concurrency = balancer, clock, speed, concurrency
        self.picks: list[int] = []
        self._heap: list[tuple[float, int, Call]] = []
        self._seq = itertools.count()

    def run(self, requests: int) -> list[int]:
        picks: list[int] = []
        while len(picks) < requests:
            while len(self._heap) < self.concurrency and len(picks) < requests:
                i = self.b.pick()
                call = self.b.start(i)
                picks.append(i)
                finish = self.clock.now + self.speed[i]
                heapq.heappush(self._heap, (finish, next(self._seq), call))
            self._complete_one()
        self.picks += picks
        return picks

    def run_for(self, seconds: float) -> list[int]:
        end, picks = self.clock.now + seconds, []
        while self.clock.now < end:
            picks += self.run(1)
        return picks

    def _complete_one(self) -> None:
        t, _, call = heapq.heappop(self._heap)
        self.clock.now = t
        call.done(ok=True)


def share(picks: list[int], replica: int) -> float:
    return picks.count(replica) / len(picks)


# -- latency awareness ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
def test_p2c_ewma_starves_a_replica_that_turns_slow_and_recovers_it(seed: int) -> None:
    b, clock = new("p2c_ewma", seed=seed)
    speed = [FAST, FAST, FAST]
    sim = Sim(b, clock, speed)
    warm = sim.run(600)
    assert 0.25 < share(warm, 0) < 0.42  # healthy: an even spread

    speed[0] = SLOW
    after = sim.run(400)
    # within a bounded number of requests the slow replica is avoided...
    assert after[:50].count(0) <= 8, after[:50]
    # ...and gets a small share of new traffic
    assert share(after[-200:], 0) < 0.10
    assert b.snapshot()[0]["ewma_ms"] > 100

    speed[0] = FAST
    # It gets no traffic, hence no samples: its estimate decays on read until it is probed
    # again; the decay (not the few fast samples) brings it down to the others' level, which
    # takes about tau * ln(slow / fast) (~30 s here).
    start, recovered = clock.now, []
    while len(recovered) < 300 or share(recovered[-300:], 0) < 0.25:
        recovered += sim.run(100)
        assert clock.now - start < TAU * (math.log(SLOW / FAST) + 1), "did not recover in time"
    assert 0.25 < share(sim.run(600), 0) < 0.42
    assert b.snapshot()[0]["ewma_ms"] < 20


def test_round_robin_ignores_latency() -> None:
    b, clock = new("round_robin")
    speed = [SLOW, FAST, FAST]
    picks = Sim(b, clock, speed).run(600)
    assert share(picks[-200:], 0) == pytest.approx(1 / 3, abs=0.01)


def test_p2c_ewma_weighs_in_flight_requests() -> None:
    # Same latency everywhere, but one replica holds requests: the others get the new ones.
    b, clock = new("p2c_ewma", n=2)
    for i in (0, 1):
        b.start(i).done()
    clock.now += 0.010
    stuck = [b.start(0) for _ in range(3)]
    assert {b.pick() for _ in range(20)} == {1}
    for call in stuck:
        call.done()
    assert b.in_flight(0) == 0


def test_an_unprobed_replica_is_tried_but_not_flooded() -> None:
    b, clock = new("p2c_ewma", n=2)
    b.start(1).done()  # replica 1 has a sample, replica 0 none yet
    clock.now += 1.0
    probe = b.acquire()
    assert probe.replica == 0  # idle and unknown: tried at once
    assert [b.acquire().replica for _ in range(10)] == [1] * 10  # no second one before it answers
    clock.now += 0.005
    probe.done()
    assert b.snapshot()[0]["ewma_ms"] == pytest.approx(5.0)


def test_a_failing_replica_does_not_look_fast() -> None:
    b, clock = new("p2c_ewma", n=2)
    b.start(0).done(ok=False)  # failed in 0 ms (connection refused)
    call = b.start(1)
    clock.now += 0.050
    call.done()
    assert b.ewma_ms(0) >= 900 > b.ewma_ms(1)  # type: ignore[operator]
    assert {b.pick() for _ in range(20)} == {1}
    assert b.snapshot()[0]["failures"] == 1


def test_peak_ewma_jumps_up_and_decays_down() -> None:
    b, clock = new("p2c_ewma", n=1)
    for latency in (0.010, 0.100):
        call = b.start(0)
        clock.now += latency
        call.done()
    assert b.ewma_ms(0) == pytest.approx(100.0)  # a peak replaces the estimate
    clock.now += TAU
    assert b.ewma_ms(0) == pytest.approx(100.0 / 2.718281828, rel=1e-6)  # decays on read


# -- least loaded and round robin ---------------------------------------------------------------

def test_least_loaded_picks_fewest_in_flight_with_round_robin_ties() -> None:
    b, _ = new("least_loaded")
    assert [b.acquire().replica for _ in range(3)] == [0, 1, 2]  # all tied: in turn
    b.start(0)  # replica 0 now has 2 in flight, the others 1
    picks = []
    for _ in range(4):
        call = b.acquire()
        picks.append(call.replica)
        call.done()
    assert picks == [1, 2, 1, 2]
    assert [b.in_flight(i) for i in range(3)] == [2, 1, 1]


def test_round_robin_cycles_and_skips_excluded() -> None:
    b, _ = new("round_robin", n=4)
    assert [b.pick() for _ in range(5)] == [0, 1, 2, 3, 0]
    assert [b.pick(exclude={2}) for _ in range(3)] == [1, 3, 0]


# -- exclusion, ejection, errors (every policy) ------------------------------------------------

@pytest.mark.parametrize("name", sorted(BALANCERS))
def test_exclusion_and_no_replica_error(name: str) -> None:
    b, _ = new(name)
    assert {b.pick(exclude=[0, 2]) for _ in range(20)} == {1}
    with pytest.raises(NoReplicaError, match=r"excluded \[0, 1, 2\]") as info:
        b.pick(exclude={0, 1, 2})
    assert isinstance(info.value, LookupError)


@pytest.mark.parametrize("name", sorted(BALANCERS))
def test_ejection_and_readmission_by_the_clock(name: str) -> None:
    b, clock = new(name)
    b.eject(1, until=5.0)
    assert b.is_ejected(1) and b.snapshot()[1]["ejected"]
    assert 1 not in {b.pick() for _ in range(30)}
    b.eject(0, until=5.0)
    b.eject(2, until=9.0)
    with pytest.raises(NoReplicaError, match=r"ejected \[0, 1, 2\]"):
        b.pick()
    clock.now = 5.0  # 0 and 1 come back by themselves
    assert not b.is_ejected(0) and not b.is_ejected(1) and b.is_ejected(2)
    assert {b.pick() for _ in range(30)} == {0, 1}
    b.readmit(2)
    assert not b.is_ejected(2)
    assert 2 in {b.pick() for _ in range(30)}


def test_a_readmitted_replica_is_probed_again_from_scratch() -> None:
    b, clock = new("p2c_ewma", n=2)
    b.start(0).done(ok=False)
    b.eject(0, until=1.0)
    clock.now = 1.0
    assert b.ewma_ms(0) is not None  # not re-admitted until someone looks
    assert not b.is_ejected(0)
    assert b.ewma_ms(0) is None  # forgotten: probed like a new replica


# -- the Call handle ------------------------------------------------------------------------

def test_call_handle_ends_once_and_as_a_context_manager() -> None:
    b, _ = new("round_robin", n=2)
    with b.start(0) as call:
        assert b.in_flight(0) == 1
    assert b.in_flight(0) == 0
    call.done()  # a second end is ignored
    assert b.in_flight(0) == 0
    with pytest.raises(RuntimeError), b.start(1):
        raise RuntimeError("boom")
    assert b.in_flight(1) == 0 and b.snapshot()[1]["failures"] == 1
    with b.start(1) as call:
        call.done(ok=False)  # explicit result wins over the clean exit
    assert b.snapshot()[1]["failures"] == 2


def test_snapshot_shape() -> None:
    b, _ = new("p2c_ewma", n=2)
    b.start(1)
    snap = b.snapshot()
    assert [s["replica"] for s in snap] == [0, 1]
    assert snap[1]["in_flight"] == 1 and snap[1]["requests"] == 1
    assert snap[0]["ewma_ms"] is None and snap[0]["cost"] == 0.0
    assert set(snap[0]) == {"replica", "in_flight", "requests", "failures", "ejected",
                            "ejected_until", "ewma_ms", "cost"}


def test_make_balancer_rejects_unknown_names_and_empty_deployments() -> None:
    with pytest.raises(ValueError, match="p2c_ewma"):
        make_balancer("random", 2)
    with pytest.raises(ValueError, match="at least one"):
        make_balancer("round_robin", 0)
    assert {make_balancer(n, 1).name for n in BALANCERS} == set(BALANCERS)

