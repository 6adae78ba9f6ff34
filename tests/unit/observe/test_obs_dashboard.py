"""The dashboard's JSON, its routes (in-process ASGI, no sockets), its assets, and the same
numbers rendered by `flowserve top`."""

from __future__ import annotations

import asyncio
import re
from importlib import resources

import httpx
from observe_fakes import FakeCore, queue
from prometheus_client import CollectorRegistry
from rich.console import Console

from flowserve.cli.top import render, snapshot_url
from flowserve.observe.dashboard import Dashboard, hot_spot
from flowserve.observe.history import History
from flowserve.observe.server import monitoring_app


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def seed_like() -> tuple[FakeCore, Dashboard]:
    core = FakeCore(
        {"slow_executor": ["gateway"], "bulky_executor": ["slow_executor"]},
        {"slow_executor": queue("slow_executor", capacity=2, in_flight=2,
                                clients={"ipv4:127.0.0.1:50000": 57, "light": 1}),
         "bulky_executor": queue("bulky_executor", capacity=1)},
        {"slow_executor": 2, "bulky_executor": 1},
    )
    clock = Clock()
    history = History(clock=clock, wall=clock)
    clock.t += 1
    for _ in range(2):
        history.executor_call(executor="slow_executor", replica="r", endpoint="/",
                              outcome="success", seconds=1.0, request_bytes=0, response_bytes=0,
                              docs=20)
    return core, Dashboard(core, history, name="gateway")


def test_snapshot_has_topology_numbers_and_the_hot_spot():
    _, dash = seed_like()
    dash.sample()
    snap = dash.snapshot()
    assert [(n["name"], n["needs"], n["depth"], n["replicas"]) for n in snap["topology"]["nodes"]] \
        == [("slow_executor", ["gateway"], 1, 2), ("bulky_executor", ["slow_executor"], 2, 1)]
    assert snap["topology"]["sinks"] == ["bulky_executor"]
    slow = snap["nodes"]["slow_executor"]
    assert (slow["queue_depth"], slow["in_flight"], slow["rate"], slow["p50"]) == (58, 2, 2.0, 1.0)
    assert [r["address"] for r in slow["replica_rows"]] == ["slow_executor:0", "slow_executor:1"]
    assert snap["clients"][0]["client"] == "ipv4:127.0.0.1:50000"
    assert snap["hot"] == {"node": "slow_executor", "queue_depth": 58, "capacity": 2,
                           "client": "ipv4:127.0.0.1:50000", "client_queued": 57,
                           "share": round(57 / 58, 3), "wait_p50": None,
                           "wait_p95": None}


def test_no_hot_spot_without_a_queue():
    assert hot_spot({"a": {"queue_depth": 0, "top_clients": []}}) is None


def test_routes_serve_the_page_assets_api_and_metrics():
    _, dash = seed_like()
    app = monitoring_app(CollectorRegistry(), dashboard=dash)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://monitoring") as http:
            page = await http.get("/dashboard")
            assert page.status_code == 200 and '<svg id="graph"' in page.text
            js = await http.get("/dashboard/static/dashboard.js")
            assert js.headers["content-type"].startswith("text/javascript")
            assert (await http.get("/dashboard/static/dashboard.css")).status_code == 200
            assert (await http.get("/dashboard/static/secret.txt")).status_code == 404
            snap = (await http.get("/dashboard/api/snapshot")).json()
            assert snap["hot"]["node"] == "slow_executor"
            history = (await http.get("/dashboard/api/history", params={"seconds": 60})).json()
            assert history["interval"] == 1.0 and len(history["points"]) == 1
            assert (await http.get("/metrics")).status_code == 200

    asyncio.run(go())


def test_assets_ship_in_the_package_and_load_nothing_from_the_internet():
    static = resources.files("flowserve.observe").joinpath("static")
    names = sorted(p.name for p in static.iterdir())
    assert names == ["dashboard.css", "dashboard.html", "dashboard.js"]
    for name in names:
        text = static.joinpath(name).read_text("utf-8")
        external = re.findall(r"(?:src|href)=\"(?:https?:)?//|@import|url\(\s*['\"]?https?:", text)
        assert not external, f"{name} loads something from outside: {external}"


def test_top_renders_the_same_numbers():
    _, dash = seed_like()
    dash.sample()
    console = Console(record=True, width=160)
    console.print(render(dash.snapshot()))
    text = console.export_text()
    assert "slow_executor" in text and "bulky_executor" in text
    assert "2.0/s" in text and "1000 ms" in text
    assert "deepest queue: slow_executor with 58 waiting" in text
    assert "ipv4:127.0.0.1:50000 has 57 queued (98%)" in text


def test_top_accepts_host_port_or_urls():
    api = "http://h:9/dashboard/api/snapshot"
    assert snapshot_url("h:9") == api
    assert snapshot_url("http://h:9/dashboard") == api
    assert snapshot_url("http://h:9/metrics") == api
    assert snapshot_url("https://h:9/") == "https://h:9/dashboard/api/snapshot"
