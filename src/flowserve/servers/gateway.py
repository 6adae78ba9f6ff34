"""Composition root of a gateway process: addresses -> deployments -> core -> servers."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, cast

from ..config.ratelog import RateLimitedLog
from ..gateway.auth import GrpcTokenInterceptor
from ..gateway.config import GatewayConfig
from ..gateway.core import GatewayCore
from ..gateway.deployment import Deployment
from ..gateway.grpc_service import SERVICE_NAMES, GatewayServicer, add_gateway_services
from ..gateway.guard import GuardedCore
from ..gateway.health_monitor import monitor_replicas
from ..gateway.identity import TrustedProxies
from ..gateway.limits import grpc_server_options, quiet_accept_errors
from ..gateway.retry_budget import RetryBudget
from ..observe.tracing import tracing_settings
from ..observe.wiring import GatewayObservability
from ..transport.executor_channel import GrpcReplicaClient
from ..transport.grpc_common import Health, executor_channel_options, new_server
from ..wire.origin import listen_address
from .lifecycle import install_stop_signals, notify_ready

if TYPE_CHECKING:
    from ..transport.http_server import HttpServer

__all__ = ["build_core", "build_observability", "run_gateway", "serve_gateway"]

log = logging.getLogger(__name__)


def build_core(config: GatewayConfig,
               observability: GatewayObservability | None = None) -> GatewayCore:
    settings = config.options
    budget = RetryBudget(ratio=settings.retry_budget) if settings.retries else None
    obs = observability
    observer = obs.observer if obs is not None else None

    channel_options = executor_channel_options(config.security.limits.max_message_bytes)
    credentials = config.security.executor_credentials()

    def client(address: str, name: str) -> GrpcReplicaClient:
        interceptors = obs.interceptors(executor=name, address=address) if obs else []
        return GrpcReplicaClient(address, executor=name, interceptors=interceptors,
                                 options=channel_options, credentials=credentials)

    deployments = {
        name: Deployment(
            name,
            [[client(a, name) for a in shard] for shard in dep.shard_addresses],
            concurrency=dep.slots_per_replica, balancing=dep.balancing, polling=dep.polling,
            retries=dep.retries if settings.retries else 0, budget=budget,
            timeout_send=dep.timeout_send, timeout_ejected=dep.timeout_ejected,
            max_queue=dep.max_queue or settings.max_queue,
            max_queue_per_client=settings.max_queue_per_client, weights=settings.client_weights,
            observer=observer,
        )
        for name, dep in config.deployments.items()
    }
    core = GatewayCore(config.graph, deployments, name=settings.name, observer=observer)
    if obs is not None:
        obs.attach(core)
    return core


def build_observability(config: GatewayConfig) -> GatewayObservability:
    """Metrics, dashboard and tracing as configured (inert when both are off)."""
    options = config.observability
    return GatewayObservability(name=config.options.name, monitoring=options.monitoring,
                                tracing=tracing_settings(options, config.options.name))


async def serve_gateway(config: GatewayConfig, stop: asyncio.Event) -> None:
    """Serve every protocol until `stop` is set, then drain within the grace period."""
    opts = config.options
    if len(config.protocols) != len(config.ports):
        raise ValueError("gateway: give one port per protocol")
    security = config.security
    tls = security.tls()  # read before anything starts: a bad file fails at once
    tokens = security.tokens(os.environ)
    limits = security.limits
    quiet = RateLimitedLog(log, burst=1)  # repeated accept errors (out of descriptors): a few lines
    asyncio.get_running_loop().set_exception_handler(quiet_accept_errors(quiet))
    observability = build_observability(config)
    core = build_core(config, observability)
    # both transports see the core through the guard (what clients may send and see)
    guarded = cast(GatewayCore, GuardedCore(
        core, error_detail=security.error_detail,
        allow_target_executor=security.allow_target_executor))
    health = Health(SERVICE_NAMES)
    trusted = TrustedProxies.parse(opts.trusted_proxies)
    grpc_servers = []
    servicers: list[GatewayServicer] = []
    http_servers: list[HttpServer] = []
    bound: dict[str, int] = {}
    try:
        for protocol, port in zip(config.protocols, config.ports, strict=True):
            if protocol == "grpc":
                server, bound_port = new_server(
                    SERVICE_NAMES, health, bind=f"{opts.host}:{port}",
                    credentials=tls.grpc_credentials() if tls else None,
                    interceptors=[GrpcTokenInterceptor(tokens)] if tokens is not None else (),
                    options=grpc_server_options(limits),
                    maximum_concurrent_rpcs=limits.max_concurrent_rpcs)
                servicer = GatewayServicer(
                    guarded, prefetch=opts.prefetch, stream_window=opts.max_queue_per_client,
                    default_timeout=opts.timeout, trusted=trusted,
                    listen=listen_address(opts.host, bound_port))
                add_gateway_services(servicer, server)
                servicers.append(servicer)
                await server.start()
                grpc_servers.append(server)
                bound["grpc"] = bound_port
            elif protocol == "http":
                # FastAPI and uvicorn cost a gRPC-only gateway most of its start-up: on demand
                from ..gateway.auth import http_token_middleware
                from ..gateway.http_app import create_app
                from ..gateway.http_protocol import http_protocol
                from ..gateway.limits import body_limit_middleware
                from ..transport.http_server import HttpServer

                app = body_limit_middleware(
                    create_app(guarded, default_timeout=opts.timeout, trusted=trusted,
                               cors=opts.cors),
                    limits.max_body_bytes)
                if tokens is not None:
                    app = http_token_middleware(app, tokens)
                http = HttpServer.start(app, opts.host, port, grace=opts.grace,
                                        what="gateway (http)", http=http_protocol(limits, quiet),
                                        timeout_keep_alive=limits.keep_alive_timeout,
                                        **(tls.uvicorn_options() if tls else {}))
                http_servers.append(http)
                bound["http"] = http.port
            elif protocol == "websocket":
                from ..gateway.auth import http_token_middleware
                from ..gateway.websocket_app import create_websocket_app
                from ..transport.http_server import HttpServer

                app = create_websocket_app(guarded, prefetch=opts.prefetch,
                                           default_timeout=opts.timeout, trusted=trusted)
                if tokens is not None:  # the handshake needs a token
                    app = http_token_middleware(app, tokens)
                ws = HttpServer.start(app, opts.host, port, grace=opts.grace,
                                      what="gateway (websocket)",
                                      **(tls.uvicorn_options() if tls else {}))
                http_servers.append(ws)
                bound["websocket"] = ws.port
            else:
                raise ValueError(f"gateway: unknown protocol {protocol!r}")
        monitoring_port = observability.start(config.observability.monitoring_host,
                                              config.observability.port_monitoring)
        monitor = asyncio.create_task(monitor_replicas(core.deployments.values(), stop))
        await health.set_serving(True)
        log.info("gateway listening: %s", bound)
        ready: dict[str, object] = {"name": opts.name, "ports": bound}
        if monitoring_port is not None:
            ready["monitoring_port"] = monitoring_port
        notify_ready(config.ready_fd, ready)
        await stop.wait()
        await monitor
    finally:
        await health.set_serving(False)
        for http in http_servers:
            http.begin_stop()
        for servicer in servicers:
            servicer.drain()
        for server in grpc_servers:
            await server.stop(opts.grace)
        for http in http_servers:
            await http.stop()
        await core.close()
        await observability.close()


def run_gateway(opts: GatewayConfig) -> None:
    """Blocking entry point of `flowserve gateway`."""

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        await serve_gateway(opts, stop)

    asyncio.run(main())
