"""The fair queue, driven deterministically: injected clock, no sleeps, no sockets."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from flowserve.errors import DeadlineExceededError, OverloadedError
from flowserve.gateway.scheduler import MAX_AHEAD, PIPELINE_BELOW, FairQueue


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(coro):
    return asyncio.run(coro)


async def served_order(queue: FairQueue, submissions: list[str], clock: Clock,
                       service: float = 1.0) -> list[str]:
    """Fill the queue with `submissions` while it is full, then serve everything, releasing
    one slot at a time (oldest first), returning the clients in the order they got a slot."""
    in_service = [await queue.submit("blocker") for _ in range(queue.capacity)]
    pending = [(c, queue.submit(c)) for c in submissions]
    order = []
    while in_service:
        clock.now += service
        queue.release(in_service.pop(0), service_time=service)
        started = [(c, f) for c, f in pending if f.done()]
        assert len(started) <= 1, "a release dispatched more than one request"
        for c, f in started:
            order.append(c)
            pending.remove((c, f))
            in_service.append(f.result())
    assert not pending, "requests were left in the queue"
    return order


def test_a_light_client_gets_the_next_free_slot_however_deep_the_backlog():
    clock = Clock()
    queue = FairQueue("slow", capacity=2, clock=clock)

    async def go():
        in_service = [await queue.submit("blocker") for _ in range(2)]
        flooders = [queue.submit(f) for f in ("f1", "f2", "f3") for _ in range(50)]
        taken: set[int] = set()  # the flooders' requests already dispatched (by future)
        for _ in range(6):  # the flooders are served a while: their backlogs are old flows
            clock.now += 1.0
            queue.release(in_service.pop(0), service_time=1.0)
            dispatched = next(f for f in flooders if f.done() and id(f) not in taken)
            taken.add(id(dispatched))
            in_service.append(dispatched.result())
        light = queue.submit("light")
        queue.release(in_service.pop(0), service_time=1.0)
        assert light.done() and light.result().client == "light"

    run(go())


def test_equally_light_clients_are_served_first_come_first_served():
    clock = Clock()
    queue = FairQueue("x", capacity=1, clock=clock)

    async def go():
        slot = await queue.submit("blocker")
        futures = [queue.submit(c) for c in "abcdefgh"]
        order = []
        for _ in futures:
            queue.release(slot)
            slot = next(f.result() for f in futures if f.done() and f.result().client
                        not in order)
            order.append(slot.client)
        return order

    assert run(go()) == list("abcdefgh")


def requeue_after_service(n_clients: int, capacity: int, rounds: int):
    """`n_clients` clients with one request each; each sends its next request as soon as its
    previous one is served (the slot released). Returns the dispatch order and, per request,
    how many requests of other clients were dispatched while it waited."""
    clock = Clock()
    queue = FairQueue("x", capacity=capacity, max_queue=10 * n_clients, clock=clock)

    async def go():
        dispatched: list[str] = []
        waits: list[int] = []
        pending: dict[str, tuple[asyncio.Future, int]] = {}

        def submit(client: str) -> None:
            pending[client] = (queue.submit(client), len(dispatched))

        def collect() -> list:
            started = []
            for client, (future, since) in list(pending.items()):
                if future.done():
                    del pending[client]
                    started.append((since, future.result()))
            for since, slot in sorted(started, key=lambda item: item[0]):
                waits.append(len(dispatched) - since)
                dispatched.append(slot.client)
            return [slot for _, slot in started]

        in_service = []
        for i in range(n_clients):
            submit(f"c{i}")
            in_service += collect()
        for _ in range(rounds * n_clients):
            clock.now += 1.0
            done = in_service.pop(0)
            queue.release(done, service_time=1.0)
            submit(done.client)  # the client's next request, right after its answer
            in_service += collect()
        return dispatched, waits

    return run(go())


def jain(counts) -> float:
    values = list(counts)
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values))


@pytest.mark.parametrize("n_clients", [64, 256])
def test_many_equal_clients_one_request_each_are_served_round_robin(n_clients):
    """N web workers calling a model: every client has one request at a time, re-queued as soon
    as it is answered. Nobody starves: each waits at most one request of every other client."""
    dispatched, waits = requeue_after_service(n_clients, capacity=2, rounds=10)
    counts = Counter(dispatched)
    assert len(counts) == n_clients, f"{n_clients - len(counts)} clients never served"
    assert max(waits) <= n_clients - 1
    assert min(counts.values()) >= 9 and max(counts.values()) <= 12
    assert jain(counts.values()) >= 0.99


def test_clients_with_unequal_load_alternate_until_the_light_ones_run_out():
    clock = Clock()
    queue = FairQueue("slow", capacity=1, clock=clock)
    submissions = ["a"] * 30 + ["b"] * 10 + ["c"] * 3
    order = run(served_order(queue, submissions, clock))
    for i in range(0, 9, 3):  # round robin while all three have requests
        assert sorted(order[i:i + 3]) == ["a", "b", "c"]
    assert Counter(order) == Counter(submissions)  # nobody starves, nothing lost
    first_20 = Counter(order[:20])
    assert first_20["b"] >= 8 and first_20["c"] == 3


def test_weights_give_proportional_turns():
    clock = Clock()
    queue = FairQueue("slow", capacity=1, weights={"gold": 3.0}, clock=clock)
    order = run(served_order(queue, ["gold"] * 30 + ["free"] * 30, clock))
    assert Counter(order[:40]) == {"gold": 30, "free": 10}


def test_fifo_within_one_client():
    clock = Clock()
    queue = FairQueue("x", capacity=1, clock=clock)

    async def go():
        first = await queue.submit("c")
        clock.now = 1.0
        futures = []
        for _ in range(5):
            futures.append(queue.submit("c"))
            clock.now += 1.0
        queue.release(first)
        enqueued = []
        for f in futures:
            slot = await f
            enqueued.append(slot.enqueued_at)
            queue.release(slot)
        return enqueued

    assert run(go()) == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_per_client_and_total_bounds_reject_at_once():
    clock = Clock()
    queue = FairQueue("slow", capacity=1, max_queue=5, max_queue_per_client=3, clock=clock)

    async def go():
        await queue.submit("a")
        for _ in range(3):
            queue.submit("a")
        with pytest.raises(OverloadedError, match="client 'a'.*max_queue_per_client"):
            queue.submit("a")
        queue.submit("b")
        queue.submit("b")
        with pytest.raises(OverloadedError, match="max_queue") as info:
            queue.submit("c")
        assert info.value.retry_after >= 1.0
        snap = queue.snapshot()
        assert (snap.queued, snap.in_flight, snap.rejected) == (5, 1, 2)
        assert snap.clients["a"].rejected == 1 and snap.clients["c"].rejected == 1
        assert snap.clients["a"].queued == 3 and snap.clients["a"].in_flight == 1

    run(go())


def test_deadline_passing_in_the_queue_drops_the_request_before_service():
    clock = Clock()
    queue = FairQueue("slow", capacity=1, clock=clock)

    async def go():
        slot = await queue.submit("a")
        doomed = queue.submit("b", deadline=5.0)
        fine = queue.submit("c", deadline=50.0)
        clock.now = 10.0
        queue.release(slot, service_time=10.0)  # b comes first but expired: c is served
        served = await fine
        assert served.client == "c"
        queue.release(served)
        with pytest.raises(DeadlineExceededError, match="while queued at executor 'slow'"):
            await doomed
        assert queue.snapshot().expired == 1 and queue.snapshot().in_flight == 0

    run(go())


def test_a_deadline_that_cannot_be_met_is_rejected_at_once():
    clock = Clock()
    queue = FairQueue("slow", capacity=1, clock=clock)

    async def go():
        first = await queue.submit("a")
        queue.release(first, service_time=1.0)  # the queue now knows 1 s per request
        busy = await queue.submit("a")
        for _ in range(5):
            queue.submit("a")
        # 'a' has 5 queued; a new client waits about 2 services (1 of 'a' + itself)
        assert queue.estimated_wait("b") == pytest.approx(2.0)
        with pytest.raises(DeadlineExceededError, match="cannot be met.*'slow'"):
            queue.submit("b", deadline=clock.now + 1.5)
        queue.submit("b", deadline=clock.now + 3.0)
        assert queue.snapshot().clients["b"].queued == 1
        queue.release(busy, service_time=1.0)

    run(go())


def test_expired_deadline_rejected_before_queuing():
    clock = Clock()
    clock.now = 10.0
    queue = FairQueue("x", capacity=1, clock=clock)

    async def go():
        with pytest.raises(DeadlineExceededError, match="before reaching executor 'x'"):
            queue.submit("a", deadline=9.0)

    run(go())


def test_cancelled_waiter_leaves_the_queue_and_its_slot_is_not_leaked():
    clock = Clock()
    queue = FairQueue("x", capacity=1, clock=clock)

    async def go():
        slot = await queue.submit("a")
        waiter = asyncio.ensure_future(queue.acquire("b"))
        await asyncio.sleep(0)  # let the waiter enqueue
        assert queue.snapshot().queued == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert queue.snapshot().queued == 0
        queue.release(slot)
        assert queue.snapshot().in_flight == 0
        again = await queue.submit("c")
        assert again.client == "c"

    run(go())


def test_capacity_change_dispatches_waiting_requests():
    clock = Clock()
    queue = FairQueue("x", capacity=1, clock=clock)

    async def go():
        await queue.submit("a")
        waiting = queue.submit("b")
        assert not waiting.done()
        queue.set_capacity(2)
        assert waiting.done()

    run(go())


def test_many_clients_no_starvation_and_bounded_tracking():
    clock = Clock()
    queue = FairQueue("x", capacity=3, clock=clock)
    clients = [f"c{i}" for i in range(40)]
    submissions = [c for c in clients for _ in range(3)]
    order = run(served_order(queue, submissions, clock))
    # the first round serves every client once before anyone's second request
    assert set(order[:40]) == set(clients)
    assert Counter(order) == Counter(submissions)


def test_fast_requests_are_sent_ahead_to_each_replica_slow_ones_are_not():
    """While requests are short, MAX_AHEAD requests are sent ahead to each replica (`ahead`
    counts the replicas) so it has its next ones waiting when it replies. For slow requests a
    newly arriving client would pay whole service times for them, so capacity alone applies."""
    clock = Clock()

    async def admitted(service: float) -> int:
        queue = FairQueue("x", capacity=2, ahead=2, clock=clock)
        first = await queue.submit("a")
        clock.now += service
        queue.release(first, service_time=service)  # the queue learns the service time
        futures = [queue.submit("a") for _ in range(20)]
        return sum(f.done() for f in futures)

    assert (PIPELINE_BELOW, MAX_AHEAD) == (0.025, 3)
    assert run(admitted(0.002)) == 2 + 2 * 3  # 2 ms requests: 3 ahead per replica
    assert run(admitted(0.020)) == 2 + 2 * 3
    assert run(admitted(0.025)) == 2
    assert run(admitted(1.0)) == 2


def test_a_newcomer_waits_behind_at_most_the_requests_sent_ahead():
    """The cost of sending ahead, for a client arriving while another floods: its request
    takes the next free slot after the flooder's first quantum, behind at most the requests in
    service (capacity + MAX_AHEAD per replica), whose send-to-reply time the gateway keeps under
    PIPELINE_BELOW; with slow requests nothing is sent ahead."""
    clock = Clock()

    async def go(service: float) -> int:
        queue = FairQueue("x", capacity=2, ahead=2, clock=clock)
        first = await queue.submit("flooder")
        clock.now += service
        queue.release(first, service_time=service)
        in_service = [queue.submit("flooder") for _ in range(50)]
        ahead_of_newcomer = sum(f.done() for f in in_service)
        light = queue.submit("light")
        assert not light.done()
        served = 0
        while not light.done():  # the oldest in service finishes first
            done = next(f for f in in_service if f.done() and not f.cancelled())
            in_service.remove(done)
            clock.now += service
            queue.release(done.result(), service_time=service)
            served += 1
        # the next free slot after the flooder's first quantum (its flow became new when it
        # first had to queue, before the light client came)
        assert served == 2
        return ahead_of_newcomer

    assert run(go(0.002)) == 2 + 2 * MAX_AHEAD
    assert run(go(0.5)) == 2


def test_capacity_changes_carry_the_pipeline_depth():
    clock = Clock()

    async def go():
        queue = FairQueue("x", capacity=2, ahead=2, clock=clock)
        slot = await queue.submit("a")
        queue.release(slot, service_time=0.001)
        queue.set_capacity(1, 1)  # a replica was ejected
        futures = [queue.submit("a") for _ in range(10)]
        return sum(f.done() for f in futures)

    assert run(go()) == 1 + MAX_AHEAD
