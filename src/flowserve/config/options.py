"""Operational options of a Flow's gateway and executors: scheduling, balancing, resilience,
observability and Kubernetes export. Kept apart from :mod:`flowserve.config.spec`, which holds the
structure of a Flow; the models there inherit these fields.

Durations are in seconds.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .security import GatewaySecurityOptions
from .worker_flags import DEFAULT_TIMEOUT_HANDLER

__all__ = ["EXECUTOR_DEFAULTS", "GATEWAY", "GATEWAY_DEFAULTS", "SYNC_HANDLER_MODES", "Autoscale",
           "ExecutorOptions", "GatewayOptions", "Resources", "SecretRef", "polling_for"]

GATEWAY = "gateway"
"""The gateway's name, and the reserved node the graph starts from."""

Port = Annotated[int, Field(ge=1, le=65535)]
Polling = Literal["ANY", "ALL"]
Balancing = Literal["round_robin", "least_loaded", "p2c_ewma"]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]
SyncHandlers = Literal["auto", "thread"]
SYNC_HANDLER_MODES: tuple[str, ...] = get_args(SyncHandlers)
Quantity = str | int | float


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Resources(_Strict):
    """Kubernetes container resources, e.g. ``{requests: {cpu: 500m, memory: 1Gi}}``."""

    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class SecretRef(_Strict):
    """An environment variable taken from a Kubernetes Secret's key."""

    name: str
    key: str


DEFAULT_PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"
"""The Service the Prometheus operator makes for its Prometheus (in kube-prometheus-stack's
usual ``monitoring`` namespace)."""


class Autoscale(_Strict):
    """Autoscaling of an executor (Kubernetes export only): a HorizontalPodAutoscaler on CPU
    (``metric: cpu``), or a KEDA ScaledObject on the requests queued for it at the gateway or in
    flight at its replicas (``metric: queue``: ``target_queue`` of them per replica, read from
    the Prometheus at ``prometheus``)."""

    min_replicas: int = Field(default=1, ge=1)
    max_replicas: int = Field(ge=1)
    metric: Literal["cpu", "queue"] = "cpu"
    target_cpu_utilization: int = Field(default=80, ge=1, le=100)
    target_queue: int = Field(default=10, ge=1)
    prometheus: str = DEFAULT_PROMETHEUS


class GatewayOptions(GatewaySecurityOptions):
    """Operational fields of the Flow's ``with:`` block (security: :mod:`.security`). The
    gateway process gets them whole (`gateway.config.GatewayConfig.options`); every default is
    written here."""

    # -- serving
    host: str = "0.0.0.0"
    prefetch: int = Field(default=1000, ge=0)
    """Requests in flight per client stream (gRPC ``Call``; the client's ``__prefetch__``
    overrides it); 0 means unlimited."""
    name: str = GATEWAY
    cors: bool = False
    """Answer CORS preflights and allow every origin on the HTTP protocol (as Jina's ``cors``)."""
    # -- fairness and admission (docs/fairness.md)
    max_queue: int = Field(default=1000, ge=1)
    """Requests that may wait at one executor deployment (all clients together)."""
    max_queue_per_client: int = Field(default=100, ge=1)
    """Requests one client may have waiting at one deployment (and in one stream)."""
    client_weights: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    """Fair-share weights by client identity (default 1): weight 2 gets twice the turns."""
    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses or CIDR blocks of proxies whose X-Forwarded-For names the client."""

    @field_validator("trusted_proxies")
    @classmethod
    def _cidr_blocks(cls, value: list[str]) -> list[str]:
        for spec in value:
            try:
                ipaddress.ip_network(spec, strict=False)
            except ValueError:
                raise ValueError(f"{spec!r} is not an IP address or CIDR block "
                                 "(e.g. 10.0.0.0/8)") from None
        return value

    # -- resilience (docs/resilience.md)
    timeout: float | None = Field(default=None, gt=0)
    """Default deadline of a request, when the client sets none."""
    retries: bool = True
    """Retry failed sends on another replica; switch off under a service mesh that retries."""
    retry_budget: float = Field(default=0.2, ge=0, le=1)
    """Retries allowed as a share of requests (so retries cannot amplify an outage)."""
    grace: float = Field(default=10.0, ge=0)
    """Seconds to answer in-flight requests on SIGTERM before stopping."""
    # -- observability (docs/observability.md)
    monitoring: bool = False
    port_monitoring: Port | None = None
    tracing: bool = False
    traces_exporter_host: str | None = None
    traces_exporter_port: Port | None = None
    # -- Kubernetes export defaults (docs/kubernetes.md)
    image_pull_policy: PullPolicy | None = None
    image_pull_secrets: list[str] = Field(default_factory=list)
    resources: Resources | None = None
    replicas: int = Field(default=1, ge=1)
    """Gateway replicas (Kubernetes export)."""


class ExecutorOptions(_Strict):
    """Operational fields of one ``executors:`` entry."""

    # -- scheduling
    concurrency: int = Field(default=1, ge=1)
    """Requests one replica works on at once."""
    sync_handlers: SyncHandlers = "auto"
    """Where sync handlers run: ``auto`` (inline on the event loop once their calls prove to
    take under a millisecond, else on the handler thread) or ``thread`` (always on the thread)."""
    max_queue: int | None = Field(default=None, ge=1)
    """Overrides the gateway's ``max_queue`` for this deployment."""
    # -- replicas, shards, resilience
    balancing: Balancing = "p2c_ewma"
    shards: int = Field(default=1, ge=1)
    polling: Polling | dict[str, Polling] = "ANY"
    """``ANY`` (one shard serves a request) or ``ALL`` (every shard; results merged), or a map
    endpoint -> ANY/ALL."""
    timeout_send: float | None = Field(default=None, gt=0)
    """Deadline of one call to this executor."""
    timeout_ejected: float | None = Field(default=5.0, ge=0)
    """Seconds a call may still run on a replica after the replica was ejected (it failed its
    health check: frozen, cut off) before it is abandoned and retried on another replica (or
    failed as UNAVAILABLE); a health check passed meanwhile lifts it. None: wait for the
    replica, as long as the request's deadline allows."""
    timeout_handler: float | None = Field(default=DEFAULT_TIMEOUT_HANDLER, gt=0)
    """Seconds one handler call may take; then its request fails with HandlerTimeoutError and
    the replica restarts (its thread cannot be stopped). None: no limit."""
    retries: int = Field(default=2, ge=0)
    """Attempts on other replicas after a failed send (UNAVAILABLE, connection refused)."""
    # -- observability
    monitoring: bool | None = None
    """None: as the Flow's ``with: monitoring``."""
    port_monitoring: Port | None = None
    # -- Kubernetes export
    image: str | None = None
    """Image for a Python-class executor (default: built from the flowserve base image)."""
    image_pull_policy: PullPolicy | None = None
    image_pull_secrets: list[str] = Field(default_factory=list)
    resources: Resources | None = None
    gpus: int = Field(default=0, ge=0)
    env_from_secret: dict[str, SecretRef] = Field(default_factory=dict)
    autoscale: Autoscale | None = None

    @field_validator("polling", mode="before")
    @classmethod
    def _polling(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _upper(v) for k, v in value.items()}
        return _upper(value)

    def polling_for(self, endpoint: str) -> Polling:
        """ANY or ALL for `endpoint` (a map falls back to its ``*`` entry, then ANY)."""
        return polling_for(self.polling, endpoint)


def polling_for(polling: Polling | Mapping[str, Polling], endpoint: str) -> Polling:
    """ANY or ALL for `endpoint` under `polling` (a map falls back to its ``*`` entry, then
    ANY)."""
    if isinstance(polling, str):
        return polling
    return polling.get(endpoint, polling.get("*", "ANY"))


GATEWAY_DEFAULTS = GatewayOptions()
"""The gateway's options when nothing is set (for the defaults of flags and constructors)."""
EXECUTOR_DEFAULTS = ExecutorOptions()
"""An executor's options when nothing is set."""
