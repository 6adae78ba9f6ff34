"""Pod templates for the Kubernetes export: the container, its probes, its graceful stop, and
the restricted security context of :mod:`._security`.

Every pod gets ``linkerd.io/inject: enabled`` (so ``kubectl get pods`` shows 2/2 containers),
its own ServiceAccount (its mesh identity) and, with monitoring on, Prometheus scrape
annotations. The container is named ``executor`` (or ``gateway``) so
``kubectl logs <pod> executor`` works next to the ``linkerd-proxy`` sidecar.

Executors are probed by a command run inside the container against ``127.0.0.1``: their gRPC
port admits only the gateway's mesh identity (:mod:`.linkerd`), and Linkerd authorizes kubelet
probes by itself only for HTTP probes, so a native gRPC probe would be refused. Loopback traffic
does not pass through the proxy. The gateway's ports are open to clients, so it keeps native
gRPC probes.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config.options import GATEWAY_DEFAULTS
from ._commands import grpc_health_command
from ._common import PRESTOP_SECONDS, config_hash
from ._names import Component
from ._security import SCRATCH, container_security_context, pod_security_context

__all__ = ["SECRETS_DIR", "ContainerPlan", "pod_template", "secret_env_args", "secret_path"]

STARTUP_PERIOD = 2
"""Seconds between startup probes; their count covers the Flow's ``timeout_ready``."""
WORKDIR = "/app"
"""Where a relative ``workspace`` is mounted (the working directory of flowserve images)."""
SECRETS_DIR = "/var/run/secrets/flowserve"
"""Secrets named by ``env_from_secret`` are mounted below, one folder per Secret."""
SECRET_FILE_MODE = 0o440
"""Readable by the container's user and group (fsGroup) only."""


@dataclass(frozen=True)
class ContainerPlan:
    """Everything that differs between the gateway's and an executor's pod."""

    component: Component
    flow_name: str
    """The name in the Flow (may contain ``_``)."""
    image: str
    args: list[str]
    ports: list[tuple[str, int]]
    """(port name, number); the first one named ``grpc`` carries the health probes."""
    env_config_map: str
    env: Mapping[str, str] = field(default_factory=dict)
    """The ConfigMap's data: its digest on the pod template rolls pods when it changes."""
    secret_env: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Variable -> (Secret name, key): mounted as a file, read by ``--env-file`` (add
    :func:`secret_env_args` to `args`), never in the pod spec's environment."""
    secret_files: Sequence[tuple[str, str]] = ()
    """More (Secret name, key) pairs to mount, at :func:`secret_path`."""
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    pull_policy: str = "IfNotPresent"
    pull_secrets: Sequence[str] = ()
    monitoring_port: int | None = None
    grace: float = GATEWAY_DEFAULTS.grace
    grace_period: int = 20
    timeout_ready: float = 60.0
    workspace: str | None = None
    """A folder the container writes to (an ``emptyDir``: the root filesystem is read-only)."""
    exec_probes: bool = False
    """Probe with a command inside the container instead of a native gRPC probe."""
    tls: bool = False
    """The ports serve TLS: probe HTTPS on an HTTP port, else only that the port listens."""


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
    volumes, mounts = _scratch(plan)
    spec: dict[str, Any] = {
        "serviceAccountName": plan.component.name,
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(),
        "containers": [_container(plan, mounts)],
        "volumes": volumes,
        "terminationGracePeriodSeconds": plan.grace_period,
        "enableServiceLinks": False,
    }
    if plan.pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in plan.pull_secrets]
    return {
        "metadata": {"labels": plan.component.labels(), "annotations": annotations},
        "spec": spec,
    }


def secret_path(secret: str, key: str) -> str:
    """Where a Secret's key is mounted in the container."""
    return f"{SECRETS_DIR}/{secret}/{key}"


def secret_env_args(secret_env: Mapping[str, tuple[str, str]]) -> list[str]:
    """``--env-file VAR=PATH`` for each variable taken from a Secret's key."""
    return [arg for var, (secret, key) in sorted(secret_env.items())
            for arg in ("--env-file", f"{var}={secret_path(secret, key)}")]


def _scratch(plan: ContainerPlan) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Volumes and their mounts: emptyDirs at ``/tmp`` and at the workspace if there is one,
    and each Secret of ``env_from_secret``, read-only, below :data:`SECRETS_DIR`."""
    paths = {"tmp": SCRATCH}
    if plan.workspace:
        paths["workspace"] = posixpath.normpath(posixpath.join(WORKDIR, plan.workspace))
    volumes: list[dict[str, Any]] = [{"name": name, "emptyDir": {}} for name in paths]
    mounts: list[dict[str, Any]] = [{"name": name, "mountPath": path}
                                    for name, path in paths.items()]
    keys: dict[str, set[str]] = {}
    for secret, key in [*plan.secret_env.values(), *plan.secret_files]:
        keys.setdefault(secret, set()).add(key)
    for i, secret in enumerate(sorted(keys)):
        volumes.append({"name": f"secret-{i}", "secret": {
            "secretName": secret, "defaultMode": SECRET_FILE_MODE,
            "items": [{"key": k, "path": k} for k in sorted(keys[secret])]}})
        mounts.append({"name": f"secret-{i}", "mountPath": f"{SECRETS_DIR}/{secret}",
                       "readOnly": True})
    return volumes, mounts


def _container(plan: ContainerPlan, mounts: list[dict[str, Any]]) -> dict[str, Any]:
    ports = [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in plan.ports]
    if plan.monitoring_port is not None:
        ports.append({"name": "monitoring", "containerPort": plan.monitoring_port,
                      "protocol": "TCP"})
    container: dict[str, Any] = {
        "name": plan.component.role,
        "image": plan.image,
        "imagePullPolicy": plan.pull_policy,
        "command": ["flowserve"],
        "args": list(plan.args),
        "ports": ports,
        "envFrom": [{"configMapRef": {"name": plan.env_config_map}}],
    }
    if plan.resources:
        container["resources"] = {k: dict(v) for k, v in plan.resources.items()}
    container["securityContext"] = container_security_context()
    container["volumeMounts"] = mounts
    container.update(_probes(plan))
    container["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_SECONDS)]}}}
    return container


def _probes(plan: ContainerPlan) -> dict[str, Any]:
    """gRPC health probes on the gRPC port (a command for executors, see the module docstring);
    an HTTP-only gateway is probed on ``GET /``; a TLS gateway on ``GET /`` over HTTPS, or on
    its first port's TCP listener when it serves gRPC only."""
    ports = dict(plan.ports)
    timeout = 5 if plan.exec_probes else 2  # a command starts a Python interpreter

    def check() -> dict[str, Any]:  # a fresh dict each time: no YAML anchors in the output
        if plan.tls and "http" in ports:  # the kubelet does not verify the certificate
            return {"httpGet": {"path": "/", "port": "http", "scheme": "HTTPS"}}
        if plan.tls:  # kubelet gRPC probes speak plaintext only
            return {"tcpSocket": {"port": plan.ports[0][0]}}
        if "grpc" in ports and plan.exec_probes:
            return {"exec": {"command": grpc_health_command(ports["grpc"])}}
        if "grpc" in ports:
            return {"grpc": {"port": ports["grpc"]}}
        return {"httpGet": {"path": "/", "port": plan.ports[0][0]}}

    startups = max(1, math.ceil(plan.timeout_ready / STARTUP_PERIOD))
    return {
        "startupProbe": {**check(), "periodSeconds": STARTUP_PERIOD, "timeoutSeconds": timeout,
                         "failureThreshold": startups},
        "readinessProbe": {**check(), "periodSeconds": 5 if not plan.exec_probes else 10,
                           "timeoutSeconds": timeout, "failureThreshold": 2},
        "livenessProbe": {**check(), "periodSeconds": 10 if not plan.exec_probes else 20,
                          "timeoutSeconds": timeout, "failureThreshold": 3},
    }
