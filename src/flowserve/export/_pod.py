"""Pod templates for the Kubernetes export: the container, its probes, its graceful stop.

Every pod gets ``linkerd.io/inject: enabled`` (so ``kubectl get pods`` shows 2/2 containers) and,
with monitoring on, Prometheus scrape annotations. The container is named ``executor`` (or
``gateway``) so ``kubectl logs <pod> executor`` works next to the ``linkerd-proxy`` sidecar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config.options import GATEWAY_DEFAULTS
from ._common import MANAGED_BY, PRESTOP_SECONDS, config_hash

__all__ = ["ContainerPlan", "labels", "pod_template", "selector"]

STARTUP_PERIOD = 2
"""Seconds between startup probes; their count covers the Flow's ``timeout_ready``."""


@dataclass(frozen=True)
class ContainerPlan:
    """Everything that differs between the gateway's and an executor's pod."""

    name: str
    """The Kubernetes name of the component (also its ``app`` label)."""
    flow_name: str
    """The name in the Flow (may contain ``_``)."""
    role: str
    """``executor`` or ``gateway``: the container's name and the component label."""
    image: str
    args: list[str]
    ports: list[tuple[str, int]]
    """(port name, number); the first one named ``grpc`` carries the health probes."""
    env_config_map: str
    env: Mapping[str, str] = field(default_factory=dict)
    """The ConfigMap's data: its digest on the pod template rolls pods when it changes."""
    secret_env: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Variable -> (Secret name, key)."""
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    pull_policy: str = "IfNotPresent"
    pull_secrets: Sequence[str] = ()
    monitoring_port: int | None = None
    grace: float = GATEWAY_DEFAULTS.grace
    grace_period: int = 20
    timeout_ready: float = 60.0


def selector(name: str) -> dict[str, str]:
    """The labels a component's Service and Deployment select its pods by."""
    return {"app": name}


def labels(name: str, role: str) -> dict[str, str]:
    """Labels of every object of a component (a superset of :func:`selector`)."""
    return {
        **selector(name),
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": role,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def pod_template(plan: ContainerPlan) -> dict[str, Any]:
    """The Deployment's ``spec.template``."""
    annotations = {
        "linkerd.io/inject": "enabled",
        # keep the proxy up while the app drains, so in-flight calls can still leave the pod
        "config.alpha.linkerd.io/proxy-wait-before-exit-seconds":
            str(PRESTOP_SECONDS + math.ceil(plan.grace)),
        "flowserve.io/name": plan.flow_name,
        "flowserve.io/env-hash": config_hash(dict(plan.env)),
    }
    if plan.monitoring_port is not None:
        annotations.update({
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(plan.monitoring_port),
            "prometheus.io/path": "/metrics",
        })
    spec: dict[str, Any] = {
        "containers": [_container(plan)],
        "terminationGracePeriodSeconds": plan.grace_period,
        "enableServiceLinks": False,
    }
    if plan.pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in plan.pull_secrets]
    return {
        "metadata": {"labels": labels(plan.name, plan.role), "annotations": annotations},
        "spec": spec,
    }


def _container(plan: ContainerPlan) -> dict[str, Any]:
    ports = [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in plan.ports]
    if plan.monitoring_port is not None:
        ports.append({"name": "monitoring", "containerPort": plan.monitoring_port,
                      "protocol": "TCP"})
    container: dict[str, Any] = {
        "name": plan.role,
        "image": plan.image,
        "imagePullPolicy": plan.pull_policy,
        "command": ["flowserve"],
        "args": list(plan.args),
        "ports": ports,
        "envFrom": [{"configMapRef": {"name": plan.env_config_map}}],
    }
    if plan.secret_env:
        container["env"] = [
            {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            for var, (secret, key) in sorted(plan.secret_env.items())
        ]
    if plan.resources:
        container["resources"] = {k: dict(v) for k, v in plan.resources.items()}
    container.update(_probes(plan))
    container["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_SECONDS)]}}}
    return container


def _probes(plan: ContainerPlan) -> dict[str, Any]:
    """gRPC health probes on the gRPC port; an HTTP-only gateway is probed on ``GET /``."""
    ports = dict(plan.ports)

    def check() -> dict[str, Any]:  # a fresh dict each time: no YAML anchors in the output
        if "grpc" in ports:
            return {"grpc": {"port": ports["grpc"]}}
        return {"httpGet": {"path": "/", "port": plan.ports[0][0]}}

    startups = max(1, math.ceil(plan.timeout_ready / STARTUP_PERIOD))
    return {
        "startupProbe": {**check(), "periodSeconds": STARTUP_PERIOD, "timeoutSeconds": 2,
                         "failureThreshold": startups},
        "readinessProbe": {**check(), "periodSeconds": 5, "timeoutSeconds": 2,
                           "failureThreshold": 2},
        "livenessProbe": {**check(), "periodSeconds": 10, "timeoutSeconds": 5,
                          "failureThreshold": 3},
    }
