"""Names, labels and selectors of a Flow's components in the Kubernetes export.

Two Flows may share a namespace: each is an *instance* (``app.kubernetes.io/instance``), every
selector includes it, and with an explicit instance every object name starts with
``<instance>-``, so two Flows that both have an ``encoder`` get ``a-encoder`` and ``b-encoder``.
Without one, the instance is the namespace and names are bare (one Flow per namespace, the
default layout). Labels follow Kubernetes' recommended ``app.kubernetes.io/*`` set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._version import __version__
from ..config.spec import FlowSpec
from ._common import DNS1035_LABEL, MANAGED_BY, ExportError, component_names

__all__ = ["Component", "components", "instance_labels"]


@dataclass(frozen=True)
class Component:
    """The gateway or one executor, as the export names and labels it."""

    name: str
    """The name of its objects (Deployment, Service, ServiceAccount, ...)."""
    short: str
    """Its Kubernetes name without the instance prefix (``app.kubernetes.io/name``)."""
    role: str
    """``gateway`` or ``executor`` (``app.kubernetes.io/component``)."""
    instance: str

    def selector(self) -> dict[str, str]:
        """The labels its Service, Deployment and policies select its pods by."""
        return {"app.kubernetes.io/name": self.short, "app.kubernetes.io/instance": self.instance}

    def labels(self) -> dict[str, str]:
        """Labels of each of its objects (a superset of :meth:`selector`)."""
        return {
            "app": self.name,
            **self.selector(),
            "app.kubernetes.io/component": self.role,
            **instance_labels(self.instance),
        }

    def metadata(self, namespace: str, name: str | None = None) -> dict[str, Any]:
        """The ``metadata`` of one of its objects: `name` (default: the component's), in
        `namespace`, with its `labels`."""
        return {"name": name or self.name, "namespace": namespace, "labels": self.labels()}


def instance_labels(instance: str) -> dict[str, str]:
    """The labels every object of a Flow instance carries."""
    return {
        "app.kubernetes.io/part-of": instance,
        "app.kubernetes.io/version": __version__,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def components(spec: FlowSpec, namespace: str, instance: str | None = None
               ) -> dict[str, Component]:
    """Flow name -> :class:`Component` for the gateway (key ``spec.with_.name``) and every
    executor; raises :class:`ExportError` for an instance or a prefixed name that is not a
    DNS-1035 label of at most 63 characters."""
    if instance is not None and (not DNS1035_LABEL.match(instance) or len(instance) > 40):
        raise ExportError(f"instance {instance!r} must be a DNS-1035 label of at most 40 "
                          "characters (start with a letter; letters, digits, '-')")
    prefix = f"{instance}-" if instance else ""
    found: dict[str, Component] = {}
    too_long: list[str] = []
    for flow_name, short in component_names(spec).items():
        role = "gateway" if flow_name == spec.with_.name else "executor"
        found[flow_name] = Component(prefix + short, short, role, instance or namespace)
        if len(prefix + short) > 63:
            too_long.append(prefix + short)
    if too_long:
        raise ExportError("cannot export the Flow: Kubernetes name(s) "
                          f"{', '.join(map(repr, too_long))} are longer than 63 characters; "
                          "use a shorter instance or executor name")
    return found
