"""Composition root of an executor process: load the class, build the runtime, serve gRPC."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.loader import load_executor_class
from ..config.observability import ObservabilityOptions
from ..config.options import EXECUTOR_DEFAULTS, GATEWAY_DEFAULTS
from ..config.worker_flags import DEFAULT_TIMEOUT_HANDLER
from ..executor import batching_from
from ..gateway.tls import TlsFiles
from ..observe.tracing import tracing_settings
from ..observe.wiring import WorkerObservability
from ..transport.grpc_common import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Health,
    message_options,
    new_server,
)
from ..wire.origin import listen_address
from ..worker.grpc_service import SERVICE_NAMES, WorkerServicer, add_worker_services
from ..worker.runtime import ExecutorRuntime, HandlerObserver
from ..worker.watchdog import LoopWatchdog, exit_wedged
from .guard import loading_executor
from .lifecycle import install_stop_signals, notify_ready

__all__ = ["WorkerOptions", "run_worker", "serve_worker"]

log = logging.getLogger(__name__)


@dataclass
class WorkerOptions:
    """Everything one executor replica process needs (mirrors `flowserve executor` flags)."""

    uses: str | None
    name: str
    port: int = 0
    host: str = "0.0.0.0"
    uses_with: dict[str, Any] = field(default_factory=dict)
    uses_metas: dict[str, Any] = field(default_factory=dict)
    uses_requests: dict[str, str] = field(default_factory=dict)
    uses_dynamic_batching: dict[str, dict[str, Any]] = field(default_factory=dict)
    py_modules: list[str] = field(default_factory=list)
    base_dir: Path = field(default_factory=Path.cwd)
    replica_id: int = 0
    shard_id: int = 0
    workspace: str | None = None
    concurrency: int = EXECUTOR_DEFAULTS.concurrency
    sync_handlers: str = EXECUTOR_DEFAULTS.sync_handlers
    grace: float = GATEWAY_DEFAULTS.grace
    timeout_handler: float | None = DEFAULT_TIMEOUT_HANDLER
    """Seconds one handler call may take before its request fails and the replica restarts."""
    ready_fd: int | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    ssl_certfile: str | None = None
    """Serve over TLS with this certificate (and `ssl_keyfile`): deployments without a mesh."""
    ssl_keyfile: str | None = None
    observability: ObservabilityOptions = field(default_factory=ObservabilityOptions)


def build_observability(opts: WorkerOptions) -> WorkerObservability:
    """Metrics and tracing as configured (inert when both are off)."""
    options = opts.observability
    tracing = tracing_settings(options, opts.name, f"{opts.name}/{opts.shard_id}/{opts.replica_id}")
    return WorkerObservability(monitoring=options.monitoring, tracing=tracing)


def build_runtime(opts: WorkerOptions, observer: HandlerObserver | None = None,
                  ) -> ExecutorRuntime:
    with loading_executor(opts.uses):  # a script that starts its Flow on import: refused
        cls = load_executor_class(
            opts.uses, py_modules=opts.py_modules, base_dir=opts.base_dir, executor_name=opts.name
        )
        runtime_args = {"name": opts.name, "replica_id": opts.replica_id,
                        "shard_id": opts.shard_id, "workspace": opts.workspace}
        executor = cls(**opts.uses_with, metas=opts.uses_metas or None,
                       runtime_args=runtime_args)
    return ExecutorRuntime(executor, concurrency=opts.concurrency, observer=observer,
                           sync_handlers=opts.sync_handlers,
                           handler_timeout=opts.timeout_handler,
                           uses_requests=opts.uses_requests,
                           uses_dynamic_batching=batching_from(opts.uses_dynamic_batching,
                                                               opts.name))


async def serve_worker(opts: WorkerOptions, stop: asyncio.Event,
                       on_loaded: Callable[[], None] | None = None) -> ExecutorRuntime:
    """Serve until `stop` is set, then drain in-flight requests within `opts.grace` seconds.
    `on_loaded` runs once the executor is imported and constructed. Returns the runtime, whose
    `running` says whether a handler never returned (the process must then end at once)."""
    observability = build_observability(opts)
    runtime = build_runtime(opts, observability.handler_observer)
    if on_loaded is not None:
        on_loaded()
    health = Health(SERVICE_NAMES)

    def on_wedged() -> None:  # a handler timed out: report unhealthy, stop, get restarted
        asyncio.get_running_loop().create_task(health.set_serving(False))
        stop.set()

    runtime.on_wedged = on_wedged
    watchdog = None
    if opts.timeout_handler is not None:
        watchdog = LoopWatchdog(opts.timeout_handler, lambda: runtime.running > 0,
                                what=f"executor {opts.name!r}")
        watchdog.start()
    tls = TlsFiles(opts.ssl_certfile, opts.ssl_keyfile or "") if opts.ssl_certfile else None
    server, port = new_server(SERVICE_NAMES, health, bind=f"{opts.host}:{opts.port}",
                              options=message_options(opts.max_message_bytes),
                              credentials=tls.grpc_credentials() if tls else None)
    add_worker_services(WorkerServicer(runtime, trace=observability.trace_hook(opts.name),
                                       stream_trace=observability.stream_trace_hook(opts.name),
                                       listen=listen_address(opts.host, port)), server)
    await server.start()
    monitoring_port = observability.start(opts.observability.monitoring_host,
                                          opts.observability.port_monitoring)
    await health.set_serving(True)
    log.info("executor %s listening on %s:%d", opts.name, opts.host, port)
    ready: dict[str, Any] = {"name": opts.name, "port": port, "endpoints": runtime.endpoints}
    if monitoring_port is not None:
        ready["monitoring_port"] = monitoring_port
    notify_ready(opts.ready_fd, ready)
    try:
        await stop.wait()
    finally:
        await health.set_serving(False)
        await server.stop(opts.grace)
        if watchdog is not None:
            watchdog.stop()
        runtime.close()
        await observability.close()
    return runtime


def run_worker(opts: WorkerOptions) -> None:
    """Blocking entry point of `flowserve executor`."""

    async def main() -> ExecutorRuntime:
        stop = asyncio.Event()
        # Only once the user's code is loaded: importing it and `__init__` (a slow model load)
        # block the event loop, which would never run a handler installed before. Until then
        # SIGTERM (also the parent's death) keeps its default action and ends the process.
        return await serve_worker(opts, stop, on_loaded=lambda: install_stop_signals(stop))

    runtime = asyncio.run(main())
    if runtime.running:  # a handler that never returned: its thread cannot be joined
        exit_wedged(f"executor {opts.name!r}: exiting with a handler still running")
