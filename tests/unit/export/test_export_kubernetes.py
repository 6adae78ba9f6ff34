"""The Kubernetes export honours the Flow: names, namespace, images, commands, probes, resources,
env and secrets, replicas and autoscaling, Linkerd annotations and ServiceProfiles."""

from __future__ import annotations

import copy
import json

import pytest
from export_helpers import KITCHEN_IMAGES, KITCHEN_SINK, by_kind

from flowserve.cli.main import _parser
from flowserve.config.graph import graph_from_mapping
from flowserve.config.spec import flow_from_dict
from flowserve.export import ExportError
from flowserve.export.images import plan_images
from flowserve.export.kubernetes import kubernetes_manifests
from flowserve.export.validate import check_manifests
from flowserve.gateway.config import DeploymentConfig


def _container(objects, name):
    return by_kind(objects, "Deployment", name)[0]["spec"]["template"]["spec"]["containers"][0]


def test_demo_flow_objects(demo):
    kinds = [(o["kind"], o["metadata"]["name"]) for o in demo]
    executor_kinds = ("ServiceAccount", "ConfigMap", "Service", "Deployment", "NetworkPolicy",
                      "Server", "AuthorizationPolicy")
    assert kinds == [
        ("Namespace", "demo-linkerd"),
        ("ServiceAccount", "gateway"), ("ConfigMap", "gateway-env"), ("Service", "gateway"),
        ("Deployment", "gateway"), ("NetworkPolicy", "gateway"),
        ("MeshTLSAuthentication", "gateway"),
        *[(kind, _name(kind, "slow-executor")) for kind in executor_kinds],
        ("ServiceProfile", "slow-executor.demo-linkerd.svc.cluster.local"),
        *[(kind, _name(kind, "bulky-executor")) for kind in executor_kinds],
        ("ServiceProfile", "bulky-executor.demo-linkerd.svc.cluster.local"),
    ]
    assert demo[0]["metadata"]["annotations"] == {"linkerd.io/inject": "enabled"}
    assert demo[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {o["metadata"].get("namespace") for o in demo[1:]} == {"demo-linkerd"}
    assert check_manifests(demo) == []


def _name(kind, component):
    suffix = {"ConfigMap": "-env", "Server": "-grpc", "AuthorizationPolicy": "-grpc"}
    return component + suffix.get(kind, "")


def test_namespace_defaults_to_flowserve_and_must_be_a_label(demo_spec):
    images = plan_images(demo_spec)
    assert kubernetes_manifests(demo_spec, images)[0]["metadata"]["name"] == "flowserve"
    with pytest.raises(ExportError, match=r"Namespace 'Demo_NS': metadata.name"):
        kubernetes_manifests(demo_spec, images, namespace="Demo_NS")


def test_pods_are_meshed_and_containers_named_for_kubectl_logs(demo):
    for name, role in (("gateway", "gateway"), ("slow-executor", "executor")):
        template = by_kind(demo, "Deployment", name)[0]["spec"]["template"]
        assert template["metadata"]["annotations"]["linkerd.io/inject"] == "enabled"
        assert "prometheus.io/scrape" not in template["metadata"]["annotations"]
        assert [c["name"] for c in template["spec"]["containers"]] == [role]


def test_executor_container_runs_flowserve_executor(demo):
    container = _container(demo, "slow-executor")
    assert container["image"] == "flowserve-slow-executor:0.1.0"
    assert container["command"] == ["flowserve"]
    args = _parser().parse_args(container["args"])
    assert (args.command, args.uses, args.name, args.port) == (
        "executor", "executor:HeavyExecutorLinkerdDemo", "slow_executor", 8080)
    assert args.uses_with == {"n_dim": -1, "sleep": 1}
    assert str(args.base_dir) == "/app" and args.grace == 10
    assert container["ports"] == [{"name": "grpc", "containerPort": 8080, "protocol": "TCP"}]


def test_gateway_args_carry_graph_and_service_addresses(demo):
    container = _container(demo, "gateway")
    args = _parser().parse_args(container["args"])
    assert args.command == "gateway"
    assert graph_from_mapping(args.graph).needs == {
        "slow_executor": ("gateway",), "bulky_executor": ("slow_executor",)}
    deployments = {n: DeploymentConfig.parse(n, v) for n, v in args.deployments.items()}
    assert deployments["slow_executor"].addresses == ("slow-executor.demo-linkerd.svc:8080",)
    assert deployments["bulky_executor"].addresses == ("bulky-executor.demo-linkerd.svc:8080",)
    assert (args.protocol, args.port, args.host, args.prefetch) == (
        ["grpc"], [8080], "0.0.0.0", 1000)


def test_probes_and_graceful_stop(demo_spec, demo):
    container = _container(demo, "slow-executor")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        # a command inside the pod: only the gateway's mesh identity may use port 8080
        command = container[probe]["exec"]["command"]
        assert command[:2] == ["python", "-c"] and "'127.0.0.1:8080'" in command[2]
        assert _container(demo, "gateway")[probe]["grpc"] == {"port": 8080}
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= demo_spec.with_.timeout_ready
    assert container["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", "5"]}}
    pod = by_kind(demo, "Deployment", "slow-executor")[0]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= demo_spec.with_.grace + 5


def test_every_gateway_port_and_protocol_and_custom_image(kitchen):
    service = by_kind(kitchen, "Service", "front-door")[0]
    assert service["spec"]["ports"] == [
        {"name": "grpc", "port": 50051, "targetPort": "grpc", "protocol": "TCP"},
        {"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"},
    ]
    gateway = by_kind(kitchen, "Deployment", "front-door")[0]
    assert gateway["spec"]["replicas"] == 2
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/custom-gateway:2"
    assert container["imagePullPolicy"] == "Always"
    assert [p["name"] for p in container["ports"]] == ["grpc", "http", "monitoring"]
    # TLS: the kubelet probes GET / over HTTPS (its gRPC probes speak plaintext only)
    assert container["readinessProbe"]["httpGet"] == {"path": "/", "port": "http",
                                                      "scheme": "HTTPS"}
    args = _parser().parse_args(container["args"])
    assert (args.protocol, args.port, args.prefetch, args.name) == (
        ["grpc", "http"], [50051, 8000], 5, "front_door")
    assert (args.timeout, args.retries, args.retry_budget, args.grace) == (30, False, 0.1, 20)
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"},
                                      "limits": {"cpu": "2", "memory": "1Gi"}}  # defaults


def test_http_only_gateway_is_probed_over_http(demo_spec):
    spec = demo_spec.model_copy(update={"with_": demo_spec.with_.model_copy(
        update={"protocol": ["http"], "port": [8081]})})
    container = _container(kubernetes_manifests(spec, plan_images(spec)), "gateway")
    assert container["livenessProbe"]["httpGet"] == {"path": "/", "port": "http"}


def test_docker_image_executor_with_resources_gpus_env_and_secrets(kitchen):
    container = _container(kitchen, "encoder")
    assert container["image"] == "registry.example.com/encoder:1.2"
    assert container["imagePullPolicy"] == "Always"  # the Flow's default
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"},
    }
    # the Secret is a read-only file, read into the variable by --env-file (not in the spec's env)
    assert "env" not in container
    args = container["args"]
    assert args[args.index("--env-file") + 1] == \
        "HF_TOKEN=/var/run/secrets/flowserve/hf/token"
    assert {"name": "secret-0", "mountPath": "/var/run/secrets/flowserve/hf",
            "readOnly": True} in container["volumeMounts"]
    pod = by_kind(kitchen, "Deployment", "encoder")[0]["spec"]["template"]["spec"]
    assert {"name": "secret-0", "secret": {"secretName": "hf", "defaultMode": 0o440, "items": [
        {"key": "token", "path": "token"}]}} in pod["volumes"]
    assert container["envFrom"] == [{"configMapRef": {"name": "encoder-env"}}]
    assert by_kind(kitchen, "ConfigMap", "encoder-env")[0]["data"] == {
        "HOME": "/tmp", "LOG_LEVEL": "debug", "MODEL": "clip"}
    pod = by_kind(kitchen, "Deployment", "encoder")[0]["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}, {"name": "encreg"}]
    args = _parser().parse_args(container["args"])
    assert args.uses == "config.yml" and args.uses_with == {"dim": 128}
    assert "--base-dir" not in container["args"]  # the image's own working directory


def test_monitoring_annotations_follow_flow_and_executor(kitchen):
    def annotations(name):
        return by_kind(kitchen, "Deployment", name)[0]["spec"]["template"]["metadata"][
            "annotations"]

    assert annotations("front-door")["prometheus.io/port"] == "9100"
    assert annotations("encoder")["prometheus.io/scrape"] == "true"
    assert annotations("encoder")["prometheus.io/port"] == "9090"
    assert annotations("encoder")["prometheus.io/path"] == "/metrics"
    assert annotations("merge")["prometheus.io/port"] == "9200"
    assert "prometheus.io/scrape" not in annotations("slow-indexer")  # monitoring: false


def test_replicas_capacity_and_autoscaling(kitchen):
    assert by_kind(kitchen, "Deployment", "encoder")[0]["spec"]["replicas"] == 3
    indexer = by_kind(kitchen, "Deployment", "slow-indexer")[0]
    assert "replicas" not in indexer["spec"]  # the HPA owns the count
    (hpa,) = by_kind(kitchen, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "slow-indexer"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 5)
    metric = hpa["spec"]["metrics"][0]["containerResource"]
    assert metric["container"] == "executor"
    assert metric["target"] == {"type": "Utilization", "averageUtilization": 70}
    # one Service address stands for all replicas: the gateway may fill them all
    args = _parser().parse_args(_container(kitchen, "front-door")["args"])
    assert args.deployments["encoder"]["concurrency"] == 3 * 2
    assert args.deployments["slow_indexer"]["concurrency"] == 5
    assert args.deployments["elsewhere"]["addresses"] == ["search.example.com:50052"]


def test_queue_autoscaling_is_a_keda_scaled_object_on_the_executors_demand(kitchen):
    from flowserve.export.prometheus import queue_demand_query

    assert "replicas" not in by_kind(kitchen, "Deployment", "merge")[0]["spec"]
    (scaled,) = by_kind(kitchen, "ScaledObject")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": "merge"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 4)
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus"
    assert trigger["metadata"] == {
        "serverAddress": "http://prometheus-operated.monitoring.svc:9090",
        "query": queue_demand_query("merge", {"namespace": "kitchen",
                                              "job": "kitchen/front-door-pods"}),
        "threshold": "3"}
    assert not [h for h in by_kind(kitchen, "HorizontalPodAutoscaler")
                if h["metadata"]["name"] == "merge"]  # KEDA makes and owns the HPA
    # the job the query selects is the PodMonitor's
    (monitor,) = by_kind(kitchen, "PodMonitor")
    assert monitor["metadata"]["name"] == "front-door-pods"


def test_queue_autoscaling_needs_the_gateways_metrics():
    flow = copy.deepcopy(KITCHEN_SINK)
    flow["with"]["monitoring"] = False
    with pytest.raises(ExportError, match="autoscale.metric 'queue' reads the gateway's metrics"):
        kubernetes_manifests(flow_from_dict(flow), KITCHEN_IMAGES, namespace="kitchen")


def test_external_executors_get_no_objects(kitchen):
    names = {o["metadata"]["name"] for o in kitchen}
    assert not any("elsewhere" in n for n in names)


def test_pull_policy_and_workspace(kitchen):
    assert _container(kitchen, "merge")["imagePullPolicy"] == "Never"
    assert "--uses" not in _container(kitchen, "merge")["args"]  # the base Executor
    args = _parser().parse_args(_container(kitchen, "slow-indexer")["args"])
    assert args.workspace == "/data" and args.uses == "toy_executors:NoOp"
    assert args.sync_handlers == "thread" and args.concurrency == 1


def test_executor_containers_get_their_scheduling_flags(kitchen):
    args = _parser().parse_args(_container(kitchen, "encoder")["args"])
    assert args.concurrency == 2  # per replica, as the Flow says
    assert args.sync_handlers == "auto"


def test_service_profiles_routes_timeouts_and_retries(demo, kitchen):
    profile = by_kind(demo, "ServiceProfile")[0]
    routes = {r["condition"]["pathRegex"]: r for r in profile["spec"]["routes"]}
    process = routes[r"/jina\.JinaSingleDataRequestRPC/process_single_data"]
    discovery = routes[r"/jina\.JinaDiscoverEndpointsRPC/endpoint_discovery"]
    assert process["condition"]["method"] == "POST"
    assert process["isRetryable"] is False  # the gateway retries (retries: true by default)
    assert discovery["isRetryable"] is True
    assert process["timeout"] == "3600s"  # no timeout in the Flow: not Linkerd's 10 s
    assert profile["spec"]["retryBudget"] == {"retryRatio": 0.2, "minRetriesPerSecond": 10,
                                              "ttl": "10s"}

    def process_route(name):
        (p,) = by_kind(kitchen, "ServiceProfile", f"{name}.kitchen.svc.cluster.local")
        return p["spec"]["routes"][0], p["spec"]["retryBudget"]["retryRatio"]

    assert process_route("encoder") == ({**process_route("encoder")[0], "timeout": "2500ms",
                                         "isRetryable": True}, 0.1)  # gateway retries off
    assert process_route("slow-indexer")[0]["isRetryable"] is False  # retries: 0
    assert process_route("merge")[0]["timeout"] == "30s"  # the Flow's timeout


def test_cluster_domain(demo_spec):
    objects = kubernetes_manifests(demo_spec, plan_images(demo_spec), namespace="ns",
                                   cluster_domain="corp.internal")
    assert by_kind(objects, "ServiceProfile")[0]["metadata"]["name"] == \
        "slow-executor.ns.svc.corp.internal"


def test_name_collisions_after_dns_conversion_are_errors():
    spec = flow_from_dict({"executors": [{"name": "a_b"}, {"name": "a-b"}, {"name": "A_B"}]})
    with pytest.raises(ExportError) as info:
        kubernetes_manifests(spec, {n: KITCHEN_IMAGES["merge"] for n in ("a_b", "a-b", "A_B")})
    message = str(info.value)
    assert "executor 'a-b': Kubernetes name 'a-b' collides with executor 'a_b'" in message
    assert "executor 'A_B'" in message


def test_names_must_become_dns_1035_labels():
    spec = flow_from_dict({"with": {"name": "1gw"}, "executors": [{"name": "x" * 64}]})
    with pytest.raises(ExportError) as info:
        kubernetes_manifests(spec, {"x" * 64: KITCHEN_IMAGES["merge"]})
    assert "the gateway (with: name): Kubernetes name '1gw'" in str(info.value)
    assert f"executor '{'x' * 64}'" in str(info.value)


@pytest.mark.parametrize("change, message", [
    ({"autoscale": {"min_replicas": 6, "max_replicas": 5}}, "min_replicas"),
    ({"resources": None}, "resources.requests.cpu"),
    ({"gpus": 1, "resources": {"requests": {"cpu": 1}, "limits": {"nvidia.com/gpu": 2}}},
     "gpus: 1 disagrees"),
])
def test_inconsistent_executor_settings_are_errors(change, message):
    data = copy.deepcopy(KITCHEN_SINK)
    data["executors"][1].update(change)
    data["with"]["resources"] = None  # no Flow-wide CPU request to inherit
    with pytest.raises(ExportError, match=message):
        kubernetes_manifests(flow_from_dict(data), KITCHEN_IMAGES)


def test_changing_env_rolls_the_pods(kitchen_spec):
    def env_hash(spec):
        objects = kubernetes_manifests(spec, KITCHEN_IMAGES)
        return by_kind(objects, "Deployment", "encoder")[0]["spec"]["template"]["metadata"][
            "annotations"]["flowserve.io/env-hash"]

    data = copy.deepcopy(KITCHEN_SINK)
    data["executors"][0]["env"]["MODEL"] = "siglip"
    assert env_hash(kitchen_spec) != env_hash(flow_from_dict(data))
    assert env_hash(kitchen_spec) == env_hash(flow_from_dict(copy.deepcopy(KITCHEN_SINK)))


def test_shards_are_not_exported_silently():
    spec = flow_from_dict({"executors": [{"name": "idx", "shards": 2}]})
    with pytest.raises(ExportError, match="'idx': shards > 1 cannot be exported"):
        kubernetes_manifests(spec, {"idx": KITCHEN_IMAGES["merge"]})


def test_gateway_args_json_is_compact_and_deterministic(demo_spec):
    first = kubernetes_manifests(demo_spec, plan_images(demo_spec))
    second = kubernetes_manifests(demo_spec, plan_images(demo_spec))
    assert first == second
    args = _container(first, "gateway")["args"]
    json.loads(args[args.index("--deployments") + 1])
