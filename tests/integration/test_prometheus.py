"""A real Prometheus scrapes a flooded Flow: every PromQL expression flowserve ships returns
data, every /metrics page passes ``promtool check metrics``, the queue alert goes pending
naming the slow executor, and the KEDA query returns that executor's demand."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from procs import running, wait_until
from prometheus import JOB, Prometheus, prometheus, promtool
from toy_executors import AppendText, Slow

from flowserve import Client, Document, Flow
from flowserve.export.prometheus import queue_demand_query
from flowserve.observe.alerts import ALERTS, rule_groups
from flowserve.observe.grafana import grafana_dashboard

pytestmark = pytest.mark.integration

SERVICE_TIME = 0.2
FLOOD_WINDOW = 60  # requests of one document outstanding: 12 s of work queued at the slow one
FLOOD_MAX = 3000  # bounds of the flood, which otherwise lasts until the module's tests end
FLOOD_SECONDS = 420


def grafana_query(expr: str) -> str:
    """A dashboard query as Grafana sends it, all namespaces and this test's job chosen."""
    label_values = re.fullmatch(r"label_values\((.*), (\w+)\)", expr)
    if label_values:  # a variable's query: Grafana asks the series API; same answer
        expr = f"count by ({label_values[2]}) ({label_values[1]})"
    return expr.replace("$namespace", ".*").replace("$job", JOB)


def shipped_expressions() -> dict[str, str]:
    """Every PromQL expression flowserve ships: label -> expression."""
    dashboard = grafana_dashboard()
    exprs = {f"grafana {panel['title']} {target['refId']}": grafana_query(target["expr"])
             for panel in dashboard["panels"] for target in panel["targets"]}
    exprs.update({f"grafana variable {v['name']}": grafana_query(v["query"]["query"])
                  for v in dashboard["templating"]["list"] if v["type"] == "query"})
    exprs.update({f"alert {alert.name}": alert.signal for alert in ALERTS})
    return exprs


def missing_data(prom: Prometheus, exprs: dict[str, str]) -> dict[str, str]:
    return {label: expr for label, expr in exprs.items() if not prom.query(expr)}


@pytest.fixture(scope="module")
def flooded(tmp_path_factory):
    """A Flow with a slow executor, flooded by one client, scraped by a real Prometheus."""
    tmp = tmp_path_factory.mktemp("prometheus")
    rules = tmp / "rules.yml"
    rules.write_text(yaml.safe_dump(rule_groups()), encoding="utf-8")
    flow = (Flow(monitoring=True)
            .add(name="slow_executor", uses=Slow, uses_with={"delay": SERVICE_TIME})
            .add(name="after", uses=AppendText))
    with running(flow):
        addresses = flow.addresses
        pages = [addresses.metrics_url] + [f"http://{a}/metrics" for replicas in
                                           addresses.executor_monitoring.values()
                                           for a in replicas]
        targets = [urlsplit(url).netloc for url in pages]
        with prometheus(tmp, targets, rule_files=[rules]) as prom:
            answered: list[int] = []
            sent: list[int] = []
            errors: list[BaseException] = []
            stop = threading.Event()

            def docs() -> Iterator[Document]:
                """Documents while the tests run (the client takes them as its window of
                FLOOD_WINDOW requests frees up, so the slow executor's queue stays full)."""
                until = time.monotonic() + FLOOD_SECONDS
                for j in range(FLOOD_MAX):
                    if stop.is_set() or time.monotonic() > until:
                        return
                    sent.append(1)
                    yield Document(text=f"f{j}")

            def flood() -> None:
                try:
                    with Client(host=addresses.gateway_url("grpc")) as client:
                        client.post("/", docs(), request_size=1, prefetch=FLOOD_WINDOW,
                                    on_done=lambda r: answered.append(1))
                except BaseException as exc:  # noqa: BLE001 - surfaced below
                    errors.append(exc)

            flooder = threading.Thread(target=flood)
            started = time.monotonic()
            flooder.start()
            try:
                yield {"prom": prom, "pages": pages, "started": started,
                       "answered": answered}
            finally:
                stop.set()
                flooder.join(300)
            assert not errors, errors
            assert not flooder.is_alive()
            assert len(answered) == len(sent) > FLOOD_WINDOW


def test_every_shipped_expression_returns_data_during_the_flood(flooded):
    prom, exprs = flooded["prom"], shipped_expressions()
    assert wait_until(lambda: not missing_data(prom, exprs), 120, 1.0), \
        missing_data(prom, exprs)


def test_queue_alert_goes_pending_naming_the_slow_executor(flooded):
    prom = flooded["prom"]

    def queue_alerts() -> list[dict]:
        return [a for a in prom.alerts()
                if a["labels"]["alertname"] == "FlowserveExecutorQueueWaitHigh"]

    assert wait_until(queue_alerts, 120, 0.5), prom.alerts()
    seconds = time.monotonic() - flooded["started"]
    alert = queue_alerts()[0]
    assert alert["state"] in ("pending", "firing")
    assert alert["labels"]["executor"] == "slow_executor"
    assert {a["labels"]["executor"] for a in queue_alerts()} == {"slow_executor"}
    print(f"\nFlowserveExecutorQueueWaitHigh {alert['state']} {seconds:.1f} s into the flood, "
          f"p95 wait {float(alert['value']):.1f} s, {len(flooded['answered'])} answered")


def test_keda_query_returns_the_demand_of_the_right_executor(flooded):
    """The ScaledObject's query (the export selects namespace and the PodMonitor's job; here
    the test's job) sees the slow executor's flood and not the fast one's."""
    prom = flooded["prom"]

    def demand(executor: str) -> float:
        (sample,) = prom.query(queue_demand_query(executor, {"job": JOB}))
        return float(sample["value"][1])

    assert wait_until(lambda: demand("slow_executor") >= 10, 120, 0.5), demand("slow_executor")
    depth = prom.query('flowserve_executor_queue_depth{executor="slow_executor"}')
    assert float(depth[0]["value"][1]) >= 5
    assert demand("after") <= 2


def test_every_metrics_page_passes_promtool_check_metrics(flooded):
    for url in flooded["pages"]:
        page = httpx.get(url, timeout=10).text
        assert "flowserve_build_info{" in page
        done = promtool("check", "metrics", stdin=page)
        assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), (
            url, done.stdout + done.stderr)
