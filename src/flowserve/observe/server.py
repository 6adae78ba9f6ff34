"""The monitoring HTTP server of a gateway or executor process: ``/metrics`` (and, on a
gateway, the dashboard) on ``port_monitoring``.

It runs on the process's own event loop (uvicorn over a socket bound up front, so the port is
known at once, even when 0 asked for a free one). Scrapes therefore read the gateway's queues
on the same thread that changes them: no locks, no torn snapshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

if TYPE_CHECKING:
    from .dashboard import Dashboard

__all__ = ["MonitoringServer", "monitoring_app"]


def monitoring_app(registry: CollectorRegistry, *, dashboard: Dashboard | None = None,
                   ) -> FastAPI:
    """``GET /metrics`` (Prometheus text format) and, given a dashboard, ``/dashboard``."""
    app = FastAPI(title="flowserve monitoring", docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    if dashboard is not None:
        from .dashboard import dashboard_router

        app.include_router(dashboard_router(dashboard))
    return app


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"monitoring: cannot listen on {host}:{port}: {exc}") from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process's composition root owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class MonitoringServer:
    """Serves an ASGI app on (host, port) from the running event loop until `stop`."""

    def __init__(self, server: _Server, task: asyncio.Task[None], port: int) -> None:
        self._server = server
        self._task = task
        self.port = port

    @classmethod
    def start(cls, app: FastAPI, host: str, port: int = 0) -> MonitoringServer:
        """Bind now (0 picks a free port, see `.port`) and serve in a task of the running loop."""
        sock = _listen(host, port)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                timeout_graceful_shutdown=1)
        server = _Server(config)
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        return cls(server, task, sock.getsockname()[1])

    async def stop(self) -> None:
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await self._task
