"""Prometheus-operator objects of a monitored Flow, and the plain rules file.

With monitoring on, the Kubernetes export adds the Grafana dashboard's ConfigMap and a
``PrometheusRule`` holding flowserve's alerts (:mod:`flowserve.observe.alerts`), labelled like
the gateway. Without the operator (Docker Compose, a hand-run Prometheus), ``flowserve export
prometheus-rules`` writes the same rules as a plain rules file. Pure data: no I/O.
"""

from __future__ import annotations

from typing import Any

from ..observe.alerts import prometheus_rule
from ..observe.grafana import grafana_config_map
from ._names import Component

__all__ = ["monitoring_objects"]


def monitoring_objects(flow_name: str, gateway: Component, namespace: str,
                       ) -> list[dict[str, Any]]:
    """The dashboard ConfigMap and the alert rules of a Flow whose gateway is `gateway`."""
    return [
        grafana_config_map(flow_name, name=f"{gateway.name}-grafana", namespace=namespace,
                           labels=gateway.labels()),
        prometheus_rule(name=f"{gateway.name}-alerts", namespace=namespace,
                        labels=gateway.labels()),
    ]
