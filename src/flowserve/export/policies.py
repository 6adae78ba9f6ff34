"""Kubernetes-native access objects of each component: its ServiceAccount (its identity, in
the mesh too), its NetworkPolicy, and for replicated executors a PodDisruptionBudget.

NetworkPolicies restrict ingress only (the gateway calls external executors, and every pod
resolves names): an executor admits the gateway of its own Flow instance on its gRPC port; the
gateway admits anyone on its ports (it is the Flow's public face). Both admit scrapers on the
metrics port and on the Linkerd proxy's admin port. Egress stays open.
"""

from __future__ import annotations

from typing import Any

from ._names import Component

__all__ = ["LINKERD_ADMIN_PORT", "network_policy", "pod_disruption_budget", "service_account"]

LINKERD_ADMIN_PORT = 4191
"""The Linkerd proxy's metrics and readiness port, scraped by linkerd-viz's Prometheus."""


def service_account(component: Component, namespace: str) -> dict[str, Any]:
    """The component's own ServiceAccount: no token is mounted, the API is never called."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": component.metadata(namespace),
        "automountServiceAccountToken": False,
    }


def _tcp(*ports: int | str) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def network_policy(component: Component, namespace: str, ports: list[int],
                   monitoring_port: int | None, gateway: Component | None) -> dict[str, Any]:
    """Ingress of `component`: `ports` from `gateway`'s pods (from anywhere when `gateway` is
    None, i.e. for the gateway itself), metrics from anywhere."""
    serving: dict[str, Any] = {"ports": _tcp(*ports)}
    if gateway is not None:
        serving["from"] = [{"podSelector": {"matchLabels": gateway.selector()}}]
    scraped = [p for p in (monitoring_port, LINKERD_ADMIN_PORT) if p is not None]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": component.metadata(namespace),
        "spec": {
            "podSelector": {"matchLabels": component.selector()},
            "policyTypes": ["Ingress"],
            "ingress": [serving, {"ports": _tcp(*scraped)}],
        },
    }


def pod_disruption_budget(component: Component, namespace: str) -> dict[str, Any]:
    """At most one pod of a replicated executor down at a time during voluntary disruptions
    (node drains, cluster upgrades)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": component.metadata(namespace),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": component.selector()},
        },
    }
