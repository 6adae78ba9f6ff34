"""The live dashboard in headless Chromium, on the demo's incident scaled down: a flooding
client fills the slow executor's queue while a light one posts now and then. The page must
show the topology and the numbers, update under traffic, and point at the slow executor and
the flooder. Also takes a screenshot (into the test's temporary folder; into the file named by
$FLOWSERVE_DASHBOARD_SCREENSHOT when set, e.g. docs/dashboard.png), and checks `flowserve top`
shows the same."""

from __future__ import annotations

import html.parser
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser import browse, chromium
from procs import child_env, running, wait_until
from toy_executors import Embed, Slow

from flowserve import Client, Document, Flow

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT_ENV = "FLOWSERVE_DASHBOARD_SCREENSHOT"
SERVICE_TIME = 0.1
MAX_FLOOD = 3000


class Page(html.parser.HTMLParser):
    """The parts of a dumped DOM the test reads: elements by data-node/data-field, texts."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.stack: list[dict[str, str]] = []
        self.cells: dict[tuple[str, str], str] = {}
        self.graph_nodes: set[str] = set()
        self.attrs_by_id: dict[str, dict[str, str]] = {}
        self.text_by_id: dict[str, str] = {}
        self.body: dict[str, str] = {}
        self.paths: dict[str, int] = {}
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        node = next((s["data-node"] for s in reversed(self.stack) if "data-node" in s), None)
        a["_node"] = node or ""
        a["_tag"] = tag
        if tag == "body":
            self.body = a
        if tag == "g" and "node" in a.get("class", "").split() and "data-node" in a:
            self.graph_nodes.add(a["data-node"])
        if "id" in a:
            self.attrs_by_id[a["id"]] = a
        svg = next((s["id"] for s in reversed(self.stack) if s.get("id", "").startswith(
            "chart-")), None)
        if tag == "path" and svg:
            self.paths[svg] = self.paths.get(svg, 0) + 1
        if tag not in ("circle", "rect", "path", "line", "br", "meta", "link", "input"):
            self.stack.append(a)

    def handle_endtag(self, tag: str) -> None:
        if not any(s["_tag"] == tag for s in self.stack):
            return  # an element that is never pushed (void or drawing-only)
        while self.stack.pop()["_tag"] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for s in reversed(self.stack):
            if "data-field" in s and s["_node"]:
                key = (s["_node"], s["data-field"])
                self.cells[key] = self.cells.get(key, "") + data
                break
        for s in self.stack:
            if "id" in s:
                self.text_by_id[s["id"]] = self.text_by_id.get(s["id"], "") + data


@pytest.fixture(scope="module")
def demo_flow() -> Iterator[Flow]:
    flow = (
        Flow(monitoring=True)
        .add(name="slow_executor", uses=Slow, uses_with={"delay": SERVICE_TIME}, replicas=2)
        .add(name="bulky_executor", uses=Embed, uses_with={"n_dim": 512})
    )
    with running(flow):
        yield flow


def snapshot(flow: Flow) -> dict:
    return httpx.get(f"{flow.addresses.dashboard_url}/api/snapshot", timeout=10).json()


def flood(url: str, client_id: str, stop: threading.Event, prefetch: int,
          answered: list[int]) -> None:
    def docs() -> Iterator[Document]:
        for i in range(MAX_FLOOD):
            if stop.is_set():
                return
            yield Document(text=f"{client_id}-{i}")

    with Client(host=url) as client:
        client.post("/", docs(), request_size=1, prefetch=prefetch,
                    metadata={"flowserve-client-id": client_id},
                    on_done=lambda r: answered.append(1))


def test_dashboard_shows_the_incident_and_updates_under_traffic(demo_flow, tmp_path):
    chromium()  # fail early, with the message, when it is missing
    url = demo_flow.addresses.dashboard_url
    before = Page(browse(url, tmp_path / "a", "--dump-dom"))
    assert before.graph_nodes == {"slow_executor", "bulky_executor"}
    assert int(before.body["data-polls"]) >= 1
    assert before.cells[("slow_executor", "replicas")] == "2/2"
    assert before.cells[("slow_executor", "queue_depth")] == "0"
    assert "hidden" in before.attrs_by_id["alert"]["class"]

    stop = threading.Event()
    answered: list[int] = []
    grpc_url = demo_flow.addresses.gateway_url()
    threads = [threading.Thread(target=flood, args=(grpc_url, "flooder", stop, 200, answered)),
               threading.Thread(target=flood, args=(grpc_url, "light", stop, 2, answered))]
    for t in threads:
        t.start()
    try:
        def flooded() -> bool:
            node = snapshot(demo_flow)["nodes"]["slow_executor"]
            return node["queue_depth"] >= 50 and node["rate"] > 0 and node["p50"] is not None

        assert wait_until(flooded, 60)
        during = Page(browse(url, tmp_path / "b", "--dump-dom"))
        assert float(during.attrs_by_id["updated"]["data-t"]) > float(
            before.attrs_by_id["updated"]["data-t"])
        depth = int(during.cells[("slow_executor", "queue_depth")])
        assert depth >= 50
        assert during.cells[("slow_executor", "rate")].endswith("/s")
        assert float(during.cells[("slow_executor", "rate")][:-2]) > 0
        assert during.cells[("slow_executor", "p50")] not in ("–", "")
        assert "flooder" in during.cells[("slow_executor", "top_clients")]
        alert = during.attrs_by_id["alert"]
        assert "hidden" not in alert["class"]
        assert (alert["data-node"], alert["data-client"]) == ("slow_executor", "flooder")
        assert "slow_executor" in during.text_by_id["alert"]
        assert during.attrs_by_id["graph"]  # the topology was drawn
        assert during.paths.get("chart-queue", 0) >= 1, "queue chart has a line"

        # let the charts cover some seconds of the incident, then take the screenshot
        assert wait_until(lambda: len(httpx.get(f"{url}/api/history", timeout=10).json()[
            "points"]) >= 25, 60)
        screenshot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "dashboard.png")
        screenshot.unlink(missing_ok=True)
        browse(url, tmp_path / "c", f"--screenshot={screenshot.resolve()}",
               "--window-size=1400,900", "--hide-scrollbars")
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        top = subprocess.run(
            [sys.executable, "-m", "flowserve", "top", url.rsplit("/", 1)[0], "--once"],
            capture_output=True, text=True, timeout=60, check=False,
            env=child_env(COLUMNS="200"),
        )
        assert top.returncode == 0, top.stderr
        assert "slow_executor" in top.stdout and "bulky_executor" in top.stdout
        assert "deepest queue: slow_executor" in top.stdout
        assert "flooder" in top.stdout
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    assert answered, "the flood was answered"
    after = snapshot(demo_flow)
    assert wait_until(lambda: snapshot(demo_flow)["nodes"]["slow_executor"]["queue_depth"] == 0,
                      60)
    assert after["gateway"]["requests"] > 0
