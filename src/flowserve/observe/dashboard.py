"""The live dashboard of a running Flow: a page and the JSON it polls every second.

Routes (on the gateway's monitoring port):

- ``GET /dashboard``: the page (plain HTML/CSS/JS shipped in ``observe/static``: no CDN, no
  build step);
- ``GET /dashboard/api/snapshot``: topology, the latest sample of every node, replicas, the
  top queued clients and the hot spot (deepest queue, and the client filling it);
- ``GET /dashboard/api/history?seconds=N``: the samples of the last N seconds (default 300).

`flowserve top` reads the same snapshot. `Dashboard.run` samples the gateway once a second
into a `History`, whether or not anyone is watching, so the charts cover the past minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
from importlib import resources
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from ..gateway.scheduler import ClientStats
from .history import History
from .metrics import QueueSource, top_queued

__all__ = ["Dashboard", "dashboard_router"]

STATIC = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}


def _depths(needs: dict[str, list[str]], order: list[str]) -> dict[str, int]:
    """Column of each node in the drawing: 1 + the deepest node it needs (gateway = 0)."""
    depth = {"gateway": 0}
    for name in order:
        depth[name] = 1 + max((depth.get(n, 0) for n in needs.get(name, [])), default=0)
    return depth


class Dashboard:
    """Reads a gateway core and its `History` into the JSON the page and `flowserve top` use."""

    def __init__(self, core: QueueSource, history: History, *, name: str = "gateway",
                 interval: float = 1.0) -> None:
        self.core = core
        self.history = history
        self.name = name
        self.interval = interval
        # the topology does not change while the gateway runs
        self.needs, self.order, self.sinks = self._graph()
        self.depth = _depths(self.needs, self.order)

    def _graph(self) -> tuple[dict[str, list[str]], list[str], list[str]]:
        graph = getattr(self.core, "graph", None)
        if graph is None:
            names = list(self.core.deployments)
            return {n: ["gateway"] for n in names}, names, names
        return ({k: list(v) for k, v in graph.needs.items()}, list(graph.order),
                list(graph.sinks))

    def replicas(self) -> dict[str, list[dict[str, Any]]]:
        """Per node, one row per replica: address, shard, in flight, requests, failures..."""
        out = {}
        for name, dep in self.core.deployments.items():
            out[name] = [
                {"address": str(r.get("address")), "shard": r.get("shard", 0),
                 "in_flight": r.get("in_flight", 0), "requests": r.get("requests", 0),
                 "failures": r.get("failures", 0), "ejected": bool(r.get("ejected")),
                 "ewma_ms": r.get("ewma_ms")}
                for r in dep.replica_snapshot()
            ]
        return out

    def sample(self) -> dict[str, Any]:
        """Take one sample into the history (called every `interval` by `run`)."""
        healthy = {name: sum(not r["ejected"] for r in rows)
                   for name, rows in self.replicas().items()}
        return self.history.tick(self.core.snapshot()["deployments"], healthy)

    async def run(self, stop: asyncio.Event) -> None:
        """Sample every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    def snapshot(self) -> dict[str, Any]:
        """Everything the page shows now (the latest sample plus topology and replicas)."""
        point = self.history.latest() or self.sample()
        needs, order, depth = self.needs, self.order, self.depth
        replicas = self.replicas()
        nodes = {}
        for name in order:
            node = dict(point["nodes"].get(name, {}))
            node["replica_rows"] = replicas.get(name, [])
            nodes[name] = node
        clients = self.core.snapshot()["clients"]
        stats = {c: ClientStats(**v) for c, v in clients.items()}
        top, _ = top_queued(stats)
        return {
            "name": self.name,
            "t": point["t"],
            "interval": self.interval,
            "topology": {
                "nodes": [{"name": n, "needs": needs.get(n, []), "depth": depth[n],
                           "replicas": len(replicas.get(n, []))} for n in order],
                "sinks": self.sinks,
            },
            "gateway": point["gateway"],
            "nodes": nodes,
            "clients": [{"client": c, "queued": s.queued, "in_flight": s.in_flight,
                         "admitted": s.admitted, "rejected": s.rejected} for c, s in top],
            "hot": hot_spot(nodes),
        }

    def series(self, seconds: float | None) -> dict[str, Any]:
        return {"interval": self.interval, "points": self.history.series(seconds)}


def hot_spot(nodes: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The node with the deepest queue (if any request waits) and the client with most
    requests queued there, with its share of that queue."""
    waiting = [(n.get("queue_depth") or 0, name) for name, n in nodes.items()]
    depth, name = max(waiting, default=(0, ""))
    if depth <= 0:
        return None
    node = nodes[name]
    clients = [c for c in node.get("top_clients", []) if c["queued"]]
    top = clients[0] if clients else None
    return {
        "node": name, "queue_depth": depth, "capacity": node.get("capacity"),
        "client": top["client"] if top else None,
        "client_queued": top["queued"] if top else 0,
        "share": round(top["queued"] / depth, 3) if top else 0.0,
        "wait_p50": node.get("wait_p50"), "wait_p95": node.get("wait_p95"),
    }


def _asset(name: str) -> str:
    return resources.files("flowserve.observe").joinpath("static", name).read_text("utf-8")


def dashboard_router(dashboard: Dashboard) -> APIRouter:
    """The dashboard's routes, to include in the monitoring app."""
    router = APIRouter()

    @router.get("/dashboard", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(_asset("dashboard.html"), headers={"Cache-Control": "no-cache"})

    @router.get("/dashboard/static/{name}")
    async def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, f"no asset {name!r}")
        return Response(_asset(name), media_type=STATIC[name],
                        headers={"Cache-Control": "no-cache"})

    @router.get("/dashboard/api/snapshot")
    async def snapshot() -> dict[str, Any]:
        return dashboard.snapshot()

    @router.get("/dashboard/api/history")
    async def history(seconds: float = Query(300.0, gt=0, le=3600)) -> dict[str, Any]:
        return dashboard.series(seconds)

    return router
