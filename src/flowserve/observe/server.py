"""The monitoring HTTP app of a gateway or executor process: ``/metrics`` (and, on a
gateway, the dashboard) on ``port_monitoring``.

`wiring` serves it with `transport.http_server.HttpServer` on the process's own event loop
(uvicorn over a socket bound up front, so the port is known at once, even when 0 asked for a
free one). Scrapes therefore read the gateway's queues
on the same thread that changes them: no locks, no torn snapshots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

if TYPE_CHECKING:
    from .dashboard import Dashboard

__all__ = ["monitoring_app"]


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

