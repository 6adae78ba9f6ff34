"""Every exported object passes its schema: Kubernetes' (strict, 1.27 and the newest shipped by
kubernetes-validate) or its CRD's (Linkerd's ServiceProfile, Server, AuthorizationPolicy,
MeshTLSAuthentication; the Prometheus operator's PrometheusRule and PodMonitor; KEDA's ScaledObject;
unknown fields rejected)."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
from export_helpers import K8S_VERSIONS, KITCHEN_IMAGES, by_kind

from flowserve.export.images import plan_images
from flowserve.export.kubernetes import kubernetes_manifests


def _exports(demo_spec, kitchen_spec):
    return {
        "demo": kubernetes_manifests(demo_spec, plan_images(demo_spec), namespace="demo-linkerd"),
        "kitchen-sink": kubernetes_manifests(kitchen_spec, KITCHEN_IMAGES, namespace="kitchen",
                                             cluster_domain="corp.internal", instance="shop",
                                             pod_security="baseline"),
    }


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_kubernetes_object_passes_the_strict_schema(demo_spec, kitchen_spec, k8s_errors,
                                                          custom_schemas, version):
    custom = {kind for _, kind in custom_schemas}
    failures = []
    checked = set()
    for flow, objects in _exports(demo_spec, kitchen_spec).items():
        for obj in objects:
            if obj["kind"] in custom:
                continue
            checked.add(obj["kind"])
            name = f"{flow}: {obj['kind']} {obj['metadata']['name']}"
            failures += [f"{name}: {e}" for e in k8s_errors(obj, version)]
            if not failures:  # the library's own entry point agrees
                kubernetes_validate.validate(obj, version, strict=True)
    assert not failures, "\n".join(failures)
    assert checked == {"Namespace", "ConfigMap", "Service", "Deployment",
                       "HorizontalPodAutoscaler", "ServiceAccount", "NetworkPolicy",
                       "PodDisruptionBudget"}


def test_schema_check_lists_every_error_not_only_the_first(demo_spec, k8s_errors):
    objects = kubernetes_manifests(demo_spec, plan_images(demo_spec), namespace="demo-linkerd")
    deployment = copy.deepcopy(by_kind(objects, "Deployment", "slow-executor")[0])
    deployment["spec"]["replicas"] = "two"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolicy"] = 3
    container["unknownField"] = True
    errors = k8s_errors(deployment, "1.27")
    assert len(errors) == 3, errors
    assert any(e.startswith("spec.replicas:") for e in errors)
    assert any("imagePullPolicy" in e for e in errors)
    assert any("unknownField" in e for e in errors)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.27", strict=True)


def test_strict_mode_rejects_unknown_fields(demo_spec, k8s_errors):
    service = copy.deepcopy(by_kind(kubernetes_manifests(
        demo_spec, plan_images(demo_spec)), "Service", "gateway")[0])
    service["spec"]["selectr"] = {"app": "gateway"}
    assert any("selectr" in e for e in k8s_errors(service, K8S_VERSIONS[-1]))


def test_custom_resources_pass_their_crd_schema(demo_spec, kitchen_spec, crd_errors,
                                               custom_schemas):
    custom = {kind for _, kind in custom_schemas}
    objects = [o for exported in _exports(demo_spec, kitchen_spec).values() for o in exported
               if o["kind"] in custom]
    count: dict[str, int] = {}
    for obj in objects:
        count[obj["kind"]] = count.get(obj["kind"], 0) + 1
    # per executor (demo: 2; kitchen sink: 3, one more is external), and one per gateway
    assert count == {"ServiceProfile": 5, "Server": 5, "AuthorizationPolicy": 5,
                     "MeshTLSAuthentication": 2, "PrometheusRule": 1, "PodMonitor": 1,
                     "ScaledObject": 1}
    failures = [f"{o['kind']} {o['metadata']['name']}: {e}" for o in objects
                for e in crd_errors(o)]
    assert not failures, "\n".join(failures)


def test_service_profile_schema_rejects_unknown_fields(demo_spec, crd_errors):
    objects = kubernetes_manifests(demo_spec, plan_images(demo_spec), namespace="demo-linkerd")
    profile = copy.deepcopy(by_kind(objects, "ServiceProfile")[0])
    profile["spec"]["routes"][0]["retries"] = 3  # not a field: Linkerd would drop it silently
    profile["spec"]["retryBudget"]["ttl"] = 10  # wrong type
    profile["metadata"]["uid"] = "x"
    errors = crd_errors(profile)
    assert len(errors) == 3, errors


def test_prometheus_rule_schema_rejects_unknown_fields(kitchen, crd_errors):
    rule = copy.deepcopy(by_kind(kitchen, "PrometheusRule")[0])
    rule["spec"]["groups"][0]["rules"][0]["fro"] = "2m"
    assert any("fro" in e for e in crd_errors(rule))
