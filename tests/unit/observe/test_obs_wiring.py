"""How monitoring and tracing reach each process: gateway and executor flags (local Flow and
Kubernetes export), and the Grafana dashboard the export writes. Pure data, no processes."""

from __future__ import annotations

import dataclasses
import json
import re

from prometheus_client import CollectorRegistry

from flowserve.cli.main import _parser
from flowserve.config.graph import build_graph
from flowserve.config.spec import flow_from_dict
from flowserve.export.images import ExecutorImage
from flowserve.export.kubernetes import kubernetes_manifests
from flowserve.export.validate import check_manifests
from flowserve.gateway.config import GatewayConfig
from flowserve.local.local_flow import executor_observability_argv
from flowserve.observe.alerts import ALERTS, rule_groups
from flowserve.observe.grafana import FILTER, grafana_dashboard
from flowserve.observe.metrics import GatewayMetrics, HandlerMetrics, QueueCollector

FLOW = {
    "with": {"monitoring": True, "tracing": True, "traces_exporter_host": "otel.example",
             "traces_exporter_port": 4317},
    "executors": [
        {"name": "slow_executor", "uses": "toy_executors:Slow", "replicas": 2,
         "port_monitoring": 9300},
        {"name": "bulky_executor", "uses": "toy_executors:Embed", "monitoring": False},
    ],
}
IMAGES = {name: ExecutorImage(image=f"registry.example.com/{name}:1", uses="toy_executors:NoOp")
          for name in ("slow_executor", "bulky_executor")}


def test_gateway_flags_round_trip_through_the_cli():
    spec = flow_from_dict(FLOW)
    config = GatewayConfig.from_flow(spec, build_graph(spec), {
        "slow_executor": ["127.0.0.1:1", "127.0.0.1:2"], "bulky_executor": ["127.0.0.1:3"]})
    config.observability = dataclasses.replace(config.observability, port_monitoring=9999,
                                               traces_file="/tmp/spans.jsonl")
    args = _parser().parse_args(["gateway", *config.to_argv()])
    assert (args.monitoring, args.port_monitoring) == (True, 9999)
    assert (args.tracing, args.traces_exporter_host, args.traces_exporter_port) == (
        True, "otel.example", 4317)
    assert args.traces_file == "/tmp/spans.jsonl"


def test_no_observability_flags_when_off():
    spec = flow_from_dict({"executors": [{"name": "a", "uses": "toy_executors:NoOp"}]})
    config = GatewayConfig.from_flow(spec, build_graph(spec), {"a": ["h:1"]})
    assert config.observability.to_argv() == []
    assert not {"--monitoring", "--tracing"} & set(config.to_argv())
    assert executor_observability_argv(spec, spec.executors[0], index=0) == []


def test_local_executors_inherit_monitoring_and_take_consecutive_fixed_ports():
    spec = flow_from_dict(FLOW)
    slow, bulky = spec.executors
    argv = executor_observability_argv(spec, slow, index=1)
    args = _parser().parse_args(["executor", "--uses", "m:C", *argv])
    assert (args.monitoring, args.port_monitoring, args.tracing) == (True, 9301, True)
    assert args.traces_exporter_host == "otel.example"
    assert "--monitoring" not in executor_observability_argv(spec, bulky, index=0)


def test_kubernetes_export_serves_metrics_where_prometheus_scrapes():
    spec = flow_from_dict(FLOW)
    objects = kubernetes_manifests(spec, IMAGES, namespace="demo")
    assert check_manifests(objects) == []
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    for name, port in (("gateway", 9090), ("slow-executor", 9300)):
        pod = deployments[name]["spec"]["template"]
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
        args = _parser().parse_args(pod["spec"]["containers"][0]["args"])
        assert (args.monitoring, args.port_monitoring, args.tracing) == (True, port, True)
    bulky = _parser().parse_args(
        deployments["bulky-executor"]["spec"]["template"]["spec"]["containers"][0]["args"])
    assert not bulky.monitoring and bulky.tracing


def test_kubernetes_export_ships_a_dashboard_and_alerts_only_with_monitoring():
    objects = kubernetes_manifests(flow_from_dict(FLOW), IMAGES, namespace="demo")
    (cm,) = [o for o in objects if o["metadata"]["name"] == "gateway-grafana"]
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    (text,) = cm["data"].values()
    assert json.loads(text)["title"] == "flowserve · gateway"
    (rule,) = [o for o in objects if o["kind"] == "PrometheusRule"]
    assert rule["metadata"]["name"] == "gateway-alerts"
    assert rule["spec"] == rule_groups()
    quiet = dict(FLOW, **{"with": {}})
    quiet["executors"] = [dict(e, monitoring=False) for e in FLOW["executors"]]
    assert not [o for o in kubernetes_manifests(flow_from_dict(quiet), IMAGES)
                if o["metadata"]["name"].endswith(("-grafana", "-alerts"))]


def test_pod_monitor_scrapes_the_monitoring_port_of_the_flows_monitored_pods():
    objects = kubernetes_manifests(flow_from_dict(FLOW), IMAGES, namespace="demo",
                                   instance="shop")
    (monitor,) = [o for o in objects if o["kind"] == "PodMonitor"]
    assert monitor["metadata"]["name"] == "shop-gateway-pods"
    wanted = monitor["spec"]["selector"]["matchLabels"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    scraped = set()
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]
        assert wanted.items() <= pod["metadata"]["labels"].items()
        ports = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
        if endpoint["port"] in ports:
            scraped.add(deployment["metadata"]["name"])
    assert scraped == {"shop-gateway", "shop-slow-executor"}  # bulky-executor: monitoring off


def test_every_grafana_series_is_filtered_by_namespace_and_flow():
    names = [v["name"] for v in grafana_dashboard("gw")["templating"]["list"]]
    assert names == ["datasource", "namespace", "job"]
    for panel in grafana_dashboard("gw")["panels"]:
        for target in panel["targets"]:
            selectors = re.findall(r"flowserve_[a-z_]+(.?)", target["expr"])
            assert selectors and all(s == "{" for s in selectors), target["expr"]
            assert target["expr"].count(FILTER) == len(selectors), target["expr"]


def _known_metric_names() -> set[str]:
    registry = CollectorRegistry()
    GatewayMetrics(registry)
    HandlerMetrics(registry)
    names = {m.name for m in registry.collect()}
    return names | {m.name for m in QueueCollector._families()}


def test_grafana_and_alert_queries_use_only_metrics_that_exist():
    known = _known_metric_names() | {"flowserve_build_info"}
    exprs = [t["expr"] for p in grafana_dashboard("gw")["panels"] for t in p["targets"]]
    exprs += [a.expr for a in ALERTS]
    used = {re.sub(r"_(bucket|total|count|sum)$", "", n)
            for e in exprs for n in re.findall(r"flowserve_[a-z_]+", e)}
    assert used and used <= known, used - known
    ids = [p["id"] for p in grafana_dashboard("gw")["panels"]]
    assert len(ids) == len(set(ids))
