"""Fairness in the shapes users have: many equal clients, each on its own connection (none is
starved), and clients behind a proxy or mesh that multiplexes them over one connection (the
flooding scenario still leaves a light client its turn)."""

from __future__ import annotations

import asyncio
import threading
import time

import grpc
import pytest
from mux_proxy import MuxProxy
from procs import running, wait_until
from toy_executors import Embed, Slow

from flowserve import AsyncClient, Client, Document, DocumentArray, Flow
from flowserve.proto import jina_pb2_grpc
from flowserve.wire.request import DataRequest

pytestmark = pytest.mark.integration

CLIENTS = 64
RUN_FOR = 8.0  # seconds of load, at most
MAX_REPLIES = CLIENTS * 40  # and at most this many replies in all


def jain(counts: list[int]) -> float:
    return sum(counts) ** 2 / (len(counts) * sum(c * c for c in counts)) if any(counts) else 0.0


def one_doc_request(i: int) -> DataRequest:
    return DataRequest.new(DocumentArray([Document(text=f"c{i}")]), endpoint="/")


async def load_raw_connections(target: str, counts: list[int]) -> None:
    """One grpc.aio channel (its own TCP connection, no client id: identity = connection)
    per client, one unary request in flight at a time, as N web workers calling a model."""
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(target, options=options) for _ in counts]
    stop = time.monotonic() + RUN_FOR

    async def client(i: int) -> None:
        call = jina_pb2_grpc.JinaSingleDataRequestRPCStub(channels[i]).process_single_data
        while time.monotonic() < stop and sum(counts) < MAX_REPLIES:
            reply = await call(one_doc_request(i).proto, timeout=60)
            assert reply.header.status.code == 0, reply.header.status
            counts[i] += 1

    try:
        await asyncio.gather(*(client(i) for i in range(len(counts))))
    finally:
        await asyncio.gather(*(ch.close() for ch in channels))


async def load_flowserve_clients(target: str, counts: list[int]) -> None:
    """One flowserve AsyncClient per client (each sends its own client id)."""
    clients = [AsyncClient(host=f"grpc://{target}") for _ in counts]
    stop = time.monotonic() + RUN_FOR

    async def client(i: int) -> None:
        while time.monotonic() < stop and sum(counts) < MAX_REPLIES:
            await clients[i].post("/", Document(text=f"c{i}"))
            counts[i] += 1

    try:
        await asyncio.gather(*(client(i) for i in range(len(counts))))
    finally:
        await asyncio.gather(*(c.close() for c in clients))


@pytest.mark.parametrize("load", [load_raw_connections, load_flowserve_clients],
                         ids=["raw-connections", "flowserve-clients"])
def test_sixty_four_equal_clients_are_all_answered(load):
    flow = Flow().add(name="model", uses=Slow, uses_with={"delay": 0.002}, replicas=2)
    with running(flow):
        target = f"127.0.0.1:{flow.addresses.gateway_ports['grpc']}"
        counts = [0] * CLIENTS
        asyncio.run(load(target, counts))
    starved = sum(1 for c in counts if c == 0)
    assert starved == 0, f"{starved} of {CLIENTS} clients got no reply: {counts}"
    assert jain(counts) >= 0.9, f"Jain's index {jain(counts):.2f}: {sorted(counts)}"


SERVICE_TIME = 1.0
FLOOD_REQUESTS = 16


def flood_and_time_light_client(url: str, *, clients: str) -> tuple[float, int, list[int]]:
    """The flooding scenario: one client streams FLOOD_REQUESTS requests; once its backlog is
    deep, a light client sends one doc. Returns the light client's latency, the flooder's
    requests answered meanwhile, and the flooder's answers in all."""
    answered = [0]
    errors: list[BaseException] = []

    def flood() -> None:
        docs = DocumentArray(Document(text=f"f{j}") for j in range(FLOOD_REQUESTS))
        try:
            if clients == "flowserve":
                with Client(host=url) as client:
                    client.post("/", docs, request_size=1,
                                on_done=lambda r: answered.__setitem__(0, answered[0] + 1))
            else:
                asyncio.run(_raw_stream(url, docs, answered))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    thread = threading.Thread(target=flood)
    thread.start()
    try:
        assert wait_until(lambda: answered[0] >= 2, 120), answered
        before = answered[0]
        started = time.monotonic()
        if clients == "flowserve":
            with Client(host=url) as light:
                result = light.post("/", Document(text="light"))
            assert result.embeddings.shape == (1, 512)
        else:
            asyncio.run(_raw_unary(url))
        latency = time.monotonic() - started
        overtaken = answered[0] - before
    finally:
        thread.join(300)
    assert not errors, errors
    return latency, overtaken, answered


async def _raw_stream(url: str, docs: DocumentArray, answered: list[int]) -> None:
    """A client that sends no id (as Jina's does): all its requests on one Call stream."""
    target = url.removeprefix("grpc://")
    async with grpc.aio.insecure_channel(
            target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        call = jina_pb2_grpc.JinaRPCStub(channel).Call(
            DataRequest.new(DocumentArray([d]), endpoint="/").proto for d in docs)
        async for reply in call:
            assert reply.header.status.code == 0, reply.header.status
            answered[0] += 1


async def _raw_unary(url: str) -> None:
    target = url.removeprefix("grpc://")
    async with grpc.aio.insecure_channel(
            target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        reply = await jina_pb2_grpc.JinaSingleDataRequestRPCStub(channel).process_single_data(
            one_doc_request(0).proto, timeout=60)
        assert reply.header.status.code == 0, reply.header.status


@pytest.mark.parametrize("mesh", [False, True], ids=["l7-proxy+client-ids", "mesh-identity"])
def test_a_light_client_behind_a_multiplexing_proxy_is_not_starved(mesh):
    """All calls reach the gateway over ONE connection from the proxy. Told apart by the
    flowserve Client's own id (plain proxy), or by the mesh identity the proxy stamps for
    clients that send no id (as Linkerd does for meshed callers)."""
    flow = (
        Flow()
        .add(name="slow_executor", uses=Slow, uses_with={"delay": SERVICE_TIME}, replicas=2)
        .add(name="bulky_executor", uses=Embed, uses_with={"n_dim": 512})
    )
    with running(flow):
        upstream = f"127.0.0.1:{flow.addresses.gateway_ports['grpc']}"
        with MuxProxy(upstream, stamp_identity=mesh) as proxy:
            latency, overtaken, answered = flood_and_time_light_client(
                f"grpc://127.0.0.1:{proxy.port}", clients="raw" if mesh else "flowserve")
    assert answered == [FLOOD_REQUESTS]  # nothing lost
    # FIFO would have answered the whole backlog (>= 10 requests, >= 5 s) first
    assert overtaken <= 3, f"{overtaken} flooder requests were answered before the light one"
    assert latency <= 2.5 * SERVICE_TIME, f"light client waited {latency:.2f} s"
