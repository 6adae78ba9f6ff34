"""The locked-down export (docs/security.md): restricted pod security, default resources, one
ServiceAccount per component, NetworkPolicies and Linkerd authorization admitting only the
gateway, instance-scoped names so two Flows share a namespace, PodDisruptionBudgets, checkov
skip annotations, non-root images, and Secrets as files."""

from __future__ import annotations

import copy
import os

import pytest
from export_helpers import KITCHEN_IMAGES, KITCHEN_SINK, by_kind

from flowserve.cli.main import _load_env_files
from flowserve.config.spec import flow_from_dict
from flowserve.errors import ConfigError
from flowserve.export import ExportError
from flowserve.export._security import with_default_resources
from flowserve.export.dockerfile import base_dockerfile, executor_dockerfile
from flowserve.export.images import ExecutorImage, plan_images
from flowserve.export.kubernetes import kubernetes_manifests
from flowserve.export.validate import check_manifests


def _pods(objects):
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"]
            for d in by_kind(objects, "Deployment")}


def test_every_pod_meets_the_restricted_pod_security_standard(demo, kitchen):
    for name, pod in {**_pods(demo), **_pods(kitchen)}.items():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 10000
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert pod["serviceAccountName"] == name  # its own identity
        (container,) = pod["containers"]
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]
        assert set(container["resources"]["requests"]) >= {"cpu", "memory"}
        assert set(container["resources"]["limits"]) >= {"cpu", "memory"}
    indexer = _pods(kitchen)["slow-indexer"]["containers"][0]
    assert {"name": "workspace", "mountPath": "/data"} in indexer["volumeMounts"]


def test_namespace_is_labelled_for_pod_security(demo_spec):
    images = plan_images(demo_spec)
    labels = kubernetes_manifests(demo_spec, images)[0]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    relaxed = kubernetes_manifests(demo_spec, images, pod_security="privileged")
    assert relaxed[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    with pytest.raises(ExportError, match="pod security level 'strict'"):
        kubernetes_manifests(demo_spec, images, pod_security="strict")


@pytest.mark.parametrize("given, expected", [
    ({}, {"requests": {"cpu": "250m", "memory": "512Mi"},
          "limits": {"cpu": "2", "memory": "2Gi"}}),
    ({"requests": {"memory": "4Gi"}, "limits": {"cpu": "500m"}},  # default limit raised,
     {"requests": {"cpu": "250m", "memory": "4Gi"},              # default request kept
      "limits": {"cpu": "500m", "memory": "4Gi"}}),
    ({"limits": {"cpu": "100m", "nvidia.com/gpu": "1"}},  # default request lowered
     {"requests": {"cpu": "100m", "memory": "512Mi"},
      "limits": {"cpu": "100m", "memory": "2Gi", "nvidia.com/gpu": "1"}}),
])
def test_default_resources_never_contradict_the_flow(given, expected):
    assert with_default_resources("executor", given) == expected


def test_executors_admit_only_their_gateway(demo):
    gateway_selector = {"app.kubernetes.io/name": "gateway",
                        "app.kubernetes.io/instance": "demo-linkerd"}
    (executor_policy,) = by_kind(demo, "NetworkPolicy", "slow-executor")
    serving, scraping = executor_policy["spec"]["ingress"]
    assert serving == {"ports": [{"protocol": "TCP", "port": 8080}],
                       "from": [{"podSelector": {"matchLabels": gateway_selector}}]}
    assert scraping == {"ports": [{"protocol": "TCP", "port": 4191}]}  # Linkerd's admin port
    (gateway_policy,) = by_kind(demo, "NetworkPolicy", "gateway")
    assert gateway_policy["spec"]["ingress"][0] == {"ports": [{"protocol": "TCP", "port": 8080}]}
    assert gateway_policy["spec"]["podSelector"]["matchLabels"] == gateway_selector

    (server,) = by_kind(demo, "Server", "slow-executor-grpc")
    assert server["spec"]["port"] == "grpc" and server["spec"]["proxyProtocol"] == "gRPC"
    (authz,) = by_kind(demo, "AuthorizationPolicy", "slow-executor-grpc")
    assert authz["spec"]["targetRef"]["name"] == "slow-executor-grpc"
    (ref,) = authz["spec"]["requiredAuthenticationRefs"]
    (mesh_tls,) = by_kind(demo, "MeshTLSAuthentication", ref["name"])
    assert mesh_tls["spec"]["identityRefs"] == [{"kind": "ServiceAccount", "name": "gateway"}]
    assert by_kind(demo, "ServiceAccount", "gateway")[0]["automountServiceAccountToken"] is False


def test_metrics_ports_stay_reachable_for_scraping(kitchen):
    (policy,) = by_kind(kitchen, "NetworkPolicy", "front-door")
    assert policy["spec"]["ingress"][1] == {"ports": [{"protocol": "TCP", "port": 9100},
                                                      {"protocol": "TCP", "port": 4191}]}
    assert not by_kind(kitchen, "Server", "front-door-monitoring")  # default mesh policy


def test_two_flows_share_a_namespace(demo_spec):
    images = plan_images(demo_spec)
    blue = kubernetes_manifests(demo_spec, images, namespace="team", instance="blue")
    green = kubernetes_manifests(demo_spec, images, namespace="team", instance="green")
    assert blue[0] == green[0]  # the same Namespace
    assert check_manifests(blue + green[1:]) == []  # nothing defined twice
    service = by_kind(blue, "Service", "blue-slow-executor")[0]
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "slow-executor",
                                           "app.kubernetes.io/instance": "blue"}
    labels = by_kind(blue, "Deployment", "blue-gateway")[0]["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "blue"
    assert labels["app.kubernetes.io/version"] == "0.1.0"
    gateway = by_kind(blue, "Deployment", "blue-gateway")[0]["spec"]["template"]["spec"]
    args = gateway["containers"][0]["args"]
    assert "blue-slow-executor.team.svc:8080" in args[args.index("--deployments") + 1]
    (mesh_tls,) = by_kind(blue, "MeshTLSAuthentication")
    assert mesh_tls["spec"]["identityRefs"][0]["name"] == "blue-gateway"


@pytest.mark.parametrize("instance", ["Blue", "1st", "x" * 41])
def test_instance_must_be_a_short_dns_label(demo_spec, instance):
    with pytest.raises(ExportError, match="instance"):
        kubernetes_manifests(demo_spec, plan_images(demo_spec), instance=instance)


def test_replicated_executors_get_a_disruption_budget(kitchen, demo):
    (budget,) = by_kind(kitchen, "PodDisruptionBudget")
    assert budget["metadata"]["name"] == "encoder"  # 3 replicas; the indexer may scale to 1
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {
        "app.kubernetes.io/name": "encoder", "app.kubernetes.io/instance": "kitchen"}}}
    assert not by_kind(demo, "PodDisruptionBudget")
    data = copy.deepcopy(KITCHEN_SINK)
    data["executors"][1]["autoscale"]["min_replicas"] = 2
    objects = kubernetes_manifests(flow_from_dict(data), KITCHEN_IMAGES)
    assert {b["metadata"]["name"] for b in by_kind(objects, "PodDisruptionBudget")} == {
        "encoder", "slow-indexer"}


def test_checkov_skips_give_reasons_and_only_where_needed(demo, kitchen):
    annotations = by_kind(demo, "Deployment", "slow-executor")[0]["metadata"]["annotations"]
    assert annotations["checkov.io/skip1"].startswith("CKV_K8S_43=images are referenced by tag")
    assert annotations["checkov.io/skip2"].startswith("CKV_K8S_15=imagePullPolicy IfNotPresent")
    # the kitchen sink's encoder pulls Always: only the digest check is skipped
    encoder = by_kind(kitchen, "Deployment", "encoder")[0]["metadata"]["annotations"]
    assert list(encoder) == ["checkov.io/skip1"]
    digest = "registry.example.com/encoder@sha256:" + "0" * 64
    images = {**KITCHEN_IMAGES, "encoder": ExecutorImage(image=digest, uses="config.yml")}
    objects = kubernetes_manifests(flow_from_dict(copy.deepcopy(KITCHEN_SINK)), images)
    assert "annotations" not in by_kind(objects, "Deployment", "encoder")[0]["metadata"]


def test_images_run_as_the_non_root_user(demo_spec):
    assert "USER 10001:10001" in base_dockerfile().splitlines()
    image = plan_images(demo_spec)["slow_executor"]
    lines = executor_dockerfile("slow_executor", image, ["flowserve"]).splitlines()
    # root only to install the executor's files, then back to the server's user
    assert lines.index("USER root") < lines.index("USER 10001:10001") < len(lines) - 2


def test_env_files_set_variables_from_mounted_secrets(tmp_path, monkeypatch):
    secret = tmp_path / "token"
    secret.write_text("s3cr3t")
    monkeypatch.setenv("FLOWSERVE_TEST_TOKEN", "")  # restored (removed) after the test
    _load_env_files([f"FLOWSERVE_TEST_TOKEN={secret}"])
    assert os.environ["FLOWSERVE_TEST_TOKEN"] == "s3cr3t"
    with pytest.raises(ConfigError, match="expected VAR=PATH"):
        _load_env_files(["no-equals-sign"])


def test_gateway_tokens_come_from_a_mounted_secret(kitchen):
    pod = _pods(kitchen)["front-door"]
    args = pod["containers"][0]["args"]
    path = "/var/run/secrets/flowserve/front-door-tokens/tokens"
    assert args[args.index("--tokens-file") + 1] == path
    assert args[args.index("--tokens-env") + 1] == "GATEWAY_TOKENS"
    assert args[args.index("--env-file") + 1] == f"GATEWAY_TOKENS={path}"
    secrets = {v["secret"]["secretName"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    assert secrets["front-door-tokens"] == {"secretName": "front-door-tokens",
                                            "defaultMode": 0o440,
                                            "items": [{"key": "tokens", "path": "tokens"}]}


def test_gateway_tls_files_come_from_a_tls_secret(kitchen, kitchen_spec):
    pod = _pods(kitchen)["front-door"]
    args = pod["containers"][0]["args"]
    assert args[args.index("--ssl-certfile") + 1] == \
        "/var/run/secrets/flowserve/front-door-tls/tls.crt"
    assert args[args.index("--ssl-keyfile") + 1] == \
        "/var/run/secrets/flowserve/front-door-tls/tls.key"
    (tls_volume,) = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName")
                     == "front-door-tls"]
    assert [i["key"] for i in tls_volume["secret"]["items"]] == ["tls.crt", "tls.key"]
    # gRPC only: the probe can only see that the TLS port listens
    spec = kitchen_spec.model_copy(update={"with_": kitchen_spec.with_.model_copy(
        update={"protocol": ["grpc"], "port": [50051]})})
    grpc_only = kubernetes_manifests(spec, KITCHEN_IMAGES)
    container = _pods(grpc_only)["front-door"]["containers"][0]
    assert container["livenessProbe"]["tcpSocket"] == {"port": "grpc"}


def test_under_linkerd_the_gateway_calls_executors_without_its_own_tls(kitchen):
    args = _pods(kitchen)["front-door"]["containers"][0]["args"]
    assert "--executor-ssl-cafile" not in args  # the mesh encrypts and authenticates the hop
    assert "--ssl-certfile" not in _pods(kitchen)["encoder"]["containers"][0]["args"]
    assert "--error-detail" not in args  # the Flow chose stack, the gateway's own default
    assert "--forbid-target-executor" in args
    assert args[args.index("--max-message-bytes") + 1] == "8388608"
    executor_args = _pods(kitchen)["encoder"]["containers"][0]["args"]
    assert executor_args[executor_args.index("--max-message-bytes") + 1] == "8388608"
