"""Prometheus-operator objects of a monitored Flow, and the plain rules file.

With monitoring on, the Kubernetes export adds a ``PodMonitor`` (how kube-prometheus-stack
discovers targets; it ignores the pods' ``prometheus.io/*`` annotations) scraping the port named
``monitoring`` of every pod of the Flow instance, the Grafana dashboard's ConfigMap and a
``PrometheusRule`` holding flowserve's alerts (:mod:`flowserve.observe.alerts`), all labelled
like the gateway. The PodMonitor's targets get ``job="<namespace>/<gateway>-pods"``: one job
per Flow instance, which the dashboard's "Flow" variable and the alerts group by. Without the
operator (Docker Compose, a hand-run Prometheus), ``flowserve export prometheus-rules`` writes
the same rules as a plain rules file. Pure data: no I/O.
"""

from __future__ import annotations

from typing import Any

from ..observe.alerts import prometheus_rule
from ..observe.grafana import grafana_config_map
from ._names import Component

__all__ = ["SCRAPE_INTERVAL", "job", "monitoring_objects", "pod_monitor", "queue_demand_query"]

SCRAPE_INTERVAL = "15s"


def monitoring_objects(flow_name: str, gateway: Component, namespace: str,
                       ) -> list[dict[str, Any]]:
    """The dashboard ConfigMap and the alert rules of a Flow whose gateway is `gateway`."""
    return [
        pod_monitor(gateway, namespace),
        grafana_config_map(flow_name, name=f"{gateway.name}-grafana", namespace=namespace,
                           labels=gateway.labels()),
        prometheus_rule(name=f"{gateway.name}-alerts", namespace=namespace,
                        labels=gateway.labels()),
    ]


def _pod_monitor_name(gateway: Component) -> str:
    return f"{gateway.name}-pods"


def job(gateway: Component, namespace: str) -> str:
    """The ``job`` label the PodMonitor's targets get (the operator names it so)."""
    return f"{namespace}/{_pod_monitor_name(gateway)}"


def queue_demand_query(executor: str, matchers: dict[str, str]) -> str:
    """PromQL: requests for `executor` queued at the gateway plus in flight at its replicas
    (series selected by `matchers` too). In flight counts: on Kubernetes the gateway lets
    ``max_replicas x concurrency`` requests through to the Service, so requests wait inside
    the replicas before the gateway's queue builds."""
    labels = ", ".join(f'{k}="{v}"' for k, v in {**matchers, "executor": executor}.items())
    return (f"sum(flowserve_executor_queue_depth{{{labels}}}) "
            f"+ sum(flowserve_executor_in_flight{{{labels}}})")


def pod_monitor(gateway: Component, namespace: str) -> dict[str, Any]:
    """A PodMonitor for every pod of the Flow instance `gateway` belongs to; pods without a
    ``monitoring`` port (monitoring off for that executor) are not scraped."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": _pod_monitor_name(gateway), "namespace": namespace,
                     "labels": gateway.labels()},
        "spec": {
            "selector": {"matchLabels": {
                "app.kubernetes.io/instance": gateway.instance,
                "app.kubernetes.io/managed-by": gateway.labels()["app.kubernetes.io/managed-by"],
            }},
            "podMetricsEndpoints": [{"port": "monitoring", "path": "/metrics",
                                     "interval": SCRAPE_INTERVAL}],
        },
    }
