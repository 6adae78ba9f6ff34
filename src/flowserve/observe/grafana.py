"""A Grafana dashboard for a Flow's Prometheus metrics, written by the Kubernetes export.

The export ships it as a ConfigMap labelled ``grafana_dashboard: "1"``: Grafana's dashboard
sidecar (kube-prometheus-stack, the Grafana Helm chart) loads such ConfigMaps by itself; without
one, import the JSON under ``data`` by hand. Panels mirror the live dashboard: per executor the
request rate, success rate, latency percentiles (queue wait and processing apart), in flight,
queue depth and the top queued clients, plus the gateway's end-to-end rate and latency.
Pure data: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["grafana_config_map", "grafana_dashboard"]

RATE = "[1m]"
_DS = {"type": "prometheus", "uid": "${datasource}"}
FILTER = 'namespace=~"$namespace", job=~"$job"'
"""Every series a panel reads is filtered by the dashboard's namespace and Flow variables
(``job``: one per Flow instance, e.g. ``<namespace>/<gateway>-pods`` under the PodMonitor)."""


def _m(metric: str, extra: str = "") -> str:
    """`metric` with the dashboard's filter (and `extra` matchers)."""
    return f"{metric}{{{FILTER}{', ' + extra if extra else ''}}}"


def _panel(title: str, targets: list[tuple[str, str]], *, x: int, y: int, w: int = 12,
           h: int = 8, unit: str = "short", description: str = "") -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": _DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right",
                               "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi"}},
        "targets": [{"datasource": _DS, "expr": expr, "legendFormat": legend,
                     "refId": chr(ord("A") + i)} for i, (expr, legend) in enumerate(targets)],
    }


def _quantiles(metric: str, by: str) -> list[tuple[str, str]]:
    group = f"{by}, le" if by else "le"
    prefix = f"{{{{{by}}}}} " if by else ""
    return [(f"histogram_quantile({q}, sum by ({group}) (rate({_m(metric + '_bucket')}{RATE})))",
             f"{prefix}p{int(q * 100)}") for q in (0.5, 0.95, 0.99)]


def _variable(name: str, label: str, query: str) -> dict[str, Any]:
    """A multi-value query variable over a label of `flowserve_build_info`, "All" = any."""
    return {"name": name, "label": label, "type": "query", "datasource": _DS,
            "query": {"query": query, "refId": name}, "definition": query,
            "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
            "current": {"text": "All", "value": "$__all"}, "sort": 1}


def grafana_dashboard(flow_name: str = "gateway") -> dict[str, Any]:
    """The dashboard model (Grafana's JSON) for a Flow whose gateway is `flow_name`."""
    req = "flowserve_executor_requests_total"
    success = _m(req, 'outcome="success"')
    healthy = _m("flowserve_executor_replicas", 'state="healthy"')
    panels = [
        _panel("Gateway requests by outcome",
               [(f"sum by (outcome) (rate({_m('flowserve_gateway_requests_total')}{RATE}))",
                 "{{outcome}}")], x=0, y=0, unit="reqps"),
        _panel("Gateway end-to-end latency",
               _quantiles("flowserve_gateway_request_duration_seconds", ""), x=12, y=0,
               unit="s"),
        _panel("Executor request rate", [(f"sum by (executor) (rate({_m(req)}{RATE}))",
                                          "{{executor}}")], x=0, y=8, unit="reqps"),
        _panel("Executor success rate",
               [((f"sum by (executor) (rate({success}{RATE})) / "
                  f"sum by (executor) (rate({_m(req)}{RATE}))"), "{{executor}}")],
               x=12, y=8, unit="percentunit"),
        _panel("Queue wait at the gateway (p50/p95/p99)",
               _quantiles("flowserve_executor_queue_wait_seconds", "executor"), x=0, y=16,
               unit="s", description="Time requests wait for a free replica: a flooded "
                                     "slow executor's 'p50 of 50 s' shows up here."),
        _panel("Executor processing time (p50/p95/p99)",
               _quantiles("flowserve_executor_processing_seconds", "executor"), x=12, y=16,
               unit="s"),
        _panel("Queue depth", [(f"sum by (executor) ({_m('flowserve_executor_queue_depth')})",
                                "{{executor}}")], x=0, y=24),
        _panel("In flight / capacity",
               [(f"sum by (executor) ({_m('flowserve_executor_in_flight')})",
                 "{{executor}} in flight"),
                (f"sum by (executor) ({_m('flowserve_executor_capacity')})",
                 "{{executor}} capacity")],
               x=12, y=24),
        _panel("Queued requests by client (top 10)",
               [(f"topk(10, sum by (executor, client) "
                 f"({_m('flowserve_executor_queued_requests')}))",
                 "{{executor}} · {{client}}")], x=0, y=32,
               description="Who fills the queues: the client flooding the Flow."),
        _panel("Response bytes per second",
               [(f"sum by (executor) "
                 f"(rate({_m('flowserve_executor_response_bytes_total')}{RATE}))",
                 "{{executor}}")], x=12, y=32, unit="Bps"),
        _panel("Handler time in executors (p95)",
               [((f"histogram_quantile(0.95, sum by (executor, le) "
                  f"(rate({_m('flowserve_handler_duration_seconds_bucket')}{RATE})))"),
                 "{{executor}}")],
               x=0, y=40, unit="s"),
        _panel("Healthy replicas",
               [(f"sum by (executor) ({healthy})",
                 "{{executor}}")], x=12, y=40),
    ]
    for i, panel in enumerate(panels, start=1):
        panel["id"] = i
    return {
        "title": f"flowserve · {flow_name}",
        "uid": f"flowserve-{flow_name}"[:40],
        "tags": ["flowserve"],
        "timezone": "browser",
        "schemaVersion": 39,
        "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus",
             "label": "Prometheus"},
            _variable("namespace", "Namespace", "label_values(flowserve_build_info, namespace)"),
            _variable("job", "Flow",
                      'label_values(flowserve_build_info{namespace=~"$namespace"}, job)'),
        ]},
        "panels": panels,
    }


def grafana_config_map(flow_name: str, *, name: str, namespace: str,
                       labels: dict[str, str]) -> dict[str, Any]:
    """The dashboard as a ConfigMap that Grafana's sidecar picks up."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {**labels, "grafana_dashboard": "1"}},
        "data": {f"flowserve-{name}.json": json.dumps(grafana_dashboard(flow_name), indent=1)},
    }
