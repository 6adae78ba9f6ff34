"""The locked-down defaults of every exported pod (and Compose service).

Each pod meets Kubernetes' "restricted" Pod Security Standard: it runs as the non-root user
:data:`UID` (the user of the generated images), cannot gain privileges, drops every capability,
uses the runtime's default seccomp profile, and has a read-only root filesystem with an
``emptyDir`` at ``/tmp`` (``HOME`` points there) for scratch space. No service account token is
mounted: flowserve never calls the Kubernetes API, and Linkerd mounts its own bound token for
the proxy's identity. Containers get default CPU/memory requests and limits, which the Flow and
each executor override key by key (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._common import ExportError
from ._quantity import parse_quantity

__all__ = ["DEFAULT_RESOURCES", "GID", "POD_SECURITY_LEVELS", "SCRATCH", "SCRATCH_ENV", "UID",
           "checkov_skips", "container_security_context", "namespace_labels",
           "pod_security_context", "with_default_resources"]

UID = 10001
"""The user (and group) exported containers run as; above 10000 so it maps to no host user."""
GID = 10001
SCRATCH = "/tmp"
"""The writable scratch folder of a read-only container."""
SCRATCH_ENV = {"HOME": SCRATCH}
"""Environment defaults of every container (the Flow's env wins): caches go to scratch space."""
POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")

DEFAULT_RESOURCES: Mapping[str, Mapping[str, Mapping[str, str]]] = {
    "gateway": {"requests": {"cpu": "250m", "memory": "256Mi"},
                "limits": {"cpu": "2", "memory": "1Gi"}},
    "executor": {"requests": {"cpu": "250m", "memory": "512Mi"},
                 "limits": {"cpu": "2", "memory": "2Gi"}},
}
"""Per role: what a container gets unless the Flow or the executor sets the key."""


def _non_root() -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": GID}


def pod_security_context() -> dict[str, Any]:
    """``spec.securityContext`` of every pod."""
    return {**_non_root(), "fsGroup": GID, "seccompProfile": {"type": "RuntimeDefault"}}


def container_security_context() -> dict[str, Any]:
    """``securityContext`` of every flowserve container."""
    return {
        **_non_root(),
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def namespace_labels(enforce: str = "restricted") -> dict[str, str]:
    """Pod Security Admission labels: enforce `enforce`, always warn and audit "restricted"."""
    if enforce not in POD_SECURITY_LEVELS:
        raise ExportError(f"pod security level {enforce!r}: choose one of "
                          f"{', '.join(POD_SECURITY_LEVELS)}")
    return {
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


def with_default_resources(role: str, given: Mapping[str, Mapping[str, str]]
                           ) -> dict[str, dict[str, str]]:
    """`given` requests/limits with the role's defaults for the keys it leaves out.

    A default never contradicts what was given: a default limit below a given request is raised
    to it, a default request above a given limit is lowered to it. (A given value that is no
    quantity is kept as is, for the export's validation to report.)
    """
    out = {section: dict(given.get(section, {})) for section in ("requests", "limits")}
    for resource in ("cpu", "memory"):
        request = out["requests"].get(resource)
        limit = out["limits"].get(resource)
        if request is None:
            request = DEFAULT_RESOURCES[role]["requests"][resource]
            if limit is not None and _below(limit, request):
                request = limit
        if limit is None:
            limit = DEFAULT_RESOURCES[role]["limits"][resource]
            if _below(limit, request):
                limit = request
        out["requests"][resource] = request
        out["limits"][resource] = limit
    return {section: dict(sorted(values.items())) for section, values in out.items()}


def _below(a: str, b: str) -> bool:
    """Whether quantity `a` is less than `b`; False when either is not a quantity."""
    try:
        return parse_quantity(a) < parse_quantity(b)
    except ValueError:
        return False


def checkov_skips(image: str, pull_policy: str) -> dict[str, str]:
    """checkov skip annotations, with their reason, for the two checks an export without a
    registry cannot meet; none for a check the object already meets."""
    skips = []
    if "@sha256:" not in image:
        skips.append("CKV_K8S_43=images are referenced by tag: the export knows no registry to "
                     "resolve digests; give image: name@sha256:... to pin one")
    if pull_policy != "Always":
        skips.append(f"CKV_K8S_15=imagePullPolicy {pull_policy} lets locally loaded images "
                     "(kind load) run without a registry; set image_pull_policy: Always to "
                     "pull on every start")
    return {f"checkov.io/skip{i}": text for i, text in enumerate(skips, 1)}
