"""A Flow as Kubernetes objects (plain dicts), ready for ``kubectl apply -R -f``.

Objects, in order: the Namespace (annotated for Linkerd injection); then, for the gateway and
each executor, a ConfigMap (its environment), a Service and a Deployment; for each executor
also a Linkerd ServiceProfile and, with ``autoscale``, a HorizontalPodAutoscaler. External
executors get nothing: the gateway calls their ``host:port``.

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
from ._commands import executor_args, gateway_args, observability_args
from ._pod import ContainerPlan, labels, pod_template, selector
from .images import ExecutorImage
from .linkerd import service_profile

__all__ = ["kubernetes_manifests"]


def kubernetes_manifests(
    spec: FlowSpec,
    images: Mapping[str, ExecutorImage],
    *,
    namespace: str | None = None,
    cluster_domain: str = "cluster.local",
) -> list[dict[str, Any]]:
    """Every Kubernetes object of the Flow; `images` maps executor names to their image plans."""
    ns = c.check_namespace(namespace or c.DEFAULT_NAMESPACE)
    c.check_supported(spec)
    names = c.component_names(spec)
    objects: list[dict[str, Any]] = [_namespace(ns)]
    addresses: dict[str, list[str]] = {}
    capacity: dict[str, int] = {}
    executor_objects: list[dict[str, Any]] = []
    for ex in spec.executors:
        if ex.external:
            addresses[ex.name] = [f"{ex.host}:{ex.port}"]
            continue
        name = names[ex.name]
        port = c.executor_port(ex)
        addresses[ex.name] = [f"{name}.{ns}.svc:{port}"]
        replicas = ex.autoscale.max_replicas if ex.autoscale else ex.replicas
        capacity[ex.name] = replicas * ex.concurrency
        executor_objects += _executor(spec, ex, images[ex.name], name=name, namespace=ns,
                                      port=port, cluster_domain=cluster_domain)
    objects += _gateway(spec, names[spec.with_.name], ns, gateway_args(spec, addresses, capacity))
    if _monitored(spec):  # a Grafana dashboard for what Prometheus scrapes
        from ..observe.grafana import grafana_config_map

        gateway = names[spec.with_.name]
        objects.append(grafana_config_map(spec.with_.name, name=f"{gateway}-grafana",
                                          namespace=ns, labels=labels(gateway, "gateway")))
    objects += executor_objects
    return objects


def _monitored(spec: FlowSpec) -> bool:
    """Whether the gateway or any executor serves metrics."""
    return c.monitoring_port(spec, None) is not None or any(
        c.monitoring_port(spec, ex) is not None for ex in spec.executors if not ex.external)


def _meta(name: str, namespace: str, role: str, component: str | None = None) -> dict[str, Any]:
    """Metadata of an object of `component` (default: the object's own name)."""
    return {"name": name, "namespace": namespace, "labels": labels(component or name, role)}


def _namespace(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": ns,
            "labels": {"app.kubernetes.io/managed-by": c.MANAGED_BY},
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
        "metadata": _meta(plan.env_config_map, namespace, plan.role, component=plan.name),
        "data": dict(sorted(plan.env.items())),
    }


def _service(name: str, namespace: str, role: str,
             ports: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, namespace, role),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(name),
            "ports": [{"name": n, "port": p, "targetPort": n, "protocol": "TCP"}
                      for n, p in ports],
        },
    }


def _deployment(plan: ContainerPlan, namespace: str, replicas: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if replicas is not None:  # left out under an HPA, which owns the count
        spec["replicas"] = replicas
    spec["selector"] = {"matchLabels": selector(plan.name)}
    spec["template"] = pod_template(plan)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(plan.name, namespace, plan.role),
        "spec": spec,
    }


def _gateway(spec: FlowSpec, name: str, ns: str, args: list[str]) -> list[dict[str, Any]]:
    opts = spec.with_
    ports = [(protocol, port) for protocol, port in c.gateway_ports(spec)]
    plan = ContainerPlan(
        name=name, flow_name=opts.name, role="gateway",
        image=opts.uses or c.base_image(), args=args, ports=ports,
        env_config_map=_env_name(name), env=c.env_of(spec, None),
        resources=c.resources_of(spec, None),
        pull_policy=c.pull_policy(spec, None), pull_secrets=c.pull_secrets(spec, None),
        monitoring_port=c.monitoring_port(spec, None), grace=opts.grace,
        grace_period=c.grace_period(spec), timeout_ready=opts.timeout_ready,
    )
    return [
        _config_map(plan, ns),
        _service(name, ns, "gateway", ports),
        _deployment(plan, ns, opts.replicas),
    ]


def _executor(spec: FlowSpec, ex: ExecutorSpec, image: ExecutorImage, *, name: str,
              namespace: str, port: int, cluster_domain: str) -> list[dict[str, Any]]:
    opts = spec.with_
    plan = ContainerPlan(
        name=name, flow_name=ex.name, role="executor", image=image.image,
        args=executor_args(ex, image, port=port, grace=opts.grace,
                           observability=observability_args(spec, ex)),
        ports=[("grpc", port)], env_config_map=_env_name(name), env=c.env_of(spec, ex),
        secret_env={var: (ref.name, ref.key) for var, ref in ex.env_from_secret.items()},
        resources=c.resources_of(spec, ex), pull_policy=c.pull_policy(spec, ex),
        pull_secrets=c.pull_secrets(spec, ex), monitoring_port=c.monitoring_port(spec, ex),
        grace=opts.grace, grace_period=c.grace_period(spec),
        timeout_ready=ex.timeout_ready or opts.timeout_ready,
    )
    objects = [
        _config_map(plan, namespace),
        _service(name, namespace, "executor", [("grpc", port)]),
        _deployment(plan, namespace, None if ex.autoscale else ex.replicas),
    ]
    if ex.autoscale is not None:
        objects.append(_autoscaler(ex, name, namespace, plan.resources))
    objects.append(service_profile(spec, ex, service=name, namespace=namespace,
                                   labels=labels(name, "executor"),
                                   cluster_domain=cluster_domain))
    return objects


def _autoscaler(ex: ExecutorSpec, name: str, namespace: str,
                resources: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """An HPA on the ``executor`` container's CPU (not the pod's: the Linkerd proxy has no
    CPU request by default, which would leave pod utilization undefined)."""
    auto = ex.autoscale
    assert auto is not None
    if auto.min_replicas > auto.max_replicas:
        raise c.ExportError(f"executor {ex.name!r}: autoscale.min_replicas "
                            f"({auto.min_replicas}) is above max_replicas ({auto.max_replicas})")
    if "cpu" not in resources.get("requests", {}):
        raise c.ExportError(f"executor {ex.name!r}: autoscale scales on CPU utilization, "
                            "which needs resources.requests.cpu (e.g. 500m)")
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(name, namespace, "executor"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
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
        },
    }
