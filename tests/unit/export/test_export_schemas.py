"""Every exported object passes its schema: Kubernetes' (strict, 1.27 and the newest shipped by
kubernetes-validate) or Linkerd's ServiceProfile CRD (unknown fields rejected)."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
from export_helpers import K8S_VERSIONS, KITCHEN_IMAGES, by_kind

from flowserve.export.images import plan_images
from flowserve.export.kubernetes import kubernetes_manifests


def _exports(seed_spec, kitchen_spec):
    return {
        "seed": kubernetes_manifests(seed_spec, plan_images(seed_spec), namespace="demo-linkerd"),
        "kitchen-sink": kubernetes_manifests(kitchen_spec, KITCHEN_IMAGES, namespace="kitchen"),
    }


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_kubernetes_object_passes_the_strict_schema(seed_spec, kitchen_spec, k8s_errors,
                                                          version):
    failures = []
    checked = set()
    for flow, objects in _exports(seed_spec, kitchen_spec).items():
        for obj in objects:
            if obj["kind"] == "ServiceProfile":
                continue
            checked.add(obj["kind"])
            name = f"{flow}: {obj['kind']} {obj['metadata']['name']}"
            failures += [f"{name}: {e}" for e in k8s_errors(obj, version)]
            if not failures:  # the library's own entry point agrees
                kubernetes_validate.validate(obj, version, strict=True)
    assert not failures, "\n".join(failures)
    assert checked == {"Namespace", "ConfigMap", "Service", "Deployment",
                       "HorizontalPodAutoscaler"}


def test_schema_check_lists_every_error_not_only_the_first(seed_spec, k8s_errors):
    objects = kubernetes_manifests(seed_spec, plan_images(seed_spec), namespace="demo-linkerd")
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


def test_strict_mode_rejects_unknown_fields(seed_spec, k8s_errors):
    service = copy.deepcopy(by_kind(kubernetes_manifests(
        seed_spec, plan_images(seed_spec)), "Service", "gateway")[0])
    service["spec"]["selectr"] = {"app": "gateway"}
    assert any("selectr" in e for e in k8s_errors(service, K8S_VERSIONS[-1]))


def test_service_profiles_pass_the_linkerd_crd_schema(seed_spec, kitchen_spec, crd_errors):
    profiles = [o for objects in _exports(seed_spec, kitchen_spec).values() for o in objects
                if o["kind"] == "ServiceProfile"]
    assert len(profiles) == 2 + 3  # seed: 2 executors; kitchen sink: 3 (one is external)
    failures = [f"{p['metadata']['name']}: {e}" for p in profiles for e in crd_errors(p)]
    assert not failures, "\n".join(failures)


def test_service_profile_schema_rejects_unknown_fields(seed_spec, crd_errors):
    objects = kubernetes_manifests(seed_spec, plan_images(seed_spec), namespace="demo-linkerd")
    profile = copy.deepcopy(by_kind(objects, "ServiceProfile")[0])
    profile["spec"]["routes"][0]["retries"] = 3  # not a field: Linkerd would drop it silently
    profile["spec"]["retryBudget"]["ttl"] = 10  # wrong type
    profile["metadata"]["uid"] = "x"
    errors = crd_errors(profile)
    assert len(errors) == 3, errors
