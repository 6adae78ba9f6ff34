"""A Flow as Kubernetes objects (plain dicts), ready for ``kubectl apply -R -f``.

Objects, in order: the Namespace (annotated for Linkerd injection, labelled for the restricted
Pod Security Standard); then, for the gateway and each executor, a ServiceAccount, a ConfigMap
(its environment), a Service, a Deployment and a NetworkPolicy; for the gateway also the
Linkerd MeshTLSAuthentication of its identity; for each executor also, with ``autoscale``, a
HorizontalPodAutoscaler (on CPU) or a KEDA ScaledObject (``metric: queue``), with more than
one replica a PodDisruptionBudget, and the Linkerd Server, AuthorizationPolicy (only the gateway
may call it) and ServiceProfile of its port. With monitoring on, the Flow also gets a
PodMonitor, a Grafana dashboard and a PrometheusRule (:mod:`.prometheus`).
External executors get nothing: the gateway calls their ``host:port``. Names and labels come
from :mod:`._names` (an optional instance lets two Flows share a namespace); pods are locked
down by :mod:`._security`.

The gateway reaches an executor at its Service, ``<name>.<namespace>.svc:<port>``: one address
per executor, whatever its replicas. Kubernetes balances connections, and Linkerd balances each
request over the replicas (gRPC keeps one connection open, so without a mesh one replica would
get them all). This module is pure: it neither imports executors nor writes files; image plans
come from :func:`flowserve.export.images.plan_images`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config.spec import ExecutorSpec, FlowSpec
from . import _common as c
from . import linkerd, policies
from ._commands import executor_args, gateway_args, observability_args
from ._names import Component, components
from ._pod import ContainerPlan, pod_template, secret_env_args, secret_path
from ._security import SCRATCH_ENV, checkov_skips, namespace_labels, with_default_resources
from .images import ExecutorImage

__all__ = ["kubernetes_manifests"]


def kubernetes_manifests(
    spec: FlowSpec,
    images: Mapping[str, ExecutorImage],
    *,
    namespace: str | None = None,
    cluster_domain: str = "cluster.local",
    instance: str | None = None,
    pod_security: str = "restricted",
) -> list[dict[str, Any]]:
    """Every Kubernetes object of the Flow; `images` maps executor names to their image plans.

    `instance` names this Flow among others in the namespace (object names get it as a prefix);
    `pod_security` is the Pod Security Standard level the Namespace enforces.
    """
    ns = c.check_namespace(namespace or c.DEFAULT_NAMESPACE)
    c.check_supported(spec)
    parts = components(spec, ns, instance)
    gateway = parts[spec.with_.name]
    objects: list[dict[str, Any]] = [_namespace(ns, pod_security)]
    addresses: dict[str, list[str]] = {}
    capacity: dict[str, int] = {}
    executor_objects: list[dict[str, Any]] = []
    for ex in spec.executors:
        if ex.external:
            addresses[ex.name] = [f"{ex.host}:{ex.port}"]
            continue
        part = parts[ex.name]
        port = c.executor_port(ex)
        addresses[ex.name] = [f"{part.name}.{ns}.svc:{port}"]
        replicas = ex.autoscale.max_replicas if ex.autoscale else ex.replicas
        capacity[ex.name] = replicas * ex.concurrency
        executor_objects += _executor(spec, ex, images[ex.name], part, gateway, namespace=ns,
                                      port=port, cluster_domain=cluster_domain)
    objects += _gateway(spec, gateway, ns, addresses, capacity)
    if _monitored(spec):  # a Grafana dashboard and alerts for what Prometheus scrapes
        from .prometheus import monitoring_objects

        objects += monitoring_objects(spec.with_.name, gateway, ns)
    objects += executor_objects
    return objects


def _monitored(spec: FlowSpec) -> bool:
    """Whether the gateway or any executor serves metrics."""
    return c.monitoring_port(spec, None) is not None or any(
        c.monitoring_port(spec, ex) is not None for ex in spec.executors if not ex.external)


def _namespace(ns: str, pod_security: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": ns,
            "labels": {"app.kubernetes.io/managed-by": c.MANAGED_BY,
                       **namespace_labels(pod_security)},
            "annotations": {"linkerd.io/inject": "enabled"},
        },
    }


def _env_name(name: str) -> str:
    """The name of a component's ConfigMap holding its environment."""
    return f"{name}-env"


def _config_map(plan: ContainerPlan, namespace: str) -> dict[str, Any]:
    """The ConfigMap the pods of `plan` read their environment from."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": plan.component.metadata(namespace, plan.env_config_map),
        "data": dict(sorted(plan.env.items())),
    }


def _service(part: Component, namespace: str, ports: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": part.metadata(namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": part.selector(),
            "ports": [{"name": n, "port": p, "targetPort": n, "protocol": "TCP"}
                      for n, p in ports],
        },
    }


def _deployment(plan: ContainerPlan, namespace: str, replicas: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if replicas is not None:  # left out under an HPA, which owns the count
        spec["replicas"] = replicas
    spec["selector"] = {"matchLabels": plan.component.selector()}
    spec["template"] = pod_template(plan)
    metadata = plan.component.metadata(namespace)
    skips = checkov_skips(plan.image, plan.pull_policy)
    if skips:
        metadata["annotations"] = skips
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


def _common_objects(plan: ContainerPlan, namespace: str, replicas: int | None,
                    network_policy: dict[str, Any]) -> list[dict[str, Any]]:
    """What the gateway and each executor have: identity, environment, Service, pods, policy."""
    return [
        policies.service_account(plan.component, namespace),
        _config_map(plan, namespace),
        _service(plan.component, namespace, plan.ports),
        _deployment(plan, namespace, replicas),
        network_policy,
    ]


def _gateway(spec: FlowSpec, part: Component, ns: str, addresses: Mapping[str, list[str]],
             capacity: Mapping[str, int]) -> list[dict[str, Any]]:
    """The gateway's objects. Its tokens (``tokens_file``/``tokens_env``) come from the Secret
    ``<gateway>-tokens`` (key ``tokens``), its TLS certificate from the ``kubernetes.io/tls``
    Secret ``<gateway>-tls``, both mounted as files."""
    opts = spec.with_
    ports = [(protocol, port) for protocol, port in c.gateway_ports(spec)]
    secrets = {"tokens_file": (f"{part.name}-tokens", "tokens"),
               "ssl_certfile": (f"{part.name}-tls", "tls.crt"),
               "ssl_keyfile": (f"{part.name}-tls", "tls.key")}
    mounted = [secret for key, secret in secrets.items() if getattr(opts, key)]
    secret_env = {opts.tokens_env: secrets["tokens_file"]} if opts.tokens_env else {}
    files: dict[str, str | None] = {k: secret_path(*secret) for k, secret in secrets.items()}
    files["executor_ssl_cafile"] = None  # Linkerd encrypts the hop to executors
    args = [*gateway_args(spec, addresses, capacity, files=files), *secret_env_args(secret_env)]
    plan = ContainerPlan(
        component=part, flow_name=opts.name, secret_env=secret_env,
        secret_files=mounted, tls=opts.ssl_certfile is not None,
        image=opts.uses or c.base_image(), args=args, ports=ports,
        env_config_map=_env_name(part.name), env={**SCRATCH_ENV, **c.env_of(spec, None)},
        resources=with_default_resources("gateway", c.resources_of(spec, None)),
        pull_policy=c.pull_policy(spec, None), pull_secrets=c.pull_secrets(spec, None),
        monitoring_port=c.monitoring_port(spec, None), grace=opts.grace,
        grace_period=c.grace_period(spec), timeout_ready=opts.timeout_ready,
    )
    network = policies.network_policy(part, ns, [p for _, p in ports], plan.monitoring_port,
                                      gateway=None)
    return [*_common_objects(plan, ns, opts.replicas, network),
            linkerd.gateway_authentication(part, ns)]


def _executor(spec: FlowSpec, ex: ExecutorSpec, image: ExecutorImage, part: Component,
              gateway: Component, *, namespace: str, port: int,
              cluster_domain: str) -> list[dict[str, Any]]:
    opts = spec.with_
    resources = c.resources_of(spec, ex)
    secret_env = {var: (ref.name, ref.key) for var, ref in ex.env_from_secret.items()}
    plan = ContainerPlan(
        component=part, flow_name=ex.name, image=image.image,
        args=[*executor_args(ex, image, port=port, grace=opts.grace,
                             observability=observability_args(spec, ex)),
              *secret_env_args(secret_env)],
        ports=[("grpc", port)], env_config_map=_env_name(part.name),
        env={**SCRATCH_ENV, **c.env_of(spec, ex)}, secret_env=secret_env,
        resources=with_default_resources("executor", resources),
        pull_policy=c.pull_policy(spec, ex),
        pull_secrets=c.pull_secrets(spec, ex), monitoring_port=c.monitoring_port(spec, ex),
        grace=opts.grace, grace_period=c.grace_period(spec),
        timeout_ready=ex.timeout_ready or opts.timeout_ready,
        workspace=ex.workspace, exec_probes=True,
    )
    network = policies.network_policy(part, namespace, [port], plan.monitoring_port,
                                      gateway=gateway)
    objects = _common_objects(plan, namespace, None if ex.autoscale else ex.replicas, network)
    if ex.autoscale is not None and ex.autoscale.metric == "queue":
        objects.append(_scaled_object(spec, ex, part, gateway, namespace))
    elif ex.autoscale is not None:
        objects.append(_autoscaler(ex, part, namespace, resources))
    least = ex.autoscale.min_replicas if ex.autoscale else ex.replicas
    if least > 1:
        objects.append(policies.pod_disruption_budget(part, namespace))
    objects += [
        linkerd.server(part, namespace),
        linkerd.authorization_policy(part, gateway, namespace),
        linkerd.service_profile(spec, ex, service=part.name, namespace=namespace,
                                labels=part.labels(), cluster_domain=cluster_domain),
    ]
    return objects


def _check_bounds(ex: ExecutorSpec) -> None:
    auto = ex.autoscale
    assert auto is not None
    if auto.min_replicas > auto.max_replicas:
        raise c.ExportError(f"executor {ex.name!r}: autoscale.min_replicas "
                            f"({auto.min_replicas}) is above max_replicas ({auto.max_replicas})")


def _scaled_object(spec: FlowSpec, ex: ExecutorSpec, part: Component, gateway: Component,
                   namespace: str) -> dict[str, Any]:
    """A KEDA ScaledObject (it makes and owns the HPA) scaling the executor's Deployment to
    ``ceil(demand / target_queue)`` replicas, demand being its requests queued at the gateway or
    in flight (:func:`.prometheus.queue_demand_query`). Needs the gateway's metrics."""
    from .prometheus import job, queue_demand_query

    auto = ex.autoscale
    assert auto is not None
    _check_bounds(ex)
    if c.monitoring_port(spec, None) is None:
        raise c.ExportError(f"executor {ex.name!r}: autoscale.metric 'queue' reads the "
                            "gateway's metrics; switch on monitoring (with: monitoring: true)")
    query = queue_demand_query(ex.name, {"namespace": namespace, "job": job(gateway, namespace)})
    return _scaler("keda.sh/v1alpha1", "ScaledObject", part, namespace, {
        "minReplicaCount": auto.min_replicas,
        "maxReplicaCount": auto.max_replicas,
        "pollingInterval": 15,
        "cooldownPeriod": 300,
        "triggers": [{"type": "prometheus", "metadata": {
            "serverAddress": auto.prometheus, "query": query,
            "threshold": str(auto.target_queue)}}],
    })


def _scaler(api_version: str, kind: str, part: Component, namespace: str,
            spec: dict[str, Any]) -> dict[str, Any]:
    """An autoscaler object of `kind` scaling `part`'s Deployment."""
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": part.name}
    return {"apiVersion": api_version, "kind": kind,
            "metadata": part.metadata(namespace),
            "spec": {"scaleTargetRef": target, **spec}}


def _autoscaler(ex: ExecutorSpec, part: Component, namespace: str,
                resources: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """An HPA on the ``executor`` container's CPU (not the pod's: the Linkerd proxy has no
    CPU request by default, which would leave pod utilization undefined). It needs a CPU
    request given in the Flow (`resources`, without the export's defaults): utilization is
    measured against it."""
    auto = ex.autoscale
    assert auto is not None
    _check_bounds(ex)
    if "cpu" not in resources.get("requests", {}):
        raise c.ExportError(f"executor {ex.name!r}: autoscale scales on CPU utilization, "
                            "which needs resources.requests.cpu (e.g. 500m)")
    return _scaler("autoscaling/v2", "HorizontalPodAutoscaler", part, namespace, {
        "minReplicas": auto.min_replicas,
        "maxReplicas": auto.max_replicas,
        "metrics": [{
            "type": "ContainerResource",
            "containerResource": {
                "name": "cpu",
                "container": "executor",
                "target": {"type": "Utilization",
                           "averageUtilization": auto.target_cpu_utilization},
            },
        }],
    })
