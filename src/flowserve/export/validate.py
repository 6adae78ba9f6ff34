"""Offline checks of exported Kubernetes objects, beyond what their schemas say.

The schemas (checked in the test suite with kubernetes-validate) accept many objects that a
cluster rejects or that silently do nothing: a Service whose selector matches no pod, a
targetPort naming no container port, a port name of 16 characters. ``flowserve export`` runs
these checks before it writes anything; every problem is reported at once, naming the object
and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._common import DNS1035_LABEL, DNS1123_LABEL, ExportError
from ._quantity import QUANTITY

__all__ = ["Problem", "check_manifests", "raise_for"]

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
PORT_NAME = DNS1123_LABEL  # IANA_SVC_NAME, plus the rules in _port_name_problem
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

_NAME_RULES = {  # kind -> (pattern, max length, what)
    "Namespace": (DNS1123_LABEL, 63, "a DNS-1123 label"),
    "Service": (DNS1035_LABEL, 63, "a DNS-1035 label"),
    "Deployment": (DNS1123_LABEL, 63, "a DNS-1123 label"),
    "ConfigMap": (DNS1123_SUBDOMAIN, 253, "a DNS-1123 subdomain"),
    "HorizontalPodAutoscaler": (DNS1123_SUBDOMAIN, 253, "a DNS-1123 subdomain"),
    "ServiceProfile": (DNS1123_SUBDOMAIN, 253, "a DNS-1123 subdomain"),
}


@dataclass(frozen=True)
class Problem:
    """One problem: which object, which field, what is wrong."""

    obj: str
    """``Kind namespace/name``."""
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.obj}: {self.field}: {self.message}"


def raise_for(problems: Iterable[Problem], what: str) -> None:
    """Raise one :class:`ExportError` listing every problem, if there are any."""
    found = list(problems)
    if found:
        lines = "\n".join(f"  {p}" for p in found)
        raise ExportError(f"invalid {what} ({len(found)} problem(s)):\n{lines}")


def _ident(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


def check_manifests(objects: list[dict[str, Any]]) -> list[Problem]:
    """Every problem found in a set of objects meant to be applied together."""
    problems: list[Problem] = []
    seen: set[tuple[str, str | None, str]] = set()
    namespaces = {o["metadata"]["name"] for o in objects if o.get("kind") == "Namespace"}
    for obj in objects:
        who = _ident(obj)
        meta = obj.get("metadata", {})
        key = (obj.get("kind", ""), meta.get("namespace"), meta.get("name", ""))
        if key in seen:
            problems.append(Problem(who, "metadata.name", "defined twice"))
        seen.add(key)
        problems += _check_meta(obj, who, namespaces)
    pods = _pod_templates(objects)
    for obj in objects:
        kind = obj.get("kind")
        who = _ident(obj)
        if kind == "Deployment":
            problems += _check_deployment(obj, who)
        elif kind == "Service":
            problems += _check_service(obj, who, pods)
        elif kind == "HorizontalPodAutoscaler":
            problems += _check_hpa(obj, who, objects)
        elif kind == "ServiceProfile":
            problems += _check_profile(obj, who, objects)
        elif kind == "ConfigMap":
            for k in obj.get("data", {}):
                if not CONFIG_KEY.match(k):
                    problems.append(Problem(who, f"data.{k}", "not a valid ConfigMap key"))
    return problems


def _check_meta(obj: Mapping[str, Any], who: str, namespaces: set[str]) -> list[Problem]:
    out: list[Problem] = []
    meta = obj.get("metadata", {})
    name = meta.get("name", "")
    rule = _NAME_RULES.get(obj.get("kind", ""))
    if rule and (not rule[0].match(name) or len(name) > rule[1]):
        out.append(Problem(who, "metadata.name", f"{name!r} is not {rule[2]} "
                                                 f"(at most {rule[1]} characters)"))
    ns = meta.get("namespace")
    if obj.get("kind") != "Namespace" and ns not in namespaces:
        out.append(Problem(who, "metadata.namespace", f"{ns!r} is not a Namespace of this "
                                                      "export"))
    out += _check_labels(meta.get("labels", {}), who, "metadata.labels")
    return out


def _check_labels(labels: Mapping[str, str], who: str, where: str) -> list[Problem]:
    return [Problem(who, f"{where}.{k}", f"label value {v!r} is invalid (at most 63 "
                                         "characters: letters, digits, '-', '_', '.')")
            for k, v in labels.items() if len(v) > 63 or not LABEL_VALUE.match(v)]


def _pod_templates(objects: list[dict[str, Any]]) -> list[tuple[str | None, dict[str, Any]]]:
    return [(o["metadata"].get("namespace"), o["spec"]["template"])
            for o in objects if o.get("kind") == "Deployment"]


def _port_name_problem(name: str) -> str | None:
    if len(name) > 15:
        return f"port name {name!r} is longer than 15 characters"
    if not PORT_NAME.match(name) or "--" in name or not re.search(r"[a-z]", name):
        return f"port name {name!r} must be lower-case letters, digits and single '-'"
    return None


def _port_range(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _check_deployment(obj: Mapping[str, Any], who: str) -> list[Problem]:
    out: list[Problem] = []
    spec = obj["spec"]
    template = spec["template"]
    pod_labels = template.get("metadata", {}).get("labels", {})
    out += _check_labels(pod_labels, who, "spec.template.metadata.labels")
    for k, v in spec.get("selector", {}).get("matchLabels", {}).items():
        if pod_labels.get(k) != v:
            out.append(Problem(who, f"spec.selector.matchLabels.{k}",
                               f"{v!r} does not match the pod template's labels"))
    for i, container in enumerate(template["spec"]["containers"]):
        at = f"spec.template.spec.containers[{i}]"
        names = set()
        numbers = set()
        for j, port in enumerate(container.get("ports", [])):
            name = port.get("name")
            if name is not None:
                problem = _port_name_problem(name)
                if problem:
                    out.append(Problem(who, f"{at}.ports[{j}].name", problem))
                if name in names:
                    out.append(Problem(who, f"{at}.ports[{j}].name", f"{name!r} is repeated"))
                names.add(name)
            if not _port_range(port.get("containerPort")):
                out.append(Problem(who, f"{at}.ports[{j}].containerPort",
                                   f"{port.get('containerPort')!r} is not a port (1-65535)"))
            numbers.add(port.get("containerPort"))
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            action = container.get(probe, {})
            target = (action.get("grpc") or action.get("httpGet") or action.get("tcpSocket")
                      or {}).get("port")
            if target is not None and target not in names | numbers:
                out.append(Problem(who, f"{at}.{probe}",
                                   f"port {target!r} is not a port of the container"))
        for j, env in enumerate(container.get("env", [])):
            if not ENV_NAME.match(env.get("name", "")):
                out.append(Problem(who, f"{at}.env[{j}].name",
                                   f"{env.get('name')!r} is not a valid variable name"))
        args = container.get("args", [])
        for j, (flag, value) in enumerate(zip(args, args[1:], strict=False)):
            name = str(value).partition("=")[0]
            if flag == "--env-file" and not ENV_NAME.match(name):
                out.append(Problem(who, f"{at}.args[{j + 1}]",
                                   f"{name!r} (--env-file) is not a valid variable name"))
        for section, values in container.get("resources", {}).items():
            for res, qty in values.items():
                if not QUANTITY.match(str(qty)):
                    out.append(Problem(who, f"{at}.resources.{section}.{res}",
                                       f"{qty!r} is not a quantity (e.g. 500m, 1Gi)"))
    return out


def _check_service(obj: Mapping[str, Any], who: str,
                   pods: list[tuple[str | None, dict[str, Any]]]) -> list[Problem]:
    out: list[Problem] = []
    spec = obj["spec"]
    selector = spec.get("selector", {})
    ns = obj["metadata"].get("namespace")
    matching = [t for pod_ns, t in pods if pod_ns == ns and selector
                and all(t.get("metadata", {}).get("labels", {}).get(k) == v
                        for k, v in selector.items())]
    if not matching:
        out.append(Problem(who, "spec.selector", f"{selector!r} selects no pod of this export"))
    for j, port in enumerate(spec.get("ports", [])):
        at = f"spec.ports[{j}]"
        name = port.get("name")
        if name is not None and (problem := _port_name_problem(name)):
            out.append(Problem(who, f"{at}.name", problem))
        if not _port_range(port.get("port")):
            out.append(Problem(who, f"{at}.port", f"{port.get('port')!r} is not a port "
                                                  "(1-65535)"))
        target = port.get("targetPort", port.get("port"))
        for template in matching:
            declared = [p for ctr in template["spec"]["containers"] for p in ctr.get("ports", [])]
            if isinstance(target, str):
                ok = any(p.get("name") == target for p in declared)
            else:
                ok = any(p.get("containerPort") == target for p in declared)
            if not ok:
                out.append(Problem(who, f"{at}.targetPort",
                                   f"{target!r} is not a container port of the selected pods"))
                break
    return out


def _find(objects: list[dict[str, Any]], kind: str, ns: str | None, name: str) -> bool:
    return any(o.get("kind") == kind and o["metadata"].get("namespace") == ns
               and o["metadata"].get("name") == name for o in objects)


def _check_hpa(obj: Mapping[str, Any], who: str, objects: list[dict[str, Any]]) -> list[Problem]:
    spec = obj["spec"]
    ref = spec["scaleTargetRef"]
    out: list[Problem] = []
    if not _find(objects, ref.get("kind", ""), obj["metadata"].get("namespace"), ref.get("name")):
        out.append(Problem(who, "spec.scaleTargetRef", f"no {ref.get('kind')} "
                                                       f"{ref.get('name')!r} in this export"))
    if spec.get("minReplicas", 1) > spec["maxReplicas"]:
        out.append(Problem(who, "spec.minReplicas", "is above spec.maxReplicas"))
    return out


def _check_profile(obj: Mapping[str, Any], who: str,
                   objects: list[dict[str, Any]]) -> list[Problem]:
    ns = obj["metadata"].get("namespace")
    name = obj["metadata"]["name"]
    service = name.split(".", 1)[0]
    if name.split(".")[1:3] != [ns, "svc"] or not _find(objects, "Service", ns, service):
        return [Problem(who, "metadata.name", f"{name!r} is not <service>.{ns}.svc.<domain> "
                                              "of a Service in this export")]
    return []
