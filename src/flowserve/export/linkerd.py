"""Linkerd objects: ServiceProfiles (per-route timeouts, retries and metrics for each executor)
and authorization (only the gateway may call an executor).

Authorization: a ``Server`` names each executor's gRPC port; an ``AuthorizationPolicy`` on it
requires the ``MeshTLSAuthentication`` of the Flow's gateway, i.e. the mTLS identity of the
gateway's ServiceAccount. Other meshed pods, unmeshed pods and the kubelet are refused on that
port (executors are therefore probed from inside the container, see :mod:`._pod`); other ports
(metrics, the proxy's admin port) keep the cluster's default policy.


The gateway calls two gRPC methods on an executor; each gets a route. Exactly one layer retries
a failed ``process_single_data``: the gateway when the Flow's ``retries`` is on (the default),
otherwise Linkerd (``isRetryable``), and neither when the executor's ``retries`` is 0 (e.g. an
indexer whose writes must not repeat). ``endpoint_discovery`` only reads, so Linkerd may always
retry it. Linkerd's default route timeout is 10 s, which would cut slow executors short, so
every route carries an explicit timeout: the executor's ``timeout_send``, else the Flow's
``timeout``, else an hour.
"""

from __future__ import annotations

import re
from typing import Any

from ..config.spec import ExecutorSpec, FlowSpec
from ..wire.names import DISCOVERY_METHOD, PROCESS_METHOD
from ._common import duration, route_timeout
from ._names import Component

__all__ = ["authorization_policy", "gateway_authentication", "profile_name", "server",
           "service_profile"]

MIN_RETRIES_PER_SECOND = 10
RETRY_TTL = "10s"


def profile_name(service: str, namespace: str, cluster_domain: str = "cluster.local") -> str:
    """A ServiceProfile's name: the fully qualified name of the Service it describes."""
    return f"{service}.{namespace}.svc.{cluster_domain}"


def service_profile(spec: FlowSpec, ex: ExecutorSpec, *, service: str, namespace: str,
                    labels: dict[str, str], cluster_domain: str = "cluster.local"
                    ) -> dict[str, Any]:
    """The ServiceProfile (linkerd.io/v1alpha2) of one executor's Service."""
    timeout = duration(route_timeout(spec, ex))
    mesh_retries = not spec.with_.retries and ex.retries > 0
    routes = [
        _route(PROCESS_METHOD, timeout=timeout, retryable=mesh_retries),
        _route(DISCOVERY_METHOD, timeout=timeout, retryable=True),
    ]
    return {
        "apiVersion": "linkerd.io/v1alpha2",
        "kind": "ServiceProfile",
        "metadata": {
            "name": profile_name(service, namespace, cluster_domain),
            "namespace": namespace,
            "labels": dict(labels),
        },
        "spec": {
            "routes": routes,
            "retryBudget": {
                "retryRatio": float(spec.with_.retry_budget),
                "minRetriesPerSecond": MIN_RETRIES_PER_SECOND,
                "ttl": RETRY_TTL,
            },
        },
    }


def _route(path: str, *, timeout: str, retryable: bool) -> dict[str, Any]:
    return {
        "name": f"POST {path}",
        "condition": {"method": "POST", "pathRegex": re.escape(path)},
        "isRetryable": retryable,
        "timeout": timeout,
    }


POLICY_GROUP = "policy.linkerd.io"
SERVER_VERSION = f"{POLICY_GROUP}/v1beta2"
"""Served by Linkerd releases since 2.15 (v1beta1 is deprecated)."""
AUTH_VERSION = f"{POLICY_GROUP}/v1alpha1"


def server(executor: Component, namespace: str, port: str = "grpc") -> dict[str, Any]:
    """The ``Server`` of an executor's gRPC port (named `port` in its pod)."""
    return {
        "apiVersion": SERVER_VERSION,
        "kind": "Server",
        "metadata": executor.metadata(namespace, f"{executor.name}-{port}"),
        "spec": {
            "podSelector": {"matchLabels": executor.selector()},
            "port": port,
            "proxyProtocol": "gRPC",
        },
    }


def gateway_authentication(gateway: Component, namespace: str) -> dict[str, Any]:
    """The ``MeshTLSAuthentication`` matching the gateway's mesh identity (its ServiceAccount)."""
    return {
        "apiVersion": AUTH_VERSION,
        "kind": "MeshTLSAuthentication",
        "metadata": gateway.metadata(namespace),
        "spec": {"identityRefs": [{"kind": "ServiceAccount", "name": gateway.name}]},
    }


def authorization_policy(executor: Component, gateway: Component, namespace: str,
                         port: str = "grpc") -> dict[str, Any]:
    """Admits the gateway, and only it, to the executor's ``Server``."""
    return {
        "apiVersion": AUTH_VERSION,
        "kind": "AuthorizationPolicy",
        "metadata": executor.metadata(namespace, f"{executor.name}-{port}"),
        "spec": {
            "targetRef": {"group": POLICY_GROUP, "kind": "Server",
                          "name": f"{executor.name}-{port}"},
            "requiredAuthenticationRefs": [{"group": POLICY_GROUP,
                                            "kind": "MeshTLSAuthentication",
                                            "name": gateway.name}],
        },
    }
