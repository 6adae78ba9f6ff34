"""The gateway's channel to a replica notices the replica back within about a second, however
long it was gone (a slow restart: a model load, a wedged handler's thread). gRPC's default
reconnect backoff grows to 120 s: after 30-60 s of outage a replica back up went unnoticed
for 7-17 s (measured), its health checks failing at once on the backed-off channel."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from grpc_health.v1 import health, health_pb2_grpc
from tcp_server import TcpServerThread

from flowserve.transport.executor_channel import GrpcReplicaClient

pytestmark = pytest.mark.integration

OUTAGE = 10.0  # seconds of failed health checks, as the gateway's monitor makes them


class Refuser(TcpServerThread):
    """A port whose replica is gone: every connection is closed at once (and counted)."""


def test_a_replica_back_after_an_outage_is_seen_within_seconds():
    refuser = Refuser()
    port = refuser.port

    async def go() -> float:
        replica = GrpcReplicaClient(f"127.0.0.1:{port}", executor="e")
        loop = asyncio.get_running_loop()
        until = loop.time() + OUTAGE
        while loop.time() < until:  # each check fails; the channel backs off reconnecting
            assert not await replica.is_ready(0.5)
            await asyncio.sleep(1.0)  # the health monitor's period
        refuser.close()  # the replica comes back on its port
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        try:
            back = time.monotonic()
            while not await replica.is_ready(0.5):
                assert time.monotonic() - back < 60, "never seen back"
                await asyncio.sleep(0.1)
            return time.monotonic() - back
        finally:
            await replica.close()
            await server.stop(0)

    seen_after = asyncio.run(go())
    # gRPC's default backoff (1 s, x1.6 per failure) tries ~5 times in 10 s; at most 1 s apart
    # it is ~10 times, so a replica back is seen within about a second whenever it returns
    assert refuser.connections >= 7, f"{refuser.connections} reconnection attempts in {OUTAGE} s"
    assert seen_after < 4.0, f"seen back only after {seen_after:.1f} s"
