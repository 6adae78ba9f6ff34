"""What every export target shares: constants, Kubernetes-safe names, and the effective value of
each setting an executor may inherit from the Flow's ``with:`` block.

Pure functions of the Flow spec; nothing here touches files, imports executors or the network.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping

from .._version import __version__
from ..config.observability import ObservabilityOptions
from ..config.spec import ExecutorSpec, FlowSpec
from ..errors import ConfigError

__all__ = [
    "DEFAULT_MONITORING_PORT",
    "DEFAULT_NAMESPACE",
    "DNS1035_LABEL",
    "DNS1123_LABEL",
    "EXECUTOR_PORT",
    "MANAGED_BY",
    "PRESTOP_SECONDS",
    "ExportError",
    "base_image",
    "check_namespace",
    "check_supported",
    "component_names",
    "config_hash",
    "duration",
    "env_of",
    "executor_port",
    "gateway_ports",
    "grace_period",
    "k8s_name",
    "monitoring_port",
    "pull_policy",
    "pull_secrets",
    "resources_of",
    "route_timeout",
]

EXECUTOR_PORT = 8080
"""The gRPC port every executor container listens on (each pod has its own IP)."""
DEFAULT_GATEWAY_PORT = 8080
"""The gateway's first port when the Flow gives none; further protocols get the next ones."""
DEFAULT_MONITORING_PORT = 9090
DEFAULT_NAMESPACE = "flowserve"
PRESTOP_SECONDS = 5
"""Seconds a terminating pod keeps serving before SIGTERM, so endpoints are removed first."""
EXIT_MARGIN_SECONDS = 5
"""Extra seconds after the drain before the kubelet sends SIGKILL."""
DEFAULT_ROUTE_TIMEOUT = 3600.0
"""Linkerd's route timeout when the Flow sets none (Linkerd's own default is only 10 s)."""
MANAGED_BY = "flowserve"

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class ExportError(ConfigError):
    """A Flow cannot be exported as asked; the message names the object, executor and field."""


def base_image(version: str = __version__) -> str:
    """The flowserve base image (the gateway's, and the base of executor images)."""
    return f"flowserve/flowserve:{version}"


def k8s_name(name: str) -> str:
    """An executor or gateway name as a DNS-1123 label: lower case, ``_`` becomes ``-``."""
    return name.lower().replace("_", "-")


def component_names(spec: FlowSpec) -> dict[str, str]:
    """Flow name -> Kubernetes name for the gateway (key ``spec.with_.name``) and every executor.

    Raises :class:`ExportError` listing every name that is not a DNS-1035 label after the
    conversion (Service names must start with a letter, at most 63 characters) and every pair
    of names that convert to the same one (``a_b`` and ``a-b``).
    """
    sources = [(spec.with_.name, "the gateway (with: name)")]
    sources += [(ex.name, f"executor {ex.name!r}") for ex in spec.executors]
    names: dict[str, str] = {}
    owner: dict[str, str] = {}
    problems: list[str] = []
    for name, who in sources:
        converted = k8s_name(name)
        if not DNS1035_LABEL.match(converted) or len(converted) > 63:
            problems.append(f"{who}: Kubernetes name {converted!r} is not a DNS-1035 label "
                            "(start with a letter; letters, digits, '-'; at most 63 characters)")
        if converted in owner:
            problems.append(f"{who}: Kubernetes name {converted!r} collides with "
                            f"{owner[converted]}; rename one of them")
        owner.setdefault(converted, who)
        names[name] = converted
    if problems:
        raise ExportError("cannot export the Flow: " + "; ".join(problems))
    return names


def check_supported(spec: FlowSpec) -> None:
    """Raise :class:`ExportError` for settings the gateway cannot honour in containers yet."""
    sharded = [ex.name for ex in spec.executors if ex.shards > 1]
    if sharded:
        raise ExportError(f"executor(s) {', '.join(map(repr, sharded))}: shards > 1 cannot be "
                          "exported yet (the gateway has no shard routing); use replicas")


def config_hash(*parts: object) -> str:
    """A short digest of configuration that pods read only at start (their ConfigMap), put on
    the pod template so that changing it rolls the Deployment."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_namespace(namespace: str) -> str:
    """`namespace` if it is a valid DNS-1123 label, else an :class:`ExportError`."""
    if not DNS1123_LABEL.match(namespace) or len(namespace) > 63:
        raise ExportError(f"Namespace {namespace!r}: metadata.name must be a DNS-1123 label "
                          "(lower-case letters, digits and '-', at most 63 characters)")
    return namespace


def gateway_ports(spec: FlowSpec) -> list[tuple[str, int]]:
    """(protocol, port) pairs of the gateway; without ports in the Flow, 8080, 8081, ..."""
    opts = spec.with_
    ports = opts.port or [DEFAULT_GATEWAY_PORT + i for i in range(len(opts.protocol))]
    return list(zip(opts.protocol, ports, strict=True))


def executor_port(ex: ExecutorSpec) -> int:
    """The container port of an executor: its ``port`` if the Flow fixes one, else 8080."""
    return ex.port or EXECUTOR_PORT


def pull_policy(spec: FlowSpec, ex: ExecutorSpec | None) -> str:
    """The executor's imagePullPolicy, else the Flow's, else IfNotPresent."""
    own = ex.image_pull_policy if ex is not None else None
    return own or spec.with_.image_pull_policy or "IfNotPresent"


def pull_secrets(spec: FlowSpec, ex: ExecutorSpec | None) -> list[str]:
    """The Flow's image pull secrets followed by the executor's, without repeats."""
    own = ex.image_pull_secrets if ex is not None else []
    return list(dict.fromkeys([*spec.with_.image_pull_secrets, *own]))


def _quantity(value: str | float) -> str:
    return str(value)


def resources_of(spec: FlowSpec, ex: ExecutorSpec | None) -> dict[str, dict[str, str]]:
    """requests/limits: the Flow's with the executor's on top (per key), plus its GPUs."""
    layers = [spec.with_.resources, ex.resources if ex is not None else None]
    out: dict[str, dict[str, str]] = {"requests": {}, "limits": {}}
    for layer in layers:
        if layer is not None:
            out["requests"].update({k: _quantity(v) for k, v in layer.requests.items()})
            out["limits"].update({k: _quantity(v) for k, v in layer.limits.items()})
    if ex is not None and ex.gpus:
        given = out["limits"].get("nvidia.com/gpu")
        if given is not None and given != str(ex.gpus):
            raise ExportError(f"executor {ex.name!r}: gpus: {ex.gpus} disagrees with "
                              f"resources.limits nvidia.com/gpu: {given}")
        out["limits"]["nvidia.com/gpu"] = str(ex.gpus)
    return {k: dict(sorted(v.items())) for k, v in out.items() if v}


def env_of(spec: FlowSpec, ex: ExecutorSpec | None) -> dict[str, str]:
    """The Flow's env with the executor's on top."""
    own: Mapping[str, str] = ex.env if ex is not None else {}
    return {**spec.with_.env, **own}


def monitoring_port(spec: FlowSpec, ex: ExecutorSpec | None) -> int | None:
    """The metrics port when monitoring is on for this component, else None."""
    if not ObservabilityOptions.for_component(spec, ex).monitoring:
        return None
    own = spec.with_.port_monitoring if ex is None else ex.port_monitoring
    return own or DEFAULT_MONITORING_PORT


def grace_period(spec: FlowSpec) -> int:
    """terminationGracePeriodSeconds: the preStop pause, the drain (``grace``), a margin."""
    return math.ceil(PRESTOP_SECONDS + spec.with_.grace) + EXIT_MARGIN_SECONDS


def route_timeout(spec: FlowSpec, ex: ExecutorSpec) -> float:
    """Seconds one call to `ex` may take: its timeout_send, else the Flow's timeout."""
    return ex.timeout_send or spec.with_.timeout or DEFAULT_ROUTE_TIMEOUT


def duration(seconds: float) -> str:
    """A Go duration string: whole seconds as ``"30s"``, otherwise milliseconds."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{max(1, round(seconds * 1000))}ms"
