"""What a gateway or executor process observes, assembled once by its composition root.

`GatewayObservability` is made before the core (the core takes its `observer`, the replica
clients its gRPC `interceptors`), `attach`ed to the core once it exists, `start`ed with the
servers and `close`d last. `WorkerObservability` is the same for an executor process. With
monitoring and tracing both off they are inert and cost nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from .fanout import fanout
from .tracing import Tracing, TracingSettings, start_tracing

if TYPE_CHECKING:
    import grpc

    from ..gateway.core import GatewayCore
    from ..gateway.observer import Observer
    from ..transport.http_server import HttpServer
    from ..worker.grpc_service import StreamTraceHook, TraceHook
    from .dashboard import Dashboard
    from .metrics import HandlerMetrics

__all__ = ["GatewayObservability", "WorkerObservability"]

log = logging.getLogger(__name__)


class GatewayObservability:
    """Metrics, history, dashboard and tracing of one gateway process."""

    def __init__(self, *, name: str, monitoring: bool,
                 tracing: TracingSettings | None = None) -> None:
        self.name = name
        self.registry = self.metrics = self.history = None
        if monitoring:  # prometheus-client costs start-up: only when asked for
            from .history import History
            from .metrics import GatewayMetrics, new_registry

            self.registry = new_registry("gateway")
            self.metrics = GatewayMetrics(self.registry)
            self.history = History()
        self.tracing: Tracing | None = start_tracing(tracing) if tracing is not None else None
        self.dashboard: Dashboard | None = None
        self.server: HttpServer | None = None
        self._sampler: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def observer(self) -> Observer | None:
        return fanout(self.metrics, self.history,
                      self.tracing.gateway_observer() if self.tracing else None)

    def interceptors(self, *, executor: str, address: str) -> list[grpc.aio.ClientInterceptor]:
        if self.tracing is None:
            return []
        return self.tracing.client_interceptors(executor=executor, address=address)

    def attach(self, core: GatewayCore) -> None:
        """Read queues from `core` at scrape time (its spans come from `observer`)."""
        if self.registry is not None and self.history is not None:
            from .dashboard import Dashboard
            from .metrics import QueueCollector

            self.registry.register(QueueCollector(core))
            self.dashboard = Dashboard(core, self.history, name=self.name)

    def start(self, host: str, port: int | None) -> int | None:
        """Serve ``/metrics`` and the dashboard on `port` (None or 0: a free one); returns
        the port, or None when monitoring is off. Call from the running event loop."""
        if self.registry is None or self.dashboard is None:
            return None
        from ..transport.http_server import HttpServer
        from .server import monitoring_app

        app = monitoring_app(self.registry, dashboard=self.dashboard)
        self.server = HttpServer.start(app, host, port or 0, what="monitoring")
        self._sampler = asyncio.get_running_loop().create_task(self.dashboard.run(self._stop))
        log.info("gateway metrics and dashboard on port %d", self.server.port)
        return self.server.port

    async def close(self) -> None:
        self._stop.set()
        if self._sampler is not None:
            with contextlib.suppress(Exception):
                await self._sampler
        if self.server is not None:
            await self.server.stop()
        if self.tracing is not None:
            self.tracing.shutdown()


class WorkerObservability:
    """Metrics and tracing of one executor replica process."""

    def __init__(self, *, monitoring: bool, tracing: TracingSettings | None = None) -> None:
        self.registry = self.metrics = None
        if monitoring:  # prometheus-client costs start-up: only when asked for
            from .metrics import HandlerMetrics, new_registry

            self.registry = new_registry("executor")
            self.metrics = HandlerMetrics(self.registry)
        self.tracing: Tracing | None = start_tracing(tracing) if tracing is not None else None
        self.server: HttpServer | None = None

    @property
    def handler_observer(self) -> HandlerMetrics | None:
        return self.metrics

    def trace_hook(self, executor: str) -> TraceHook | None:
        return self.tracing.worker_hook(executor) if self.tracing is not None else None

    def stream_trace_hook(self, executor: str) -> StreamTraceHook | None:
        return self.tracing.worker_stream_hook(executor) if self.tracing is not None else None

    def start(self, host: str, port: int | None) -> int | None:
        """Serve ``/metrics`` on `port` (None or 0: a free one); None when monitoring is off."""
        if self.registry is None:
            return None
        from ..transport.http_server import HttpServer
        from .server import monitoring_app

        self.server = HttpServer.start(monitoring_app(self.registry), host, port or 0,
                                       what="monitoring")
        return self.server.port

    async def close(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self.tracing is not None:
            self.tracing.shutdown()
