"""Composition root of an executor process: load the class, build the runtime, serve gRPC."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.loader import load_executor_class
from ..config.observability import ObservabilityOptions
from ..config.options import EXECUTOR_DEFAULTS, GATEWAY_DEFAULTS
from ..observe.tracing import tracing_settings
from ..observe.wiring import WorkerObservability
from ..transport.grpc_common import Health, new_server
from ..worker.grpc_service import SERVICE_NAMES, WorkerServicer, add_worker_services
from ..worker.runtime import ExecutorRuntime, HandlerObserver
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
    py_modules: list[str] = field(default_factory=list)
    base_dir: Path = field(default_factory=Path.cwd)
    replica_id: int = 0
    shard_id: int = 0
    workspace: str | None = None
    concurrency: int = EXECUTOR_DEFAULTS.concurrency
    sync_handlers: str = EXECUTOR_DEFAULTS.sync_handlers
    grace: float = GATEWAY_DEFAULTS.grace
    ready_fd: int | None = None
    observability: ObservabilityOptions = field(default_factory=ObservabilityOptions)


def build_observability(opts: WorkerOptions) -> WorkerObservability:
    """Metrics and tracing as configured (inert when both are off)."""
    options = opts.observability
    tracing = tracing_settings(options, opts.name, f"{opts.name}/{opts.shard_id}/{opts.replica_id}")
    return WorkerObservability(monitoring=options.monitoring, tracing=tracing)


def build_runtime(opts: WorkerOptions, observer: HandlerObserver | None = None,
                  ) -> ExecutorRuntime:
    cls = load_executor_class(
        opts.uses, py_modules=opts.py_modules, base_dir=opts.base_dir, executor_name=opts.name
    )
    runtime_args = {"name": opts.name, "replica_id": opts.replica_id, "shard_id": opts.shard_id,
                    "workspace": opts.workspace}
    executor = cls(**opts.uses_with, metas=opts.uses_metas or None, runtime_args=runtime_args)
    return ExecutorRuntime(executor, concurrency=opts.concurrency, observer=observer,
                           sync_handlers=opts.sync_handlers, uses_requests=opts.uses_requests)


async def serve_worker(opts: WorkerOptions, stop: asyncio.Event) -> None:
    """Serve until `stop` is set, then drain in-flight requests within `opts.grace` seconds."""
    observability = build_observability(opts)
    runtime = build_runtime(opts, observability.handler_observer)
    health = Health(SERVICE_NAMES)
    server, port = new_server(SERVICE_NAMES, health, bind=f"{opts.host}:{opts.port}")
    add_worker_services(WorkerServicer(runtime, trace=observability.trace_hook(opts.name)),
                        server)
    await server.start()
    monitoring_port = observability.start(opts.host, opts.observability.port_monitoring)
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
        runtime.close()
        await observability.close()


def run_worker(opts: WorkerOptions) -> None:
    """Blocking entry point of `flowserve executor`."""

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        await serve_worker(opts, stop)

    asyncio.run(main())
