"""A Flow as a Docker Compose file (a plain dict), for ``docker compose up``.

One service per executor replica (``<name>`` for a single replica, ``<name>-<i>`` otherwise),
so the gateway balances requests over the replicas itself (no mesh here), one for the gateway
with its ports published, all on one network. Every service has a health check against the
gRPC health service (the gateway's HTTP ``GET /`` when it serves HTTP only), and the gateway
starts once the executors are healthy. Images and command lines are the Kubernetes export's.
What Compose has no notion of is left out: ServiceProfiles, autoscaling, pull secrets (use
``docker login``); Secrets become variables passed through from the shell running compose, and
the gateway's ``tokens_file`` a Compose secret.
Containers are locked down as the Kubernetes pods are (:mod:`._security`): the non-root user,
no new privileges, no capabilities, a read-only root filesystem with a tmpfs at ``/tmp`` (and
at the executor's workspace).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..config.spec import ExecutorSpec, FlowSpec
from ..gateway.limits import executor_tls_args
from . import _common as c
from ._commands import (
    executor_args,
    gateway_args,
    grpc_health_command,
    http_health_command,
    observability_args,
    tcp_health_command,
)
from ._quantity import parse_quantity
from ._security import GID, SCRATCH, SCRATCH_ENV, UID
from .images import ExecutorImage

__all__ = ["NETWORK", "compose_file"]

NETWORK = "flow"
_GATEWAY_SECRETS = {"tokens_file": "tokens", "ssl_certfile": "tls-cert", "ssl_keyfile": "tls-key",
                    "executor_ssl_cafile": "executor-ca"}
_EXECUTOR_SECRETS = {"executor_ssl_certfile": "executor-tls-cert",
                     "executor_ssl_keyfile": "executor-tls-key"}
"""Security settings naming files -> the Compose secret (prefixed with the gateway's name)
holding them, mounted at ``/run/secrets/<name>`` of the gateway or of every executor."""
_PULL = {"Always": "always", "IfNotPresent": "missing", "Never": "never"}


def compose_file(spec: FlowSpec, images: Mapping[str, ExecutorImage]) -> dict[str, Any]:
    """The Compose document of the Flow; `images` maps executor names to their image plans."""
    c.check_supported(spec)
    names = c.component_names(spec)
    services: dict[str, dict[str, Any]] = {}
    owners: dict[str, str] = {}
    addresses: dict[str, list[str]] = {}
    for ex in spec.executors:
        if ex.external:
            addresses[ex.name] = [f"{ex.host}:{ex.port}"]
            continue
        port = c.executor_port(ex)
        replicas = [names[ex.name]] if ex.replicas == 1 else [
            f"{names[ex.name]}-{i}" for i in range(ex.replicas)]
        for i, service in enumerate(replicas):
            _claim(owners, service, f"executor {ex.name!r}")
            services[service] = _executor(spec, ex, images[ex.name], port=port,
                                          replica_id=i if ex.replicas > 1 else None)
            _mount(services[service], _secrets(spec, names[spec.with_.name], _EXECUTOR_SECRETS))
        addresses[ex.name] = [f"{s}:{port}" for s in replicas]
    gateway = names[spec.with_.name]
    _claim(owners, gateway, "the gateway")
    depends = {s: {"condition": "service_healthy"} for s in services}
    secrets = _secrets(spec, gateway, _GATEWAY_SECRETS)
    args = gateway_args(spec, addresses, files={k: t for k, (_, t) in secrets.items()})
    services = {gateway: _gateway(spec, args, depends), **services}
    _mount(services[gateway], secrets)
    if spec.with_.tokens_env:  # passed through from the shell running compose
        services[gateway]["environment"][spec.with_.tokens_env] = None
    doc: dict[str, Any] = {"services": services, "networks": {NETWORK: {"driver": "bridge"}}}
    every = _secrets(spec, gateway, {**_GATEWAY_SECRETS, **_EXECUTOR_SECRETS})
    if every:
        doc["secrets"] = {name: {"file": str((spec.base_dir / getattr(spec.with_, key))
                                             .resolve())}
                          for key, (name, _) in every.items()}
    return doc


def _secrets(spec: FlowSpec, gateway: str,
             which: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Security setting naming a file (paths from the Flow's folder) -> (Compose secret,
    where its container finds it), for the settings of `which` that the Flow sets."""
    return {key: (f"{gateway}-{name}", f"/run/secrets/{name}")
            for key, name in which.items() if getattr(spec.with_, key)}


def _mount(service: dict[str, Any], secrets: Mapping[str, tuple[str, str]]) -> None:
    if secrets:
        service["secrets"] = [{"source": name, "target": target}
                              for name, target in secrets.values()]

def _claim(owners: dict[str, str], service: str, who: str) -> None:
    if service in owners:
        raise c.ExportError(f"{who}: Compose service name {service!r} is already used by "
                            f"{owners[service]}; rename one of them")
    owners[service] = who


def _common(spec: FlowSpec, ex: ExecutorSpec | None, image: str, args: list[str],
            health: list[str]) -> dict[str, Any]:
    environment: dict[str, str | None] = dict(sorted({**SCRATCH_ENV,
                                                      **c.env_of(spec, ex)}.items()))
    if ex is not None:  # a Secret's value comes from the environment of `docker compose`
        environment.update({var: None for var in sorted(ex.env_from_secret)})
    service: dict[str, Any] = {
        "image": image,
        "pull_policy": _PULL[c.pull_policy(spec, ex)],
        "entrypoint": ["flowserve"],
        "command": args,
        "environment": environment,
        "networks": [NETWORK],
        "user": f"{UID}:{GID}",
        "read_only": True,
        "tmpfs": [SCRATCH, *([ex.workspace] if ex is not None and ex.workspace else [])],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "restart": "unless-stopped",
        "stop_grace_period": f"{math.ceil(spec.with_.grace) + c.EXIT_MARGIN_SECONDS}s",
        "healthcheck": {
            "test": ["CMD", *health],
            "interval": "5s",
            "timeout": "5s",
            "retries": 3,
            "start_period": f"{math.ceil(spec.with_.timeout_ready)}s",
        },
    }
    who = f"executor {ex.name!r}" if ex is not None else "the gateway"
    resources = _resources(c.resources_of(spec, ex), ex.gpus if ex is not None else 0, who)
    if resources:
        service["deploy"] = {"resources": resources}
    return service


def _executor(spec: FlowSpec, ex: ExecutorSpec, image: ExecutorImage, *, port: int,
              replica_id: int | None) -> dict[str, Any]:
    tls = executor_tls_args(*(f"/run/secrets/{name}" for name in _EXECUTOR_SECRETS.values())
                            ) if spec.with_.executor_ssl_certfile else []
    args = executor_args(ex, image, port=port, grace=spec.with_.grace, replica_id=replica_id,
                         observability=[*observability_args(spec, ex), *tls])
    # the gRPC health check speaks plaintext: with TLS, only see that the port listens
    health = tcp_health_command(port) if tls else grpc_health_command(port)
    return _common(spec, ex, image.image, args, health)


def _gateway(spec: FlowSpec, args: list[str],
             depends: dict[str, dict[str, str]]) -> dict[str, Any]:
    ports = dict(c.gateway_ports(spec))
    if spec.with_.ssl_certfile:  # the checks speak plaintext: only see that a port listens
        health = tcp_health_command(next(iter(ports.values())))
    elif "grpc" in ports:
        health = grpc_health_command(ports["grpc"])
    else:
        health = http_health_command(ports.get("http") or ports["websocket"])
    service = _common(spec, None, spec.with_.uses or c.base_image(), args, health)
    service["ports"] = [f"{port}:{port}" for port in ports.values()]
    if depends:
        service["depends_on"] = depends
    return service


def _quantity(value: str, who: str, field: str) -> Decimal:
    try:
        return parse_quantity(value)
    except ValueError as exc:
        raise c.ExportError(f"{who}: resources.{field}: {exc}") from None


def _resources(k8s: Mapping[str, Mapping[str, str]], gpus: int, who: str) -> dict[str, Any]:
    """Kubernetes requests/limits as Compose ``deploy.resources`` (cpu, memory, GPUs)."""
    out: dict[str, dict[str, Any]] = {}
    for section, key in (("limits", "limits"), ("requests", "reservations")):
        values = k8s.get(section, {})
        entry: dict[str, Any] = {}
        if "cpu" in values:
            cpus = _quantity(values["cpu"], who, f"{section}.cpu")
            entry["cpus"] = format(cpus.normalize(), "f")
        if "memory" in values:
            memory = _quantity(values["memory"], who, f"{section}.memory")
            entry["memory"] = f"{int(memory)}b"
        if entry:
            out[key] = entry
    if gpus:
        out.setdefault("reservations", {})["devices"] = [
            {"driver": "nvidia", "count": gpus, "capabilities": ["gpu"]}]
    return out
