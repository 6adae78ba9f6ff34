"""Our own offline checks find what schemas miss, all at once, naming object and field."""

from __future__ import annotations

import copy

import pytest
from export_helpers import KITCHEN_IMAGES, KITCHEN_SINK, by_kind

from flowserve.config.spec import flow_from_dict
from flowserve.export import ExportError
from flowserve.export.images import plan_images
from flowserve.export.kubernetes import kubernetes_manifests
from flowserve.export.validate import check_manifests, raise_for


@pytest.fixture
def objects(demo_spec):
    return copy.deepcopy(kubernetes_manifests(demo_spec, plan_images(demo_spec),
                                              namespace="demo-linkerd"))


def _problems(objects):
    return {(p.obj, p.field): p.message for p in check_manifests(objects)}


def test_exports_pass(objects, kitchen_spec):
    assert check_manifests(objects) == []
    assert check_manifests(kubernetes_manifests(kitchen_spec, KITCHEN_IMAGES)) == []


def test_port_names_ranges_and_target_ports(objects):
    deployment = by_kind(objects, "Deployment", "slow-executor")[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["ports"][0]["name"] = "grpc-executor-port"  # 18 > 15 characters
    container["ports"][0]["containerPort"] = 70000
    service = by_kind(objects, "Service", "bulky-executor")[0]
    service["spec"]["ports"][0]["targetPort"] = "grcp"
    service["spec"]["ports"][0]["port"] = 0
    found = _problems(objects)
    dep = "Deployment demo-linkerd/slow-executor"
    svc = "Service demo-linkerd/bulky-executor"
    ctr = "spec.template.spec.containers[0]"
    assert "longer than 15" in found[(dep, f"{ctr}.ports[0].name")]
    assert "not a port" in found[(dep, f"{ctr}.ports[0].containerPort")]
    assert "'grcp' is not a container port" in found[(svc, "spec.ports[0].targetPort")]
    assert "not a port" in found[(svc, "spec.ports[0].port")]
    # executors are probed by a command; the gateway's gRPC probes must name a port it has
    gateway = by_kind(objects, "Deployment", "gateway")[0]["spec"]["template"]["spec"]
    gateway["containers"][0]["ports"][0]["containerPort"] = 8090
    assert ("Deployment demo-linkerd/gateway", f"{ctr}.readinessProbe") in _problems(objects)
    # the Service of slow-executor now targets a port name the pod no longer has
    assert ("Service demo-linkerd/slow-executor", "spec.ports[0].targetPort") in found


def test_selectors_must_match_pod_labels(objects):
    by_kind(objects, "Service", "gateway")[0]["spec"]["selector"] = {"app": "gatewy"}
    by_kind(objects, "Deployment", "bulky-executor")[0]["spec"]["selector"]["matchLabels"][
        "app"] = "bulky"
    found = _problems(objects)
    assert "selects no pod" in found[("Service demo-linkerd/gateway", "spec.selector")]
    assert "does not match" in found[("Deployment demo-linkerd/bulky-executor",
                                      "spec.selector.matchLabels.app")]


def test_names_namespaces_and_references(objects):
    by_kind(objects, "ConfigMap", "gateway-env")[0]["metadata"]["name"] = "Gateway_Env"
    by_kind(objects, "Service", "slow-executor")[0]["metadata"]["namespace"] = "other"
    by_kind(objects, "ServiceProfile")[1]["metadata"]["name"] = "bulky.demo-linkerd.svc.x"
    objects.append(copy.deepcopy(by_kind(objects, "Deployment", "gateway")[0]))
    found = _problems(objects)
    assert "DNS-1123" in found[("ConfigMap demo-linkerd/Gateway_Env", "metadata.name")]
    assert "not a Namespace" in found[("Service other/slow-executor", "metadata.namespace")]
    assert ("ServiceProfile demo-linkerd/bulky.demo-linkerd.svc.x", "metadata.name") in found
    assert found[("Deployment demo-linkerd/gateway", "metadata.name")] == "defined twice"


def test_env_names_quantities_and_config_keys():
    data = copy.deepcopy(KITCHEN_SINK)
    data["executors"][0]["env_from_secret"] = {"1BAD": {"name": "s", "key": "k"}}
    data["executors"][0]["env"] = {"has space": "x"}
    data["executors"][0]["resources"] = {"limits": {"memory": "lots"}}
    found = _problems(kubernetes_manifests(flow_from_dict(data), KITCHEN_IMAGES))
    ctr = "spec.template.spec.containers[0]"
    assert "'1BAD' (--env-file) is not a valid variable name" in next(
        v for (obj, at), v in found.items()
        if obj == "Deployment flowserve/encoder" and at.startswith(f"{ctr}.args["))
    assert ("Deployment flowserve/encoder", f"{ctr}.resources.limits.memory") in found
    assert ("ConfigMap flowserve/encoder-env", "data.has space") in found


def test_raise_for_lists_every_problem(objects):
    by_kind(objects, "Service", "gateway")[0]["spec"]["selector"] = {"app": "nope"}
    by_kind(objects, "Service", "slow-executor")[0]["spec"]["ports"][0]["port"] = 0
    with pytest.raises(ExportError) as info:
        raise_for(check_manifests(objects), "Kubernetes export")
    text = str(info.value)
    assert "2 problem(s)" in text
    assert "Service demo-linkerd/gateway: spec.selector:" in text
    assert "Service demo-linkerd/slow-executor: spec.ports[0].port:" in text
