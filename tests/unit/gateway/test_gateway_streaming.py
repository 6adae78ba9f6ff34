"""Streams through the gateway core over in-process replicas: routing to the one executor
serving the endpoint, the clear errors for other Flow shapes, the fair-queue slot held for the
whole stream, closing it reaching the handler (no sockets)."""

from __future__ import annotations

import asyncio

import pytest
from fakes import DownReplica, InProcessReplica
from toy_executors import AppendText, Tokens

from flowserve import Document, DocumentArray, Executor, requests
from flowserve.config.graph import graph_from_mapping
from flowserve.errors import BadRequestError, UnavailableError
from flowserve.gateway.core import GatewayCore
from flowserve.gateway.deployment import Deployment
from flowserve.gateway.guard import GuardedCore
from flowserve.wire.request import DataRequest
from flowserve.wire.stream import is_error, new_stream_request


class Gated(Executor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.go = asyncio.Event()
        self.ended: list[str] = []

    @requests(on="/gen")
    async def gen(self, doc, **kwargs):
        try:
            yield Document(text="1")
            await self.go.wait()
            yield Document(text="2")
            self.ended.append("finished")
        except BaseException as exc:
            self.ended.append(type(exc).__name__)
            raise

    @requests(on="/post")
    async def post(self, docs, **kwargs):
        for d in docs:
            d.text += "!"


def make_core(order: list[str], executors: dict[str, Executor], polling="ANY",
              shards: int = 1) -> GatewayCore:
    needs = {}
    previous = "gateway"
    for name in order:
        needs[name] = [previous]
        previous = name
    deployments = {}
    for name, executor in executors.items():
        executor.runtime_args.name = name
        replicas = [[InProcessReplica(executor, f"{name}:{k}")] for k in range(shards)]
        deployments[name] = Deployment(name, replicas if shards > 1 else replicas[0],
                                       polling=polling)
    return GatewayCore(graph_from_mapping(needs), deployments)


def request(text: str = "a b c", endpoint: str = "/generate", target: str | None = None):
    return new_stream_request(Document(text=text), endpoint=endpoint, target_executor=target)


async def collect(core, message, **kwargs):
    return [r async for r in core.stream(message, **kwargs)]


def test_a_stream_goes_to_the_one_executor_serving_its_endpoint():
    core = make_core(["first", "tok"], {"first": AppendText(), "tok": Tokens()})
    # AppendText serves /default (every endpoint) ... so target it away
    with pytest.raises(BadRequestError, match=r"served by 2 executors \(first, tok\)"):
        asyncio.run(collect(core, request()))
    replies = asyncio.run(collect(core, request(target="tok")))
    assert [r.document.text for r in replies] == ["a", "b", "c"]


def test_executors_not_serving_the_endpoint_are_skipped():
    class Other(Executor):
        @requests(on="/index")
        def index(self, docs, **kwargs):
            return None

    core = make_core(["before", "tok", "after"],
                     {"before": Other(), "tok": Tokens(), "after": Other()})
    replies = asyncio.run(collect(core, request("x y")))
    assert [r.document.text for r in replies] == ["x", "y"]


def test_unknown_and_non_streaming_endpoints_are_bad_requests_naming_them():
    core = make_core(["tok"], {"tok": Tokens()})
    with pytest.raises(BadRequestError, match=r"no executor of this Flow serves endpoint "
                                              r"'/nope' \(endpoints: /generate, "
                                              r"/generate-sync, /plain\)"):
        asyncio.run(collect(core, request(endpoint="/nope")))
    with pytest.raises(BadRequestError, match="'/plain' of executor 'tok' is not a streaming"):
        asyncio.run(collect(core, request(endpoint="/plain")))


def test_polling_all_over_several_shards_is_refused():
    core = make_core(["tok"], {"tok": Tokens()}, polling="ALL", shards=2)
    with pytest.raises(BadRequestError, match="polls ALL of its 2 shards"):
        asyncio.run(collect(core, request()))


def test_an_executor_error_is_the_last_reply_after_the_docs():
    core = make_core(["tok"], {"tok": Tokens()})
    replies = asyncio.run(collect(core, request("a boom")))
    assert replies[0].document.text == "a"
    assert is_error(replies[1])


def test_a_stream_holds_its_fair_queue_slot_until_it_ends():
    executor = Gated()
    core = make_core(["g"], {"g": executor})
    queue = core.deployments["g"].queue
    events: list[str] = []

    async def go():
        replies = core.stream(request(endpoint="/gen"), client="streamer")
        await anext(replies)
        assert queue.in_flight == 1
        post = asyncio.ensure_future(core.process(
            DataRequest.new(DocumentArray([Document(text="p")]), endpoint="/post"),
            client="poster"))
        for _ in range(5):
            await asyncio.sleep(0)
        events.append("post waiting" if not post.done() else "post done")
        assert queue.queued == 1
        executor.go.set()
        rest = [r async for r in replies]
        events.append(f"stream ended ({len(rest)} more)")
        reply = await post
        events.append(reply.docs[0].text)
        assert queue.in_flight == 0

    asyncio.run(go())
    assert events == ["post waiting", "stream ended (1 more)", "p!"]


def test_closing_the_stream_frees_the_slot_and_closes_the_handler():
    executor = Gated()
    core = make_core(["g"], {"g": executor})

    async def go():
        replies = core.stream(request(endpoint="/gen"))
        await anext(replies)
        await replies.aclose()
        return core.deployments["g"].queue.in_flight

    assert asyncio.run(go()) == 0
    assert executor.ended == ["GeneratorExit"]


def test_the_guard_refuses_target_executor_when_the_flow_forbids_it():
    core = GuardedCore(make_core(["tok"], {"tok": Tokens()}), allow_target_executor=False)
    with pytest.raises(BadRequestError, match="target_executor is not allowed"):
        asyncio.run(collect(core, request(target="tok")))


def test_a_replica_that_cannot_be_reached_is_ejected_and_the_stream_retried():
    executor = Tokens()
    executor.runtime_args.name = "tok"
    down, up = DownReplica("down:1"), InProcessReplica(executor, "up:1")
    deployment = Deployment("tok", [down, up], retries=1, balancing="round_robin")
    core = GatewayCore(graph_from_mapping({"tok": ["gateway"]}), {"tok": deployment})
    for _ in range(2):  # round robin: one of the two goes to the replica that is down first
        replies = asyncio.run(collect(core, request("a b")))
        assert [r.document.text for r in replies] == ["a", "b"]
    assert deployment.shards[0].ejected() == [0]


def test_no_replica_reachable_is_unavailable_before_any_doc():
    core = GatewayCore(graph_from_mapping({"tok": ["gateway"]}),
                       {"tok": Deployment("tok", [DownReplica("down:1")])})
    with pytest.raises(UnavailableError, match="its endpoints could not be asked"):
        asyncio.run(collect(core, request()))
