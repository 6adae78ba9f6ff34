"""The command lines containers run: ``flowserve executor ...`` and ``flowserve gateway ...``,
the same entry points (and flags) that ``flowserve flow`` starts locally, plus health checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ..config.executor_argv import executor_spec_argv
from ..config.graph import build_graph
from ..config.observability import ObservabilityOptions
from ..config.options import EXECUTOR_DEFAULTS
from ..config.spec import ExecutorSpec, FlowSpec
from ._common import gateway_ports, monitoring_port
from .images import ExecutorImage

__all__ = ["executor_args", "gateway_args", "grpc_health_command", "http_health_command",
           "observability_args", "tcp_health_command"]

PROGRAM = "flowserve"
CONTAINER_HOST = "0.0.0.0"
"""Where servers in a container listen: its own network namespace, reached through its
Service (or, for metrics, by Prometheus at the pod's address)."""


def observability_args(spec: FlowSpec, ex: ExecutorSpec) -> list[str]:
    """An executor's monitoring and tracing flags (docs/observability.md), and its message
    limit when the Flow sets one (docs/security.md); none by default."""
    from ..gateway.limits import executor_limit_args

    options = ObservabilityOptions.for_component(spec, ex,
                                                 port_monitoring=monitoring_port(spec, ex))
    return (dataclasses.replace(options, monitoring_host=CONTAINER_HOST).to_argv()
            + executor_limit_args(spec.with_.max_message_bytes))


def executor_args(ex: ExecutorSpec, image: ExecutorImage, *, port: int, grace: float,
                  replica_id: int | None = None, observability: Sequence[str] = ()) -> list[str]:
    """Arguments of ``flowserve executor`` (after the program name) for one executor."""
    args = ["executor"]
    if image.uses is not None:
        args += ["--uses", image.uses]
    args += ["--name", ex.name, "--host", CONTAINER_HOST, "--port", str(port)]
    if image.base_dir is not None:
        args += ["--base-dir", image.base_dir]
    if replica_id is not None:
        args += ["--replica-id", str(replica_id)]
    if ex.concurrency != EXECUTOR_DEFAULTS.concurrency:
        args += ["--concurrency", str(ex.concurrency)]
    args += executor_spec_argv(ex, uses_with=image.uses_with, uses_metas=image.uses_metas,
                               py_modules=image.py_modules)
    args += ["--grace", f"{grace:g}"]
    return args + list(observability)


def gateway_args(spec: FlowSpec, addresses: Mapping[str, Sequence[str]],
                 capacity: Mapping[str, int] | None = None,
                 files: Mapping[str, str | None] | None = None) -> list[str]:
    """Arguments of ``flowserve gateway`` for a Flow whose executors are at `addresses`.

    `capacity` overrides how many requests the gateway may have in flight at one address: a
    Kubernetes Service stands for all replicas of an executor, so it gets replicas x
    concurrency, else the gateway would keep all but one replica idle. `files` maps security
    settings naming files (``tokens_file``, ``ssl_certfile``, ``ssl_keyfile``,
    ``executor_ssl_cafile``) to where the container finds them (a mounted Secret), or to None
    to drop the setting; those the Flow does not set stay unset.
    """
    from ..gateway.config import GatewayConfig  # the gateway's own flags <-> config mapping

    config = GatewayConfig.from_flow(spec, build_graph(spec), addresses)
    deployments = dict(config.deployments)
    for name, slots in (capacity or {}).items():
        deployments[name] = dataclasses.replace(deployments[name], concurrency=slots)
    ports = gateway_ports(spec)
    observability = dataclasses.replace(config.observability,
                                        port_monitoring=monitoring_port(spec, None),
                                        monitoring_host=CONTAINER_HOST)
    security = config.security
    mounted: dict[str, Any] = {key: path for key, path in (files or {}).items()
                               if getattr(security, key)}
    # remote clients see no stack traces unless the Flow asks (docs/security.md)
    detail = spec.with_.error_detail or "message"
    security = dataclasses.replace(security, **mounted, error_detail=detail)
    config = dataclasses.replace(config, deployments=deployments,
                                 ports=[port for _, port in ports], observability=observability,
                                 security=security)
    return ["gateway", *config.to_argv()]


def grpc_health_command(port: int) -> list[str]:
    """A command that exits 0 when the gRPC health service on `port` reports SERVING."""
    code = (
        "import sys, grpc; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; "
        f"c = grpc.insecure_channel('127.0.0.1:{port}'); "
        "r = g.HealthStub(c).Check(h.HealthCheckRequest(service=''), timeout=3); "
        "sys.exit(0 if r.status == h.HealthCheckResponse.SERVING else 1)"
    )
    return ["python", "-c", code]


def http_health_command(port: int) -> list[str]:
    """A command that exits 0 when the gateway's HTTP health route on `port` answers 200."""
    code = (
        "import sys, urllib.request as u; "
        f"sys.exit(0 if u.urlopen('http://127.0.0.1:{port}/', timeout=3).status == 200 else 1)"
    )
    return ["python", "-c", code]


def tcp_health_command(port: int) -> list[str]:
    """A command that exits 0 when something accepts connections on `port` (a TLS gateway)."""
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), 3).close()"
    return ["python", "-c", code]
