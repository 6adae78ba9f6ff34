"""The monitoring HTTP server of a gateway or executor process: ``/metrics`` (and, on a
gateway, the dashboard) on ``port_monitoring``.

It runs on the process's own event loop (uvicorn over a socket bound up front, so the port is
known at once, even when 0 asked for a free one). Scrapes therefore read the gateway's queues
on the same thread that changes them: no locks, no torn snapshots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ..transport.http_server import HttpServer

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


class MonitoringServer(HttpServer):
    """The process's monitoring endpoint (``/metrics``, and the dashboard on a gateway)."""

    @classmethod
    def start(cls, app: Any, host: str, port: int = 0, *, grace: float = 1.0,
              what: str = "monitoring") -> HttpServer:
        """Bind now (0 picks a free port, see `.port`) and serve in a task of the running loop."""
        return HttpServer.start(app, host, port, grace=grace, what=what)
