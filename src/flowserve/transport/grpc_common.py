"""gRPC server/channel options, health and reflection shared by every flowserve server."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ..config.ratelog import RateLimitedLog, RateLimitFilter

__all__ = ["CHANNEL_OPTIONS", "DEFAULT_MAX_MESSAGE_BYTES", "RECONNECT_OPTIONS", "Health",
           "executor_channel_options", "message_options", "new_server"]

DEFAULT_MAX_MESSAGE_BYTES = 32 << 20
"""Documents with embeddings easily exceed gRPC's 4 MiB default; unlimited would let one client
exhaust memory (docs/security.md#limits)."""


def message_options(max_bytes: int) -> list[tuple[str, int]]:
    """Channel arguments bounding the messages received and sent."""
    return [("grpc.max_send_message_length", max_bytes),
            ("grpc.max_receive_message_length", max_bytes)]


CHANNEL_OPTIONS: list[tuple[str, int]] = message_options(DEFAULT_MAX_MESSAGE_BYTES)

RECONNECT_OPTIONS: list[tuple[str, int]] = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
"""The gateway's channels to executor replicas try to reconnect at least once a second. gRPC's
default backoff grows to 120 s, so a replica back after a long restart (a model load, a wedged
handler's thread) went unnoticed for up to that long: its health checks failed at once on the
backed-off channel (measured: 12-14 s after a 60 s outage)."""


def executor_channel_options(max_bytes: int) -> list[tuple[str, int]]:
    """Options of the gateway's channel to one executor replica."""
    return [*message_options(max_bytes), *RECONNECT_OPTIONS]


class Health:
    """grpc.health.v1 servicer with readiness: NOT_SERVING until started and while draining."""

    def __init__(self, services: Sequence[str]) -> None:
        self.servicer = health.aio.HealthServicer()
        self._services = ["", *services]

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in self._services:
            await self.servicer.set(name, status)


def _quiet_bad_messages() -> None:
    """grpc logs a full traceback for every message it cannot decode: one line per kind
    instead, at most a few each 10 s (the client gets its error all the same)."""
    logger = logging.getLogger("grpc._common")
    if not any(isinstance(f, RateLimitFilter) for f in logger.filters):
        logger.addFilter(RateLimitFilter(RateLimitedLog(logger)))


def new_server(
    service_names: Sequence[str], health_state: Health, *, bind: str,
    credentials: grpc.ServerCredentials | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    options: Sequence[tuple[str, int]] = (),
    maximum_concurrent_rpcs: int | None = None,
) -> tuple[grpc.aio.Server, int]:
    """A grpc.aio server with health + reflection registered, bound to `bind` (host:port),
    over TLS when `credentials` are given.

    Returns the server and the bound port (useful with port 0). Raises OSError naming the
    address if it cannot bind.
    """
    # gRPC sets SO_REUSEPORT by default: a second server on a port in use would start fine
    # and split the clients with the first. Refuse the port instead, as the HTTP server does.
    merged = dict([*CHANNEL_OPTIONS, *options, ("grpc.so_reuseport", 0)])  # later values win
    server = grpc.aio.server(options=list(merged.items()),
                             interceptors=list(interceptors) or None,
                             maximum_concurrent_rpcs=maximum_concurrent_rpcs)
    _quiet_bad_messages()
    health_pb2_grpc.add_HealthServicer_to_server(health_state.servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    try:
        port = (server.add_secure_port(bind, credentials) if credentials is not None
                else server.add_insecure_port(bind))
    except RuntimeError as exc:  # grpc's text only says "Failed to bind"
        raise OSError(f"cannot listen on {bind}: address already in use or not available") \
            from exc
    if port == 0 and not bind.endswith(":0"):
        raise OSError(f"cannot listen on {bind}: address in use or not available")
    return server, port
